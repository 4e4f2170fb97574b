//! A fake Stripe on a random port: Stripe's wire format (Bearer key, form-encoded requests
//! with bracket notation, JSON objects with Stripe's fields for API version 2026-09-30,
//! errors in Stripe's error shape), a record of what it was asked, and events it signs
//! exactly as Stripe signs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;

mod handlers;
mod objects;

use handlers::*;
use objects::*;

pub const SECRET_KEY: &str = "sk_test_fake_appeal";
pub const WEBHOOK_SECRET: &str = "whsec_fake_appeal";
pub const API_VERSION: &str = "2026-09-30.endive";

/// Stripe's standard fee in the fake: 2.9 % + 0.30 (in minor units of two-digit currencies).
pub fn stripe_fee(amount: i64) -> i64 {
    (amount * 29 + 500) / 1000 + 30
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
}

impl Recorded {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State_ {
    counter: u64,
    /// Seconds the fake's clock runs ahead of the real one (to let days pass).
    clock_offset: i64,
    /// The currency the account settles in; `None` settles each charge in its own currency.
    settlement: Option<String>,
    /// Settlement units per unit of a presentment currency (Stripe's `exchange_rate`).
    rates: HashMap<String, Decimal>,
    /// Payments converted into their session's currency (Adaptive Pricing), by payment intent.
    settle_payment_in: HashMap<String, String>,
    /// The account's secret key was rolled: every call is refused with 401 until it is set.
    key_rolled: bool,
    /// Answers given under an idempotency key, given again for the same key.
    idempotent: HashMap<String, Value>,
    sessions: HashMap<String, Value>,
    payment_intents: HashMap<String, Value>,
    charges: HashMap<String, Value>,
    balance_transactions: HashMap<String, Value>,
    subscriptions: HashMap<String, Value>,
    invoices: HashMap<String, Value>,
    invoice_payments: Vec<Value>,
    /// Where each invoice's payments are in `invoice_payments`.
    payments_of_invoice: HashMap<String, Vec<usize>>,
    refunds: Vec<Value>,
    disputes: HashMap<String, Value>,
    payouts: HashMap<String, Value>,
    /// The balance transactions each payout carried, its own included.
    payout_transactions: HashMap<String, Vec<String>>,
    events: Vec<Value>,
    requests: Vec<Recorded>,
    /// Events made by API calls (a cancel, a refund), for the test to deliver.
    pending: Vec<Value>,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    state: Arc<Mutex<State_>>,
}

impl std::fmt::Debug for FakeStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeStripe").field("base", &self.base).finish()
    }
}

/// The dispute fee Stripe takes when funds are withdrawn, in the settlement currency.
pub const DISPUTE_FEE: i64 = 1500;

fn stripe_error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    let body =
        json!({"error": {"type": kind, "message": message, "param": param, "code": null, "doc_url": null}});
    (status, axum::Json(body)).into_response()
}

/// Parses a form or query string into its bracket-notation pairs, in order.
fn pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The first value given for `key`.
fn param(params: &[(String, String)], key: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// Stripe's answer to a request without a parameter it requires.
fn missing_param(name: &str) -> Response {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        &format!("Missing required param: {name}."),
        Some(name),
    )
}

fn prefixed(params: &[(String, String)], prefix: &str) -> HashMap<String, String> {
    params
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|key| (key.to_owned(), v.clone()))
        })
        .collect()
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the fake Stripe");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let fake = FakeStripe { base, state: Arc::new(Mutex::new(State_::default())) };
        let router = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/payment_intents/{id}", get(retrieve_payment_intent))
            .route("/v1/charges", get(list_charges))
            .route("/v1/charges/{id}", get(retrieve_charge))
            .route("/v1/subscriptions", get(list_subscriptions))
            .route("/v1/invoices", get(list_invoices))
            .route("/v1/disputes", get(list_disputes))
            .route(
                "/v1/subscriptions/{id}",
                get(retrieve_subscription).post(update_subscription).delete(cancel_subscription),
            )
            .route("/v1/invoice_payments", get(list_invoice_payments))
            .route("/v1/refunds", get(list_refunds).post(create_refund))
            .route("/v1/events", get(list_events))
            .route("/v1/billing_portal/sessions", post(create_portal_session))
            .route("/pay/{id}", get(checkout_page))
            .route("/v1/balance_transactions", get(list_balance_transactions))
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("the fake Stripe serves");
        });
        fake
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.state.lock().expect("the fake's state is not poisoned")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == method && r.path == path).collect()
    }

    pub fn session(&self, id: &str) -> Value {
        self.lock().sessions.get(id).cloned().expect("a session the fake made")
    }

    /// Events the fake made on its own after API calls (cancel, refund), taken once.
    pub fn take_pending(&self) -> Vec<Value> {
        std::mem::take(&mut self.lock().pending)
    }

    pub fn all_events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    /// A payment made on the account outside appeal (another form, another product): a
    /// paid charge with the donor's name and email, a description and metadata. Returns its id.
    pub fn outside_charge(
        &self,
        amount: i64,
        name: &str,
        email: &str,
        description: &str,
        metadata: Value,
    ) -> String {
        let mut state = self.lock();
        let customer = state.id("cus");
        let (payment_intent, _) = state.new_payment(amount, "cad", &customer, metadata, true);
        let charge_id =
            state.payment_intents[&payment_intent]["latest_charge"].as_str().expect("a charge").to_owned();
        let charge = state.charges.get_mut(&charge_id).expect("the charge");
        charge["billing_details"]["name"] = json!(name);
        charge["billing_details"]["email"] = json!(email);
        charge["description"] = json!(description);
        charge_id
    }

    /// A payment outside appeal that failed: a charge that is not `succeeded`.
    pub fn outside_failed_charge(&self, amount: i64) -> String {
        let charge = self.outside_charge(amount, "Failed Card", "failed@example.org", "Donation", json!({}));
        let mut state = self.lock();
        let stored = state.charges.get_mut(&charge).expect("the charge");
        stored["status"] = json!("failed");
        stored["paid"] = json!(false);
        charge
    }

    /// A monthly subscription opened outside appeal, with `paid` invoices paid. Returns its id.
    pub fn outside_subscription(
        &self,
        amount: i64,
        description: &str,
        metadata: Value,
        paid: usize,
    ) -> String {
        let mut state = self.lock();
        let customer = state.id("cus");
        let subscription = state.new_subscription(&customer, amount, "cad", "month", metadata);
        let id = subscription["id"].as_str().expect("id").to_owned();
        state.subscriptions.get_mut(&id).expect("subscription")["description"] = json!(description);
        for n in 0..paid {
            state.pay_invoice(&id, if n == 0 { "subscription_create" } else { "subscription_cycle" });
        }
        id
    }

    /// The supporter pays a Checkout Session. Returns the events Stripe would send, in its order.
    pub fn pay_session(&self, session_id: &str) -> Vec<Value> {
        self.pay_session_with(session_id, None)
    }

    /// The supporter pays a one-off Checkout Session in their own currency (Adaptive
    /// Pricing): the charge is `amount` of `currency`, settled at the fake's rate.
    pub fn pay_session_in(&self, session_id: &str, currency: &str, amount: i64) -> Vec<Value> {
        self.pay_session_with(session_id, Some((currency, amount)))
    }

    fn pay_session_with(&self, session_id: &str, presented: Option<(&str, i64)>) -> Vec<Value> {
        let mut state = self.lock();
        let session = state.sessions.get(session_id).cloned().expect("a session the fake made");
        let (currency, amount) = match presented {
            Some((currency, amount)) => (currency.to_owned(), amount),
            None => (
                session["currency"].as_str().expect("a currency").to_owned(),
                session["amount_total"].as_i64().expect("an amount"),
            ),
        };
        let metadata = session["metadata"].clone();
        let customer = state.id("cus");
        let email = session["customer_email"].as_str().unwrap_or("supporter@example.org").to_owned();
        let mut events = Vec::new();
        let mut paid = session.clone();
        paid["status"] = json!("complete");
        paid["payment_status"] = json!("paid");
        paid["customer"] = json!(customer);
        paid["customer_details"] = customer_details(&email);
        if session["mode"] == "subscription" {
            let interval = session["x_interval"].as_str().unwrap_or("month").to_owned();
            let subscription = state.new_subscription(&customer, amount, &currency, &interval, metadata);
            let sub_id = subscription["id"].as_str().expect("id").to_owned();
            paid["subscription"] = json!(sub_id);
            events.push(state.event("customer.subscription.created", subscription));
            let invoice = state.pay_invoice(&sub_id, "subscription_create");
            events.push(state.event("invoice.paid", invoice));
        } else if presented.is_some() {
            let (payment_intent, _) = state.new_payment(amount, &currency, &customer, metadata, false);
            // Converted into the session's currency, unless the account settles in another.
            let session_currency = session["currency"].as_str().expect("a currency").to_owned();
            let target = state.settlement.clone().unwrap_or(session_currency);
            state.settle_payment_in.insert(payment_intent.clone(), target);
            state.charge_payment(&payment_intent);
            paid["payment_intent"] = json!(payment_intent);
            paid["currency"] = json!(currency);
            paid["amount_total"] = json!(amount);
        } else {
            let (payment_intent, _) = state.new_payment(amount, &currency, &customer, metadata, true);
            paid["payment_intent"] = json!(payment_intent);
        }
        strip_private(&mut paid);
        state.sessions.insert(session_id.to_owned(), paid.clone());
        events.push(state.event("checkout.session.completed", paid));
        events
    }

    /// The supporter chooses a bank debit: the session completes unpaid.
    pub fn start_async_payment(&self, session_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        let session = state.sessions.get(session_id).cloned().expect("a session");
        let amount = session["amount_total"].as_i64().expect("an amount");
        let currency = session["currency"].as_str().expect("a currency").to_owned();
        let customer = state.id("cus");
        let (payment_intent, _) =
            state.new_payment(amount, &currency, &customer, session["metadata"].clone(), false);
        let mut open = session.clone();
        open["status"] = json!("complete");
        open["payment_status"] = json!("unpaid");
        open["payment_intent"] = json!(payment_intent);
        open["customer"] = json!(customer);
        open["customer_details"] = customer_details("debit@example.org");
        strip_private(&mut open);
        state.sessions.insert(session_id.to_owned(), open.clone());
        vec![state.event("checkout.session.completed", open)]
    }

    /// The bank debit of an async session settles, or fails.
    pub fn finish_async_payment(&self, session_id: &str, succeeded: bool) -> Vec<Value> {
        let mut state = self.lock();
        let mut session = state.sessions.get(session_id).cloned().expect("a session");
        let payment_intent = session["payment_intent"].as_str().expect("a payment").to_owned();
        if succeeded {
            state.charge_payment(&payment_intent);
            session["payment_status"] = json!("paid");
        } else {
            state.payment_intents.get_mut(&payment_intent).expect("payment")["status"] =
                json!("requires_payment_method");
        }
        state.sessions.insert(session_id.to_owned(), session.clone());
        let kind = if succeeded {
            "checkout.session.async_payment_succeeded"
        } else {
            "checkout.session.async_payment_failed"
        };
        vec![state.event(kind, session)]
    }

    /// The next installment of a subscription is paid.
    pub fn renew(&self, subscription_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        let mut events = Vec::new();
        if state.subscriptions[subscription_id]["status"] != "active" {
            let subscription = state.set_subscription_status(subscription_id, "active");
            events.push(state.event("customer.subscription.updated", subscription));
        }
        let invoice = state.pay_invoice(subscription_id, "subscription_cycle");
        events.insert(0, state.event("invoice.paid", invoice));
        events
    }

    /// The next installment fails: the invoice is unpaid and the subscription past due.
    pub fn fail_renewal(&self, subscription_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        let invoice = state.new_invoice(subscription_id, "subscription_cycle", false);
        let failed = state.event("invoice.payment_failed", invoice);
        let subscription = state.set_subscription_status(subscription_id, "past_due");
        let updated = state.event("customer.subscription.updated", subscription);
        vec![failed, updated]
    }

    /// Stripe tries the subscription's failed invoice again: it is paid (the subscription
    /// active again), or fails once more.
    pub fn retry_failed(&self, subscription_id: &str, succeeds: bool) -> Vec<Value> {
        let mut state = self.lock();
        let invoice = state
            .invoices
            .values()
            .filter(|invoice| invoice["x_subscription"] == subscription_id && invoice["status"] == "open")
            .max_by_key(|invoice| invoice["created"].as_i64())
            .map(|invoice| invoice["id"].as_str().expect("an id").to_owned())
            .expect("a failed invoice");
        let retried = state.retry_invoice(&invoice, succeeds, false);
        if succeeds {
            let subscription = state.set_subscription_status(subscription_id, "active");
            let updated = state.event("customer.subscription.updated", subscription);
            vec![state.event("invoice.paid", retried), updated]
        } else {
            vec![state.event("invoice.payment_failed", retried)]
        }
    }

    /// The subscription ends now: its donor cancels it in the Billing Portal
    /// (`cancellation_requested`), or Stripe gives up after its last try (`payment_failed`).
    pub fn end_subscription(&self, subscription_id: &str, reason: &str) -> Vec<Value> {
        let mut state = self.lock();
        let now = state.now();
        let subscription = state.subscriptions.get_mut(subscription_id).expect("a subscription");
        subscription["status"] = json!("canceled");
        subscription["canceled_at"] = json!(now);
        subscription["ended_at"] = json!(now);
        subscription["cancellation_details"]["reason"] = json!(reason);
        let ended = subscription.clone();
        vec![state.event("customer.subscription.deleted", ended)]
    }

    /// A refund made in Stripe's dashboard (the API path is `POST /v1/refunds`).
    pub fn refund(&self, charge_id: &str, amount: i64) -> Vec<Value> {
        self.refund_for(charge_id, amount, None)
    }

    /// A refund made in Stripe's dashboard, with Stripe's own reason (duplicate, fraudulent,
    /// requested_by_customer).
    pub fn refund_for(&self, charge_id: &str, amount: i64, reason: Option<&str>) -> Vec<Value> {
        let mut state = self.lock();
        let refund = state.new_refund(charge_id, amount).expect("a refund within the charge");
        if let Some(stored) = state.refunds.iter_mut().find(|stored| stored["id"] == refund["id"]) {
            stored["reason"] = json!(reason);
        }
        let charge = state.charges[charge_id].clone();
        vec![state.event("charge.refunded", charge)]
    }

    /// A chargeback: the funds and the dispute fee are withdrawn at once.
    pub fn dispute(&self, charge_id: &str) -> (String, Vec<Value>) {
        let mut state = self.lock();
        let dispute = state.new_dispute(charge_id, "needs_response");
        let id = dispute["id"].as_str().expect("id").to_owned();
        let created = state.event("charge.dispute.created", dispute.clone());
        let withdrawn = state.withdraw_for_dispute(&id);
        (id, vec![created, withdrawn])
    }

    /// An inquiry (a retrieval): the bank asks, no money moves.
    pub fn inquiry(&self, charge_id: &str) -> (String, Vec<Value>) {
        let mut state = self.lock();
        let dispute = state.new_dispute(charge_id, "warning_needs_response");
        let id = dispute["id"].as_str().expect("id").to_owned();
        (id, vec![state.event("charge.dispute.created", dispute)])
    }

    /// An inquiry escalated to a chargeback: the funds are withdrawn now.
    pub fn escalate(&self, dispute_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        state.disputes.get_mut(dispute_id).expect("a dispute")["status"] = json!("needs_response");
        let updated = state.disputes[dispute_id].clone();
        let updated = state.event("charge.dispute.updated", updated);
        vec![updated, state.withdraw_for_dispute(dispute_id)]
    }

    /// An inquiry closes without becoming a chargeback.
    pub fn close_inquiry(&self, dispute_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        state.disputes.get_mut(dispute_id).expect("a dispute")["status"] = json!("warning_closed");
        let closed = state.disputes[dispute_id].clone();
        vec![state.event("charge.dispute.closed", closed)]
    }

    /// A dispute ends: won, its funds come back (the fee stays with Stripe); lost, nothing moves.
    pub fn close_dispute(&self, dispute_id: &str, won: bool) -> Vec<Value> {
        self.end_dispute(dispute_id, won, false)
    }

    /// A dispute is won and Stripe gives the dispute fee back with the funds.
    pub fn win_dispute_with_fee_back(&self, dispute_id: &str) -> Vec<Value> {
        self.end_dispute(dispute_id, true, true)
    }

    fn end_dispute(&self, dispute_id: &str, won: bool, fee_back: bool) -> Vec<Value> {
        let mut state = self.lock();
        let mut events = Vec::new();
        if won {
            let dispute = state.disputes[dispute_id].clone();
            let withdrawn = dispute["balance_transactions"][0]["amount"].as_i64().expect("a withdrawal");
            let currency =
                dispute["balance_transactions"][0]["currency"].as_str().expect("currency").to_owned();
            let fee = if fee_back { -DISPUTE_FEE } else { 0 };
            let reinstated =
                state.new_balance_transaction(-withdrawn, fee, &currency, "adjustment", dispute_id);
            let stored = state.disputes.get_mut(dispute_id).expect("a dispute");
            stored["balance_transactions"].as_array_mut().expect("list").push(reinstated);
            stored["status"] = json!("won");
            let dispute = stored.clone();
            events.push(state.event("charge.dispute.funds_reinstated", dispute));
        } else {
            state.disputes.get_mut(dispute_id).expect("a dispute")["status"] = json!("lost");
        }
        let closed = state.disputes[dispute_id].clone();
        events.push(state.event("charge.dispute.closed", closed));
        events
    }

    /// A refund fails after it left the balance (a closed card account): the money comes back.
    pub fn fail_refund(&self, refund_id: &str) -> Vec<Value> {
        self.end_refund(refund_id, "failed")
    }

    /// A refund waiting for the customer's action is cancelled: the money comes back.
    pub fn cancel_refund(&self, refund_id: &str) -> Vec<Value> {
        self.end_refund(refund_id, "canceled")
    }

    fn end_refund(&self, refund_id: &str, status: &str) -> Vec<Value> {
        let mut state = self.lock();
        let position = state.refunds.iter().position(|r| r["id"] == refund_id).expect("a refund");
        let refund = state.refunds[position].clone();
        let taken =
            state.balance_transactions[refund["balance_transaction"].as_str().expect("taken")].clone();
        let amount = taken["amount"].as_i64().expect("amount");
        let currency = taken["currency"].as_str().expect("currency").to_owned();
        let returned = state.new_balance_transaction(-amount, 0, &currency, "refund_failure", refund_id);
        let charge_id = refund["charge"].as_str().expect("charge").to_owned();
        let refunded = refund["amount"].as_i64().expect("amount");
        let stored = state.charges.get_mut(&charge_id).expect("charge");
        let before = stored["amount_refunded"].as_i64().unwrap_or(0);
        stored["amount_refunded"] = json!(before - refunded);
        stored["refunded"] = json!(false);
        let stored = &mut state.refunds[position];
        stored["status"] = json!(status);
        stored["failure_balance_transaction"] = returned["id"].clone();
        stored["failure_reason"] =
            json!(if status == "failed" { "expired_or_canceled_card" } else { "merchant_request" });
        let refund = stored.clone();
        let updated = state.event("charge.refund.updated", refund.clone());
        let kind = if status == "failed" { "refund.failed" } else { "refund.updated" };
        vec![updated, state.event(kind, refund)]
    }

    /// The newest refund of a charge.
    pub fn last_refund_of(&self, charge_id: &str) -> String {
        let state = self.lock();
        let refund = state.refunds.iter().rev().find(|r| r["charge"] == charge_id).expect("a refund");
        refund["id"].as_str().expect("id").to_owned()
    }

    /// The secret key is rolled (every call answers 401), or set again.
    pub fn roll_key(&self, rolled: bool) {
        self.lock().key_rolled = rolled;
    }

    /// Sets the fake's clock to `unix` (seconds): what Stripe does from now on is dated then.
    pub fn set_clock(&self, unix: i64) {
        self.lock().clock_offset = unix - chrono::Utc::now().timestamp();
    }

    /// Lets days pass on the fake's clock: what Stripe does from now on is dated later.
    pub fn advance_days(&self, days: i64) {
        self.lock().clock_offset += days * 86_400;
    }

    /// The account settles in `currency`, whatever the charge's.
    pub fn settle_in(&self, currency: &str) {
        self.lock().settlement = Some(currency.to_owned());
    }

    /// The rate at which `currency` converts into the settlement currency from now on.
    pub fn set_rate(&self, currency: &str, rate: &str) {
        let rate: Decimal = rate.parse().expect("a decimal rate");
        self.lock().rates.insert(currency.to_owned(), rate);
    }

    /// An event Stripe lists (for reconcile) that appeal cannot read.
    pub fn push_event(&self, event: Value) {
        self.lock().events.push(event);
    }

    /// A paid payout fails afterwards, as Stripe warns it may.
    pub fn fail_payout(&self, payout_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        let payout = state.payouts.get_mut(payout_id).expect("a payout");
        payout["status"] = json!("failed");
        payout["failure_code"] = json!("account_closed");
        let payout = payout.clone();
        vec![state.event("payout.failed", payout)]
    }

    /// Stripe's balance for one charge: the gross and net of every balance transaction of the
    /// charge, its refunds and its disputes, in the settlement currency (API units).
    pub fn balance_of_charge(&self, charge_id: &str) -> (i64, i64) {
        let state = self.lock();
        let mut sources: Vec<String> = vec![charge_id.to_owned()];
        sources.extend(
            state
                .refunds
                .iter()
                .filter(|r| r["charge"] == charge_id)
                .map(|r| r["id"].as_str().unwrap_or("").to_owned()),
        );
        sources.extend(
            state
                .disputes
                .values()
                .filter(|d| d["charge"] == charge_id)
                .map(|d| d["id"].as_str().unwrap_or("").to_owned()),
        );
        state
            .balance_transactions
            .values()
            .filter(|t| sources.iter().any(|source| t["source"] == source.as_str()))
            .fold((0, 0), |(gross, net), t| {
                (gross + t["amount"].as_i64().unwrap_or(0), net + t["net"].as_i64().unwrap_or(0))
            })
    }

    /// The id of the charge that paid a session (payment mode) or a subscription's latest invoice.
    pub fn charge_of_session(&self, session_id: &str) -> String {
        let state = self.lock();
        let session = &state.sessions[session_id];
        let payment_intent = session["payment_intent"].as_str().expect("a payment");
        state.payment_intents[payment_intent]["latest_charge"].as_str().expect("a charge").to_owned()
    }

    pub fn charges_of_subscription(&self, subscription_id: &str) -> Vec<String> {
        let state = self.lock();
        state
            .invoice_payments
            .iter()
            .filter(|payment| {
                let invoice = payment["invoice"].as_str().unwrap_or("");
                state.invoices.get(invoice).is_some_and(|invoice| {
                    invoice["parent"]["subscription_details"]["subscription"] == json!(subscription_id)
                })
            })
            .filter_map(|payment| payment["payment"]["payment_intent"].as_str())
            .filter_map(|pi| state.payment_intents[pi]["latest_charge"].as_str().map(str::to_owned))
            .collect()
    }

    /// The balance transaction of a charge (what a payout carries).
    pub fn balance_transaction_of(&self, charge_id: &str) -> String {
        self.lock().charges[charge_id]["balance_transaction"]
            .as_str()
            .expect("a balance transaction")
            .to_owned()
    }

    /// Stripe changes a transaction's fee after the fact (it happens: a fee adjustment).
    pub fn adjust_fee(&self, balance_transaction: &str, fee: i64) {
        let mut state = self.lock();
        let transaction = state.balance_transactions.get_mut(balance_transaction).expect("a transaction");
        let amount = transaction["amount"].as_i64().expect("amount");
        transaction["fee"] = json!(fee);
        transaction["net"] = json!(amount - fee);
    }

    /// A charge from another product on the same account: in Stripe's balance, not in appeal's.
    pub fn foreign_charge(&self, amount: i64) -> String {
        let mut state = self.lock();
        let (payment_intent, _) = state.new_payment(amount, "cad", "cus_other", json!({}), true);
        let charge =
            state.payment_intents[&payment_intent]["latest_charge"].as_str().expect("a charge").to_owned();
        state.charges[&charge]["balance_transaction"].as_str().expect("a transaction").to_owned()
    }

    /// Pays out these balance transactions; returns the payout's id and its `payout.paid` event.
    pub fn payout(&self, transactions: &[String]) -> (String, Vec<Value>) {
        let mut state = self.lock();
        let total: i64 =
            transactions.iter().map(|id| state.balance_transactions[id]["net"].as_i64().expect("net")).sum();
        let id = state.id("po");
        let own = state.new_balance_transaction(-total, 0, "cad", "payout", &id);
        let mut carried = transactions.to_vec();
        carried.push(own["id"].as_str().expect("id").to_owned());
        let arrival = state.now() + 2 * 86400;
        let payout = json!({
            "id": id, "object": "payout", "amount": total, "application_fee": null, "application_fee_amount": null,
            "arrival_date": arrival - arrival % 86400, "automatic": true, "balance_transaction": own["id"],
            "created": state.now(), "currency": "cad", "description": "STRIPE PAYOUT", "destination": "ba_fake",
            "failure_balance_transaction": null, "failure_code": null, "failure_message": null, "livemode": false,
            "metadata": {}, "method": "standard", "original_payout": null, "reconciliation_status": "completed",
            "reversed_by": null, "source_type": "card", "statement_descriptor": null, "status": "paid", "type": "bank_account"
        });
        state.payouts.insert(id.clone(), payout.clone());
        state.payout_transactions.insert(id.clone(), carried);
        let event = state.event("payout.paid", payout);
        (id, vec![event])
    }

    pub fn objects(&self) -> Vec<(&'static str, Value)> {
        let state = self.lock();
        let mut objects = Vec::new();
        objects.extend(state.sessions.values().map(|v| ("checkout.session", v.clone())));
        objects.extend(state.payment_intents.values().map(|v| ("payment_intent", v.clone())));
        objects.extend(state.charges.values().map(|v| ("charge", v.clone())));
        objects.extend(state.balance_transactions.values().map(|v| ("balance_transaction", v.clone())));
        objects.extend(state.subscriptions.values().map(|v| ("subscription", v.clone())));
        objects.extend(state.invoices.values().map(|v| ("invoice", v.clone())));
        objects.extend(state.invoice_payments.iter().map(|v| ("invoice_payment", v.clone())));
        objects.extend(state.refunds.iter().map(|v| ("refund", v.clone())));
        objects.extend(state.disputes.values().map(|v| ("dispute", v.clone())));
        objects.extend(state.payouts.values().map(|v| ("payout", v.clone())));
        objects.extend(state.events.iter().map(|v| ("event", v.clone())));
        objects
    }
}

/// Signs an event body the way Stripe does: HMAC-SHA256 of "{t}.{body}".
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={signature}")
}
