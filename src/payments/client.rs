//! Outgoing calls to Stripe through async-stripe. Requests are built with its typed builders
//! (so the wire format is Stripe's); answers are read into our own few-field structs.

use std::collections::HashMap;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataRecurring,
    CreateCheckoutSessionLineItemsPriceDataRecurringInterval, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionSubscriptionData, ProductData,
};
use stripe_core::event::ListEvent;
use stripe_core::payment_intent::RetrievePaymentIntent;
use stripe_core::refund::{CreateRefund, ListRefund};
use stripe_shared::{CheckoutSessionLocale, CheckoutSessionMode};

use super::amounts::{chargeable, stripe_code};
use super::objects::{
    BillingPortalSession, Charge, CheckoutSession, Dispute, Event, Invoice, InvoicePayment, List,
    PaymentIntent, PayoutTransaction, Refund, Subscription,
};
use crate::ledger::checkout::Interval;
use crate::ledger::{Campaign, Currency};

/// Why a call to Stripe failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeApiError {
    /// Stripe refused the request (a 4xx with its error object).
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Stripe could not be reached, or answered 5xx, or with something we cannot read.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
}

impl StripeApiError {
    /// Stripe's reason when it refused the request itself as it stands (400 invalid request,
    /// 402 a card error, 404 no such object): the asker's to change, not a fault of ours.
    pub fn refusal(&self) -> Option<&str> {
        match self {
            StripeApiError::Refused { status: 400 | 402 | 404, message } => Some(message),
            _ => None,
        }
    }

    /// Trying again later may succeed by itself: Stripe unreachable, rate limiting (429), a
    /// key being rolled or its permissions changed (401, 403), a request in flight (409).
    pub fn is_transient(&self) -> bool {
        match self {
            StripeApiError::Unavailable(_) => true,
            StripeApiError::Refused { status, .. } => matches!(status, 401 | 403 | 408 | 409 | 429),
        }
    }
}

impl From<StripeError> for StripeApiError {
    fn from(error: StripeError) -> Self {
        match error {
            StripeError::Stripe(api, status) if status < 500 => StripeApiError::Refused {
                status,
                message: api.message.clone().unwrap_or_else(|| format!("{:?}", api.type_)),
            },
            other => StripeApiError::Unavailable(other.to_string()),
        }
    }
}

/// The metadata keys appeal puts on Checkout Sessions, payments and subscriptions.
pub const META_INTENT: &str = "appeal_intent";
pub const META_CAMPAIGN: &str = "appeal_campaign";
pub const META_BRANCH: &str = "appeal_branch";

/// A Stripe account reached with a secret key, at Stripe or at `STRIPE_API_BASE`.
#[derive(Clone, Debug)]
pub struct StripeApi {
    client: super::transport::Transport,
}

/// What a Checkout Session needs from the gift.
#[derive(Debug)]
pub struct SessionRequest<'a> {
    pub intent_id: &'a str,
    pub campaign: &'a Campaign,
    pub branch_slug: Option<&'a str>,
    pub interval: Interval,
    /// What the supporter gives in: the campaign's currency, or one it offers.
    pub currency: Currency,
    pub total_minor: i64,
    pub email: Option<&'a str>,
    /// Stripe's name for the supporter's language ("fr").
    pub stripe_locale: &'a str,
    /// The supporter's language, for the product name.
    pub language: String,
    pub success_url: String,
    pub cancel_url: String,
}

impl StripeApi {
    pub fn new(secret_key: &SecretString, api_base: &str) -> Result<Self, StripeApiError> {
        let client = super::transport::Transport::new(
            secret_key.expose_secret(),
            api_base,
            RequestStrategy::ExponentialBackoff(2),
        )
        .map_err(|error| StripeApiError::Unavailable(error.to_string()))?;
        Ok(StripeApi { client })
    }

    /// Sends a request and reads the answer into our own struct.
    async fn send<T: DeserializeOwned>(
        &self,
        request: stripe_client_core::RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeApiError> {
        let mut customized = request.customize::<miniserde::json::Value>();
        if let Some(key) = idempotency_key {
            let key =
                IdempotencyKey::new(key).map_err(|error| StripeApiError::Unavailable(error.to_string()))?;
            customized = customized.request_strategy(RequestStrategy::Idempotent(key));
        }
        let value = customized.send(&self.client).await?;
        serde_json::from_str(&miniserde::json::to_string(&value))
            .map_err(|error| StripeApiError::Unavailable(format!("unreadable answer from Stripe: {error}")))
    }

    /// Opens a Checkout Session: `payment` mode once, `subscription` mode with an inline
    /// recurring price otherwise. The intent id is the idempotency key, so a retried call
    /// cannot open two sessions for one gift.
    #[tracing::instrument(skip_all, fields(intent = request.intent_id))]
    pub async fn create_checkout_session(
        &self,
        request: &SessionRequest<'_>,
    ) -> Result<CheckoutSession, StripeApiError> {
        let campaign = request.campaign;
        let currency = stripe_currency(request.currency)?;
        let unit_amount = chargeable(request.total_minor, request.currency)
            .map_err(|error| StripeApiError::Refused { status: 400, message: format!("amount {error}") })?;
        let mut metadata = HashMap::from([
            (META_INTENT.to_owned(), request.intent_id.to_owned()),
            (META_CAMPAIGN.to_owned(), campaign.slug.to_string()),
        ]);
        if let Some(branch) = request.branch_slug {
            metadata.insert(META_BRANCH.to_owned(), branch.to_owned());
        }
        let title = campaign.title.get(&request.language).to_owned();
        let mut price_data = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price_data.unit_amount = Some(unit_amount);
        price_data.product_data = Some(ProductData::new(title.clone()));
        let mode = match request.interval {
            Interval::Once => CheckoutSessionMode::Payment,
            Interval::Month | Interval::Year => {
                let interval = if request.interval == Interval::Month {
                    CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Month
                } else {
                    CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Year
                };
                price_data.recurring = Some(CreateCheckoutSessionLineItemsPriceDataRecurring::new(interval));
                CheckoutSessionMode::Subscription
            }
        };
        let mut line_item = CreateCheckoutSessionLineItems::new();
        line_item.price_data = Some(price_data);
        line_item.quantity = Some(1);
        let locale =
            CheckoutSessionLocale::from_str(request.stripe_locale).unwrap_or(CheckoutSessionLocale::Auto);
        let mut builder = CreateCheckoutSession::new()
            .mode(mode.clone())
            .line_items(vec![line_item])
            .metadata(metadata.clone())
            .client_reference_id(request.intent_id)
            .locale(locale)
            .success_url(&request.success_url)
            .cancel_url(&request.cancel_url);
        if let Some(email) = request.email {
            builder = builder.customer_email(email);
        }
        builder = match mode {
            CheckoutSessionMode::Subscription => {
                let mut data = CreateCheckoutSessionSubscriptionData::new();
                data.metadata = Some(metadata);
                data.description = Some(title);
                builder.subscription_data(data)
            }
            _ => {
                let mut data = CreateCheckoutSessionPaymentIntentData::new();
                data.metadata = Some(metadata);
                data.description = Some(title);
                builder.payment_intent_data(data)
            }
        };
        self.send(builder.build(), Some(&format!("checkout-{}", request.intent_id))).await
    }

    /// A payment with its charge and the charge's balance transaction (fee, net, settled amount).
    pub async fn payment_intent_with_charge(&self, id: &str) -> Result<PaymentIntent, StripeApiError> {
        let request =
            RetrievePaymentIntent::new(id).expand(vec!["latest_charge.balance_transaction".to_owned()]);
        self.send(request.build(), None).await
    }

    /// A charge with its balance transaction, for API versions whose invoices name the charge.
    pub async fn charge_with_balance(&self, id: &str) -> Result<Charge, StripeApiError> {
        let request =
            stripe_core::charge::RetrieveCharge::new(id).expand(vec!["balance_transaction".to_owned()]);
        self.send(request.build(), None).await
    }

    pub async fn subscription(&self, id: &str) -> Result<Subscription, StripeApiError> {
        self.send(stripe_billing::subscription::RetrieveSubscription::new(id).build(), None).await
    }

    /// The payments of an invoice (where API versions since 2025 keep the payment intent).
    pub async fn invoice_payments(&self, invoice_id: &str) -> Result<List<InvoicePayment>, StripeApiError> {
        self.send(
            stripe_billing::invoice_payment::ListInvoicePayment::new().invoice(invoice_id).build(),
            None,
        )
        .await
    }

    /// A charge's refunds, each with the balance transactions that took the money and (for
    /// a failed or cancelled refund) gave it back.
    pub async fn refunds_of_charge(&self, charge_id: &str) -> Result<Vec<Refund>, StripeApiError> {
        let mut all = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut request = ListRefund::new().charge(charge_id).limit(100).expand(vec![
                "data.balance_transaction".to_owned(),
                "data.failure_balance_transaction".to_owned(),
            ]);
            if let Some(after) = &starting_after {
                request = request.starting_after(after.clone());
            }
            let page: List<Refund> = self.send(request.build(), None).await?;
            starting_after = page.data.last().map(|refund| refund.id.clone());
            let more = page.has_more && starting_after.is_some();
            all.extend(page.data);
            if !more {
                return Ok(all);
            }
        }
    }

    /// A charge as it stands (what is left to refund, in its own currency).
    pub async fn charge(&self, id: &str) -> Result<Charge, StripeApiError> {
        self.send(stripe_core::charge::RetrieveCharge::new(id).build(), None).await
    }

    /// Asks Stripe to refund `api_amount` of a charge, in Stripe's units of the charge's
    /// currency. The ledger moves when Stripe reports the refund.
    pub async fn create_refund(
        &self,
        charge_id: &str,
        api_amount: i64,
        reason: Option<&str>,
        idempotency_key: &str,
    ) -> Result<Refund, StripeApiError> {
        let mut request = CreateRefund::new().charge(charge_id).amount(api_amount);
        if let Some(reason) = reason {
            // Comes back on the refund, for the ledger's entry and Stripe's dashboard alike.
            let key = super::objects::REFUND_REASON_KEY.to_owned();
            request = request.metadata([(key, reason.to_owned())]);
        }
        self.send(request.build(), Some(idempotency_key)).await
    }

    /// Stops a subscription at the end of the paid period; nothing is refunded.
    pub async fn cancel_subscription_at_period_end(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<Subscription, StripeApiError> {
        let request = stripe_billing::subscription::UpdateSubscription::new(id).cancel_at_period_end(true);
        self.send(request.build(), Some(idempotency_key)).await
    }

    /// Stops a subscription now; nothing is refunded or prorated.
    pub async fn cancel_subscription_now(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<Subscription, StripeApiError> {
        let request = stripe_billing::subscription::CancelSubscription::new(id);
        self.send(request.build(), Some(idempotency_key)).await
    }

    /// A Stripe Billing Portal session where a donor changes or stops their subscription.
    pub async fn billing_portal_session(
        &self,
        customer: &str,
        return_url: &str,
        stripe_locale: &str,
    ) -> Result<BillingPortalSession, StripeApiError> {
        let locale = stripe_billing::BillingPortalSessionLocale::from_str(stripe_locale)
            .unwrap_or(stripe_billing::BillingPortalSessionLocale::Auto);
        let request = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .locale(locale);
        self.send(request.build(), None).await
    }

    /// Every balance transaction created since `since` (unix seconds), all pages.
    pub async fn balance_transactions_since(
        &self,
        since: i64,
    ) -> Result<Vec<PayoutTransaction>, StripeApiError> {
        self.all_balance_transactions(
            stripe_core::balance_transaction::ListBalanceTransaction::new()
                .created(stripe_types::RangeQueryTs::gte(since)),
        )
        .await
    }

    /// Every balance transaction a payout carried (all pages).
    pub async fn payout_transactions(
        &self,
        payout_id: &str,
    ) -> Result<Vec<PayoutTransaction>, StripeApiError> {
        self.all_balance_transactions(
            stripe_core::balance_transaction::ListBalanceTransaction::new().payout(payout_id),
        )
        .await
    }

    /// Every page of a balance-transaction listing, 100 at a time.
    async fn all_balance_transactions(
        &self,
        listing: stripe_core::balance_transaction::ListBalanceTransaction,
    ) -> Result<Vec<PayoutTransaction>, StripeApiError> {
        let mut all = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut request = listing.clone().limit(100);
            if let Some(after) = &starting_after {
                request = request.starting_after(after.clone());
            }
            let page: List<PayoutTransaction> = self.send(request.build(), None).await?;
            starting_after = page.data.last().map(|transaction| transaction.id.clone());
            let more = page.has_more && starting_after.is_some();
            all.extend(page.data);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Every page of a listing, 100 at a time: `page` builds the request of the page after
    /// an object's id (the first page after none).
    async fn every_page<T: DeserializeOwned + super::objects::HasId>(
        &self,
        page: impl Fn(Option<&str>) -> stripe_client_core::RequestBuilder,
    ) -> Result<Vec<T>, StripeApiError> {
        let mut all: Vec<T> = Vec::new();
        loop {
            let after = all.last().map(|object| object.id().to_owned());
            let listed: List<T> = self.send(page(after.as_deref()), None).await?;
            let more = listed.has_more && !listed.data.is_empty();
            all.extend(listed.data);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Every charge created at or after `since` (unix seconds), with its balance transaction.
    pub async fn charges_since(&self, since: i64) -> Result<Vec<Charge>, StripeApiError> {
        self.every_page(|after| {
            let mut request = stripe_core::charge::ListCharge::new()
                .created(stripe_types::RangeQueryTs::gte(since))
                .limit(100)
                .expand(vec!["data.balance_transaction".to_owned()]);
            if let Some(after) = after {
                request = request.starting_after(after);
            }
            request.build()
        })
        .await
    }

    /// Every subscription of the account, whatever its status.
    pub async fn all_subscriptions(&self) -> Result<Vec<Subscription>, StripeApiError> {
        self.every_page(|after| {
            let mut request = stripe_billing::subscription::ListSubscription::new()
                .status(stripe_billing::subscription::ListSubscriptionStatus::All)
                .limit(100);
            if let Some(after) = after {
                request = request.starting_after(after);
            }
            request.build()
        })
        .await
    }

    /// A subscription's paid invoices created at or after `since` (unix seconds).
    pub async fn paid_invoices(
        &self,
        subscription_id: &str,
        since: i64,
    ) -> Result<Vec<Invoice>, StripeApiError> {
        self.every_page(|after| {
            let query = ListQuery {
                subscription: Some(subscription_id),
                status: Some("paid"),
                created: Some(Created { gte: since }),
                limit: 100,
                starting_after: after,
                ..ListQuery::default()
            };
            stripe_client_core::RequestBuilder::new(stripe_client_core::StripeMethod::Get, "/invoices")
                .query(&query)
        })
        .await
    }

    /// A charge's disputes and inquiries, each with the balance transactions that moved money.
    pub async fn disputes_of_charge(&self, charge_id: &str) -> Result<Vec<Dispute>, StripeApiError> {
        self.every_page(|after| {
            let query = ListQuery {
                charge: Some(charge_id),
                limit: 100,
                starting_after: after,
                ..ListQuery::default()
            };
            stripe_client_core::RequestBuilder::new(stripe_client_core::StripeMethod::Get, "/disputes")
                .query(&query)
        })
        .await
    }

    /// One page of events created at or after `since` (unix seconds), newest first.
    pub async fn events_page(
        &self,
        since: i64,
        starting_after: Option<&str>,
    ) -> Result<List<Event>, StripeApiError> {
        let mut request = ListEvent::new()
            .created(stripe_types::RangeQueryTs::gte(since))
            .limit(100)
            .types(handled_event_types());
        if let Some(after) = starting_after {
            request = request.starting_after(after);
        }
        self.send(request.build(), None).await
    }
}

/// The event types appeal applies; the README lists them for the Stripe dashboard.
pub const HANDLED_EVENT_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
];

fn handled_event_types() -> Vec<String> {
    HANDLED_EVENT_TYPES.iter().map(|kind| (*kind).to_owned()).collect()
}

fn stripe_currency(currency: Currency) -> Result<stripe_types::Currency, StripeApiError> {
    stripe_types::Currency::from_str(&stripe_code(currency)).map_err(|_| StripeApiError::Refused {
        status: 400,
        message: format!("Stripe does not take {currency}"),
    })
}

/// The parameters of a listing that async-stripe's builders do not cover here (invoices,
/// disputes), as Stripe reads them: `created[gte]=...`.
#[derive(Debug, Default, serde::Serialize)]
struct ListQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    charge: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<Created>,
    limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    starting_after: Option<&'a str>,
}

#[derive(Debug, serde::Serialize)]
struct Created {
    gte: i64,
}
