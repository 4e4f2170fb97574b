//! The fake's HTTP side: Stripe's endpoints, form-encoded requests in, JSON objects out.

use super::*;

impl FakeStripe {
    /// Records a request; answers with Stripe's 400 when it expands too deep, and its 401 when
    /// the key is wrong.
    fn check(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        params: Vec<(String, String)>,
    ) -> Option<Response> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // Stripe expands at most four levels, a list's `data` counted.
        let too_deep = params
            .iter()
            .find(|(key, path)| key.starts_with("expand[") && path.split('.').count() > 4)
            .map(|(_, path)| path.clone());
        self.lock().requests.push(Recorded {
            method: method.to_owned(),
            path: path.to_owned(),
            params,
            idempotency_key: header("idempotency-key"),
            stripe_version: header("stripe-version"),
        });
        if let Some(path) = too_deep {
            return Some(stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("You cannot expand more than 4 levels of a property. Property: {path}"),
                Some("expand"),
            ));
        }
        if header("authorization").as_deref() != Some(&format!("Bearer {SECRET_KEY}"))
            || self.lock().key_rolled
        {
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

pub(super) async fn create_session(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    if let Err(message) = check_chargeable(amount, &currency) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &message,
            Some("line_items[0][price_data][unit_amount]"),
        );
    }
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
    let now = state.now();
    let session = json!({
        "id": id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "cancel_url": get("cancel_url"), "client_reference_id": get("client_reference_id"),
        "created": now, "currency": currency, "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null, "customer_details": null, "customer_email": get("customer_email"),
        "expires_at": now + 86400, "livemode": false, "locale": get("locale"), "metadata": metadata,
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

pub(super) async fn retrieve_payment_intent(
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
    match state.payment_intent_expanded(&id, wants(&params, "latest_charge.balance_transaction")) {
        Some(payment_intent) => axum::Json(payment_intent).into_response(),
        None => not_found("payment_intent", &id),
    }
}

pub(super) async fn retrieve_charge(
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
    match state.charge_expanded(&id, wants(&params, "balance_transaction")) {
        Some(charge) => axum::Json(charge).into_response(),
        None => not_found("charge", &id),
    }
}

pub(super) async fn retrieve_subscription(
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

pub(super) async fn update_subscription(
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

pub(super) async fn cancel_subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = fake.check(&headers, "DELETE", &format!("/v1/subscriptions/{id}"), Vec::new()) {
        return response;
    }
    let mut state = fake.lock();
    let now = state.now();
    let Some(subscription) = state.subscriptions.get_mut(&id) else {
        return not_found("subscription", &id);
    };
    subscription["status"] = json!("canceled");
    subscription["canceled_at"] = json!(now);
    subscription["ended_at"] = json!(now);
    subscription["cancellation_details"]["reason"] = json!("cancellation_requested");
    let cancelled = subscription.clone();
    let event = state.event("customer.subscription.deleted", cancelled.clone());
    state.pending.push(event);
    axum::Json(cancelled).into_response()
}

pub(super) async fn list_invoice_payments(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/invoice_payments", params.clone()) {
        return response;
    }
    let state = fake.lock();
    let data = match param(&params, "invoice") {
        Some(invoice) => state
            .payments_of_invoice
            .get(&invoice)
            .map(|at| at.iter().map(|&index| state.invoice_payments[index].clone()).collect())
            .unwrap_or_default(),
        None => state.invoice_payments.clone(),
    };
    list(data, "/v1/invoice_payments", false)
}

pub(super) async fn list_refunds(
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
    let expand = |mut refund: Value| {
        for field in ["balance_transaction", "failure_balance_transaction"] {
            if wants(&params, &format!("data.{field}"))
                && let Some(id) = refund[field].as_str()
            {
                refund[field] = state.balance_transactions[id].clone();
            }
        }
        refund
    };
    let data = state
        .refunds
        .iter()
        .rev()
        .filter(|r| charge.as_deref().is_none_or(|id| r["charge"] == id))
        .cloned()
        .map(expand)
        .collect();
    list(data, "/v1/refunds", false)
}

pub(super) async fn create_refund(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = pairs(&String::from_utf8_lossy(&body));
    if let Some(response) = fake.check(&headers, "POST", "/v1/refunds", params.clone()) {
        return response;
    }
    let get = |key: &str| param(&params, key);
    let Some(charge_id) = get("charge") else {
        return missing_param("charge");
    };
    let mut state = fake.lock();
    // Stripe answers a request it saw before, under the same idempotency key, as it did then.
    let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(earlier) = idempotency_key.as_ref().and_then(|key| state.idempotent.get(key)) {
        return axum::Json(earlier.clone()).into_response();
    }
    let remaining = state
        .charges
        .get(&charge_id)
        .map(|c| c["amount"].as_i64().unwrap_or(0) - c["amount_refunded"].as_i64().unwrap_or(0));
    let amount = get("amount").and_then(|a| a.parse().ok()).or(remaining).unwrap_or(0);
    match state.new_refund(&charge_id, amount) {
        Ok(mut refund) => {
            // Metadata and a reason, as Stripe keeps them on the refund.
            for (key, value) in &params {
                if let Some(name) = key.strip_prefix("metadata[").and_then(|rest| rest.strip_suffix(']')) {
                    refund["metadata"][name] = json!(value);
                }
            }
            if let Some(reason) = get("reason") {
                refund["reason"] = json!(reason);
            }
            if let Some(stored) = state.refunds.iter_mut().find(|stored| stored["id"] == refund["id"]) {
                *stored = refund.clone();
            }
            if let Some(key) = idempotency_key {
                state.idempotent.insert(key, refund.clone());
            }
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
pub(super) async fn list_events(
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

pub(super) async fn create_portal_session(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
        "id": id, "object": "billing_portal.session", "configuration": "bpc_fake", "created": state.now(),
        "customer": customer, "flow": null, "livemode": false, "locale": get("locale"), "on_behalf_of": null,
        "return_url": get("return_url"), "url": format!("{}/portal/{id}", fake.base)
    });
    axum::Json(session).into_response()
}

/// The hosted checkout page a supporter lands on; the test plays the payment itself.
pub(super) async fn checkout_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
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
pub(super) async fn list_balance_transactions(
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

/// A page of a listing as Stripe gives it: newest first (the fake's ids grow with time),
/// after `starting_after`, `limit` at most (10 by default).
fn page(mut objects: Vec<Value>, params: &[(String, String)], url: &str) -> Response {
    objects.sort_by(|a, b| b["id"].as_str().cmp(&a["id"].as_str()));
    if let Some(after) = param(params, "starting_after") {
        let at = objects.iter().position(|object| object["id"] == after.as_str()).map_or(0, |at| at + 1);
        objects.drain(..at);
    }
    let limit = param(params, "limit").and_then(|limit| limit.parse().ok()).unwrap_or(10);
    let has_more = objects.len() > limit;
    objects.truncate(limit);
    list(objects.iter().map(public).collect(), url, has_more)
}

fn created_since(object: &Value, params: &[(String, String)]) -> bool {
    let since = param(params, "created[gte]").and_then(|since| since.parse::<i64>().ok()).unwrap_or(i64::MIN);
    object["created"].as_i64().unwrap_or(0) >= since
}

pub(super) async fn list_charges(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/charges", params.clone()) {
        return response;
    }
    let state = fake.lock();
    let charges = state
        .charges
        .values()
        .filter(|charge| created_since(charge, &params))
        .cloned()
        .map(|mut charge| {
            if wants(&params, "data.balance_transaction")
                && let Some(id) = charge["balance_transaction"].as_str()
            {
                charge["balance_transaction"] = state.balance_transactions[id].clone();
            }
            charge
        })
        .collect();
    page(charges, &params, "/v1/charges")
}

pub(super) async fn list_subscriptions(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/subscriptions", params.clone()) {
        return response;
    }
    let status = param(&params, "status");
    let state = fake.lock();
    // Stripe lists all but the canceled ones unless asked for `all`.
    let subscriptions = state
        .subscriptions
        .values()
        .filter(|subscription| match status.as_deref() {
            Some("all") => true,
            Some(status) => subscription["status"] == status,
            None => subscription["status"] != "canceled",
        })
        .cloned()
        .collect();
    page(subscriptions, &params, "/v1/subscriptions")
}

pub(super) async fn list_invoices(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/invoices", params.clone()) {
        return response;
    }
    let (subscription, status) = (param(&params, "subscription"), param(&params, "status"));
    let state = fake.lock();
    let invoices = state
        .invoices
        .values()
        .filter(|invoice| subscription.as_deref().is_none_or(|id| invoice["x_subscription"] == id))
        .filter(|invoice| status.as_deref().is_none_or(|status| invoice["status"] == status))
        .filter(|invoice| created_since(invoice, &params))
        .cloned()
        .collect();
    page(invoices, &params, "/v1/invoices")
}

pub(super) async fn list_disputes(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    if let Some(response) = fake.check(&headers, "GET", "/v1/disputes", params.clone()) {
        return response;
    }
    let charge = param(&params, "charge");
    let state = fake.lock();
    let disputes = state
        .disputes
        .values()
        .filter(|dispute| charge.as_deref().is_none_or(|id| dispute["charge"] == id))
        .cloned()
        .collect();
    page(disputes, &params, "/v1/disputes")
}
