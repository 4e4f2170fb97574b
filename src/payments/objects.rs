//! The Stripe objects we read, with only the fields we use: a change of the account's API
//! version cannot make a paid donation unreadable. Field names follow Stripe's; where an
//! API version moved a field (an invoice's subscription, its charge), both places are read.

use std::collections::HashMap;

use serde::Deserialize;

/// A reference Stripe sends either as an id or, when expanded, as the object itself.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

/// Any object with an id, for references whose content we never read.
#[derive(Clone, Debug, Deserialize)]
pub struct Object {
    pub id: String,
}

pub trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Object {
    fn id(&self) -> &str {
        &self.id
    }
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(object) => object.id(),
        }
    }

    pub fn object(&self) -> Option<&T> {
        match self {
            Expandable::Id(_) => None,
            Expandable::Object(object) => Some(object),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

impl Event {
    /// The checkout intent its object names in our metadata: a Checkout Session's or a
    /// subscription's own, or an invoice's subscription details as they stood.
    pub fn intent_named(&self) -> Option<&str> {
        let object = &self.data.object;
        let details = object.get("parent").and_then(|parent| parent.get("subscription_details"));
        [object, details.unwrap_or(&serde_json::Value::Null)]
            .into_iter()
            .find_map(|holder| holder.get("metadata")?.get(super::client::META_INTENT)?.as_str())
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

#[derive(Clone, Debug, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CustomerDetails {
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub mode: String,
    pub payment_status: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub payment_intent: Option<Expandable<Object>>,
    #[serde(default)]
    pub subscription: Option<Expandable<Object>>,
    #[serde(default)]
    pub customer_details: Option<CustomerDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub latest_charge: Option<Expandable<Charge>>,
}

impl HasId for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub payment_intent: Option<Expandable<Object>>,
    #[serde(default)]
    pub balance_transaction: Option<Expandable<BalanceTransaction>>,
    /// `succeeded` once paid; `pending` (a bank debit on its way) or `failed` otherwise.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    /// The invoice it paid, where API versions before 2025 say it.
    #[serde(default)]
    pub invoice: Option<Expandable<Object>>,
    #[serde(default)]
    pub billing_details: Option<BillingDetails>,
    #[serde(default)]
    pub receipt_email: Option<String>,
}

/// Who paid, as the payment method names them.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BillingDetails {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl HasId for Charge {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Money moving in or out of the Stripe balance, in the settlement currency: the fact each
/// ledger entry of online money is booked from.
#[derive(Clone, Debug, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub fee: i64,
    pub net: i64,
    /// When Stripe moved the money.
    #[serde(default)]
    pub created: i64,
}

impl HasId for BalanceTransaction {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub amount_paid: i64,
    pub currency: String,
    #[serde(default)]
    pub customer_email: Option<String>,
    #[serde(default)]
    pub customer_name: Option<String>,
    /// Where API versions before 2025 put it.
    #[serde(default)]
    pub subscription: Option<Expandable<Object>>,
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    /// Where API versions before 2025 put the payment.
    #[serde(default)]
    pub charge: Option<Expandable<Object>>,
    #[serde(default)]
    pub status_transitions: Option<StatusTransitions>,
    #[serde(default)]
    pub created: i64,
    /// When Stripe will try a failed payment again (Unix seconds); none once it has given up.
    #[serde(default)]
    pub next_payment_attempt: Option<i64>,
    /// How many times Stripe has tried to collect it.
    #[serde(default)]
    pub attempt_count: i64,
}

impl Invoice {
    pub fn subscription_id(&self) -> Option<&str> {
        self.parent
            .as_ref()
            .and_then(|parent| parent.subscription_details.as_ref())
            .and_then(|details| details.subscription.as_ref())
            .or(self.subscription.as_ref())
            .map(Expandable::id)
    }

    /// The subscription's metadata as it stood when the invoice was made.
    pub fn subscription_metadata(&self) -> Option<&HashMap<String, String>> {
        self.parent
            .as_ref()
            .and_then(|parent| parent.subscription_details.as_ref())
            .and_then(|details| details.metadata.as_ref())
            .filter(|metadata| !metadata.is_empty())
    }

    pub fn paid_at(&self) -> i64 {
        self.status_transitions.as_ref().and_then(|transitions| transitions.paid_at).unwrap_or(self.created)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default)]
    pub subscription: Option<Expandable<Object>>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StatusTransitions {
    #[serde(default)]
    pub paid_at: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct InvoicePayment {
    pub status: String,
    pub payment: InvoicePaymentTarget,
}

#[derive(Clone, Debug, Deserialize)]
pub struct InvoicePaymentTarget {
    #[serde(default)]
    pub payment_intent: Option<Expandable<Object>>,
    #[serde(default)]
    pub charge: Option<Expandable<Object>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub customer: Option<Expandable<Object>>,
    pub items: List<SubscriptionItem>,
    /// Where API versions before 2025 put it; newer ones put it on each item.
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When it started (Stripe's `start_date`; `created` where that is missing).
    #[serde(default)]
    pub start_date: Option<i64>,
    #[serde(default)]
    pub created: Option<i64>,
    /// When it ended, if it has.
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub cancellation_details: Option<CancellationDetails>,
}

/// Why Stripe ended a subscription.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CancellationDetails {
    /// `cancellation_requested`, `payment_failed` or `payment_disputed`.
    #[serde(default)]
    pub reason: Option<String>,
}

impl HasId for Subscription {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Invoice {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Dispute {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionItem {
    pub price: Price,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Price {
    pub currency: String,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    #[serde(default)]
    pub recurring: Option<Recurring>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Recurring {
    pub interval: String,
    #[serde(default = "one")]
    pub interval_count: i64,
}

fn one() -> i64 {
    1
}

#[derive(Clone, Debug, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub charge: Option<Expandable<Object>>,
    /// pending, requires_action, succeeded, failed or canceled.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub created: i64,
    /// Set once the refund has left the balance.
    #[serde(default)]
    pub balance_transaction: Option<Expandable<BalanceTransaction>>,
    /// Set when a failed or cancelled refund's money came back to the balance.
    #[serde(default)]
    pub failure_balance_transaction: Option<Expandable<BalanceTransaction>>,
    /// Stripe's own reason, when one was given in its dashboard: duplicate, fraudulent,
    /// requested_by_customer.
    #[serde(default)]
    pub reason: Option<String>,
    /// Ours rides here as `appeal_reason` (see [`REFUND_REASON_KEY`]).
    #[serde(default)]
    pub metadata: std::collections::HashMap<String, String>,
}

/// The refund metadata key that carries the reason a treasurer gave in appeal.
pub const REFUND_REASON_KEY: &str = "appeal_reason";

impl Refund {
    /// Why the money went back, for the ledger: the reason given in appeal, else Stripe's
    /// own in words ("requested by customer").
    pub fn ledger_reason(&self) -> Option<String> {
        self.metadata
            .get(REFUND_REASON_KEY)
            .map(|reason| reason.trim().to_owned())
            .filter(|reason| !reason.is_empty())
            .or_else(|| self.reason.as_deref().map(|reason| reason.replace('_', " ")))
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Dispute {
    pub id: String,
    pub charge: Expandable<Object>,
    pub amount: i64,
    pub currency: String,
    /// Inquiries are `warning_needs_response`, `warning_under_review`, `warning_closed`;
    /// chargebacks `needs_response`, `under_review`, `won`, `lost`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub created: i64,
    /// Zero, one or two movements of money: the withdrawal and, when won, the reinstatement.
    #[serde(default)]
    pub balance_transactions: Vec<BalanceTransaction>,
    #[serde(default)]
    pub evidence_details: Option<EvidenceDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EvidenceDetails {
    #[serde(default)]
    pub due_by: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BillingPortalSession {
    pub url: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Payout {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub arrival_date: i64,
}

/// A balance transaction as a payout lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct PayoutTransaction {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub currency: String,
    pub fee: i64,
    pub net: i64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub source: Option<Expandable<Object>>,
}

#[cfg(test)]
mod tests {
    use super::Event;

    fn event(object: serde_json::Value) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": "evt_1", "type": "x", "created": 1, "data": {"object": object}
        }))
        .expect("an event")
    }

    /// The intent is found where Stripe carries our metadata, so that it is read with the
    /// event's state instead of once more while planning.
    #[test]
    fn the_intent_an_event_names_is_found_where_stripe_carries_it() {
        let session =
            event(serde_json::json!({"object": "checkout.session", "metadata": {"appeal_intent": "int_a"}}));
        assert_eq!(session.intent_named(), Some("int_a"));
        let invoice = event(serde_json::json!({
            "object": "invoice", "metadata": {},
            "parent": {"subscription_details": {"metadata": {"appeal_intent": "int_b"}}}
        }));
        assert_eq!(invoice.intent_named(), Some("int_b"));
        let other = event(serde_json::json!({"object": "charge", "metadata": {"order": "7"}}));
        assert_eq!(other.intent_named(), None);
        assert_eq!(event(serde_json::json!({"object": "payout"})).intent_named(), None);
    }
}
