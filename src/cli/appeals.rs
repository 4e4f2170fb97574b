//! `appeal appeals create|update|list|show`: appeals gathering campaigns of this instance and
//! of other sections' instances under one currency and goal.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::ledger::appeals::{Appeal, AppealInput, MemberInput, MemberSource};
use crate::ledger::campaign::Localized;
use crate::ledger::validation::{AmountText, Field};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum AppealsCommand {
    /// Set up an appeal: its slug, title, currency and goal, how members are converted, and
    /// its members.
    Create(AppealArgs),
    /// Change an appeal: what is given changes; --member, when given, is the whole list.
    Update {
        /// The appeal's slug now.
        slug: String,
        #[command(flatten)]
        args: AppealArgs,
    },
    /// The appeals, by slug.
    List,
    /// An appeal's figures: the total, and each member's, converted, with its rate.
    Show { slug: String },
}

#[derive(Debug, Args)]
pub struct AppealArgs {
    #[arg(long)]
    slug: Option<String>,
    /// The English title.
    #[arg(long)]
    title: Option<String>,
    /// The French title.
    #[arg(long)]
    title_fr: Option<String>,
    /// The reporting currency (CAD).
    #[arg(long)]
    currency: Option<String>,
    /// The goal, in the appeal's currency (250000.00).
    #[arg(long)]
    goal: Option<String>,
    /// fixed (the default: each currency at the rate set at launch) or latest.
    #[arg(long)]
    rate_policy: Option<String>,
    /// A rate fixed at launch, CURRENCY=RATE (EUR=1.47): 1 EUR is 1.47 of the appeal's
    /// currency. Repeat for each currency; when given, the whole list.
    #[arg(long = "fixed-rate", value_name = "CURRENCY=RATE")]
    fixed_rates: Vec<String>,
    /// A member, in order: a campaign's slug (office), or another instance's campaign by its
    /// progress or page URL (https://uk.example.org/c/appeal); NAME=… names it
    /// ("UK section=https://…"). Repeat for each; when given, the whole list.
    #[arg(long = "member", value_name = "[NAME=]CAMPAIGN|URL")]
    members: Vec<String>,
}

impl AppealArgs {
    /// The input the flags give; a title given in one language keeps `current`'s other one.
    fn input(self, current: Option<&Localized>) -> Result<AppealInput, ActionError> {
        let mut fixed_rates = BTreeMap::new();
        for pair in &self.fixed_rates {
            let Some((code, rate)) = pair.split_once('=') else {
                return Err(ActionError::Invalid(crate::ledger::FieldErrors::single(
                    "fixed_rates",
                    format!("must be CURRENCY=RATE such as EUR=1.47, not {pair:?}"),
                )));
            };
            fixed_rates.insert(code.trim().to_ascii_uppercase(), serde_json::Value::from(rate.trim()));
        }
        let members = self.members.iter().map(|text| member(text)).collect();
        let title = match (self.title, self.title_fr) {
            (None, None) => Field::Missing,
            (en, fr) => Field::Value(Localized {
                en: en.or_else(|| current.map(|title| title.en.clone())).unwrap_or_default(),
                fr: fr.or_else(|| current.map(|title| title.fr.clone())).unwrap_or_default(),
            }),
        };
        let given = |value: Option<String>| value.map_or(Field::Missing, Field::Value);
        Ok(AppealInput {
            slug: given(self.slug),
            title,
            currency: given(self.currency),
            goal: self.goal.map_or(Field::Missing, |goal| Field::Value(AmountText(goal))),
            rate_policy: given(self.rate_policy),
            fixed_rates: if self.fixed_rates.is_empty() { Field::Missing } else { Field::Value(fixed_rates) },
            members: if self.members.is_empty() { Field::Missing } else { Field::Value(members) },
        })
    }
}

/// `office`, `Office=office`, `https://…` or `UK section=https://…`.
fn member(text: &str) -> MemberInput {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) if !name.contains("://") => (Some(name.trim().to_owned()), value.trim()),
        _ => (None, text.trim()),
    };
    if value.contains("://") {
        MemberInput { campaign: None, url: Some(value.to_owned()), name }
    } else {
        MemberInput { campaign: Some(value.to_owned()), url: None, name }
    }
}

fn describe(appeal: &Appeal) -> String {
    let members: Vec<String> = appeal
        .members
        .iter()
        .map(|member| match &member.source {
            MemberSource::Campaign { slug, .. } => slug.clone(),
            MemberSource::Remote { url, .. } => url.clone(),
        })
        .collect();
    format!(
        "{} ({} {} goal, {} rates): {}",
        appeal.slug,
        appeal.currency.format_minor(appeal.goal_minor),
        appeal.currency.code(),
        appeal.rate_policy.as_str(),
        if members.is_empty() { "no members".to_owned() } else { members.join(", ") }
    )
}

pub(super) async fn run(
    command: AppealsCommand,
    store: &Store,
    config: &crate::config::Config,
    actor: &Actor,
) -> Result<(), ActionError> {
    match command {
        AppealsCommand::Create(args) => {
            let appeal = actions::create_appeal(store, args.input(None)?, actor).await?;
            println!("created appeal {}", describe(&appeal));
        }
        AppealsCommand::Update { slug, args } => {
            let current = store.appeal_by_slug(&slug).await?.ok_or(ActionError::NotFound("appeal"))?;
            let appeal =
                actions::update_appeal(store, &slug, args.input(Some(&current.title))?, actor).await?;
            println!("changed appeal {}", describe(&appeal));
        }
        AppealsCommand::List => {
            let appeals = actions::list_appeals(store, actor).await?;
            if appeals.is_empty() {
                println!("no appeals");
            }
            for appeal in &appeals {
                println!("{}", describe(appeal));
            }
        }
        AppealsCommand::Show { slug } => {
            let stale_after =
                chrono::Duration::from_std(config.remote_every * 3).unwrap_or(chrono::Duration::MAX);
            let (_, progress) = actions::appeal_progress_document(store, &slug, stale_after)
                .await?
                .ok_or(ActionError::NotFound("appeal"))?;
            println!(
                "{}: {} of {} {} ({}%){}",
                progress.appeal,
                progress.raised,
                progress.goal,
                progress.currency,
                progress.percent,
                if progress.complete { "" } else { ", some members not counted" }
            );
            for member in &progress.members {
                let figure = match (&member.raised, member.currency) {
                    (Some(raised), Some(currency)) => format!("{raised} {currency}"),
                    _ => "not heard from yet".to_owned(),
                };
                let converted = match (&member.raised_converted, &member.rate) {
                    (Some(_), Some(_)) if member.currency == Some(progress.currency) => String::new(),
                    (Some(converted), Some(rate)) => {
                        let source = member
                            .rate_source
                            .as_deref()
                            .map(|source| format!(", {source}"))
                            .unwrap_or_default();
                        let day =
                            member.rate_date.as_deref().map(|day| format!(" of {day}")).unwrap_or_default();
                        format!(" = {converted} {} at {rate}{day}{source}", progress.currency)
                    }
                    _ => member
                        .problem
                        .as_deref()
                        .map(|problem| format!(": not counted, {problem}"))
                        .unwrap_or_default(),
                };
                let stale = if member.stale { " [stale]" } else { "" };
                let as_of = member.as_of.as_deref().map(|at| format!(" (as of {at})")).unwrap_or_default();
                println!("  {}: {figure}{converted}{as_of}{stale}", member.name);
            }
        }
    }
    Ok(())
}
