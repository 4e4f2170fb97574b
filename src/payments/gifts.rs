//! Gifts Stripe reports as paid: a one-off Checkout Session or a subscription's invoice,
//! each a donation counted from its charge's balance transaction.

use chrono::{DateTime, Utc};

use super::amounts::settle;
use super::client::{StripeApi, StripeApiError};
use super::objects::{Charge, CheckoutSession, Expandable, Invoice};
use super::process::{Effect, KnownIntent, Plan, ProcessError, date_of, intent_of, record_or_hold};
use super::states::plan_subscription;
use crate::ledger::checkout::Intent;
use crate::ledger::entry::Donor;
use crate::ledger::subscription::Subscription;
use crate::ledger::{EntryKind, NewEntry, Source, StripeRefs};
use crate::store::Store;

pub(super) async fn plan_session_paid(
    store: &Store,
    api: &StripeApi,
    session: CheckoutSession,
    reported_at: DateTime<Utc>,
    known: Option<&KnownIntent>,
) -> Result<Plan, ProcessError> {
    let Some(intent) = intent_of(store, known, &session.metadata).await? else {
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
        let mut plan = plan_subscription(store, &current, email, reported_at, known).await?;
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
    let gift = donation(&intent, charge, email, false, None, None);
    // The entry last: recording it takes the campaign's totals lock, held until commit.
    let completed = Effect::Intent {
        id: intent.id,
        status: "completed",
        payment_intent: Some(payment_intent_id),
        subscription: None,
    };
    Ok(Plan::Apply(std::iter::once(completed).chain(gift).collect()))
}

pub(super) async fn plan_invoice_paid(
    store: &Store,
    api: &StripeApi,
    invoice: Invoice,
    known: Option<&KnownIntent>,
) -> Result<Plan, ProcessError> {
    if invoice.amount_paid <= 0 {
        return Ok(Plan::Ignore("nothing was paid".to_owned()));
    }
    let Some(subscription_id) = invoice.subscription_id().map(str::to_owned) else {
        return Ok(Plan::Ignore("not a subscription invoice".to_owned()));
    };
    let intent = match invoice.subscription_metadata() {
        Some(metadata) => intent_of(store, known, metadata).await?,
        None => match store.subscription(&subscription_id).await? {
            Some(Subscription { intent_id: Some(id), .. }) => store.intent(&id).await?,
            _ => intent_of(store, known, &api.subscription(&subscription_id).await?.metadata).await?,
        },
    };
    let Some(intent) = intent else {
        return Ok(Plan::Ignore("not an appeal subscription".to_owned()));
    };
    let charge = invoice_charge(api, &invoice).await?;
    let email = invoice.customer_email.clone();
    let gift = donation(&intent, &charge, email, true, Some(invoice.id.clone()), Some(subscription_id));
    Ok(Plan::Apply(gift.into_iter().collect()))
}

/// The charge that paid an invoice, with its balance transaction.
pub(super) async fn invoice_charge(api: &StripeApi, invoice: &Invoice) -> Result<Charge, ProcessError> {
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

/// The donation a charge makes, counted in the campaign's currency from the charge's balance
/// transaction (or the charge itself); held for a treasurer when neither is in that currency.
pub(super) fn donation(
    intent: &Intent,
    charge: &Charge,
    email: Option<String>,
    recurring: bool,
    invoice: Option<String>,
    subscription: Option<String>,
) -> Option<Effect> {
    let balance = charge.balance_transaction.as_ref().and_then(Expandable::object);
    let entry = NewEntry {
        campaign_id: intent.campaign_id,
        // A branch dropped since the checkout let go of it (it held no money yet).
        branch_id: intent.branch_id,
        kind: EntryKind::Donation,
        source: Source::Online,
        method: "stripe".to_owned(),
        amount_minor: 0,
        fee_minor: 0,
        currency: intent.ledger_currency,
        donor: Donor { email: intent.donor.email.clone().or(email), ..intent.donor.clone() },
        recurring,
        received_on: date_of(charge.created),
        recorded_by: "stripe".to_owned(),
        reference: Some(intent.id.clone()),
        reason: None,
        reverses_entry_id: None,
        capped: false,
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
        presented: None,
        rate: None,
        received_at: DateTime::<Utc>::from_timestamp(charge.created, 0),
        batch_id: None,
        source_ref: intent.source_ref.clone(),
        match_offer_id: None,
    };
    let reported = (charge.amount, charge.currency.as_str());
    // The gift is dated when the charge was made; its balance transaction gives the amounts.
    let settled = settle(intent.ledger_currency, reported, charge.created, balance)
        .map(|settled| super::amounts::Settled { at: charge.created, ..settled });
    record_or_hold(entry, settled, reported, charge.created, balance)
}
