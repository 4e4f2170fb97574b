//! Appeals: set up and changed by admins (API and CLI), their progress document built from
//! the members' public figures and the rates, and `appeal check`'s recomputation of each
//! converted total from the ledger and the rates table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::ActionError;
use crate::access::{Actor, Role};
use crate::ledger::FieldErrors;
use crate::ledger::appeals::{
    Appeal, AppealInput, AppealProgress, Figures, FixedRate, KnownRates, MemberDraft, MemberSnapshot,
    MemberSource, RatePolicy, appeal_progress, validate_appeal,
};
use crate::ledger::money::Currency;
use crate::store::Store;

fn require_admin(actor: &Actor) -> Result<(), ActionError> {
    if !actor.role.allows(Role::Admin) || actor.branch.is_some() {
        return Err(ActionError::Forbidden(
            "appeals gather the whole organization's campaigns: admins set them up".to_owned(),
        ));
    }
    Ok(())
}

/// The campaigns a draft's members name, by slug, or an error naming each member that names
/// none.
async fn campaign_ids(store: &Store, members: &[MemberDraft]) -> Result<HashMap<String, i64>, ActionError> {
    let mut ids = HashMap::new();
    let mut errors = FieldErrors::new();
    for (index, member) in members.iter().enumerate() {
        if let MemberDraft::Campaign { slug, .. } = member {
            match store.campaign_by_slug(slug.as_str()).await? {
                Some(campaign) => {
                    ids.insert(slug.to_string(), campaign.id);
                }
                None => {
                    errors.add(format!("members[{index}].campaign"), format!("names no campaign \"{slug}\""))
                }
            }
        }
    }
    if errors.is_empty() { Ok(ids) } else { Err(ActionError::Invalid(errors)) }
}

/// What the audit log keeps of an appeal.
fn appeal_json(appeal: &Appeal) -> serde_json::Value {
    serde_json::json!({
        "slug": appeal.slug.as_str(),
        "title": appeal.title,
        "currency": appeal.currency.code(),
        "goal": appeal.currency.format_minor(appeal.goal_minor),
        "rate_policy": appeal.rate_policy.as_str(),
        "fixed_rates": appeal.fixed_rates.iter().map(|(code, fixed)| (code.to_string(), fixed.rate.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
        "launched_on": appeal.launched_on.to_string(),
        "members": appeal.members.iter().map(|member| match &member.source {
            MemberSource::Campaign { slug, .. } => serde_json::json!({"campaign": slug, "name": member.name}),
            MemberSource::Remote { url, .. } => serde_json::json!({"url": url, "name": member.name}),
        }).collect::<Vec<_>>(),
    })
}

/// Sets up an appeal; its launch day (for fixed rates not given) is today.
pub async fn create_appeal(store: &Store, input: AppealInput, actor: &Actor) -> Result<Appeal, ActionError> {
    require_admin(actor)?;
    let draft = validate_appeal(input, None)?;
    let ids = campaign_ids(store, &draft.members).await?;
    let appeal = store.create_appeal(&draft, &ids, Utc::now().date_naive()).await?;
    let target = format!("appeal:{}", appeal.slug);
    super::audit(store, actor, "appeal.create", &target, None, Some(appeal_json(&appeal))).await;
    Ok(appeal)
}

/// Changes an appeal: any field; `members`, when given, is the whole list.
pub async fn update_appeal(
    store: &Store,
    slug: &str,
    input: AppealInput,
    actor: &Actor,
) -> Result<Appeal, ActionError> {
    require_admin(actor)?;
    let appeal = store.appeal_by_slug(slug).await?.ok_or(ActionError::NotFound("appeal"))?;
    let draft = validate_appeal(input, Some(&appeal))?;
    let ids = campaign_ids(store, &draft.members).await?;
    let updated = store.update_appeal(appeal.id, &draft, &ids).await?;
    let target = format!("appeal:{}", updated.slug);
    super::audit(
        store,
        actor,
        "appeal.update",
        &target,
        Some(appeal_json(&appeal)),
        Some(appeal_json(&updated)),
    )
    .await;
    Ok(updated)
}

/// Every appeal, for people of the treasury.
pub async fn list_appeals(store: &Store, actor: &Actor) -> Result<Vec<Appeal>, ActionError> {
    if !actor.role.allows(Role::Viewer) {
        return Err(ActionError::Forbidden("appeals are listed for people of the treasury".to_owned()));
    }
    Ok(store.list_appeals().await?)
}

/// What a member is called: the name the appeal gives it, its campaign's title, or a remote's
/// campaign and host.
fn member_name(name: Option<&String>, source: &MemberSource) -> String {
    if let Some(name) = name {
        return name.clone();
    }
    match source {
        MemberSource::Campaign { title, slug, .. } => {
            Some(title.get("en")).filter(|title| !title.is_empty()).unwrap_or(slug).to_owned()
        }
        MemberSource::Remote { url, state } => {
            let host = url::Url::parse(url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_owned))
                .unwrap_or_default();
            match state.figures.as_ref().and_then(|figures| figures.campaign.as_deref()) {
                Some(campaign) => format!("{campaign} ({host})"),
                None => host,
            }
        }
    }
}

/// The members as the appeal reads them: this instance's campaigns from their progress
/// documents, remotes as last heard; and whether a campaign was left out (a draft: its
/// figures are not public). `local_raised` may replace a campaign's figure (`appeal check`
/// gives the ledger's).
async fn snapshots(
    store: &Store,
    appeal: &Appeal,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
    local_raised: Option<&HashMap<i64, i64>>,
) -> Result<(Vec<MemberSnapshot>, bool), ActionError> {
    let mut snapshots = Vec::with_capacity(appeal.members.len());
    let mut left_out = false;
    for member in &appeal.members {
        let name = member_name(member.name.as_ref(), &member.source);
        match &member.source {
            MemberSource::Campaign { id, slug, .. } => {
                let document = store.progress_document(slug).await?.filter(|document| document.public);
                let Some(document) = document else {
                    left_out = true;
                    continue;
                };
                let mut figures = Figures::from_progress(&document.body).map_err(|error| {
                    crate::store::StoreError::Corrupt(format!("progress of {slug} {error}"))
                })?;
                if let Some(raised) = local_raised.and_then(|raised| raised.get(id)) {
                    figures.raised_minor = *raised;
                }
                snapshots.push(MemberSnapshot {
                    campaign: Some(slug.clone()),
                    url: None,
                    name,
                    as_of: figures.updated_at,
                    figures: Some(figures),
                    stale: false,
                });
            }
            MemberSource::Remote { url, state } => snapshots.push(MemberSnapshot {
                campaign: None,
                url: Some(url.clone()),
                name,
                figures: state.figures.clone(),
                as_of: state.heard_at,
                stale: state.is_stale(now, stale_after),
            }),
        }
    }
    Ok((snapshots, left_out))
}

/// The rates an appeal's members need: near its launch day (fixed policy, for currencies not
/// fixed yet) and near today (latest policy). Under the fixed policy, a rate the table gives a
/// currency for the launch day is fixed then (kept with its day and source), so that a later
/// correction of the table does not move the total.
async fn known_rates(
    store: &Store,
    appeal: &mut Appeal,
    snapshots: &[MemberSnapshot],
    now: DateTime<Utc>,
) -> Result<KnownRates, ActionError> {
    let mut currencies: Vec<Currency> = Appeal::currencies(snapshots);
    currencies.retain(|currency| *currency != appeal.currency);
    let mut known = KnownRates::default();
    match appeal.rate_policy {
        RatePolicy::Fixed => {
            currencies.retain(|currency| !appeal.fixed_rates.contains_key(currency.code()));
            if currencies.is_empty() {
                return Ok(known);
            }
            let mut asked = currencies.clone();
            asked.push(appeal.currency);
            known.at_launch = store.rates_near(&asked, appeal.launched_on).await?;
            let mut froze = false;
            for currency in currencies {
                if let Ok(applied) = appeal.rate_for(currency, &known, now.date_naive()) {
                    let fixed = FixedRate { rate: applied.rate, day: applied.day, source: applied.source };
                    store.freeze_fixed_rate(appeal.id, currency.code(), &fixed).await?;
                    froze = true;
                }
            }
            // Another reader may have fixed one first: the kept ones are the truth.
            if froze {
                appeal.fixed_rates = store.appeal_fixed_rates(appeal.id).await?;
            }
        }
        RatePolicy::Latest => {
            if !currencies.is_empty() {
                currencies.push(appeal.currency);
                known.latest = store.rates_near(&currencies, now.date_naive()).await?;
            }
        }
    }
    Ok(known)
}

/// An appeal's public progress document (`None`: no such appeal). A remote is stale once
/// not heard from for `stale_after`.
pub async fn appeal_progress_document(
    store: &Store,
    slug: &str,
    stale_after: chrono::Duration,
) -> Result<Option<(Appeal, AppealProgress)>, ActionError> {
    let Some(mut appeal) = store.appeal_by_slug(slug).await? else { return Ok(None) };
    let now = Utc::now();
    let (members, left_out) = snapshots(store, &appeal, now, stale_after, None).await?;
    let known = known_rates(store, &mut appeal, &members, now).await?;
    let progress = appeal_progress(&appeal, &members, &known, now, left_out);
    Ok(Some((appeal, progress)))
}

/// One appeal as `appeal check` found it.
#[derive(Clone, Debug)]
pub struct AppealChecked {
    pub slug: String,
    /// Recomputed from the ledger and the rates.
    pub progress: AppealProgress,
    /// What its progress document serves, where it differs: `(what, served, recomputed)`.
    pub mismatches: Vec<(String, String, String)>,
}

/// Recomputes every appeal's converted total from the ledger (this instance's members) and
/// the rates (fixed, or the table's), beside what its progress document serves (from the
/// kept totals).
pub async fn check_appeals(store: &Store) -> Result<Vec<AppealChecked>, ActionError> {
    let now = Utc::now();
    let stale_after = chrono::Duration::MAX;
    let mut checked = Vec::new();
    for mut appeal in store.list_appeals().await? {
        let (served_members, left_out) = snapshots(store, &appeal, now, stale_after, None).await?;
        let known = known_rates(store, &mut appeal, &served_members, now).await?;
        let served = appeal_progress(&appeal, &served_members, &known, now, left_out);
        let mut raised = HashMap::new();
        for member in &appeal.members {
            if let MemberSource::Campaign { id, slug, .. } = &member.source
                && let Some(figure) = store.ledger_raised(slug).await?
            {
                raised.insert(*id, figure);
            }
        }
        let (members, left_out) = snapshots(store, &appeal, now, stale_after, Some(&raised)).await?;
        let progress = appeal_progress(&appeal, &members, &known, now, left_out);
        let mut mismatches = Vec::new();
        if served.raised != progress.raised {
            mismatches.push(("raised".to_owned(), served.raised.clone(), progress.raised.clone()));
        }
        for (served, recomputed) in served.members.iter().zip(&progress.members) {
            if served.raised_converted != recomputed.raised_converted {
                mismatches.push((
                    format!("{} converted", recomputed.name),
                    served.raised_converted.clone().unwrap_or_default(),
                    recomputed.raised_converted.clone().unwrap_or_default(),
                ));
            }
        }
        checked.push(AppealChecked { slug: appeal.slug.to_string(), progress, mismatches });
    }
    Ok(checked)
}
