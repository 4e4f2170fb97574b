//! The fake's objects, built with Stripe's fields, and the events that carry them.

use super::*;

pub(super) fn customer_details(email: &str) -> Value {
    json!({"address": null, "email": email, "name": "A Supporter", "phone": null, "tax_exempt": "none",
           "tax_ids": [], "business_name": null, "individual_name": null})
}

pub(super) fn dispute_evidence() -> Value {
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
pub(super) fn strip_private(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.retain(|key, _| !key.starts_with("x_"));
    }
}

pub(super) fn public(object: &Value) -> Value {
    let mut object = object.clone();
    strip_private(&mut object);
    object
}

impl State_ {
    /// Keeps a payment of an invoice, found again by its invoice.
    fn add_invoice_payment(&mut self, payment: Value) {
        let invoice = payment["invoice"].as_str().expect("an invoice").to_owned();
        self.payments_of_invoice.entry(invoice).or_default().push(self.invoice_payments.len());
        self.invoice_payments.push(payment);
    }

    /// A payment intent as the API shows it, with its latest charge and that charge's balance
    /// transaction in place of their ids when `expand`.
    pub(super) fn payment_intent_expanded(&self, id: &str, expand: bool) -> Option<Value> {
        let mut payment_intent = self.payment_intents.get(id)?.clone();
        if expand && let Some(charge_id) = payment_intent["latest_charge"].as_str() {
            payment_intent["latest_charge"] = self.charge_expanded(charge_id, true)?;
        }
        Some(payment_intent)
    }

    /// A charge as the API shows it, with its balance transaction in place of its id when
    /// `balance`.
    pub(super) fn charge_expanded(&self, id: &str, balance: bool) -> Option<Value> {
        let mut charge = self.charges.get(id)?.clone();
        if balance && let Some(transaction) = charge["balance_transaction"].as_str() {
            charge["balance_transaction"] = self.balance_transactions[transaction].clone();
        }
        Some(charge)
    }

    /// The fake's clock.
    pub(super) fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset
    }

    /// `amount` of `currency` in `target` at the fake's rate now (API units both), and the rate.
    pub(super) fn convert(&self, amount: i64, currency: &str, target: &str) -> (i64, Option<Decimal>) {
        if currency == target {
            return (amount, None);
        }
        let rate = *self.rates.get(currency).unwrap_or_else(|| panic!("no rate set for {currency}"));
        let major = Decimal::from(amount) / Decimal::from(10_i64.pow(api_digits(currency)));
        let converted = (major * rate * Decimal::from(10_i64.pow(api_digits(target))))
            .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        (i64::try_from(converted).expect("an amount that fits"), Some(rate))
    }

    /// The currency a charge's money settled in.
    fn settled_currency_of(&self, charge_id: &str) -> String {
        let transaction = self.charges[charge_id]["balance_transaction"].as_str().expect("a transaction");
        self.balance_transactions[transaction]["currency"].as_str().expect("currency").to_owned()
    }

    /// A dispute of a charge's whole amount, without money moved yet.
    pub(super) fn new_dispute(&mut self, charge_id: &str, status: &str) -> Value {
        let charge = self.charges[charge_id].clone();
        let id = self.id("dp");
        let now = self.now();
        let dispute = json!({
            "id": id, "object": "dispute", "amount": charge["amount"], "currency": charge["currency"],
            "charge": charge_id, "balance_transactions": [], "created": now, "enhanced_eligibility_types": [],
            "evidence": dispute_evidence(),
            "evidence_details": {"due_by": now + 86400 * 7, "has_evidence": false, "past_due": false,
                                 "submission_count": 0, "enhanced_eligibility": {}},
            "is_charge_refundable": status.starts_with("warning_"), "livemode": false, "metadata": {},
            "payment_intent": charge["payment_intent"], "payment_method_details": null,
            "reason": if status.starts_with("warning_") { "general" } else { "fraudulent" }, "status": status
        });
        self.charges.get_mut(charge_id).expect("charge")["disputed"] = json!(true);
        self.disputes.insert(id, dispute.clone());
        dispute
    }

    /// The disputed funds and the dispute fee leave the balance.
    pub(super) fn withdraw_for_dispute(&mut self, dispute_id: &str) -> Value {
        let dispute = self.disputes[dispute_id].clone();
        let charge_id = dispute["charge"].as_str().expect("charge").to_owned();
        let target = self.settled_currency_of(&charge_id);
        let (amount, _) = self.convert(
            dispute["amount"].as_i64().expect("amount"),
            dispute["currency"].as_str().expect("currency"),
            &target,
        );
        let withdrawal =
            self.new_balance_transaction(-amount, DISPUTE_FEE, &target, "adjustment", dispute_id);
        let stored = self.disputes.get_mut(dispute_id).expect("a dispute");
        stored["balance_transactions"].as_array_mut().expect("list").push(withdrawal);
        let dispute = stored.clone();
        self.event("charge.dispute.funds_withdrawn", dispute)
    }

    pub(super) fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_fake{:08}", self.counter)
    }

    pub(super) fn event(&mut self, kind: &str, object: Value) -> Value {
        let id = self.id("evt");
        let event = json!({
            "id": id, "object": "event", "api_version": API_VERSION, "created": self.now(),
            "data": {"object": public(&object)}, "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": kind
        });
        self.events.push(event.clone());
        event
    }

    pub(super) fn new_balance_transaction(
        &mut self,
        amount: i64,
        fee: i64,
        currency: &str,
        kind: &str,
        source: &str,
    ) -> Value {
        let id = self.id("txn");
        let transaction = json!({
            "id": id, "object": "balance_transaction", "amount": amount, "available_on": self.now() + 86400 * 2,
            "balance_type": "payments", "created": self.now(), "currency": currency, "description": null,
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
    pub(super) fn new_payment(
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
            "confirmation_method": "automatic", "created": self.now(), "currency": currency, "customer": customer,
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

    pub(super) fn charge_payment(&mut self, payment_intent_id: &str) -> String {
        let payment_intent = self.payment_intents[payment_intent_id].clone();
        let amount = payment_intent["amount"].as_i64().expect("amount");
        let currency = payment_intent["currency"].as_str().expect("currency").to_owned();
        let id = self.id("ch");
        let target =
            self.settle_payment_in.get(payment_intent_id).cloned().or_else(|| self.settlement.clone());
        let target = target.unwrap_or_else(|| currency.clone());
        let (settled, rate) = self.convert(amount, &currency, &target);
        let mut transaction =
            self.new_balance_transaction(settled, stripe_fee(settled), &target, "charge", &id);
        if let Some(rate) = rate {
            transaction["exchange_rate"] = json!(rate.to_string().parse::<f64>().expect("a rate"));
            self.balance_transactions.insert(id_of(&transaction), transaction.clone());
        }
        let charge = json!({
            "id": id, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "balance_transaction": transaction["id"],
            "billing_details": {"address": null, "email": null, "name": "A Supporter", "phone": null, "tax_id": null},
            "captured": true, "created": self.now(), "currency": currency, "customer": payment_intent["customer"],
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

    pub(super) fn new_subscription(
        &mut self,
        customer: &str,
        amount: i64,
        currency: &str,
        interval: &str,
        metadata: Value,
    ) -> Value {
        let id = self.id("sub");
        let start = self.now();
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

    pub(super) fn set_subscription_status(&mut self, id: &str, status: &str) -> Value {
        let subscription = self.subscriptions.get_mut(id).expect("a subscription");
        subscription["status"] = json!(status);
        subscription.clone()
    }

    pub(super) fn new_invoice(&mut self, subscription_id: &str, reason: &str, paid: bool) -> Value {
        let subscription = self.subscriptions[subscription_id].clone();
        let item = &subscription["items"]["data"][0];
        let amount = item["price"]["unit_amount"].as_i64().expect("amount");
        let currency = subscription["currency"].as_str().expect("currency").to_owned();
        let customer = subscription["customer"].as_str().expect("customer").to_owned();
        let id = self.id("in");
        let at = self.now();
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
            "subtotal": amount, "total": amount,
            // Stripe tries a failed payment again (Smart Retries), a few days later.
            "next_payment_attempt": if paid { Value::Null } else { json!(at + 3 * 86400) }
        });
        if paid {
            let (payment_intent, _) = self.new_payment(amount, &currency, &customer, json!({}), true);
            let payment_id = self.id("inpay");
            self.add_invoice_payment(json!({
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

    /// Stripe tries an open invoice again: it is paid, or fails once more (its next try three
    /// days on, or none when `last`).
    pub(super) fn retry_invoice(&mut self, invoice_id: &str, succeeds: bool, last: bool) -> Value {
        let mut invoice = self.invoices[invoice_id].clone();
        let at = self.now();
        let amount = invoice["amount_due"].as_i64().expect("amount");
        let currency = invoice["currency"].as_str().expect("currency").to_owned();
        let customer = invoice["customer"].as_str().expect("customer").to_owned();
        invoice["attempt_count"] = json!(invoice["attempt_count"].as_i64().unwrap_or(1) + 1);
        if succeeds {
            let (payment_intent, _) = self.new_payment(amount, &currency, &customer, json!({}), true);
            let payment_id = self.id("inpay");
            self.add_invoice_payment(json!({
                "id": payment_id, "object": "invoice_payment", "amount_paid": amount, "amount_requested": amount,
                "created": at, "currency": currency, "invoice": invoice_id, "is_default": true, "livemode": false,
                "payment": {"type": "payment_intent", "payment_intent": payment_intent},
                "status": "paid", "status_transitions": {"canceled_at": null, "paid_at": at}
            }));
            invoice["amount_paid"] = json!(amount);
            invoice["amount_remaining"] = json!(0);
            invoice["status"] = json!("paid");
            invoice["status_transitions"]["paid_at"] = json!(at);
            invoice["next_payment_attempt"] = Value::Null;
            let subscription = invoice["x_subscription"].as_str().expect("subscription").to_owned();
            self.subscriptions.get_mut(&subscription).expect("subscription")["latest_invoice"] =
                json!(invoice_id);
        } else {
            invoice["next_payment_attempt"] = if last { Value::Null } else { json!(at + 3 * 86400) };
        }
        self.invoices.insert(invoice_id.to_owned(), invoice.clone());
        public(&invoice)
    }

    pub(super) fn pay_invoice(&mut self, subscription_id: &str, reason: &str) -> Value {
        self.new_invoice(subscription_id, reason, true)
    }

    pub(super) fn new_refund(&mut self, charge_id: &str, amount: i64) -> Result<Value, String> {
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
        if amount <= 0 {
            return Err("Refund amount must be positive".to_owned());
        }
        let currency = charge["currency"].as_str().unwrap_or("cad").to_owned();
        check_chargeable(amount, &currency)?;
        let id = self.id("re");
        let target = self.settled_currency_of(charge_id);
        let (settled, _) = self.convert(amount, &currency, &target);
        let transaction = self.new_balance_transaction(-settled, 0, &target, "refund", &id);
        let refund = json!({
            "id": id, "object": "refund", "amount": amount, "balance_transaction": transaction["id"],
            "charge": charge_id, "created": self.now(), "currency": currency, "metadata": {},
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

fn id_of(object: &Value) -> String {
    object["id"].as_str().expect("an id").to_owned()
}

/// The digits of Stripe's API amounts in a currency.
pub(super) fn api_digits(currency: &str) -> u32 {
    const ZERO_DECIMAL: [&str; 15] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf", "xof",
        "xpf",
    ];
    match currency {
        c if ZERO_DECIMAL.contains(&c) => 0,
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 3,
        _ => 2,
    }
}

/// Stripe refuses amounts its partners cannot charge: ISK and UGX in whole units (multiples
/// of 100 in the API), three-decimal currencies in multiples of 10.
pub(super) fn check_chargeable(amount: i64, currency: &str) -> Result<(), String> {
    let step = match currency {
        "isk" | "ugx" => 100,
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 10,
        _ => 1,
    };
    if amount % step == 0 {
        Ok(())
    } else {
        Err(format!(
            "Invalid amount. Currency {} charged amounts must be evenly divisible by {step}.",
            currency.to_ascii_uppercase()
        ))
    }
}
