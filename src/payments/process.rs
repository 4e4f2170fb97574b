//! Stripe events into ledger writes, exactly once and in any order of arrival.
//!
//! An event is first *planned*: the Stripe objects it refers to are read (no transaction is
//! open during those calls). Then its effects are applied in one transaction together with
//! the row that records its id, so a duplicate delivery changes nothing. An event about a
//! payment not yet in the ledger (a refund that overtook its payment) waits, and is applied
//! when the payment arrives. An event that fails is kept with its error and tried again
//! (by reconcile and by Stripe's retries); one that keeps failing with a lasting error is
//! quarantined until a treasurer applies it again or dismisses it.

use chrono::{DateTime, NaiveDate, Utc};

use super::amounts::{Settled, from_stripe};
use super::client::{META_INTENT, StripeApi, StripeApiError};
use super::objects::{
    BalanceTransaction, Charge, CheckoutSession, Event, Invoice, Payout, Refund,
    Subscription as StripeSubscription,
};
use super::{gifts, reversals, states};
use crate::access::Scope;
use crate::ledger::checkout::Intent;
use crate::ledger::entry::Entry;
use crate::ledger::outgoing::EventKind;
use crate::ledger::subscription::Subscription;
use crate::ledger::{EntryKind, NewEntry};
use crate::store::{
    EventClaim, EventFailure, EventState, FlagKind, NewFlag, PayoutItem, RecordOutcome, Store, StoreError,
    StoredDispute, StoredPayout, claim_event_in, mark_subscription_past_due_in, payout_report_on,
    queue_payment_failed_in, queue_receipt_in, raise_flag_in, record_entry_in, settle_payment_failed_in,
    update_intent_in, upsert_dispute_in, upsert_payout_in, upsert_subscription_in,
};

/// What became of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// Acknowledged, with nothing to do (another product's payment, a type we do not use).
    Ignored(String),
    /// Waits for the payment it refers to.
    Deferred,
    /// Failed too often with a lasting error: it waits for a treasurer.
    Quarantined,
}

impl EventOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventOutcome::Applied => "applied",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Ignored(_) => "ignored",
            EventOutcome::Deferred => "deferred",
            EventOutcome::Quarantined => "quarantined",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Stripe(#[from] StripeApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event cannot be read: {0}")]
    Unreadable(String),
}

impl ProcessError {
    /// The database could not be reached: nothing can be recorded, not even the failure.
    pub fn is_database_down(&self) -> bool {
        matches!(self, ProcessError::Store(error) if error.is_unavailable())
    }

    /// Whether the error will not pass by itself (an unreadable event, a request Stripe
    /// refuses as it stands), as opposed to Stripe or the database being unreachable, rate
    /// limiting, or a key being rolled: only lasting errors can quarantine an event.
    fn is_lasting(&self) -> bool {
        match self {
            ProcessError::Stripe(error) => !error.is_transient(),
            // A transaction that lost a race (a deadlock) goes through when tried again.
            ProcessError::Store(error) => !error.is_unavailable() && !error.is_lost_race(),
            ProcessError::Unreadable(_) => true,
        }
    }
}

/// Money Stripe reported that cannot be counted in the campaign's currency: the entry as it
/// would be recorded (amounts zero), waiting for a treasurer's amount.
#[derive(Debug)]
pub(super) struct Held {
    pub entry: NewEntry,
    pub detail: String,
    pub reported: serde_json::Value,
}

/// One change an event makes, applied in the event's transaction.
#[derive(Debug)]
pub(super) enum Effect {
    Record(Box<NewEntry>),
    Hold(Box<Held>),
    Intent {
        id: String,
        status: &'static str,
        payment_intent: Option<String>,
        subscription: Option<String>,
    },
    /// A subscription's state, stamped with when Stripe said it (microseconds).
    /// A subscription as read, the moment it was read (microseconds) and when Stripe reported it.
    Subscription(Box<Subscription>, i64, DateTime<Utc>),
    /// An installment failed: the subscription is past due, and its donor is told once per
    /// invoice.
    PastDue {
        subscription: String,
        at: i64,
        invoice: String,
        next_attempt: Option<i64>,
        attempt_count: i64,
    },
    /// A payout's state and what it carried, with the time of Stripe's event.
    Payout(StoredPayout, Option<Vec<PayoutItem>>, i64),
    Dispute(StoredDispute),
}

pub(super) enum Plan {
    Apply(Vec<Effect>),
    Ignore(String),
    WaitFor(String),
}

/// Where an event came from, as stored beside its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSource {
    Webhook,
    Reconcile,
    /// A treasurer asked to apply it again.
    Treasurer,
}

impl EventSource {
    fn as_str(self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Reconcile => "reconcile",
            EventSource::Treasurer => "treasurer",
        }
    }
}

/// Applies one Stripe event. `raw` is its JSON, kept when the event has to wait or fails.
/// A quarantined event is left alone unless a treasurer asks for it (`EventSource::Treasurer`).
pub async fn process_event(
    store: &Store,
    api: &StripeApi,
    event: &Event,
    raw: &str,
    source: EventSource,
) -> Result<EventOutcome, ProcessError> {
    let named = event.intent_named();
    let (state, intent) = store.event_state_and_intent(&event.id, named).await?;
    match state {
        EventState::Done => return Ok(EventOutcome::Duplicate),
        EventState::Quarantined if source != EventSource::Treasurer => return Ok(EventOutcome::Quarantined),
        EventState::Open | EventState::Quarantined => {}
    }
    let known = named.zip(intent).map(|(id, intent)| KnownIntent { id: id.to_owned(), intent });
    let error = match attempt(store, api, event, raw, source, known.as_ref()).await {
        Ok(outcome) => return Ok(outcome),
        Err(error) if error.is_database_down() => return Err(error),
        Err(error) => error,
    };
    let failure = EventFailure {
        id: &event.id,
        kind: &event.kind,
        created: event.created,
        payload: raw,
        source: source.as_str(),
        error: &error.to_string(),
        lasting: error.is_lasting(),
    };
    match store.record_event_failure(&failure).await?.as_deref() {
        None => Ok(EventOutcome::Duplicate),
        Some("quarantined") if source != EventSource::Treasurer => {
            tracing::error!(event = %event.id, kind = %event.kind, %error, "event quarantined: a treasurer decides");
            Ok(EventOutcome::Quarantined)
        }
        Some(_) => {
            tracing::warn!(event = %event.id, kind = %event.kind, %error, "event failed; it will be tried again");
            Err(error)
        }
    }
}

/// Plans and applies an event once.
async fn attempt(
    store: &Store,
    api: &StripeApi,
    event: &Event,
    raw: &str,
    source: EventSource,
    known: Option<&KnownIntent>,
) -> Result<EventOutcome, ProcessError> {
    let (outcome, recorded) = match plan(store, api, event, known).await? {
        Plan::Apply(effects) => apply(store, event, "applied", effects, source).await?,
        Plan::Ignore(reason) => {
            let (outcome, _) = apply(store, event, "ignored", Vec::new(), source).await?;
            let outcome =
                if outcome == EventOutcome::Applied { EventOutcome::Ignored(reason) } else { outcome };
            (outcome, Vec::new())
        }
        Plan::WaitFor(charge) => {
            store.defer_event(&event.id, &event.kind, event.created, &charge, raw, source.as_str()).await?;
            // The payment may have landed between our look and the deferral: look again.
            if store.donation_for_charge(&charge).await?.is_some() {
                Box::pin(resume_deferred(store, api, &charge, source)).await?;
                let outcome = if store.event_state(&event.id).await? == EventState::Done {
                    EventOutcome::Applied
                } else {
                    EventOutcome::Deferred
                };
                return Ok(outcome);
            }
            tracing::info!(event = %event.id, kind = %event.kind, %charge, "event waits for its payment");
            return Ok(EventOutcome::Deferred);
        }
    };
    for donation in &recorded {
        if let Some(charge) = &donation.stripe.charge {
            Box::pin(resume_deferred(store, api, charge, source)).await?;
        }
    }
    Ok(outcome)
}

/// Applies the events that were waiting for `charge` to reach the ledger.
pub(crate) async fn resume_deferred(
    store: &Store,
    api: &StripeApi,
    charge: &str,
    source: EventSource,
) -> Result<(), ProcessError> {
    for deferred in store.deferred_events(charge).await? {
        let event: Event = serde_json::from_str(&deferred.payload)
            .map_err(|error| ProcessError::Unreadable(error.to_string()))?;
        let outcome = process_event(store, api, &event, &deferred.payload, source).await;
        tracing::info!(event = %event.id, ?outcome, "tried an event that waited for its payment");
    }
    Ok(())
}

/// Writes the event's id and its effects in one transaction, with the receipt of each gift
/// it records (sent by the outbox's sender); returns the donations it recorded, so that
/// events waiting for them can follow.
async fn apply(
    store: &Store,
    event: &Event,
    status: &str,
    effects: Vec<Effect>,
    source: EventSource,
) -> Result<(EventOutcome, Vec<Entry>), ProcessError> {
    let mut write = store.begin_write().await?;
    if claim_event_in(&mut write, &event.id, &event.kind, event.created, status, source.as_str()).await?
        == EventClaim::Duplicate
    {
        return Ok((EventOutcome::Duplicate, Vec::new()));
    }
    let (recorded_donations, _) = apply_effects(&mut write, effects, &event.id).await?;
    for donation in &recorded_donations {
        if let Some(email) = donation.donor.email.as_deref() {
            queue_receipt_in(&mut write, donation, email, None).await?;
        }
    }
    write.commit().await?;
    Ok((EventOutcome::Applied, recorded_donations))
}

/// Applies effects in a write transaction; returns the donations newly recorded (one
/// recorded before under the same key is not) and how many entries were. `origin` names
/// what they come from in logs and in the subject of a flag without a key.
pub(super) async fn apply_effects(
    write: &mut crate::store::WriteTx,
    effects: Vec<Effect>,
    origin: &str,
) -> Result<(Vec<Entry>, usize), ProcessError> {
    let mut recorded_donations = Vec::new();
    let mut recorded = 0;
    for effect in effects {
        match effect {
            Effect::Record(entry) => {
                let outcome = record_entry_in(write, &entry).await?;
                // An installment that had failed went through: its donor hears so (once).
                if let (RecordOutcome::Recorded(_), EntryKind::Donation, Some(invoice)) =
                    (&outcome, entry.kind, entry.stripe.invoice.as_deref())
                {
                    settle_payment_failed_in(write, invoice).await?;
                }
                recorded += usize::from(matches!(outcome, RecordOutcome::Recorded(_)));
                if let (RecordOutcome::Recorded(recorded), EntryKind::Donation) = (outcome, entry.kind) {
                    recorded_donations.push(recorded);
                }
            }
            Effect::Hold(held) => {
                let Held { entry, detail, reported } = *held;
                tracing::warn!(%origin, %detail, "money held for a treasurer");
                let flag = NewFlag {
                    kind: FlagKind::Uncounted,
                    subject: entry.idempotency_key.clone().unwrap_or_else(|| format!("event:{origin}")),
                    campaign_id: entry.campaign_id,
                    branch_id: entry.branch_id,
                    entry_id: entry.reverses_entry_id,
                    stripe_charge: entry.stripe.charge.as_deref(),
                    detail,
                    reported,
                    held: Some(&entry),
                };
                raise_flag_in(write, &flag).await?;
            }
            Effect::Intent { id, status, payment_intent, subscription } => {
                update_intent_in(write, &id, status, payment_intent.as_deref(), subscription.as_deref())
                    .await?;
            }
            Effect::Subscription(subscription, at, reported_at) => {
                upsert_subscription_in(write, &subscription, at, reported_at).await?
            }
            Effect::PastDue { subscription, at, invoice, next_attempt, attempt_count } => {
                mark_subscription_past_due_in(write, &subscription, at).await?;
                queue_payment_failed_in(write, &subscription, &invoice, next_attempt, attempt_count).await?;
            }
            Effect::Payout(payout, items, at) => {
                let became_paid = upsert_payout_in(write, &payout, items.as_deref(), at).await?;
                if became_paid {
                    // Paid, with the lines it carried: set beside the ledger as this
                    // transaction leaves it, and told to the endpoints that want it.
                    let report = payout_report_on(&mut write.tx, &Scope::everything(), &payout.id).await?;
                    if let Some(report) = report {
                        write.emit(EventKind::PayoutReconciled, &crate::http::admin::payout_body(&report));
                    }
                }
            }
            Effect::Dispute(dispute) => upsert_dispute_in(write, &dispute).await?,
        }
    }
    Ok((recorded_donations, recorded))
}

fn parse<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, ProcessError> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|error| ProcessError::Unreadable(format!("{} object: {error}", event.kind)))
}

async fn plan(
    store: &Store,
    api: &StripeApi,
    event: &Event,
    known: Option<&KnownIntent>,
) -> Result<Plan, ProcessError> {
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            gifts::plan_session_paid(store, api, parse(event)?, date_time_of(event.created), known).await
        }
        "checkout.session.async_payment_failed" => {
            let session: CheckoutSession = parse(event)?;
            let Some(intent) = intent_of(store, known, &session.metadata).await? else {
                return Ok(Plan::Ignore("not an appeal checkout".to_owned()));
            };
            Ok(Plan::Apply(vec![Effect::Intent {
                id: intent.id,
                status: "failed",
                payment_intent: session.payment_intent.as_ref().map(|pi| pi.id().to_owned()),
                subscription: None,
            }]))
        }
        "invoice.paid" => gifts::plan_invoice_paid(store, api, parse(event)?, known).await,
        "invoice.payment_failed" => {
            let invoice: Invoice = parse(event)?;
            match invoice.subscription_id() {
                Some(id) if store.subscription(id).await?.is_some() => {
                    Ok(Plan::Apply(vec![Effect::PastDue {
                        subscription: id.to_owned(),
                        at: event.created.saturating_mul(1_000_000),
                        invoice: invoice.id.clone(),
                        next_attempt: invoice.next_payment_attempt,
                        attempt_count: invoice.attempt_count,
                    }]))
                }
                _ => Ok(Plan::Ignore("not an appeal subscription".to_owned())),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let described: StripeSubscription = parse(event)?;
            // Read the subscription as it stands now, so that events arriving out of order
            // can only ever store its latest state.
            let current = api.subscription(&described.id).await?;
            states::plan_subscription(store, &current, None, date_time_of(event.created), known).await
        }
        "charge.refunded" => {
            let charge: Charge = parse(event)?;
            reversals::plan_refunds(store, api, &charge.id, event.created).await
        }
        "charge.refund.updated" | "refund.created" | "refund.updated" | "refund.failed" => {
            let refund: Refund = parse(event)?;
            let Some(charge) = refund.charge.as_ref().map(|charge| charge.id().to_owned()) else {
                return Ok(Plan::Ignore("a refund of no charge".to_owned()));
            };
            reversals::plan_refunds(store, api, &charge, event.created).await
        }
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => {
            reversals::plan_dispute(store, parse(event)?, event.created).await
        }
        "payout.paid" | "payout.failed" | "payout.canceled" => {
            let payout: Payout = parse(event)?;
            states::plan_payout(api, payout, event.created).await
        }
        other => Ok(Plan::Ignore(format!("{other} is not an event appeal uses"))),
    }
}

/// The checkout intent an event names, read with the event's state (`None` within when it
/// is not in the database).
#[derive(Debug)]
pub(super) struct KnownIntent {
    id: String,
    intent: Option<Intent>,
}

/// The checkout intent `metadata` names: the one `known` already read, or else read now.
pub(super) async fn intent_of(
    store: &Store,
    known: Option<&KnownIntent>,
    metadata: &std::collections::HashMap<String, String>,
) -> Result<Option<Intent>, StoreError> {
    match (metadata.get(META_INTENT), known) {
        (Some(id), Some(known)) if known.id == *id => Ok(known.intent.clone()),
        (Some(id), _) => store.intent(id).await,
        (None, _) => Ok(None),
    }
}

/// The UTC day of a Stripe instant.
pub(super) fn date_of(unix: i64) -> NaiveDate {
    date_time_of(unix).date_naive()
}

/// The instant of one of Stripe's Unix timestamps.
pub(super) fn date_time_of(unix: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(unix, 0).unwrap_or_else(Utc::now)
}

/// A money movement ready to record when it can be counted in the campaign's currency, or
/// held for a treasurer with what Stripe reported when it cannot. `entry` carries everything
/// but the amounts; `reported` is the object's own signed amount and currency.
pub(super) fn record_or_hold(
    mut entry: NewEntry,
    settled: Option<Settled>,
    reported: (i64, &str),
    created: i64,
    balance: Option<&BalanceTransaction>,
) -> Option<Effect> {
    match settled {
        // Less than the ledger's smallest unit (an old fraction of a krona): nothing to book.
        Some(settled) if settled.amount_minor == 0 => None,
        Some(settled) => {
            entry.amount_minor = settled.amount_minor;
            entry.fee_minor = settled.fee_minor;
            entry.presented = settled.presented;
            entry.stripe.balance_transaction =
                settled.balance_transaction.or(entry.stripe.balance_transaction);
            entry.received_at = DateTime::<Utc>::from_timestamp(settled.at, 0);
            entry.received_on = date_of(settled.at);
            Some(Effect::Record(Box::new(entry)))
        }
        None => {
            let (amount, code) = reported;
            let money = |amount: i64, code: &str| match from_stripe(amount, code) {
                Some((minor, currency)) => format!("{} {currency}", currency.format_minor(minor)),
                None => format!("{amount} {}", code.to_ascii_uppercase()),
            };
            let settled_as = balance.map(|balance| money(balance.amount, &balance.currency));
            let detail = format!(
                "Stripe reported a {} of {}{} that cannot be counted in {}: give the amount it counts for",
                entry.kind.as_str().replace('_', " "),
                money(amount, code),
                settled_as.as_ref().map_or_else(String::new, |settled| format!(", settled as {settled}")),
                entry.currency
            );
            let reported = serde_json::json!({
                "amount": money(amount, code),
                "balance_transaction": balance.map(|balance| serde_json::json!({
                    "id": balance.id,
                    "amount": money(balance.amount, &balance.currency),
                    "fee": money(balance.fee, &balance.currency),
                })),
            });
            entry.stripe.balance_transaction =
                balance.map(|balance| balance.id.clone()).or(entry.stripe.balance_transaction);
            entry.received_at = DateTime::<Utc>::from_timestamp(created, 0);
            entry.received_on = date_of(created);
            Some(Effect::Hold(Box::new(Held { entry, detail, reported })))
        }
    }
}
