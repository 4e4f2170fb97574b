//! The command line's campaigns: create, list, change and delete.

use clap::{Args, Subcommand};

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::ledger::campaign::{CampaignInput, Localized, parse_branch_lines};
use crate::ledger::validation::{AmountText, Field, FieldErrors};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub(super) enum CampaignCommand {
    /// Create a campaign.
    Create(Box<CampaignCreateArgs>),
    /// List every campaign, drafts included.
    List,
    /// Change a campaign: only the flags given change (--branch replaces the list).
    Update(Box<CampaignUpdateArgs>),
    /// Delete a campaign that holds no money (its ledger empty, or only the demo's examples).
    Delete {
        #[arg(long)]
        slug: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct CampaignCreateArgs {
    #[arg(long)]
    slug: String,
    /// The English title.
    #[arg(long)]
    title: String,
    #[arg(long)]
    title_fr: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    description_fr: Option<String>,
    /// The target, in major units: 100000 or 100000.00. Repeat it for stretch goals, lowest
    /// first: --goal 100000 --goal 120000.
    #[arg(long, required = true)]
    goal: Vec<String>,
    /// A number of donors to reach, beside the money.
    #[arg(long)]
    donor_goal: Option<i64>,
    /// ISO 4217 code, such as CAD.
    #[arg(long)]
    currency: String,
    /// RFC 3339, such as 2026-11-01T00:00:00-04:00.
    #[arg(long)]
    starts_at: Option<String>,
    /// RFC 3339, such as 2026-12-31T23:59:59-05:00.
    #[arg(long)]
    ends_at: Option<String>,
    /// draft, active (the default) or closed.
    #[arg(long)]
    status: Option<String>,
    /// A branch sub-goal as slug:name or slug:name:goal; repeat for each branch.
    #[arg(long = "branch")]
    branches: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct CampaignUpdateArgs {
    /// The campaign to change.
    #[arg(long)]
    slug: String,
    /// A new slug (its address changes).
    #[arg(long)]
    new_slug: Option<String>,
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    title_fr: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    description_fr: Option<String>,
    /// The goal; repeated, the whole ladder of stretch goals, lowest first.
    #[arg(long)]
    goal: Vec<String>,
    /// A number of donors to reach; "none" for none.
    #[arg(long)]
    donor_goal: Option<String>,
    #[arg(long)]
    currency: Option<String>,
    /// RFC 3339, or "none" to clear.
    #[arg(long)]
    starts_at: Option<String>,
    /// RFC 3339, or "none" to clear.
    #[arg(long)]
    ends_at: Option<String>,
    /// draft, active or closed.
    #[arg(long)]
    status: Option<String>,
    /// true or false.
    #[arg(long)]
    count_net_of_fees: Option<bool>,
    /// Matched money counts in raised once paid ("paid") or as soon as pledged ("pledged").
    #[arg(long)]
    count_matches: Option<String>,
    /// true puts a closed campaign away from lists; false brings it back.
    #[arg(long)]
    archived: Option<bool>,
    #[arg(long)]
    checkout_min: Option<String>,
    #[arg(long)]
    checkout_max: Option<String>,
    #[arg(long)]
    fee_percent: Option<String>,
    #[arg(long)]
    fee_fixed: Option<String>,
    /// After a one-off gift, ask for a monthly one: "25%" of the gift or "10.00"; "none" to stop asking.
    #[arg(long)]
    monthly_ask: Option<String>,
    /// Other currencies a supporter may give a one-off gift in, "EUR,GBP"; "none" for the
    /// campaign's own only.
    #[arg(long)]
    checkout_currencies: Option<String>,
    /// The whole branch list, slug:name or slug:name:goal each; repeat for each branch.
    #[arg(long = "branch")]
    branches: Vec<String>,
}

pub(super) async fn run(command: CampaignCommand, store: &Store, actor: &Actor) -> Result<(), ActionError> {
    match command {
        CampaignCommand::Create(args) => create(store, *args, actor).await,
        CampaignCommand::List => list(store).await,
        CampaignCommand::Update(args) => update(store, *args, actor).await,
        CampaignCommand::Delete { slug } => {
            actions::delete_campaign(store, &slug, actor).await?;
            println!("deleted campaign {slug}");
            Ok(())
        }
    }
}

async fn create(store: &Store, args: CampaignCreateArgs, actor: &Actor) -> Result<(), ActionError> {
    let branches = parse_branch_lines(args.branches.iter().map(String::as_str))?;
    let optional = |value: Option<String>| value.map_or(Field::Missing, Field::Value);
    let input = CampaignInput {
        slug: Field::Value(args.slug),
        currency: Field::Value(args.currency),
        goal: Field::Missing,
        goals: Field::Value(args.goal.into_iter().map(AmountText).collect()),
        donor_goal: args.donor_goal.map_or(Field::Missing, Field::Value),
        title: Field::Value(Localized { en: args.title, fr: args.title_fr.unwrap_or_default() }),
        description: Field::Value(Localized {
            en: args.description.unwrap_or_default(),
            fr: args.description_fr.unwrap_or_default(),
        }),
        starts_at: optional(args.starts_at),
        ends_at: optional(args.ends_at),
        status: optional(args.status),
        branches: Field::Value(branches),
        ..CampaignInput::default()
    };
    let campaign = actions::create_campaign(store, input, actor).await?;
    println!(
        "created campaign {} ({}, goal {} {})",
        campaign.slug,
        campaign.status.as_str(),
        campaign.currency.format_minor(campaign.goal_minor),
        campaign.currency
    );
    Ok(())
}

async fn update(store: &Store, args: CampaignUpdateArgs, actor: &Actor) -> Result<(), ActionError> {
    let current = store.campaign_by_slug(&args.slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let optional = |value: Option<String>| value.map_or(Field::Missing, Field::Value);
    let clearable = |value: Option<String>| match value {
        None => Field::Missing,
        Some(text) if text == "none" => Field::Null,
        Some(text) => Field::Value(text),
    };
    let localized = |en: Option<String>, fr: Option<String>, kept: &Localized| {
        if en.is_none() && fr.is_none() {
            Field::Missing
        } else {
            Field::Value(Localized {
                en: en.unwrap_or_else(|| kept.en.clone()),
                fr: fr.unwrap_or_else(|| kept.fr.clone()),
            })
        }
    };
    let branches = if args.branches.is_empty() {
        Field::Missing
    } else {
        Field::Value(parse_branch_lines(args.branches.iter().map(String::as_str))?)
    };
    let input = CampaignInput {
        slug: optional(args.new_slug),
        currency: optional(args.currency),
        // One --goal changes the goal; several give the whole ladder.
        goal: match args.goal.as_slice() {
            [one] => Field::Value(AmountText(one.clone())),
            _ => Field::Missing,
        },
        goals: if args.goal.len() > 1 {
            Field::Value(args.goal.iter().cloned().map(AmountText).collect())
        } else {
            Field::Missing
        },
        donor_goal: match args.donor_goal.as_deref() {
            None => Field::Missing,
            Some("none") => Field::Null,
            Some(text) => match text.trim().parse() {
                Ok(count) => Field::Value(count),
                Err(_) => {
                    return Err(FieldErrors::single("donor_goal", "must be a whole number, or none").into());
                }
            },
        },
        title: localized(args.title, args.title_fr, &current.title),
        description: localized(args.description, args.description_fr, &current.description),
        starts_at: clearable(args.starts_at),
        ends_at: clearable(args.ends_at),
        status: optional(args.status),
        count_net_of_fees: args.count_net_of_fees.map_or(Field::Missing, Field::Value),
        count_matches: optional(args.count_matches),
        archived: args.archived.map_or(Field::Missing, Field::Value),
        branches,
        checkout_min: optional(args.checkout_min).map_value(AmountText),
        checkout_max: optional(args.checkout_max).map_value(AmountText),
        fee_percent: optional(args.fee_percent),
        fee_fixed: optional(args.fee_fixed).map_value(AmountText),
        monthly_ask: clearable(args.monthly_ask),
        checkout_currencies: clearable(args.checkout_currencies).map_value(|codes| code_list(&codes)),
    };
    let campaign = actions::update_campaign(store, &args.slug, input, actor).await?;
    println!(
        "updated campaign {} ({}, goal {} {})",
        campaign.slug,
        campaign.status.as_str(),
        campaign.currency.format_minor(campaign.goal_minor),
        campaign.currency
    );
    Ok(())
}

/// "EUR, GBP" as a list of codes.
fn code_list(text: &str) -> Vec<String> {
    text.split([',', ' ']).map(str::trim).filter(|code| !code.is_empty()).map(str::to_owned).collect()
}

async fn list(store: &Store) -> Result<(), ActionError> {
    let campaigns = store.list_campaigns(true).await?;
    println!("{:<24} {:<7} {:>16} {:>16} {:>7}  TITLE", "SLUG", "STATUS", "RAISED", "GOAL", "%");
    for campaign in campaigns {
        let Some((campaign, totals, branches)) = store.campaign_progress(campaign.slug.as_str()).await?
        else {
            continue;
        };
        let progress = crate::ledger::progress::Progress::new(&campaign, &totals, &branches);
        // Written as the public pages write them, in English.
        let english = crate::web::i18n::catalog().fallback();
        println!(
            "{:<24} {:<7} {:>16} {:>16} {:>7}  {}",
            campaign.slug.as_str(),
            if campaign.archived { "archived" } else { progress.status },
            english.money_of_decimal(&progress.raised, campaign.currency),
            english.money_of_decimal(&progress.goal, campaign.currency),
            english.percent(progress.percent),
            campaign.title.get("en")
        );
    }
    Ok(())
}
