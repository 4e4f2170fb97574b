//! Donors seen whole, for treasurers: search by name or email, one person's every gift and
//! subscription across campaigns with totals per year, and merging two records of one person
//! (audited; undone by a newer record, never by editing the ledger).

use std::collections::BTreeMap;

use super::ActionError;
use crate::access::{Actor, Role};
use crate::ledger::donors::{Merge, Merges};
use crate::ledger::entry::Entry;
use crate::ledger::subscription::Subscription;
use crate::ledger::{FieldErrors, Slug};
use crate::store::{DonorFigures, Store};

/// The most people a search lists.
pub const DONOR_SEARCH_LIMIT: i64 = 100;

/// One person as a search lists them: their records' figures together.
#[derive(Clone, Debug)]
pub struct DonorSummary {
    /// The key they are seen under.
    pub key: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Every key of theirs (the first is `key`).
    pub keys: Vec<String>,
    pub gifts: i64,
    /// By currency: gifts less what reversed them.
    pub totals: BTreeMap<String, i64>,
    pub last_on: Option<chrono::NaiveDate>,
}

/// One person seen whole.
#[derive(Clone, Debug)]
pub struct DonorRecord {
    pub summary: DonorSummary,
    pub entries: Vec<Entry>,
    pub subscriptions: Vec<(Subscription, Slug)>,
    /// The merges that brought other records into this person.
    pub merges: Vec<Merge>,
    /// They were forgotten: their records name no one.
    pub forgotten: bool,
}

fn require_donors(actor: &Actor) -> Result<(), ActionError> {
    if !actor.role.allows(Role::Treasurer) || actor.branch.is_some() || !actor.scope().sees_donors() {
        return Err(ActionError::Forbidden(
            "donors give across branches: a treasurer of the whole organization sees them".to_owned(),
        ));
    }
    Ok(())
}

fn summary(merges: &Merges, key: &str, figures: &[DonorFigures]) -> DonorSummary {
    let keys = merges.members(key);
    let mine: Vec<&DonorFigures> = figures.iter().filter(|row| keys.contains(&row.key)).collect();
    let canonical = &keys[0];
    // The name and email of the record they are seen under, else of another of theirs.
    let pick = |get: &dyn Fn(&DonorFigures) -> Option<String>| {
        mine.iter()
            .find(|row| &row.key == canonical)
            .and_then(|row| get(row))
            .or_else(|| mine.iter().find_map(|row| get(row)))
    };
    let mut totals = BTreeMap::new();
    for row in &mine {
        *totals.entry(row.currency.clone()).or_insert(0) += row.total_minor;
    }
    DonorSummary {
        key: canonical.clone(),
        name: pick(&|row| row.name.clone()),
        email: pick(&|row| row.email.clone()),
        keys: keys.clone(),
        gifts: mine.iter().map(|row| row.gifts).sum(),
        totals,
        last_on: mine.iter().map(|row| row.last_on).max(),
    }
}

/// The people whose name, email or key holds `words`, the most recent givers first.
pub async fn search_donors(
    store: &Store,
    words: &str,
    actor: &Actor,
) -> Result<Vec<DonorSummary>, ActionError> {
    require_donors(actor)?;
    if words.trim().is_empty() {
        return Ok(Vec::new());
    }
    let merges = Merges::new(&store.donor_merges().await?);
    let mut people: Vec<String> = Vec::new();
    for key in store.find_donor_keys(words, DONOR_SEARCH_LIMIT).await? {
        let canonical = merges.canonical(&key);
        if !people.contains(&canonical) {
            people.push(canonical);
        }
    }
    let keys: Vec<String> = people.iter().flat_map(|key| merges.members(key)).collect();
    let figures = store.donor_figures(&keys).await?;
    Ok(people.iter().map(|key| summary(&merges, key, &figures)).collect())
}

/// Everything of the person a key belongs to.
pub async fn donor_record(store: &Store, key: &str, actor: &Actor) -> Result<DonorRecord, ActionError> {
    require_donors(actor)?;
    let merges = Merges::new(&store.donor_merges().await?);
    let keys = merges.members(key);
    let figures = store.donor_figures(&keys).await?;
    if figures.is_empty() {
        return Err(ActionError::NotFound("donor"));
    }
    let entries = store.entries_of_donors(&keys).await?;
    let emails = store.emails_of_donors(&keys).await?;
    let subscriptions = store.subscriptions_of_emails(&emails).await?;
    Ok(DonorRecord {
        summary: summary(&merges, key, &figures),
        entries,
        subscriptions,
        merges: merges.merged_into(key).into_iter().cloned().collect(),
        forgotten: store.forgotten_donor_keys().await?.contains(&merges.canonical(key)),
    })
}

/// Merges the record `other` names (a key, an email or a name) into `key`'s person.
pub async fn merge_donors(
    store: &Store,
    key: &str,
    other: &str,
    reason: Option<&str>,
    actor: &Actor,
) -> Result<i64, ActionError> {
    require_donors(actor)?;
    if other.trim().is_empty() {
        return Err(ActionError::Invalid(FieldErrors::single(
            "other",
            "is required: an email, a name or a record",
        )));
    }
    let no_gift = || {
        ActionError::Invalid(FieldErrors::single(
            "other",
            format!("no gift is recorded under {}", other.trim()),
        ))
    };
    let from = store.donor_key_named(other).await?.ok_or_else(no_gift)?;
    let merges = Merges::new(&store.donor_merges().await?);
    let into = merges.canonical(key);
    if store.donor_figures(std::slice::from_ref(&from)).await?.is_empty() {
        return Err(no_gift());
    }
    if store.donor_figures(std::slice::from_ref(&into)).await?.is_empty() {
        return Err(ActionError::NotFound("donor"));
    }
    merges.check(&from, &into).map_err(ActionError::Invalid)?;
    // A forgotten donor's gifts stay with no one: merged with a named record, they would name
    // them again.
    let forgotten = store.forgotten_donor_keys().await?;
    if forgotten.contains(&from) || forgotten.contains(&into) {
        return Err(ActionError::Invalid(FieldErrors::single(
            "other",
            "cannot be merged with a forgotten donor, whose gifts stay with no one",
        )));
    }
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    let id = store.record_merge(&from, &into, None, reason, &actor.label).await?;
    let after = serde_json::json!({"from": from, "into": into, "reason": reason});
    store
        .audit(
            &actor.label,
            "donor.merged",
            &format!("merge:{id}"),
            None,
            Some(&after),
            actor.address.as_deref(),
        )
        .await?;
    Ok(id)
}

/// Undoes the merge `id` (in force) by a newer record; the person it was merged into.
pub async fn undo_merge(store: &Store, id: i64, actor: &Actor) -> Result<String, ActionError> {
    require_donors(actor)?;
    let merges = Merges::new(&store.donor_merges().await?);
    let merge = merges.in_force(id).cloned().ok_or(ActionError::NotFound("merge in force"))?;
    let undo = store.record_merge(&merge.from_key, &merge.into_key, Some(id), None, &actor.label).await?;
    let before = serde_json::json!({"from": merge.from_key, "into": merge.into_key});
    store
        .audit(
            &actor.label,
            "donor.unmerged",
            &format!("merge:{id}"),
            Some(&before),
            Some(&serde_json::json!({"undone_by": undo})),
            actor.address.as_deref(),
        )
        .await?;
    Ok(merges.canonical(&merge.into_key))
}
