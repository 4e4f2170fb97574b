//! Moving in from Stripe: an account's history (paid charges with their refunds and
//! disputes, subscriptions with their paid invoices) booked into one campaign's ledger
//! through the same planners as Stripe's events, so that each payment is booked once however
//! often the import runs, and whether its webhook came first or comes later.

use std::collections::HashSet;

use chrono::Utc;

use super::client::StripeApi;
use super::gifts::{donation, invoice_charge};
use super::objects::{Charge, Subscription as StripeSubscription};
use super::process::{Effect, Plan, ProcessError, apply_effects, intent_of};
use super::reversals::{plan_dispute, plan_refunds};
use super::states::subscription_state;
use crate::ledger::Campaign;
use crate::ledger::checkout::{Intent, Interval, Locale};
use crate::ledger::entry::Donor;
use crate::store::Store;

/// Which payments belong to the appeal: those carrying a metadata pair, or whose
/// description holds a text; all of them when neither is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportFilter {
    pub metadata: Option<(String, String)>,
    pub description: Option<String>,
}

impl ImportFilter {
    fn admits(
        &self,
        metadata: &std::collections::HashMap<String, String>,
        description: Option<&str>,
    ) -> bool {
        let by_metadata = self.metadata.as_ref().is_none_or(|(key, value)| metadata.get(key) == Some(value));
        let by_description = self.description.as_ref().is_none_or(|wanted| {
            description.is_some_and(|text| text.to_lowercase().contains(&wanted.to_lowercase()))
        });
        by_metadata && by_description
    }
}

/// What an import did (or, in a dry run, would do), one line per payment or subscription.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub lines: Vec<String>,
    /// Gifts (one-off and installments) booked now, or that a dry run would book.
    pub booked: usize,
    /// In the ledger already (an earlier import, or its webhook).
    pub present: usize,
    /// Refunds, dispute withdrawals and reinstatements booked now.
    pub reversals: usize,
    pub subscriptions: usize,
    /// Left out by the filter, not paid, or another product's subscription.
    pub skipped: usize,
}

/// Told where an import stands: a stage ("subscriptions", "charges"), how many of its
/// items are through, of how many.
pub type OnProgress<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

/// What every step of an import reads from.
struct Importer<'a> {
    store: &'a Store,
    api: &'a StripeApi,
    campaign: &'a Campaign,
    since: i64,
    dry_run: bool,
}

/// Imports what Stripe holds since `since` (unix seconds) into `campaign`.
pub async fn import_stripe(
    store: &Store,
    api: &StripeApi,
    campaign: &Campaign,
    since: i64,
    filter: &ImportFilter,
    dry_run: bool,
    on_progress: OnProgress<'_>,
) -> Result<ImportReport, ProcessError> {
    let importer = Importer { store, api, campaign, since, dry_run };
    let mut report = ImportReport::default();
    let mut recurring_charges: HashSet<String> = HashSet::new();
    let mut foreign_invoices: HashSet<String> = HashSet::new();

    let subscriptions = api.all_subscriptions().await?;
    let count = subscriptions.len();
    for (done, current) in subscriptions.into_iter().enumerate() {
        on_progress("subscriptions", done, count);
        if intent_of(store, None, &current.metadata).await?.is_some() {
            // Opened through appeal: its own events keep it.
            continue;
        }
        if !filter.admits(&current.metadata, current.description.as_deref()) {
            report.skipped += 1;
            report.lines.push(format!("skipped subscription {}: not this appeal's", current.id));
            mark_invoices(api, &current, since, &mut foreign_invoices, &mut recurring_charges).await?;
            continue;
        }
        import_subscription(&importer, &current, &mut recurring_charges, &mut report).await?;
    }

    on_progress("subscriptions", count, count);
    let charges = api.charges_since(since).await?;
    let count = charges.len();
    for (done, charge) in charges.into_iter().enumerate() {
        on_progress("charges", done, count);
        if recurring_charges.contains(&charge.id) {
            continue;
        }
        let invoice = charge.invoice.as_ref().map(|invoice| invoice.id().to_owned());
        if invoice.as_ref().is_some_and(|invoice| foreign_invoices.contains(invoice)) {
            report.skipped += 1;
            continue;
        }
        if charge.status.as_deref() != Some("succeeded") {
            report.skipped += 1;
            report.lines.push(format!(
                "skipped {}: {}",
                charge.id,
                charge.status.as_deref().unwrap_or("not paid")
            ));
            continue;
        }
        if !filter.admits(&charge.metadata, charge.description.as_deref()) {
            report.skipped += 1;
            report.lines.push(format!("skipped {}: not this appeal's", charge.id));
            continue;
        }
        import_gift(&importer, &charge, None, &mut report).await?;
    }
    on_progress("charges", count, count);
    Ok(report)
}

/// A subscription's state and its paid invoices' charges, booked as installments.
async fn import_subscription(
    importer: &Importer<'_>,
    current: &StripeSubscription,
    recurring_charges: &mut HashSet<String>,
    report: &mut ImportReport,
) -> Result<(), ProcessError> {
    let Importer { store, api, campaign, since, dry_run } = *importer;
    let intent = imported_intent(campaign, Interval::Month, Donor::default());
    let state = subscription_state(current, &intent, None, None)?;
    report.subscriptions += 1;
    report.lines.push(format!(
        "subscription {}: {} {} a {}, {}",
        current.id,
        state.currency.format_minor(state.amount_minor),
        state.currency,
        state.interval.as_str(),
        state.status
    ));
    if !dry_run {
        let mut write = store.begin_write().await?;
        let read_at = Utc::now().timestamp_micros();
        apply_effects(
            &mut write,
            vec![Effect::Subscription(Box::new(state), read_at, Utc::now())],
            &current.id,
        )
        .await?;
        write.commit().await?;
    }
    for invoice in api.paid_invoices(&current.id, since).await? {
        let charge = invoice_charge(api, &invoice).await?;
        recurring_charges.insert(charge.id.clone());
        let paid_by = (invoice.id.clone(), current.id.clone(), invoice.customer_email.clone());
        import_gift(importer, &charge, Some(paid_by), report).await?;
    }
    Ok(())
}

/// Notes the invoices (and their charges) of a subscription left out, so that its charges
/// are not taken for one-off gifts.
async fn mark_invoices(
    api: &StripeApi,
    current: &StripeSubscription,
    since: i64,
    invoices: &mut HashSet<String>,
    charges: &mut HashSet<String>,
) -> Result<(), ProcessError> {
    for invoice in api.paid_invoices(&current.id, since).await? {
        invoices.insert(invoice.id.clone());
        if let Ok(charge) = invoice_charge(api, &invoice).await {
            charges.insert(charge.id);
        }
    }
    Ok(())
}

/// One paid charge as a gift (an installment when `invoice` names what it paid), then its
/// refunds and disputes, each in its own transaction as their events would be.
async fn import_gift(
    importer: &Importer<'_>,
    charge: &Charge,
    invoice: Option<(String, String, Option<String>)>,
    report: &mut ImportReport,
) -> Result<(), ProcessError> {
    let Importer { store, api, campaign, dry_run, .. } = *importer;
    let billing = charge.billing_details.clone().unwrap_or_default();
    let email = billing.email.clone().or_else(|| charge.receipt_email.clone());
    let donor = Donor { name: billing.name.clone(), email: email.clone(), anonymous: true, message: None };
    let recurring = invoice.is_some();
    let interval = if recurring { Interval::Month } else { Interval::Once };
    let intent = imported_intent(campaign, interval, donor);
    let (invoice_id, subscription_id, invoice_email) = match invoice {
        Some((invoice, subscription, email)) => (Some(invoice), Some(subscription), email),
        None => (None, None, None),
    };
    let present = store.donation_for_charge(&charge.id).await?.is_some();
    let what = format!(
        "{} {} of {}{}",
        if recurring { "installment" } else { "gift" },
        charge.id,
        money(charge.amount, &charge.currency),
        super::process::date_of(charge.created).format(" on %Y-%m-%d")
    );
    if present {
        report.present += 1;
        report.lines.push(format!("{what}: in the ledger already"));
    } else if dry_run {
        report.booked += 1;
        report.lines.push(format!("{what}: would be booked"));
        return Ok(());
    } else {
        let gift = donation(&intent, charge, email.or(invoice_email), recurring, invoice_id, subscription_id);
        let held = matches!(gift, Some(Effect::Hold(_)));
        let mut write = store.begin_write().await?;
        apply_effects(&mut write, gift.into_iter().collect(), &charge.id).await?;
        write.commit().await?;
        report.booked += 1;
        report.lines.push(if held {
            format!("{what}: held for a treasurer (not in {})", campaign.currency)
        } else {
            format!("{what}: booked")
        });
    }
    if dry_run {
        return Ok(());
    }
    let now = Utc::now().timestamp();
    let mut plans = vec![plan_refunds(store, api, &charge.id, now).await?];
    for dispute in api.disputes_of_charge(&charge.id).await? {
        plans.push(plan_dispute(store, dispute, now).await?);
    }
    for plan in plans {
        let Plan::Apply(effects) = plan else { continue };
        if effects.is_empty() {
            continue;
        }
        let mut write = store.begin_write().await?;
        let (_, recorded) = apply_effects(&mut write, effects, &charge.id).await?;
        write.commit().await?;
        report.reversals += recorded;
    }
    Ok(())
}

/// An amount as Stripe states it, in its currency's units.
fn money(amount: i64, code: &str) -> String {
    match super::amounts::from_stripe(amount, code) {
        Some((minor, currency)) => format!("{} {currency}", currency.format_minor(minor)),
        None => format!("{amount} {}", code.to_ascii_uppercase()),
    }
}

/// Stands in for the checkout a payment made outside appeal never had: the campaign it is
/// booked to, its currency, and the donor Stripe names (anonymous on the public wall: they
/// were never asked).
fn imported_intent(campaign: &Campaign, interval: Interval, donor: Donor) -> Intent {
    Intent {
        id: "stripe-import".to_owned(),
        campaign_id: campaign.id,
        branch_id: None,
        interval,
        amount_minor: 0,
        fee_cover_minor: 0,
        currency: campaign.currency,
        ledger_currency: campaign.currency,
        donor,
        locale: Locale::from_stored(String::new()),
        status: "completed".to_owned(),
        stripe_session: None,
        source_ref: None,
    }
}
