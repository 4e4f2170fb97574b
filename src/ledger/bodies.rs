//! The API's JSON shapes of ledger entries and subscriptions: one shape, shown by the admin
//! API and carried by outgoing webhooks.

use serde::Serialize;

use super::entry::Entry;
use super::progress::timestamp;
use super::subscription::Subscription;

/// A ledger entry as the admin API shows it (the store has left out what the caller may not see).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryBody {
    pub id: i64,
    pub campaign: String,
    pub branch: Option<String>,
    #[schema(value_type = super::EntryKind)]
    pub kind: &'static str,
    #[schema(value_type = super::entry::Source)]
    pub source: &'static str,
    pub method: String,
    pub amount: String,
    pub fee: String,
    pub net: String,
    pub currency: &'static str,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub anonymous: bool,
    pub message: Option<String>,
    pub recurring: bool,
    #[schema(format = Date)]
    pub received_on: String,
    #[schema(format = DateTime)]
    pub recorded_at: String,
    pub recorded_by: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub reverses: Option<i64>,
    /// What the donor was charged, when not in the campaign currency.
    pub presented_amount: Option<String>,
    pub presented_currency: Option<&'static str>,
    /// For money recorded in another currency: the rate it was counted at (1 presented =
    /// rate campaign currency), the day that rate is of, and where it comes from.
    pub rate: Option<String>,
    #[schema(format = Date)]
    pub rate_date: Option<String>,
    pub rate_source: Option<String>,
    /// A donation's dispute or inquiry, as Stripe last described it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispute: Option<DisputeBody>,
    /// The push it came from; a reversal keeps its gift's.
    #[serde(rename = "ref")]
    pub source_ref: Option<String>,
    /// A matcher's payment: the match offer it settles.
    #[serde(rename = "match")]
    pub match_offer: Option<i64>,
}

impl EntryBody {
    pub fn new(entry: &Entry) -> Self {
        let currency = entry.currency;
        EntryBody {
            id: entry.id,
            campaign: entry.campaign_slug.to_string(),
            branch: entry.branch_slug.as_ref().map(ToString::to_string),
            kind: entry.kind.as_str(),
            source: entry.source.as_str(),
            method: entry.method.clone(),
            amount: currency.format_minor(entry.amount_minor),
            fee: currency.format_minor(entry.fee_minor),
            net: currency.format_minor(entry.net_minor),
            currency: currency.code(),
            donor_name: entry.donor.name.clone(),
            donor_email: entry.donor.email.clone(),
            anonymous: entry.donor.anonymous,
            message: entry.donor.message.clone(),
            recurring: entry.recurring,
            received_on: entry.received_on.format("%Y-%m-%d").to_string(),
            recorded_at: timestamp(entry.recorded_at),
            recorded_by: entry.recorded_by.clone(),
            reference: entry.reference.clone(),
            reason: entry.reason.clone(),
            reverses: entry.reverses_entry_id,
            presented_amount: entry.presented.map(|(amount, currency)| currency.format_minor(amount)),
            presented_currency: entry.presented.map(|(_, currency)| currency.code()),
            rate: entry.rate.as_ref().map(|rate| rate.rate.to_string()),
            rate_date: entry.rate.as_ref().map(|rate| rate.on.to_string()),
            rate_source: entry.rate.as_ref().map(|rate| rate.source.clone()),
            dispute: None,
            source_ref: entry.source_ref.clone(),
            match_offer: entry.match_offer_id,
        }
    }
}

/// A dispute or inquiry of a donation, as Stripe last described it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisputeBody {
    pub id: String,
    pub status: String,
    /// An inquiry (or retrieval): the bank asks, no money is withdrawn.
    pub inquiry: bool,
    /// Still to be decided.
    pub open: bool,
    pub reason: Option<String>,
    pub evidence_due_by: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionBody {
    pub id: String,
    pub campaign: String,
    pub status: String,
    pub amount: String,
    pub currency: &'static str,
    pub interval: &'static str,
    pub interval_count: i64,
    pub monthly: String,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub cancelled_at: Option<String>,
    /// Disputes and inquiries of its installments.
    pub disputes: Vec<DisputeBody>,
    /// The push that started it.
    #[serde(rename = "ref")]
    pub source_ref: Option<String>,
}

impl SubscriptionBody {
    pub fn new(subscription: &Subscription, campaign: &str) -> Self {
        let currency = subscription.currency;
        SubscriptionBody {
            id: subscription.id.clone(),
            campaign: campaign.to_owned(),
            status: subscription.status.clone(),
            amount: currency.format_minor(subscription.amount_minor),
            currency: currency.code(),
            interval: subscription.interval.as_str(),
            interval_count: subscription.interval_count,
            monthly: currency.format_minor(subscription.monthly_minor()),
            donor_name: subscription.donor_name.clone(),
            donor_email: subscription.donor_email.clone(),
            current_period_end: subscription.current_period_end.map(timestamp),
            cancel_at_period_end: subscription.cancel_at_period_end,
            cancelled_at: subscription.cancelled_at.map(timestamp),
            disputes: Vec::new(),
            source_ref: subscription.source_ref.clone(),
        }
    }
}
