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
use serde_json::{Value, json};
use sha2::Sha256;

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
    sessions: HashMap<String, Value>,
    payment_intents: HashMap<String, Value>,
    charges: HashMap<String, Value>,
    balance_transactions: HashMap<String, Value>,
    subscriptions: HashMap<String, Value>,
    invoices: HashMap<String, Value>,
    invoice_payments: Vec<Value>,
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

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

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
            .route("/v1/charges/{id}", get(retrieve_charge))
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

    /// The supporter pays a Checkout Session. Returns the events Stripe would send, in its order.
    pub fn pay_session(&self, session_id: &str) -> Vec<Value> {
        let mut state = self.lock();
        let session = state.sessions.get(session_id).cloned().expect("a session the fake made");
        let amount = session["amount_total"].as_i64().expect("an amount");
        let currency = session["currency"].as_str().expect("a currency").to_owned();
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

    /// A refund made in Stripe's dashboard (the API path is `POST /v1/refunds`).
    pub fn refund(&self, charge_id: &str, amount: i64) -> Vec<Value> {
        let mut state = self.lock();
        state.new_refund(charge_id, amount).expect("a refund within the charge");
        let charge = state.charges[charge_id].clone();
        vec![state.event("charge.refunded", charge)]
    }

    pub fn dispute(&self, charge_id: &str) -> (String, Vec<Value>) {
        let mut state = self.lock();
        let charge = state.charges[charge_id].clone();
        let amount = charge["amount"].as_i64().expect("amount");
        let currency = charge["currency"].as_str().expect("currency").to_owned();
        let id = state.id("dp");
        let withdrawal = state.new_balance_transaction(-amount, 1500, &currency, "dispute", &id);
        let dispute = json!({
            "id": id, "object": "dispute", "amount": amount, "currency": currency, "charge": charge_id,
            "balance_transactions": [withdrawal], "created": now(), "enhanced_eligibility_types": [],
            "evidence": dispute_evidence(),
            "evidence_details": {"due_by": now() + 86400 * 7, "has_evidence": false, "past_due": false,
                                 "submission_count": 0, "enhanced_eligibility": {}},
            "is_charge_refundable": false, "livemode": false, "metadata": {}, "payment_intent": charge["payment_intent"],
            "payment_method_details": null, "reason": "fraudulent", "status": "needs_response"
        });
        state.charges.get_mut(charge_id).expect("charge")["disputed"] = json!(true);
        state.disputes.insert(id.clone(), dispute.clone());
        let event = state.event("charge.dispute.created", dispute);
        (id, vec![event])
    }

    pub fn close_dispute(&self, dispute_id: &str, won: bool) -> Vec<Value> {
        let mut state = self.lock();
        let mut dispute = state.disputes[dispute_id].clone();
        dispute["status"] = json!(if won { "won" } else { "lost" });
        if won {
            let amount = dispute["amount"].as_i64().expect("amount");
            let currency = dispute["currency"].as_str().expect("currency").to_owned();
            let reinstated =
                state.new_balance_transaction(amount, 0, &currency, "dispute_reversal", dispute_id);
            dispute["balance_transactions"].as_array_mut().expect("list").push(reinstated);
        }
        state.disputes.insert(dispute_id.to_owned(), dispute.clone());
        vec![state.event("charge.dispute.closed", dispute)]
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
        let arrival = now() + 2 * 86400;
        let payout = json!({
            "id": id, "object": "payout", "amount": total, "application_fee": null, "application_fee_amount": null,
            "arrival_date": arrival - arrival % 86400, "automatic": true, "balance_transaction": own["id"],
            "created": now(), "currency": "cad", "description": "STRIPE PAYOUT", "destination": "ba_fake",
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

fn customer_details(email: &str) -> Value {
    json!({"address": null, "email": email, "name": "A Supporter", "phone": null, "tax_exempt": "none",
           "tax_ids": [], "business_name": null, "individual_name": null})
}

fn dispute_evidence() -> Value {
    let fields = [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ];
    let mut evidence: serde_json::Map<String, Value> =
        fields.iter().map(|f| ((*f).to_owned(), Value::Null)).collect();
    evidence.insert("enhanced_evidence".to_owned(), json!({}));
    Value::Object(evidence)
}

/// Fields the fake keeps for itself, never sent.
fn strip_private(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.retain(|key, _| !key.starts_with("x_"));
    }
}

fn public(object: &Value) -> Value {
    let mut object = object.clone();
    strip_private(&mut object);
    object
}

impl State_ {
    fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_fake{:08}", self.counter)
    }

    fn event(&mut self, kind: &str, object: Value) -> Value {
        let id = self.id("evt");
        let event = json!({
            "id": id, "object": "event", "api_version": API_VERSION, "created": now(),
            "data": {"object": public(&object)}, "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": kind
        });
        self.events.push(event.clone());
        event
    }

    fn new_balance_transaction(
        &mut self,
        amount: i64,
        fee: i64,
        currency: &str,
        kind: &str,
        source: &str,
    ) -> Value {
        let id = self.id("txn");
        let transaction = json!({
            "id": id, "object": "balance_transaction", "amount": amount, "available_on": now() + 86400 * 2,
            "balance_type": "payments", "created": now(), "currency": currency, "description": null,
            "exchange_rate": null, "fee": fee,
            "fee_details": if fee > 0 { json!([{"amount": fee, "application": null, "currency": currency,
                                                 "description": "Stripe processing fees", "type": "stripe_fee"}]) }
                           else { json!([]) },
            "net": amount - fee, "reporting_category": kind, "source": source, "status": "pending", "type": kind
        });
        self.balance_transactions.insert(id, transaction.clone());
        transaction
    }

    /// A payment intent, charged at once when `charge` (a card), or left processing.
    fn new_payment(
        &mut self,
        amount: i64,
        currency: &str,
        customer: &str,
        metadata: Value,
        charge: bool,
    ) -> (String, Value) {
        let id = self.id("pi");
        let payment_intent = json!({
            "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0, "capture_method": "automatic_async", "client_secret": null,
            "confirmation_method": "automatic", "created": now(), "currency": currency, "customer": customer,
            "description": null, "last_payment_error": null, "latest_charge": null, "livemode": false,
            "metadata": metadata, "payment_method_types": ["card"], "status": "processing"
        });
        self.payment_intents.insert(id.clone(), payment_intent);
        if charge {
            self.charge_payment(&id);
        }
        let payment_intent = self.payment_intents[&id].clone();
        (id, payment_intent)
    }

    fn charge_payment(&mut self, payment_intent_id: &str) -> String {
        let payment_intent = self.payment_intents[payment_intent_id].clone();
        let amount = payment_intent["amount"].as_i64().expect("amount");
        let currency = payment_intent["currency"].as_str().expect("currency").to_owned();
        let id = self.id("ch");
        let transaction = self.new_balance_transaction(amount, stripe_fee(amount), &currency, "charge", &id);
        let charge = json!({
            "id": id, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "balance_transaction": transaction["id"],
            "billing_details": {"address": null, "email": null, "name": "A Supporter", "phone": null, "tax_id": null},
            "captured": true, "created": now(), "currency": currency, "customer": payment_intent["customer"],
            "description": null, "disputed": false, "failure_code": null, "failure_message": null,
            "livemode": false, "metadata": payment_intent["metadata"], "paid": true,
            "payment_intent": payment_intent_id, "payment_method": "pm_fake_card", "receipt_url": null,
            "refunded": false, "status": "succeeded"
        });
        self.charges.insert(id.clone(), charge);
        let stored = self.payment_intents.get_mut(payment_intent_id).expect("payment");
        stored["latest_charge"] = json!(id);
        stored["status"] = json!("succeeded");
        stored["amount_received"] = json!(amount);
        id
    }

    fn new_subscription(
        &mut self,
        customer: &str,
        amount: i64,
        currency: &str,
        interval: &str,
        metadata: Value,
    ) -> Value {
        let id = self.id("sub");
        let start = now();
        let period_end = start + if interval == "year" { 365 * 86400 } else { 30 * 86400 };
        let price_id = self.id("price");
        let product_id = self.id("prod");
        let item_id = self.id("si");
        let subscription = json!({
            "id": id, "object": "subscription",
            "automatic_tax": {"enabled": false, "liability": null, "disabled_reason": null},
            "billing_cycle_anchor": start, "billing_mode": {"type": "classic"}, "billing_schedules": [],
            "cancel_at": null, "cancel_at_period_end": false, "canceled_at": null,
            "cancellation_details": {"comment": null, "feedback": null, "reason": null},
            "collection_method": "charge_automatically", "created": start, "currency": currency,
            "customer": customer, "default_payment_method": "pm_fake_card", "description": null, "discounts": [],
            "ended_at": null,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": {"object": "list", "data": [{
                "id": item_id, "object": "subscription_item", "created": start,
                "current_period_start": start, "current_period_end": period_end, "discounts": [], "metadata": {},
                "plan": {"id": price_id, "object": "plan", "active": true, "amount": amount,
                         "amount_decimal": amount.to_string(), "billing_scheme": "per_unit", "created": start,
                         "currency": currency, "interval": interval, "interval_count": 1, "livemode": false,
                         "metadata": {}, "meter": null, "nickname": null, "product": product_id,
                         "tiers_mode": null, "transform_usage": null, "trial_period_days": null,
                         "usage_type": "licensed"},
                "price": {"id": price_id, "object": "price", "active": true, "billing_scheme": "per_unit",
                          "created": start, "currency": currency, "livemode": false, "lookup_key": null,
                          "metadata": {}, "nickname": null, "product": product_id,
                          "recurring": {"interval": interval, "interval_count": 1, "meter": null,
                                        "usage_type": "licensed", "trial_period_days": null},
                          "tax_behavior": "unspecified", "tiers_mode": null, "transform_quantity": null,
                          "type": "recurring", "unit_amount": amount, "unit_amount_decimal": amount.to_string()},
                "quantity": 1, "subscription": id, "tax_rates": []
            }], "has_more": false, "url": format!("/v1/subscription_items?subscription={id}")},
            "latest_invoice": null, "livemode": false, "metadata": metadata, "start_date": start,
            "status": "active", "trial_end": null, "trial_start": null
        });
        self.subscriptions.insert(id.clone(), subscription.clone());
        subscription
    }

    fn set_subscription_status(&mut self, id: &str, status: &str) -> Value {
        let subscription = self.subscriptions.get_mut(id).expect("a subscription");
        subscription["status"] = json!(status);
        subscription.clone()
    }

    fn new_invoice(&mut self, subscription_id: &str, reason: &str, paid: bool) -> Value {
        let subscription = self.subscriptions[subscription_id].clone();
        let item = &subscription["items"]["data"][0];
        let amount = item["price"]["unit_amount"].as_i64().expect("amount");
        let currency = subscription["currency"].as_str().expect("currency").to_owned();
        let customer = subscription["customer"].as_str().expect("customer").to_owned();
        let id = self.id("in");
        let at = now();
        let line_id = self.id("il");
        let mut invoice = json!({
            "id": id, "object": "invoice", "amount_due": amount, "amount_overpaid": 0,
            "amount_paid": if paid { amount } else { 0 }, "amount_remaining": if paid { 0 } else { amount },
            "amount_shipping": 0, "attempt_count": 1, "attempted": true,
            "automatic_tax": {"enabled": false, "liability": null, "status": null, "disabled_reason": null, "provider": null},
            "billing_reason": reason, "collection_method": "charge_automatically", "created": at,
            "currency": currency, "customer": customer, "customer_email": "supporter@example.org",
            "customer_name": "A Supporter", "default_tax_rates": [], "discounts": [], "issuer": {"type": "self"},
            "lines": {"object": "list", "data": [{
                "id": line_id, "object": "line_item", "amount": amount, "currency": currency,
                "description": "1 × solidarity subscription", "discount_amounts": [], "discountable": true,
                "discounts": [], "invoice": id, "livemode": false, "metadata": {},
                "period": {"start": at, "end": at + 30 * 86400}, "quantity": 1, "subtotal": amount,
                "parent": {"type": "subscription_item_details", "invoice_item_details": null,
                           "subscription_item_details": {"invoice_item": null, "proration": false,
                                                         "proration_details": null, "subscription": subscription_id,
                                                         "subscription_item": item["id"]}},
                "pretax_credit_amounts": [], "pricing": null, "taxes": []
            }], "has_more": false, "url": format!("/v1/invoices/{id}/lines")},
            "livemode": false, "metadata": {},
            "parent": {"type": "subscription_details", "quote_details": null,
                       "subscription_details": {"metadata": subscription["metadata"], "subscription": subscription_id}},
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": at, "period_start": at, "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0, "starting_balance": 0,
            "status": if paid { "paid" } else { "open" },
            "status_transitions": {"finalized_at": at, "marked_uncollectible_at": null,
                                   "paid_at": if paid { json!(at) } else { Value::Null }, "voided_at": null},
            "subtotal": amount, "total": amount
        });
        if paid {
            let (payment_intent, _) = self.new_payment(amount, &currency, &customer, json!({}), true);
            let payment_id = self.id("inpay");
            self.invoice_payments.push(json!({
                "id": payment_id, "object": "invoice_payment", "amount_paid": amount, "amount_requested": amount,
                "created": at, "currency": currency, "invoice": id, "is_default": true, "livemode": false,
                "payment": {"type": "payment_intent", "payment_intent": payment_intent},
                "status": "paid", "status_transitions": {"canceled_at": null, "paid_at": at}
            }));
            self.subscriptions.get_mut(subscription_id).expect("subscription")["latest_invoice"] = json!(id);
        }
        invoice["x_subscription"] = json!(subscription_id);
        self.invoices.insert(id.clone(), invoice.clone());
        public(&invoice)
    }

    fn pay_invoice(&mut self, subscription_id: &str, reason: &str) -> Value {
        self.new_invoice(subscription_id, reason, true)
    }

    fn new_refund(&mut self, charge_id: &str, amount: i64) -> Result<Value, String> {
        let charge =
            self.charges.get(charge_id).cloned().ok_or_else(|| format!("No such charge: '{charge_id}'"))?;
        let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let total = charge["amount"].as_i64().unwrap_or(0);
        if refunded + amount > total {
            return Err(format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({})",
                total - refunded
            ));
        }
        let currency = charge["currency"].as_str().unwrap_or("cad").to_owned();
        let id = self.id("re");
        let transaction = self.new_balance_transaction(-amount, 0, &currency, "refund", &id);
        let refund = json!({
            "id": id, "object": "refund", "amount": amount, "balance_transaction": transaction["id"],
            "charge": charge_id, "created": now(), "currency": currency, "metadata": {},
            "payment_intent": charge["payment_intent"], "reason": null, "receipt_number": null,
            "source_transfer_reversal": null, "status": "succeeded", "transfer_reversal": null
        });
        self.refunds.push(refund.clone());
        let stored = self.charges.get_mut(charge_id).expect("charge");
        stored["amount_refunded"] = json!(refunded + amount);
        stored["refunded"] = json!(refunded + amount == total);
        Ok(refund)
    }
}

impl FakeStripe {
    /// Records a request; answers with Stripe's 401 when the key is wrong.
    fn check(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        params: Vec<(String, String)>,
    ) -> Option<Response> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        self.lock().requests.push(Recorded {
            method: method.to_owned(),
            path: path.to_owned(),
            params,
            idempotency_key: header("idempotency-key"),
            stripe_version: header("stripe-version"),
        });
        if header("authorization").as_deref() != Some(&format!("Bearer {SECRET_KEY}")) {
            return Some(stripe_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Invalid API Key provided.",
                None,
            ));
        }
        None
    }
}

fn not_found(kind: &str, id: &str) -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        &format!("No such {kind}: '{id}'"),
        Some("id"),
    )
}

fn list(data: Vec<Value>, url: &str, has_more: bool) -> Response {
    axum::Json(json!({"object": "list", "data": data, "has_more": has_more, "url": url})).into_response()
}

async fn create_session(State(fake): State<FakeStripe>, headers: HeaderMap, body: Bytes) -> Response {
    let params = pairs(&String::from_utf8_lossy(&body));
    if let Some(response) = fake.check(&headers, "POST", "/v1/checkout/sessions", params.clone()) {
        return response;
    }
    let get = |key: &str| param(&params, key);
    let Some(mode) = get("mode") else {
        return missing_param("mode");
    };
    let (Some(amount), Some(currency)) =
        (get("line_items[0][price_data][unit_amount]"), get("line_items[0][price_data][currency]"))
    else {
        return missing_param("line_items");
    };
    let Ok(amount) = amount.parse::<i64>() else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Invalid integer: unit_amount",
            Some("line_items[0][price_data][unit_amount]"),
        );
    };
    let interval = get("line_items[0][price_data][recurring][interval]");
    if (mode == "subscription") != interval.is_some() {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "You must provide a recurring price in subscription mode.",
            Some("line_items"),
        );
    }
    let metadata = prefixed(&params, "metadata[");
    let mut state = fake.lock();
    let id = state.id("cs_test");
    let session = json!({
        "id": id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "cancel_url": get("cancel_url"), "client_reference_id": get("client_reference_id"),
        "created": now(), "currency": currency, "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null, "customer_details": null, "customer_email": get("customer_email"),
        "expires_at": now() + 86400, "livemode": false, "locale": get("locale"), "metadata": metadata,
        "mode": mode, "payment_intent": null, "payment_method_types": ["card"], "payment_status": "unpaid",
        "shipping_options": [], "status": "open", "subscription": null, "success_url": get("success_url"),
        "ui_mode": "hosted", "url": format!("{}/pay/{id}", fake.base), "x_interval": interval
    });
    state.sessions.insert(id, session.clone());
    axum::Json(public(&session)).into_response()
}

fn wants(params: &[(String, String)], path: &str) -> bool {
    params.iter().any(|(k, v)| k.starts_with("expand[") && v == path)
}

async fn retrieve_payment_intent(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", &format!("/v1/payment_intents/{id}"), params.clone())
    {
        return response;
    }
    let state = fake.lock();
    let Some(mut payment_intent) = state.payment_intents.get(&id).cloned() else {
        return not_found("payment_intent", &id);
    };
    if wants(&params, "latest_charge.balance_transaction")
        && let Some(charge_id) = payment_intent["latest_charge"].as_str()
    {
        let mut charge = state.charges[charge_id].clone();
        let transaction = charge["balance_transaction"].as_str().unwrap_or("").to_owned();
        charge["balance_transaction"] = state.balance_transactions[&transaction].clone();
        payment_intent["latest_charge"] = charge;
    }
    axum::Json(payment_intent).into_response()
}

async fn retrieve_charge(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", &format!("/v1/charges/{id}"), params.clone()) {
        return response;
    }
    let state = fake.lock();
    let Some(mut charge) = state.charges.get(&id).cloned() else {
        return not_found("charge", &id);
    };
    if wants(&params, "balance_transaction") {
        let transaction = charge["balance_transaction"].as_str().unwrap_or("").to_owned();
        charge["balance_transaction"] = state.balance_transactions[&transaction].clone();
    }
    axum::Json(charge).into_response()
}

async fn retrieve_subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = fake.check(&headers, "GET", &format!("/v1/subscriptions/{id}"), Vec::new()) {
        return response;
    }
    match fake.lock().subscriptions.get(&id) {
        Some(subscription) => axum::Json(subscription.clone()).into_response(),
        None => not_found("subscription", &id),
    }
}

async fn update_subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let params = pairs(&String::from_utf8_lossy(&body));
    if let Some(response) = fake.check(&headers, "POST", &format!("/v1/subscriptions/{id}"), params.clone()) {
        return response;
    }
    let mut state = fake.lock();
    let Some(subscription) = state.subscriptions.get_mut(&id) else {
        return not_found("subscription", &id);
    };
    if let Some(value) = param(&params, "cancel_at_period_end") {
        let cancel = value == "true";
        subscription["cancel_at_period_end"] = json!(cancel);
        subscription["cancel_at"] =
            if cancel { subscription["items"]["data"][0]["current_period_end"].clone() } else { Value::Null };
    }
    let updated = subscription.clone();
    let event = state.event("customer.subscription.updated", updated.clone());
    state.pending.push(event);
    axum::Json(updated).into_response()
}

async fn cancel_subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = fake.check(&headers, "DELETE", &format!("/v1/subscriptions/{id}"), Vec::new()) {
        return response;
    }
    let mut state = fake.lock();
    let Some(subscription) = state.subscriptions.get_mut(&id) else {
        return not_found("subscription", &id);
    };
    subscription["status"] = json!("canceled");
    subscription["canceled_at"] = json!(now());
    subscription["ended_at"] = json!(now());
    let cancelled = subscription.clone();
    let event = state.event("customer.subscription.deleted", cancelled.clone());
    state.pending.push(event);
    axum::Json(cancelled).into_response()
}

async fn list_invoice_payments(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/invoice_payments", params.clone()) {
        return response;
    }
    let invoice = param(&params, "invoice");
    let state = fake.lock();
    let data = state
        .invoice_payments
        .iter()
        .filter(|p| invoice.as_deref().is_none_or(|id| p["invoice"] == id))
        .cloned()
        .collect();
    list(data, "/v1/invoice_payments", false)
}

async fn list_refunds(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/refunds", params.clone()) {
        return response;
    }
    let charge = param(&params, "charge");
    let state = fake.lock();
    let data = state
        .refunds
        .iter()
        .rev()
        .filter(|r| charge.as_deref().is_none_or(|id| r["charge"] == id))
        .cloned()
        .collect();
    list(data, "/v1/refunds", false)
}

async fn create_refund(State(fake): State<FakeStripe>, headers: HeaderMap, body: Bytes) -> Response {
    let params = pairs(&String::from_utf8_lossy(&body));
    if let Some(response) = fake.check(&headers, "POST", "/v1/refunds", params.clone()) {
        return response;
    }
    let get = |key: &str| param(&params, key);
    let Some(charge_id) = get("charge") else {
        return missing_param("charge");
    };
    let mut state = fake.lock();
    let remaining = state
        .charges
        .get(&charge_id)
        .map(|c| c["amount"].as_i64().unwrap_or(0) - c["amount_refunded"].as_i64().unwrap_or(0));
    let amount = get("amount").and_then(|a| a.parse().ok()).or(remaining).unwrap_or(0);
    match state.new_refund(&charge_id, amount) {
        Ok(refund) => {
            let charge = state.charges[&charge_id].clone();
            let event = state.event("charge.refunded", charge);
            state.pending.push(event);
            axum::Json(refund).into_response()
        }
        Err(message) => {
            stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, Some("amount"))
        }
    }
}

/// `GET /v1/events`: newest first, `created[gte]`, `types[]`, `starting_after`, `limit`.
async fn list_events(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/events", params.clone()) {
        return response;
    }
    let get = |key: &str| param(&params, key);
    let since: i64 = get("created[gte]").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = get("limit").and_then(|v| v.parse().ok()).unwrap_or(10);
    let types: Vec<String> =
        params.iter().filter(|(k, _)| k.starts_with("types[")).map(|(_, v)| v.clone()).collect();
    let state = fake.lock();
    let mut events: Vec<Value> = state
        .events
        .iter()
        .rev()
        .filter(|e| e["created"].as_i64().unwrap_or(0) >= since)
        .filter(|e| types.is_empty() || types.iter().any(|t| e["type"] == t.as_str()))
        .cloned()
        .collect();
    if let Some(after) = get("starting_after") {
        let position = events.iter().position(|e| e["id"] == after.as_str()).map_or(0, |p| p + 1);
        events.drain(..position);
    }
    let has_more = events.len() > limit;
    events.truncate(limit);
    list(events, "/v1/events", has_more)
}

async fn create_portal_session(State(fake): State<FakeStripe>, headers: HeaderMap, body: Bytes) -> Response {
    let params = pairs(&String::from_utf8_lossy(&body));
    if let Some(response) = fake.check(&headers, "POST", "/v1/billing_portal/sessions", params.clone()) {
        return response;
    }
    let get = |key: &str| param(&params, key);
    let Some(customer) = get("customer") else {
        return missing_param("customer");
    };
    let mut state = fake.lock();
    let id = state.id("bps");
    let session = json!({
        "id": id, "object": "billing_portal.session", "configuration": "bpc_fake", "created": now(),
        "customer": customer, "flow": null, "livemode": false, "locale": get("locale"), "on_behalf_of": null,
        "return_url": get("return_url"), "url": format!("{}/portal/{id}", fake.base)
    });
    axum::Json(session).into_response()
}

/// The hosted checkout page a supporter lands on; the test plays the payment itself.
async fn checkout_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
    let state = fake.lock();
    let Some(session) = state.sessions.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    let html = format!(
        "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body><h1>Fake Stripe Checkout</h1>\
         <p id=\"amount\">{} {}</p></body></html>",
        session["amount_total"],
        session["currency"].as_str().unwrap_or("")
    );
    axum::response::Html(html).into_response()
}

/// `GET /v1/balance_transactions?payout=po_...`: what a payout carried.
async fn list_balance_transactions(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/balance_transactions", params.clone()) {
        return response;
    }
    let get = |key: &str| param(&params, key);
    let state = fake.lock();
    if let Some(payout) = get("payout") {
        let Some(carried) = state.payout_transactions.get(&payout) else {
            return not_found("payout", &payout);
        };
        let data = carried.iter().map(|id| state.balance_transactions[id].clone()).collect();
        return list(data, "/v1/balance_transactions", false);
    }
    let since: i64 = get("created[gte]").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut data: Vec<Value> = state
        .balance_transactions
        .values()
        .filter(|t| t["created"].as_i64().unwrap_or(0) >= since)
        .cloned()
        .collect();
    data.sort_by(|a, b| b["id"].as_str().cmp(&a["id"].as_str()));
    list(data, "/v1/balance_transactions", false)
}
