//! Stripe events into ledger writes, exactly once and in any order of arrival.
//!
//! An event is first *planned*: the Stripe objects it refers to are read (no transaction is
//! open during those calls). Then its effects are applied in one transaction together with
//! the row that records its id, so a duplicate delivery changes nothing. An event about a
//! payment not yet in the ledger (a refund that overtook its payment) waits, and is applied
//! when the payment arrives.

use chrono::{DateTime, NaiveDate, Utc};

use super::client::{META_INTENT, StripeApi, StripeApiError};
use super::objects::{
    BalanceTransaction, Charge, CheckoutSession, Dispute, Event, Expandable, Invoice, Payout,
    Subscription as StripeSubscription,
};
use crate::ledger::checkout::{Intent, Interval};
use crate::ledger::entry::{Donor, Entry};
use crate::ledger::subscription::Subscription;
use crate::ledger::{Currency, EntryKind, NewEntry, Source, StripeRefs};
use crate::mail::Mailer;
use crate::store::{
    EventClaim, PayoutItem, RecordOutcome, Store, StoreError, StoredPayout, claim_event_in,
    mark_subscription_past_due_in, record_entry_in, update_intent_in, upsert_payout_in,
    upsert_subscription_in,
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

/// One change an event makes, applied in the event's transaction.
#[derive(Debug)]
enum Effect {
    Record(Box<NewEntry>),
    Intent { id: String, status: &'static str, payment_intent: Option<String>, subscription: Option<String> },
    Subscription(Box<Subscription>, i64),
    PastDue { subscription: String, at: i64 },
    Payout(StoredPayout, Option<Vec<PayoutItem>>),
}

enum Plan {
    Apply(Vec<Effect>),
    Ignore(String),
    WaitFor(String),
}

/// Where an event came from, as stored beside its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSource {
    Webhook,
    Reconcile,
}

impl EventSource {
    fn as_str(self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Reconcile => "reconcile",
        }
    }
}

/// Applies one Stripe event. `raw` is its JSON, kept when the event has to wait.
pub async fn process_event(
    store: &Store,
    api: &StripeApi,
    mailer: Option<&Mailer>,
    event: &Event,
    raw: &str,
    source: EventSource,
) -> Result<EventOutcome, ProcessError> {
    if store.event_is_done(&event.id).await? {
        return Ok(EventOutcome::Duplicate);
    }
    let (outcome, recorded) = match plan(store, api, event).await? {
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
                Box::pin(resume_deferred(store, api, mailer, &charge, source)).await?;
                let outcome = if store.event_is_done(&event.id).await? {
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
        if let Some(mailer) = mailer {
            mailer.send_receipt(store, donation).await;
        }
        if let Some(charge) = &donation.stripe.charge {
            Box::pin(resume_deferred(store, api, mailer, charge, source)).await?;
        }
    }
    Ok(outcome)
}

/// Applies the events that were waiting for `charge` to reach the ledger.
async fn resume_deferred(
    store: &Store,
    api: &StripeApi,
    mailer: Option<&Mailer>,
    charge: &str,
    source: EventSource,
) -> Result<(), ProcessError> {
    for deferred in store.deferred_events(charge).await? {
        let event: Event = serde_json::from_str(&deferred.payload)
            .map_err(|error| ProcessError::Unreadable(error.to_string()))?;
        let outcome = process_event(store, api, mailer, &event, &deferred.payload, source).await?;
        tracing::info!(event = %event.id, ?outcome, "applied an event that waited for its payment");
    }
    Ok(())
}

/// Writes the event's id and its effects in one transaction; returns the donations it
/// recorded, so that receipts go out and events waiting for them can follow.
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
    let mut recorded_donations = Vec::new();
    for effect in effects {
        match effect {
            Effect::Record(entry) => {
                let outcome = record_entry_in(&mut write, &entry).await?;
                if let (RecordOutcome::Recorded(recorded), EntryKind::Donation) = (outcome, entry.kind) {
                    recorded_donations.push(recorded);
                }
            }
            Effect::Intent { id, status, payment_intent, subscription } => {
                update_intent_in(&mut write, &id, status, payment_intent.as_deref(), subscription.as_deref())
                    .await?;
            }
            Effect::Subscription(subscription, at) => {
                upsert_subscription_in(&mut write, &subscription, at).await?
            }
            Effect::PastDue { subscription, at } => {
                mark_subscription_past_due_in(&mut write, &subscription, at).await?
            }
            Effect::Payout(payout, items) => upsert_payout_in(&mut write, &payout, items.as_deref()).await?,
        }
    }
    write.commit().await?;
    Ok((EventOutcome::Applied, recorded_donations))
}

fn parse<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, ProcessError> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|error| ProcessError::Unreadable(format!("{} object: {error}", event.kind)))
}

async fn plan(store: &Store, api: &StripeApi, event: &Event) -> Result<Plan, ProcessError> {
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            plan_session_paid(store, api, parse(event)?).await
        }
        "checkout.session.async_payment_failed" => {
            let session: CheckoutSession = parse(event)?;
            let Some(intent) = intent_of(store, &session.metadata).await? else {
                return Ok(Plan::Ignore("not an appeal checkout".to_owned()));
            };
            Ok(Plan::Apply(vec![Effect::Intent {
                id: intent.id,
                status: "failed",
                payment_intent: session.payment_intent.as_ref().map(|pi| pi.id().to_owned()),
                subscription: None,
            }]))
        }
        "invoice.paid" => plan_invoice_paid(store, api, parse(event)?).await,
        "invoice.payment_failed" => {
            let invoice: Invoice = parse(event)?;
            match invoice.subscription_id() {
                Some(id) if store.subscription(id).await?.is_some() => {
                    Ok(Plan::Apply(vec![Effect::PastDue { subscription: id.to_owned(), at: event.created }]))
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
            plan_subscription(store, &current, None).await
        }
        "charge.refunded" => {
            let charge: Charge = parse(event)?;
            plan_refunds(store, api, &charge.id).await
        }
        "charge.dispute.created" | "charge.dispute.closed" => plan_dispute(store, parse(event)?).await,
        "payout.paid" | "payout.failed" => {
            let payout: Payout = parse(event)?;
            // What a paid payout carried, to reconcile it against the ledger.
            let items = if payout.status == "paid" {
                let transactions = api.payout_transactions(&payout.id).await?;
                Some(
                    transactions
                        .into_iter()
                        .map(|transaction| PayoutItem {
                            balance_transaction: transaction.id,
                            kind: transaction.kind,
                            source: transaction.source.as_ref().map(|source| source.id().to_owned()),
                            amount_minor: transaction.amount,
                            fee_minor: transaction.fee,
                            net_minor: transaction.net,
                        })
                        .collect(),
                )
            } else {
                None
            };
            let stored = StoredPayout {
                arrival_date: date_of(payout.arrival_date).format("%Y-%m-%d").to_string(),
                id: payout.id,
                amount_minor: payout.amount,
                currency: payout.currency.to_ascii_uppercase(),
                status: payout.status,
            };
            Ok(Plan::Apply(vec![Effect::Payout(stored, items)]))
        }
        other => Ok(Plan::Ignore(format!("{other} is not an event appeal uses"))),
    }
}

async fn intent_of(
    store: &Store,
    metadata: &std::collections::HashMap<String, String>,
) -> Result<Option<Intent>, StoreError> {
    match metadata.get(META_INTENT) {
        Some(id) => store.intent(id).await,
        None => Ok(None),
    }
}

async fn plan_session_paid(
    store: &Store,
    api: &StripeApi,
    session: CheckoutSession,
) -> Result<Plan, ProcessError> {
    let Some(intent) = intent_of(store, &session.metadata).await? else {
        return Ok(Plan::Ignore("not an appeal checkout".to_owned()));
    };
    let email = session.customer_details.as_ref().and_then(|details| details.email.clone());
    if session.mode == "subscription" {
        let Some(subscription_id) = session.subscription.as_ref().map(|sub| sub.id().to_owned()) else {
            return Err(ProcessError::Unreadable(
                "a subscription checkout without a subscription".to_owned(),
            ));
        };
        let current = api.subscription(&subscription_id).await?;
        let mut plan = plan_subscription(store, &current, email).await?;
        if let Plan::Apply(effects) = &mut plan {
            effects.push(Effect::Intent {
                id: intent.id.clone(),
                status: "completed",
                payment_intent: None,
                subscription: Some(subscription_id),
            });
        }
        return Ok(plan);
    }
    let payment_intent = session.payment_intent.as_ref().map(|pi| pi.id().to_owned());
    if !matches!(session.payment_status.as_str(), "paid" | "no_payment_required") {
        // An asynchronous method (a bank debit): its own event says when the money is there.
        return Ok(Plan::Apply(vec![Effect::Intent {
            id: intent.id,
            status: "open",
            payment_intent,
            subscription: None,
        }]));
    }
    let Some(payment_intent_id) = payment_intent else {
        return Err(ProcessError::Unreadable("a paid checkout without a payment".to_owned()));
    };
    let paid = api.payment_intent_with_charge(&payment_intent_id).await?;
    let charge = paid.latest_charge.as_ref().and_then(Expandable::object).ok_or_else(|| {
        StripeApiError::Unavailable(format!("payment {payment_intent_id} has no charge yet"))
    })?;
    let Some(entry) = donation_entry(store, &intent, charge, email, false, None, None).await? else {
        return Ok(Plan::Ignore("the payment's currency cannot be counted in the campaign's".to_owned()));
    };
    // The entry last: recording it takes the campaign's totals lock, held until commit.
    Ok(Plan::Apply(vec![
        Effect::Intent {
            id: intent.id,
            status: "completed",
            payment_intent: Some(payment_intent_id),
            subscription: None,
        },
        Effect::Record(Box::new(entry)),
    ]))
}

async fn plan_invoice_paid(store: &Store, api: &StripeApi, invoice: Invoice) -> Result<Plan, ProcessError> {
    if invoice.amount_paid <= 0 {
        return Ok(Plan::Ignore("nothing was paid".to_owned()));
    }
    let Some(subscription_id) = invoice.subscription_id().map(str::to_owned) else {
        return Ok(Plan::Ignore("not a subscription invoice".to_owned()));
    };
    let intent = match invoice.subscription_metadata() {
        Some(metadata) => intent_of(store, metadata).await?,
        None => match store.subscription(&subscription_id).await? {
            Some(Subscription { intent_id: Some(id), .. }) => store.intent(&id).await?,
            _ => intent_of(store, &api.subscription(&subscription_id).await?.metadata).await?,
        },
    };
    let Some(intent) = intent else {
        return Ok(Plan::Ignore("not an appeal subscription".to_owned()));
    };
    let charge = invoice_charge(api, &invoice).await?;
    let email = invoice.customer_email.clone();
    let Some(entry) =
        donation_entry(store, &intent, &charge, email, true, Some(invoice.id.clone()), Some(subscription_id))
            .await?
    else {
        return Ok(Plan::Ignore("the payment's currency cannot be counted in the campaign's".to_owned()));
    };
    Ok(Plan::Apply(vec![Effect::Record(Box::new(entry))]))
}

/// The charge that paid an invoice, with its balance transaction.
async fn invoice_charge(api: &StripeApi, invoice: &Invoice) -> Result<Charge, ProcessError> {
    if let Some(charge) = &invoice.charge {
        return Ok(api.charge_with_balance(charge.id()).await?);
    }
    let payments = api.invoice_payments(&invoice.id).await?;
    let paid = payments.data.iter().find(|payment| payment.status == "paid");
    match paid.map(|payment| &payment.payment) {
        Some(target) if target.payment_intent.is_some() => {
            let id = target.payment_intent.as_ref().map(|pi| pi.id().to_owned()).unwrap_or_default();
            let paid = api.payment_intent_with_charge(&id).await?;
            paid.latest_charge
                .as_ref()
                .and_then(Expandable::object)
                .cloned()
                .ok_or_else(|| StripeApiError::Unavailable(format!("payment {id} has no charge yet")).into())
        }
        Some(target) if target.charge.is_some() => {
            let id = target.charge.as_ref().map(|charge| charge.id().to_owned()).unwrap_or_default();
            Ok(api.charge_with_balance(&id).await?)
        }
        _ => {
            Err(StripeApiError::Unavailable(format!("invoice {} shows no paid payment yet", invoice.id))
                .into())
        }
    }
}

/// A donation entry for a charge, counted in the campaign currency: the settled amount when
/// Stripe converted it, else the charge itself. `None` when neither is in that currency.
async fn donation_entry(
    store: &Store,
    intent: &Intent,
    charge: &Charge,
    email: Option<String>,
    recurring: bool,
    invoice: Option<String>,
    subscription: Option<String>,
) -> Result<Option<NewEntry>, ProcessError> {
    let balance = charge.balance_transaction.as_ref().and_then(Expandable::object);
    let Some((amount_minor, fee_minor, presented)) = settled(intent.currency, charge, balance) else {
        tracing::warn!(charge = %charge.id, currency = %charge.currency, "charge cannot be counted in the campaign currency");
        return Ok(None);
    };
    let branch_still_there = match intent.branch_id {
        Some(branch_id) => {
            store.branches(intent.campaign_id).await?.iter().any(|branch| branch.id == branch_id)
        }
        None => false,
    };
    Ok(Some(NewEntry {
        campaign_id: intent.campaign_id,
        branch_id: intent.branch_id.filter(|_| branch_still_there),
        kind: EntryKind::Donation,
        source: Source::Online,
        method: "stripe".to_owned(),
        amount_minor,
        fee_minor,
        currency: intent.currency,
        donor: Donor { email: intent.donor.email.clone().or(email), ..intent.donor.clone() },
        recurring,
        received_on: date_of(charge.created),
        recorded_by: "stripe".to_owned(),
        reference: Some(intent.id.clone()),
        reason: None,
        reverses_entry_id: None,
        reverses_key: None,
        idempotency_key: Some(format!("stripe:charge:{}", charge.id)),
        stripe: StripeRefs {
            payment_intent: charge.payment_intent.as_ref().map(|pi| pi.id().to_owned()),
            charge: Some(charge.id.clone()),
            invoice,
            subscription,
            balance_transaction: charge.balance_transaction.as_ref().map(|bt| bt.id().to_owned()),
            ..StripeRefs::default()
        },
        presented,
        received_at: DateTime::<Utc>::from_timestamp(charge.created, 0),
        batch_id: None,
    }))
}

type Settled = (i64, i64, Option<(i64, Currency)>);

fn settled(
    campaign_currency: Currency,
    charge: &Charge,
    balance: Option<&BalanceTransaction>,
) -> Option<Settled> {
    let is_campaign_currency = |code: &str| code.eq_ignore_ascii_case(campaign_currency.code());
    let charged_in_campaign_currency = is_campaign_currency(&charge.currency);
    match balance {
        Some(balance) if is_campaign_currency(&balance.currency) => {
            let presented = (!charged_in_campaign_currency)
                .then(|| Currency::from_code(&charge.currency).ok().map(|currency| (charge.amount, currency)))
                .flatten();
            Some((balance.amount, balance.fee.max(0), presented))
        }
        // Settled in another currency: the gift counts at face value, its fee is not known here.
        _ if charged_in_campaign_currency => Some((charge.amount, 0, None)),
        _ => None,
    }
}

fn date_of(unix: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(unix, 0).unwrap_or_else(Utc::now).date_naive()
}

async fn plan_subscription(
    store: &Store,
    current: &StripeSubscription,
    email: Option<String>,
) -> Result<Plan, ProcessError> {
    let Some(intent) = intent_of(store, &current.metadata).await? else {
        return Ok(Plan::Ignore("not an appeal subscription".to_owned()));
    };
    let Some(item) = current.items.data.first() else {
        return Err(ProcessError::Unreadable(format!("subscription {} has no item", current.id)));
    };
    let recurring = item.price.recurring.as_ref();
    let interval = match recurring.map(|recurring| recurring.interval.as_str()) {
        Some("year") => Interval::Year,
        _ => Interval::Month,
    };
    let amount_minor = item.price.unit_amount.unwrap_or(0) * item.quantity.unwrap_or(1);
    let currency = Currency::from_code(&item.price.currency).unwrap_or(intent.currency);
    let period_end = item.current_period_end.or(current.current_period_end);
    let at = |unix: i64| DateTime::<Utc>::from_timestamp(unix, 0);
    let subscription = Subscription {
        id: current.id.clone(),
        campaign_id: intent.campaign_id,
        branch_id: intent.branch_id,
        intent_id: Some(intent.id.clone()),
        status: current.status.clone(),
        amount_minor,
        currency,
        interval,
        interval_count: recurring.map_or(1, |recurring| recurring.interval_count),
        donor_name: intent.donor.name.clone(),
        donor_email: intent.donor.email.clone().or(email),
        customer: current.customer.as_ref().map(|customer| customer.id().to_owned()),
        current_period_end: period_end.and_then(at),
        cancel_at_period_end: current.cancel_at_period_end,
        cancelled_at: current.canceled_at.and_then(at),
    };
    Ok(Plan::Apply(vec![Effect::Subscription(Box::new(subscription), Utc::now().timestamp())]))
}

async fn plan_refunds(store: &Store, api: &StripeApi, charge_id: &str) -> Result<Plan, ProcessError> {
    let Some(donation) = store.donation_for_charge(charge_id).await? else {
        return Ok(Plan::WaitFor(charge_id.to_owned()));
    };
    let refunds = api.refunds_of_charge(charge_id).await?;
    let mut effects = Vec::new();
    for refund in
        refunds.data.iter().filter(|refund| !matches!(refund.status.as_deref(), Some("failed" | "canceled")))
    {
        let amount_minor = in_campaign_currency(&donation, refund.amount, &refund.currency);
        let mut entry = reversal_of(&donation, EntryKind::Refund, -amount_minor, 0, refund.created);
        entry.idempotency_key = Some(format!("stripe:refund:{}", refund.id));
        entry.stripe.refund = Some(refund.id.clone());
        entry.stripe.balance_transaction = refund.balance_transaction.as_ref().map(|bt| bt.id().to_owned());
        effects.push(Effect::Record(Box::new(entry)));
    }
    Ok(Plan::Apply(effects))
}

async fn plan_dispute(store: &Store, dispute: Dispute) -> Result<Plan, ProcessError> {
    let charge_id = dispute.charge.id().to_owned();
    let Some(donation) = store.donation_for_charge(&charge_id).await? else {
        return Ok(Plan::WaitFor(charge_id));
    };
    let amount_minor = in_campaign_currency(&donation, dispute.amount, &dispute.currency);
    let fee_minor: i64 = dispute
        .balance_transactions
        .iter()
        .filter(|balance| {
            balance.amount < 0 && balance.currency.eq_ignore_ascii_case(donation.currency.code())
        })
        .map(|balance| balance.fee.max(0))
        .sum();
    let dispute_key = format!("stripe:dispute:{}", dispute.id);
    let mut opened = reversal_of(&donation, EntryKind::Dispute, -amount_minor, fee_minor, dispute.created);
    opened.idempotency_key = Some(dispute_key.clone());
    opened.stripe.dispute = Some(dispute.id.clone());
    opened.stripe.balance_transaction = dispute
        .balance_transactions
        .iter()
        .find(|balance| balance.amount < 0)
        .map(|balance| balance.id.clone());
    let mut effects = vec![Effect::Record(Box::new(opened))];
    if dispute.status == "won" {
        let mut won = reversal_of(&donation, EntryKind::DisputeWon, amount_minor, 0, Utc::now().timestamp());
        won.reverses_entry_id = None;
        won.reverses_key = Some(dispute_key);
        won.idempotency_key = Some(format!("stripe:dispute_won:{}", dispute.id));
        won.stripe.dispute = Some(dispute.id.clone());
        won.stripe.balance_transaction = dispute
            .balance_transactions
            .iter()
            .find(|balance| balance.amount > 0)
            .map(|balance| balance.id.clone());
        effects.push(Effect::Record(Box::new(won)));
    }
    Ok(Plan::Apply(effects))
}

/// An amount Stripe gives in the charge's currency, in the campaign's: as is when they are
/// the same, else in proportion to what the donation settled at.
fn in_campaign_currency(donation: &Entry, amount: i64, currency: &str) -> i64 {
    if currency.eq_ignore_ascii_case(donation.currency.code()) {
        return amount;
    }
    match donation.presented {
        Some((presented, presented_currency))
            if presented > 0 && currency.eq_ignore_ascii_case(presented_currency.code()) =>
        {
            let scaled = i128::from(amount) * i128::from(donation.amount_minor) * 2 / i128::from(presented);
            i64::try_from((scaled + 1) / 2).unwrap_or(donation.amount_minor).min(donation.amount_minor)
        }
        _ => amount.min(donation.amount_minor),
    }
}

/// An entry reversing (part of) `donation`, with the donation's donor, branch and references.
fn reversal_of(donation: &Entry, kind: EntryKind, amount_minor: i64, fee_minor: i64, at: i64) -> NewEntry {
    NewEntry {
        campaign_id: donation.campaign_id,
        branch_id: donation.branch_id,
        kind,
        source: donation.source,
        method: donation.method.clone(),
        amount_minor,
        fee_minor,
        currency: donation.currency,
        donor: donation.donor.clone(),
        recurring: donation.recurring,
        received_on: date_of(at),
        recorded_by: "stripe".to_owned(),
        reference: donation.reference.clone(),
        reason: None,
        reverses_entry_id: Some(donation.id),
        reverses_key: None,
        idempotency_key: None,
        stripe: StripeRefs {
            payment_intent: donation.stripe.payment_intent.clone(),
            charge: donation.stripe.charge.clone(),
            invoice: donation.stripe.invoice.clone(),
            subscription: donation.stripe.subscription.clone(),
            ..StripeRefs::default()
        },
        presented: None,
        received_at: DateTime::<Utc>::from_timestamp(at, 0),
        batch_id: None,
    }
}

/// Stores a subscription's state as a call to Stripe just returned it (after a cancel).
pub async fn store_subscription_state(
    store: &Store,
    current: &StripeSubscription,
) -> Result<(), ProcessError> {
    let Plan::Apply(effects) = plan_subscription(store, current, None).await? else {
        return Ok(());
    };
    let mut write = store.begin_write().await?;
    for effect in effects {
        if let Effect::Subscription(subscription, at) = effect {
            upsert_subscription_in(&mut write, &subscription, at).await?;
        }
    }
    write.commit().await?;
    Ok(())
}
