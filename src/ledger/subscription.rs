//! Recurring solidarity subscriptions, as the ledger's side keeps them.

use chrono::{DateTime, Utc};

use super::checkout::{Interval, monthly_minor};
use super::money::Currency;

/// A subscription as Stripe last described it, tied to its campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub campaign_id: i64,
    pub branch_id: Option<i64>,
    pub intent_id: Option<String>,
    /// Stripe's status: active, past_due, canceled, incomplete, unpaid, trialing, paused...
    pub status: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub interval: Interval,
    pub interval_count: i64,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub customer: Option<String>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The push it came from (`ref`), kept from its first checkout.
    pub source_ref: Option<String>,
    /// When Stripe started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why Stripe ended it (`cancellation_details.reason`): `cancellation_requested`,
    /// `payment_failed` or `payment_disputed`.
    pub end_reason: Option<String>,
}

impl Subscription {
    /// Stripe stopped it for good: canceled, or never started.
    pub fn has_ended(&self) -> bool {
        matches!(self.status.as_str(), "canceled" | "incomplete_expired")
    }

    /// Counts in `recurring.active` and `recurring.monthly`: paying, or about to.
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "active" | "trialing")
    }

    pub fn monthly_minor(&self) -> i64 {
        monthly_minor(self.amount_minor, self.interval, self.interval_count)
    }

    /// A cancelled subscription stays cancelled, whatever older news arrives after it.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "canceled" | "incomplete_expired")
    }
}
