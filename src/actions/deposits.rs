//! Deposits: posted whole once (a look-alike of an earlier one is asked about first), and
//! reversed whole with one reason.

use chrono::Utc;
use serde::Deserialize;

use super::{ActionError, audit, check_branch, entry_json, scoped_to_branch};
use crate::access::Actor;
use crate::ledger::Campaign;
use crate::ledger::batch::BatchDraft;
use crate::ledger::entry::{Entry, ReversalInput, validate_reversal};
use crate::store::{LookAlike, RecordOutcome, Store, StoreError, StoredBatch};

/// A deposit posted, or (for a preview) checked and not posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOutcome {
    pub batch_id: Option<i64>,
    pub currency: crate::ledger::Currency,
    pub total_minor: i64,
    pub entries: Vec<crate::ledger::NewEntry>,
    pub recorded: Vec<Entry>,
    /// Posted before under the same idempotency key: nothing was posted now.
    pub replayed: bool,
}

/// Posts a deposit whose entries match its declared count and total, in one transaction.
/// With `preview`, checks everything and posts nothing.
#[tracing::instrument(skip_all, fields(slug, actor = %actor.label))]
pub async fn record_batch(
    store: &Store,
    slug: &str,
    input: crate::ledger::batch::BatchInput,
    actor: &Actor,
    names: crate::ledger::batch::RowNames,
    preview: bool,
    idempotency_key: Option<String>,
) -> Result<BatchOutcome, ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let branches = store.branches(campaign.id).await?;
    let mut input = input;
    let allow_duplicate = input.allow_duplicate;
    input.entries = input
        .entries
        .into_iter()
        .map(|entry| scoped_to_branch(entry, actor))
        .collect::<Result<Vec<_>, ActionError>>()?;
    let draft = crate::ledger::batch::validate_batch(
        input,
        &campaign,
        &branches,
        Utc::now().date_naive(),
        &actor.label,
        names,
    )?;
    let total_minor = draft.declared_total_minor;
    let key = idempotency_key.map(|key| format!("batch:{}:{key}", actor.label));
    if preview {
        // The preview says now what posting would say: the same form sent again is a replay,
        // not a look-alike deposit.
        let replay = match &key {
            Some(key) => store.batch_id_by_key(key).await?.is_some(),
            None => false,
        };
        if !allow_duplicate && !replay {
            refuse_look_alike(store, &campaign, &draft).await?;
        }
        return Ok(BatchOutcome {
            batch_id: None,
            currency: campaign.currency,
            total_minor,
            entries: draft.entries,
            recorded: Vec::new(),
            replayed: false,
        });
    }
    // Posting asks under the campaign's lock, so that two sent at once (on two instances)
    // cannot both pass; a replay of the same form answers as the first time.
    let posted = match store.record_batch(&draft, &actor.label, key.as_deref(), !allow_duplicate).await {
        Err(StoreError::LooksLike(look)) => match look {
            LookAlike::Deposit(earlier) => return Err(look_alike_conflict(&campaign, &earlier)),
            LookAlike::Gift(_) => unreachable!("a deposit is compared with deposits"),
        },
        posted => posted?,
    };
    if !posted.replayed {
        let after = serde_json::json!({
            "reference": draft.reference,
            "count": posted.entries.len(),
            "total": campaign.currency.format_minor(total_minor),
            "entries": posted.entries.iter().map(|entry| entry.id).collect::<Vec<_>>(),
        });
        audit(store, actor, "batch.post", &format!("batch:{}", posted.batch_id), None, Some(after)).await;
    }
    Ok(BatchOutcome {
        batch_id: Some(posted.batch_id),
        currency: campaign.currency,
        total_minor,
        entries: draft.entries,
        recorded: posted.entries,
        replayed: posted.replayed,
    })
}

/// Refuses a deposit like an earlier one of the campaign (the same slip, or the same date
/// and total), naming it, unless the treasurer confirmed it (`allow_duplicate`).
async fn refuse_look_alike(
    store: &Store,
    campaign: &Campaign,
    draft: &BatchDraft,
) -> Result<(), ActionError> {
    let earlier = store
        .earlier_deposit(campaign.id, &draft.reference, draft.deposited_on, draft.declared_total_minor)
        .await?;
    match earlier {
        None => Ok(()),
        Some(earlier) => Err(look_alike_conflict(campaign, &earlier)),
    }
}

/// The refusal of a deposit like `earlier`, naming it.
fn look_alike_conflict(campaign: &Campaign, earlier: &StoredBatch) -> ActionError {
    ActionError::Conflict {
        field: "reference".to_owned(),
        message: format!(
            "matches deposit #{} (\"{}\", deposited on {}, {} {}, posted by {} on {}): post it anyway with allow_duplicate",
            earlier.id,
            earlier.reference,
            earlier.deposited_on,
            campaign.currency.format_minor(earlier.declared_total_minor),
            campaign.currency,
            earlier.recorded_by,
            earlier.recorded_at.format("%Y-%m-%d"),
        ),
    }
}

/// Why a whole deposit is taken out of the books.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"reason": "deposit entered twice", "kind": "adjustment"})))]
pub struct BatchReversalInput {
    #[serde(default)]
    #[schema(required = true)]
    pub reason: Option<String>,
    /// refund or adjustment (the default).
    #[serde(default)]
    pub kind: Option<String>,
    /// Defaults to today.
    #[serde(default)]
    pub received_on: Option<String>,
}

/// A deposit reversed: the reversals recorded (or found again, for a replay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchReversed {
    pub batch_id: i64,
    pub currency: crate::ledger::Currency,
    pub reversals: Vec<Entry>,
    pub replayed: bool,
}

/// Reverses what is left of every entry of a deposit, in one transaction, with one reason
/// (a bounced deposit, a slip entered in the wrong campaign).
#[tracing::instrument(skip_all, fields(batch_id, actor = %actor.label))]
pub async fn reverse_batch(
    store: &Store,
    batch_id: i64,
    input: BatchReversalInput,
    actor: &Actor,
    idempotency_key: Option<String>,
) -> Result<BatchReversed, ActionError> {
    let batch = store.batch(batch_id).await?.ok_or(ActionError::NotFound("deposit"))?;
    let entries = store.batch_entries(batch.id).await?;
    for entry in &entries {
        check_branch(actor, entry)?;
    }
    let Some(currency) = entries.first().map(|entry| entry.currency) else {
        return Err(ActionError::Conflict {
            field: "batch".to_owned(),
            message: "holds no entries".to_owned(),
        });
    };
    let key_of = |entry: &Entry| {
        idempotency_key.as_ref().map(|key| format!("reverse-batch:{}:{key}:{}", actor.label, entry.id))
    };
    if let Some(first) = entries.first()
        && let Some(key) = key_of(first)
        && store.entry_by_idempotency_key(&key).await?.is_some()
    {
        let mut reversals = Vec::new();
        for entry in &entries {
            if let Some(key) = key_of(entry)
                && let Some(existing) = store.entry_by_idempotency_key(&key).await?
            {
                reversals.push(existing);
            }
        }
        return Ok(BatchReversed { batch_id, currency, reversals, replayed: true });
    }
    let today = Utc::now().date_naive();
    let mut drafts = Vec::new();
    for entry in &entries {
        let remaining = store.remaining_of(entry.origin_entry_id).await?;
        if remaining <= 0 {
            continue;
        }
        let reversal = ReversalInput {
            amount: None,
            reason: input.reason.clone(),
            kind: input.kind.clone(),
            received_on: input.received_on.clone(),
        };
        let mut draft = validate_reversal(reversal, entry, remaining, today, &actor.label)?;
        draft.idempotency_key = key_of(entry);
        drafts.push(draft);
    }
    if drafts.is_empty() {
        return Err(ActionError::Conflict {
            field: "batch".to_owned(),
            message: "is already fully reversed".to_owned(),
        });
    }
    let outcomes = store.record_entries(&drafts).await?;
    let reversals: Vec<Entry> = outcomes.iter().map(|outcome| outcome.entry().clone()).collect();
    let total: i64 = reversals.iter().map(|entry| entry.amount_minor).sum();
    let after = serde_json::json!({
        "reason": input.reason,
        "total": currency.format_minor(total),
        "reversals": reversals.iter().map(entry_json).collect::<Vec<_>>(),
    });
    let before = serde_json::json!({"reference": batch.reference, "entries": entries.iter().map(|entry| entry.id).collect::<Vec<_>>()});
    audit(store, actor, "batch.reverse", &format!("batch:{batch_id}"), Some(before), Some(after)).await;
    let replayed = outcomes.iter().all(|outcome| matches!(outcome, RecordOutcome::Replayed(_)));
    Ok(BatchReversed { batch_id, currency, reversals, replayed })
}
