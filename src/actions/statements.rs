//! Annual statements, for the command line and the dashboard: issue a year's (a statement a
//! donor, numbered in order; a corrected donor's replaced), queue their emails, read one as
//! PDF, preview one not issued.

use std::collections::HashMap;

use chrono::{Datelike, Utc};

use super::ActionError;
use crate::access::{Actor, Role};
use crate::config::SiteConfig;
use crate::export::statement::{StatementHeader, issued_pdf, statement_pdf};
use crate::ledger::FieldErrors;
use crate::ledger::donors::Merges;
use crate::ledger::statements::{Plan, YearEntry, drafts, plan};
use crate::store::{Store, StoredStatement};
use crate::web::i18n::catalog;

/// What a run did.
#[derive(Debug, Default)]
pub struct StatementRun {
    /// First statements, by number.
    pub issued: Vec<StoredStatement>,
    /// Replacements, each naming the statement it replaces.
    pub replaced: Vec<StoredStatement>,
    /// Statements in force that still hold.
    pub unchanged: usize,
    /// Emails queued (with `send`): statements never sent before.
    pub queued: usize,
}

/// The entries with each donor seen whole: a merged record's under the key it was merged into.
async fn merged(store: &Store, mut entries: Vec<YearEntry>) -> Result<Vec<YearEntry>, ActionError> {
    let merges = Merges::new(&store.donor_merges().await?);
    for entry in &mut entries {
        entry.donor_key = merges.canonical(&entry.donor_key);
    }
    Ok(entries)
}

/// The year asked for, from 2000 to this one (in `zone`).
pub fn statement_year(year: i32, zone: chrono_tz::Tz) -> Result<i32, ActionError> {
    let this_year = Utc::now().with_timezone(&zone).year();
    if !(2000..=this_year).contains(&year) {
        return Err(ActionError::Invalid(FieldErrors::single(
            "year",
            format!("must be a year from 2000 to {this_year}, not {year}"),
        )));
    }
    Ok(year)
}

fn require_whole_organization(actor: &Actor) -> Result<(), ActionError> {
    if !actor.role.allows(Role::Treasurer) || actor.branch.is_some() {
        return Err(ActionError::Forbidden(
            "statements concern every branch: a treasurer of the whole organization makes them".to_owned(),
        ));
    }
    Ok(())
}

/// Issues the statements of `year` (of one campaign's gifts, with `campaign`) that are new or
/// changed, and with `send` queues the email of each one never sent. `on_progress` hears how
/// many donors are done.
pub async fn issue_statements(
    store: &Store,
    zone: chrono_tz::Tz,
    year: i32,
    campaign: Option<&str>,
    send: bool,
    actor: &Actor,
    on_progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<StatementRun, ActionError> {
    require_whole_organization(actor)?;
    let year = statement_year(year, zone)?;
    let campaign = match campaign {
        Some(slug) => Some(store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?),
        None => None,
    };
    let campaign_id = campaign.as_ref().map(|campaign| campaign.id);
    let mut entries = merged(store, store.year_entries(year, zone, campaign_id).await?).await?;
    let mut current = store.statements_in_force(year, campaign_id).await?;
    // A person forgotten keeps the statements issued to them as they were: nothing is issued
    // for them again, nor voided for the name and address they no longer have.
    let forgotten = store.forgotten_donor_keys().await?;
    entries.retain(|entry| !forgotten.contains(&entry.donor_key));
    current.retain(|key, _| !forgotten.contains(key));
    // A statement in force keeps its language; a new one is in the language last given in.
    let kept: HashMap<String, String> =
        current.iter().map(|(key, issued)| (key.clone(), issued.locale.clone())).collect();
    let locales = store.donor_locales().await?;
    let drafted = drafts(&entries, &locales, &kept, &catalog().fallback().code);
    let plans = plan(drafted, &current);
    let mut run = StatementRun::default();
    let total = plans.len();
    // Each statement is its own transaction: a run stopped part way (another run at the same
    // time, the database gone) still audits those it issued before it returns the error.
    let mut stopped = None;
    for (done, planned) in plans.into_iter().enumerate() {
        let issued = match planned {
            Plan::Issue(draft) => store
                .issue_statement(year, campaign_id, &draft, None, &actor.label, zone)
                .await
                .map(|statement| run.issued.push(statement)),
            Plan::Replace(draft, old) => store
                .issue_statement(year, campaign_id, &draft, Some(old), &actor.label, zone)
                .await
                .map(|statement| run.replaced.push(statement)),
            Plan::Unchanged(_) => {
                run.unchanged += 1;
                Ok(())
            }
        };
        if let Err(error) = issued {
            stopped = Some(error);
            break;
        }
        on_progress(done + 1, total);
    }
    if send && stopped.is_none() {
        run.queued = store.queue_statement_emails(year, campaign_id).await?;
    }
    if !run.issued.is_empty() || !run.replaced.is_empty() || run.queued > 0 {
        let after = serde_json::json!({
            "campaign": campaign.as_ref().map(|campaign| campaign.slug.to_string()),
            "issued": run.issued.iter().map(|s| s.number).collect::<Vec<_>>(),
            "replaced": run.replaced.iter().map(|s| (s.replaces_number, s.number)).collect::<Vec<_>>(),
            "emails_queued": run.queued,
        });
        let audited = store
            .audit(
                &actor.label,
                "statements.issued",
                &format!("year:{year}"),
                None,
                Some(&after),
                actor.address.as_deref(),
            )
            .await;
        match (audited, &stopped) {
            (Err(error), None) => return Err(error.into()),
            // The error that stopped the run is the one to tell.
            (Err(error), Some(_)) => {
                tracing::warn!(%error, "the statements issued before the run stopped were not audited")
            }
            (Ok(()), _) => {}
        }
    }
    match stopped {
        Some(error) => Err(error.into()),
        None => Ok(run),
    }
}

/// An issued statement and its PDF.
pub async fn statement_document(
    store: &Store,
    site: &SiteConfig,
    id: i64,
    actor: &Actor,
) -> Result<(StoredStatement, Vec<u8>), ActionError> {
    require_whole_organization(actor)?;
    let statement = store.statement(id).await?.ok_or(ActionError::NotFound("statement"))?;
    let pdf = issued_pdf(&statement, &site.organization, &site.organization_details)
        .map_err(|error| ActionError::Output(error.to_string()))?;
    Ok((statement, pdf))
}

/// The statement the donor with `email` would get for `year` if it were issued now, as PDF:
/// marked as a preview, numbered after the year's last.
pub async fn preview_statement(
    store: &Store,
    site: &SiteConfig,
    zone: chrono_tz::Tz,
    year: i32,
    email: &str,
    actor: &Actor,
) -> Result<Vec<u8>, ActionError> {
    require_whole_organization(actor)?;
    let year = statement_year(year, zone)?;
    let key = store
        .donor_key_of_email(email)
        .await?
        .ok_or(ActionError::NotFound("gift of that donor in that year"))?;
    let key = Merges::new(&store.donor_merges().await?).canonical(&key);
    let entries: Vec<_> = merged(store, store.year_entries(year, zone, None).await?)
        .await?
        .into_iter()
        .filter(|entry| entry.donor_key == key)
        .collect();
    let locales = store.donor_locales().await?;
    let kept: HashMap<String, String> = store
        .statements_in_force(year, None)
        .await?
        .into_iter()
        .map(|(key, issued)| (key, issued.locale))
        .collect();
    let draft = drafts(&entries, &locales, &kept, &catalog().fallback().code)
        .into_iter()
        .next()
        .ok_or(ActionError::NotFound("gift of that donor in that year"))?;
    let language = catalog().get(&draft.locale).unwrap_or_else(|| catalog().fallback());
    let next = store.statements(year).await?.last().map_or(1, |last| last.number + 1);
    let header = StatementHeader {
        organization: &site.organization,
        details: &site.organization_details,
        year,
        number: next,
        issued_on: Utc::now().with_timezone(&zone).date_naive(),
        replaces: None,
        preview: true,
    };
    statement_pdf(&header, &draft.body, language.drawable())
        .map_err(|error| ActionError::Output(error.to_string()))
}
