//! Money Stripe takes back from a gift, or gives back: refunds (and refunds that fail or are
//! cancelled) and disputes. Each is booked from its own balance transaction, when Stripe
//! moved the money, and always recorded: Stripe's reports are facts, and one that takes more
//! than a gift holds flags the gift instead of being refused.

use chrono::{DateTime, Utc};

use super::amounts::{Settled, from_stripe, settle};
use super::client::StripeApi;
use super::objects::{BalanceTransaction, Dispute, Expandable, Refund};
use super::process::{Effect, Plan, ProcessError, date_of, record_or_hold};
use crate::ledger::entry::Entry;
use crate::ledger::{EntryKind, NewEntry, StripeRefs};
use crate::store::{Store, StoredDispute};

/// Every refund of a charge as Stripe lists it now. A refund counts once it has left the
/// balance (it has a balance transaction: pending, requires_action or succeeded); a refund
/// that then fails or is cancelled gives the money back, booked as a `refund_failed` entry.
pub(super) async fn plan_refunds(
    store: &Store,
    api: &StripeApi,
    charge_id: &str,
    event_created: i64,
) -> Result<Plan, ProcessError> {
    let Some(gift) = store.donation_for_charge(charge_id).await? else {
        return Ok(Plan::WaitFor(charge_id.to_owned()));
    };
    let mut refunds = api.refunds_of_charge(charge_id).await?;
    refunds.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let mut effects = Vec::new();
    for refund in &refunds {
        effects.extend(refund_effects(&gift, refund, event_created));
    }
    Ok(Plan::Apply(effects))
}

fn refund_effects(gift: &Entry, refund: &Refund, event_created: i64) -> Vec<Effect> {
    let Some(taken) = &refund.balance_transaction else {
        // Not taken from the balance yet: nothing has moved.
        return Vec::new();
    };
    let refund_key = format!("stripe:refund:{}", refund.id);
    let taken_balance = taken.object();
    let reported = (-refund.amount, refund.currency.as_str());
    let settled = settle(gift.currency, reported, refund.created, taken_balance);
    let mut entry = reversal_of(gift, EntryKind::Refund, refund_key.clone());
    entry.reason = refund.ledger_reason();
    entry.stripe.refund = Some(refund.id.clone());
    entry.stripe.balance_transaction = Some(taken.id().to_owned());
    let mut effects: Vec<Effect> =
        record_or_hold(entry, settled.clone(), reported, refund.created, taken_balance).into_iter().collect();
    if matches!(refund.status.as_deref(), Some("failed" | "canceled")) {
        let returned_balance = refund.failure_balance_transaction.as_ref().and_then(Expandable::object);
        let reported = (refund.amount, refund.currency.as_str());
        let given_back = match returned_balance {
            // A refund still held for a treasurer is undone by the treasurer too.
            _ if settled.is_none() => None,
            Some(balance) => settle(gift.currency, reported, balance.created, Some(balance)),
            // Stripe did not say how the money came back: it is what was taken, returned.
            None => settled.map(|taken| Settled {
                amount_minor: -taken.amount_minor,
                fee_minor: -taken.fee_minor,
                presented: taken.presented.map(|(amount, currency)| (-amount, currency)),
                balance_transaction: None,
                at: event_created,
            }),
        };
        let mut undo =
            reversal_of(gift, EntryKind::RefundFailed, format!("stripe:refund_failed:{}", refund.id));
        undo.reverses_entry_id = None;
        undo.reverses_key = Some(refund_key);
        undo.stripe.refund = Some(refund.id.clone());
        undo.stripe.balance_transaction = returned_balance.map(|balance| balance.id.clone());
        effects.extend(record_or_hold(undo, given_back, reported, event_created, returned_balance));
    }
    effects
}

/// A dispute moves money by its balance transactions: a withdrawal when funds are taken, a
/// reinstatement when they come back (with the dispute fee, when Stripe returns it). An
/// inquiry has none and moves nothing; its state is kept for treasurers to see.
pub(super) async fn plan_dispute(
    store: &Store,
    dispute: Dispute,
    event_created: i64,
) -> Result<Plan, ProcessError> {
    let charge_id = dispute.charge.id().to_owned();
    let Some(gift) = store.donation_for_charge(&charge_id).await? else {
        return Ok(Plan::WaitFor(charge_id));
    };
    let (amount_minor, currency) = from_stripe(dispute.amount, &dispute.currency)
        .map_or((dispute.amount, dispute.currency.to_ascii_uppercase()), |(minor, currency)| {
            (minor, currency.code().to_owned())
        });
    let mut effects = vec![Effect::Dispute(StoredDispute {
        id: dispute.id.clone(),
        charge: charge_id,
        status: dispute.status.clone(),
        reason: dispute.reason.clone(),
        amount_minor,
        currency,
        evidence_due_by: dispute
            .evidence_details
            .as_ref()
            .and_then(|details| details.due_by)
            .and_then(|due_by| DateTime::<Utc>::from_timestamp(due_by, 0)),
        stripe_updated: event_created,
    })];
    let withdrawal_key = format!("stripe:dispute:{}", dispute.id);
    let reinstatement_key = format!("stripe:dispute_won:{}", dispute.id);
    let mut movements: Vec<&BalanceTransaction> =
        dispute.balance_transactions.iter().filter(|balance| balance.amount != 0).collect();
    movements.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let (mut withdrawals, mut reinstatements) = (0, 0);
    for balance in movements {
        let withdrawn = balance.amount < 0;
        let (kind, first_key, count) = if withdrawn {
            (EntryKind::Dispute, &withdrawal_key, &mut withdrawals)
        } else {
            (EntryKind::DisputeWon, &reinstatement_key, &mut reinstatements)
        };
        // The first of each keeps the dispute's own key; Stripe may move money again.
        let key = if *count == 0 { first_key.clone() } else { format!("{first_key}:{}", balance.id) };
        *count += 1;
        let mut entry = reversal_of(&gift, kind, key);
        if !withdrawn && withdrawals > 0 {
            // Money coming back answers the withdrawal.
            entry.reverses_entry_id = None;
            entry.reverses_key = Some(withdrawal_key.clone());
        }
        entry.stripe.dispute = Some(dispute.id.clone());
        let signed = if withdrawn { -dispute.amount } else { dispute.amount };
        let reported = (signed, dispute.currency.as_str());
        let settled = settle(gift.currency, reported, balance.created, Some(balance));
        effects.extend(record_or_hold(entry, settled, reported, balance.created, Some(balance)));
    }
    Ok(Plan::Apply(effects))
}

/// An entry reversing (part of) `gift`, with the gift's donor, branch and references; the
/// amounts and dates are filled in from what Stripe moved (`record_or_hold`). Never capped:
/// Stripe's reports are facts.
fn reversal_of(gift: &Entry, kind: EntryKind, idempotency_key: String) -> NewEntry {
    NewEntry {
        campaign_id: gift.campaign_id,
        branch_id: gift.branch_id,
        kind,
        source: gift.source,
        method: gift.method.clone(),
        amount_minor: 0,
        fee_minor: 0,
        currency: gift.currency,
        donor: gift.donor.clone(),
        recurring: gift.recurring,
        received_on: date_of(0),
        recorded_by: "stripe".to_owned(),
        reference: gift.reference.clone(),
        reason: None,
        reverses_entry_id: Some(gift.id),
        capped: false,
        reverses_key: None,
        idempotency_key: Some(idempotency_key),
        stripe: StripeRefs {
            payment_intent: gift.stripe.payment_intent.clone(),
            charge: gift.stripe.charge.clone(),
            invoice: gift.stripe.invoice.clone(),
            subscription: gift.stripe.subscription.clone(),
            ..StripeRefs::default()
        },
        presented: None,
        rate: None,
        received_at: None,
        batch_id: None,
        source_ref: gift.source_ref.clone(),
        match_offer_id: None,
    }
}
