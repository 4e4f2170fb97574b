//! States Stripe reports that only move forward: subscriptions and payouts.

use chrono::{DateTime, Utc};

use super::amounts::from_stripe;
use super::client::StripeApi;
use super::objects::{Payout, Subscription as StripeSubscription};
use super::process::{Effect, KnownIntent, Plan, ProcessError, date_of, intent_of};
use crate::ledger::checkout::{Intent, Interval};
use crate::ledger::subscription::Subscription;
use crate::store::{PayoutItem, Store, StoredPayout, upsert_subscription_in};

/// A subscription's state as just read from Stripe, stamped with the moment it was read (in
/// microseconds), so that of two reads the later one wins.
pub(super) async fn plan_subscription(
    store: &Store,
    current: &StripeSubscription,
    email: Option<String>,
    reported_at: DateTime<Utc>,
    known: Option<&KnownIntent>,
) -> Result<Plan, ProcessError> {
    let read_at = Utc::now().timestamp_micros();
    let Some(intent) = intent_of(store, known, &current.metadata).await? else {
        return Ok(Plan::Ignore("not an appeal subscription".to_owned()));
    };
    let subscription = subscription_state(current, &intent, Some(intent.id.clone()), email)?;
    Ok(Plan::Apply(vec![Effect::Subscription(Box::new(subscription), read_at, reported_at)]))
}

/// A subscription as the ledger keeps it, for the campaign, branch and donor of `intent`
/// (the checkout that opened it, or the campaign an import books it to).
pub(super) fn subscription_state(
    current: &StripeSubscription,
    intent: &Intent,
    intent_id: Option<String>,
    email: Option<String>,
) -> Result<Subscription, ProcessError> {
    let Some(item) = current.items.data.first() else {
        return Err(ProcessError::Unreadable(format!("subscription {} has no item", current.id)));
    };
    let recurring = item.price.recurring.as_ref();
    let interval = match recurring.map(|recurring| recurring.interval.as_str()) {
        Some("year") => Interval::Year,
        _ => Interval::Month,
    };
    let unit_amount = item.price.unit_amount.unwrap_or(0).saturating_mul(item.quantity.unwrap_or(1));
    let (amount_minor, currency) =
        from_stripe(unit_amount, &item.price.currency).unwrap_or((unit_amount, intent.currency));
    let period_end = item.current_period_end.or(current.current_period_end);
    let at = |unix: i64| DateTime::<Utc>::from_timestamp(unix, 0);
    Ok(Subscription {
        id: current.id.clone(),
        campaign_id: intent.campaign_id,
        branch_id: intent.branch_id,
        intent_id,
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
        source_ref: intent.source_ref.clone(),
        started_at: current.start_date.or(current.created).and_then(at),
        ended_at: current.ended_at.and_then(at),
        end_reason: current.cancellation_details.as_ref().and_then(|details| details.reason.clone()),
    })
}

/// Stores a subscription's state as a call to Stripe just returned it (after a cancel).
pub async fn store_subscription_state(
    store: &Store,
    current: &StripeSubscription,
) -> Result<(), ProcessError> {
    let Plan::Apply(effects) = plan_subscription(store, current, None, Utc::now(), None).await? else {
        return Ok(());
    };
    let mut write = store.begin_write().await?;
    for effect in effects {
        if let Effect::Subscription(subscription, at, reported_at) = effect {
            upsert_subscription_in(&mut write, &subscription, at, reported_at).await?;
        }
    }
    write.commit().await?;
    Ok(())
}

/// A payout's state, with (when paid) the balance transactions it carried, to reconcile it
/// against the ledger. Amounts are in the payout currency's ledger units.
pub(super) async fn plan_payout(
    api: &StripeApi,
    payout: Payout,
    event_created: i64,
) -> Result<Plan, ProcessError> {
    let in_ledger_units =
        |amount: i64, code: &str| from_stripe(amount, code).map_or(amount, |(minor, _)| minor);
    let items = if payout.status == "paid" {
        let transactions = api.payout_transactions(&payout.id).await?;
        Some(
            transactions
                .into_iter()
                .map(|transaction| PayoutItem {
                    amount_minor: in_ledger_units(transaction.amount, &payout.currency),
                    fee_minor: in_ledger_units(transaction.fee, &payout.currency),
                    net_minor: in_ledger_units(transaction.net, &payout.currency),
                    balance_transaction: transaction.id,
                    kind: transaction.kind,
                    source: transaction.source.as_ref().map(|source| source.id().to_owned()),
                })
                .collect(),
        )
    } else {
        None
    };
    let stored = StoredPayout {
        arrival_date: date_of(payout.arrival_date).format("%Y-%m-%d").to_string(),
        amount_minor: in_ledger_units(payout.amount, &payout.currency),
        currency: payout.currency.to_ascii_uppercase(),
        id: payout.id,
        status: payout.status,
    };
    Ok(Plan::Apply(vec![Effect::Payout(stored, items, event_created)]))
}
