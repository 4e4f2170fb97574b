//! What a treasurer does with what Stripe reported that needs a look: apply a failed event
//! again or dismiss it, acknowledge an over-reversed gift, and give the amount of money that
//! could not be counted in its campaign's currency. Every decision is audited.

use serde::Deserialize;

use super::{ActionError, audit, require_whole_organization};
use crate::access::Actor;
use crate::ledger::entry::Entry;
use crate::ledger::validation::{AmountText, optional_text};
use crate::ledger::{EntryKind, FieldErrors, Money, MoneyError};
use crate::payments::Payments;
use crate::payments::objects::Event;
use crate::payments::process::{EventOutcome, EventSource, process_event, resume_deferred};
use crate::store::{Flag, FlagKind, RecordOutcome, Resolution, Store, StoreError};

const REASON_MAX_CHARS: usize = 500;

fn required_reason(reason: Option<String>) -> Result<String, ActionError> {
    let mut errors = FieldErrors::new();
    match optional_text(&mut errors, "reason", reason, REASON_MAX_CHARS) {
        Some(reason) if errors.is_empty() => Ok(reason),
        _ => {
            errors.add("reason", "is required");
            Err(ActionError::Invalid(errors))
        }
    }
}

/// Applies a failed or quarantined event again, now. Its error, if it fails again, is
/// returned (and kept with the event).
#[tracing::instrument(skip_all, fields(event_id))]
pub async fn retry_stripe_event(
    store: &Store,
    payments: Option<&Payments>,
    event_id: &str,
    actor: &Actor,
) -> Result<EventOutcome, ActionError> {
    require_whole_organization(actor, "Stripe's events")?;
    let failed = store.failed_event(event_id).await?.ok_or(ActionError::NotFound("failed event"))?;
    let payments = payments.ok_or(ActionError::PaymentsNotConfigured)?;
    let payload = failed.payload.ok_or(ActionError::NotFound("the event's payload"))?;
    let event: Event = serde_json::from_str(&payload).map_err(|error| {
        ActionError::Process(crate::payments::process::ProcessError::Unreadable(error.to_string()))
    })?;
    let outcome = process_event(store, &payments.api, &event, &payload, EventSource::Treasurer).await;
    let after = match &outcome {
        Ok(outcome) => serde_json::json!({"outcome": outcome.as_str()}),
        Err(error) => serde_json::json!({"error": error.to_string()}),
    };
    let before =
        serde_json::json!({"status": failed.status, "attempts": failed.attempts, "error": failed.last_error});
    audit(store, actor, "stripe_event.retry", &format!("stripe_event:{event_id}"), Some(before), Some(after))
        .await;
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(error) if error.is_database_down() => Err(error.into()),
        Err(error) => {
            Err(ActionError::Conflict { field: "event".to_owned(), message: format!("still fails: {error}") })
        }
    }
}

/// Sets a failed event aside for good, with the reason why.
#[tracing::instrument(skip_all, fields(event_id))]
pub async fn dismiss_stripe_event(
    store: &Store,
    event_id: &str,
    reason: Option<String>,
    actor: &Actor,
) -> Result<(), ActionError> {
    require_whole_organization(actor, "Stripe's events")?;
    let reason = required_reason(reason)?;
    let failed = store.failed_event(event_id).await?.ok_or(ActionError::NotFound("failed event"))?;
    if !store.dismiss_event(event_id, Resolution { by: &actor.label, reason: &reason }).await? {
        return Err(ActionError::NotFound("failed event"));
    }
    let before =
        serde_json::json!({"status": failed.status, "attempts": failed.attempts, "error": failed.last_error});
    let after = serde_json::json!({"status": "dismissed", "reason": reason});
    audit(
        store,
        actor,
        "stripe_event.dismiss",
        &format!("stripe_event:{event_id}"),
        Some(before),
        Some(after),
    )
    .await;
    Ok(())
}

/// A treasurer's decision on a flag (API body and CLI flags alike).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"reason": "checked against the bank statement"}),
    json!({"amount": "40.00", "fee": "1.46", "reason": "converted at the bank's rate"})))]
pub struct FlagResolutionInput {
    #[serde(default)]
    pub reason: Option<String>,
    /// For money that could not be counted: what it counts for in the campaign's currency
    /// (as a positive amount; a refund or withdrawal is recorded negative).
    #[serde(default)]
    pub amount: Option<AmountText>,
    /// What Stripe kept of it, in the campaign's currency (default 0; negative when Stripe
    /// gave a fee back).
    #[serde(default)]
    pub fee: Option<AmountText>,
}

/// What a resolution did: the flag as it now stands and, when money was recorded, its entry.
#[derive(Clone, Debug)]
pub struct FlagResolved {
    pub flag: Flag,
    pub entry: Option<Entry>,
}

/// Acknowledges or dismisses a flag, or records the money it held at the amount given.
#[tracing::instrument(skip_all, fields(flag_id))]
pub async fn resolve_flag(
    store: &Store,
    payments: Option<&Payments>,
    flag_id: i64,
    input: FlagResolutionInput,
    actor: &Actor,
) -> Result<FlagResolved, ActionError> {
    let flag = store.flag(flag_id).await?.ok_or(ActionError::NotFound("flag"))?;
    if !actor.may_touch_branch(flag.branch_slug.as_ref().map(|slug| slug.as_str())) {
        return Err(ActionError::Forbidden("this flag is not of your branch".to_owned()));
    }
    if !flag.is_open() {
        return Err(ActionError::Conflict {
            field: "flag".to_owned(),
            message: "is already resolved".to_owned(),
        });
    }
    let reason = required_reason(input.reason)?;
    let resolution = Resolution { by: &actor.label, reason: &reason };
    let recorded = match (&flag.held, input.amount) {
        (Some(held), Some(AmountText(amount))) => {
            let mut errors = FieldErrors::new();
            let amount =
                errors.check("amount", Money::parse_positive(&amount, held.currency)).map(Money::minor);
            let fee = match input.fee {
                Some(AmountText(fee)) => errors.check("fee", fee_minor(&fee, held.currency)),
                None => Some(0),
            };
            let (Some(amount), Some(fee)) = (amount, fee) else {
                return Err(ActionError::Invalid(errors));
            };
            let mut entry = held.clone();
            let money_in =
                matches!(entry.kind, EntryKind::Donation | EntryKind::RefundFailed | EntryKind::DisputeWon);
            entry.amount_minor = if money_in { amount } else { -amount };
            entry.fee_minor = fee;
            entry.recorded_by = actor.label.clone();
            entry.reason = Some(reason.clone());
            match store.record_held(flag_id, &entry, resolution).await {
                Err(StoreError::NotFound("reversed entry")) => {
                    return Err(ActionError::Conflict {
                        field: "flag".to_owned(),
                        message:
                            "answers a refund or withdrawal that is not recorded yet: resolve that flag first"
                                .to_owned(),
                    });
                }
                recorded => Some(recorded?),
            }
        }
        (None, Some(_)) => {
            return Err(ActionError::Invalid(FieldErrors::single(
                "amount",
                "is only given for money that could not be counted; this flag is acknowledged with a reason",
            )));
        }
        (held, None) => {
            if !store.resolve_flag(flag_id, resolution).await? {
                return Err(ActionError::Conflict {
                    field: "flag".to_owned(),
                    message: "is already resolved".to_owned(),
                });
            }
            // A gift that does not count takes the refunds and disputes waiting for it along.
            if let Some(held) = held.as_ref().filter(|held| held.kind == EntryKind::Donation)
                && let Some(charge) = &held.stripe.charge
            {
                store.dismiss_events_waiting_for(charge, resolution).await?;
            }
            None
        }
    };
    let entry = recorded.as_ref().map(|outcome| outcome.entry().clone());
    // Events that waited for this gift (its refunds, its disputes) can follow now.
    if let (Some(RecordOutcome::Recorded(gift)), Some(payments)) = (&recorded, payments)
        && gift.kind == EntryKind::Donation
        && let Some(charge) = &gift.stripe.charge
    {
        resume_deferred(store, &payments.api, charge, EventSource::Treasurer).await?;
    }
    let flag = store.flag(flag_id).await?.ok_or(ActionError::NotFound("flag"))?;
    let after = serde_json::json!({
        "kind": flag.kind.as_str(),
        "resolution": reason,
        "entry": entry.as_ref().map(|entry| entry.id),
        "amount": entry.as_ref().map(|entry| entry.currency.format_minor(entry.amount_minor)),
    });
    let action = match (flag.kind, &entry) {
        (FlagKind::Uncounted, Some(_)) => "stripe_flag.record",
        _ => "stripe_flag.resolve",
    };
    audit(
        store,
        actor,
        action,
        &format!("stripe_flag:{flag_id}"),
        Some(serde_json::json!({"detail": flag.detail})),
        Some(after),
    )
    .await;
    Ok(FlagResolved { flag, entry })
}

/// A fee as a treasurer types it: zero, a positive amount, or a negative one for a fee
/// Stripe gave back (with a won dispute).
fn fee_minor(text: &str, currency: crate::ledger::Currency) -> Result<i64, MoneyError> {
    let (sign, amount) = match text.trim().strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    match Money::parse_positive(amount, currency) {
        Ok(money) => Ok(sign * money.minor()),
        Err(MoneyError::Zero) => Ok(0),
        Err(error) => Err(error),
    }
}
