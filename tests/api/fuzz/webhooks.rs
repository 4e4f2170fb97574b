//! Stripe's own deliveries, mutated: amounts no charge has, ids of nothing, fields of other
//! types or gone, then signed and sent to the webhook. Every one is answered (no panic); an
//! event that cannot be applied is refused or recorded as failing (problem+json), never
//! half-applied: `appeal check` stays clean and the server stays ready.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{cases, config, mutate, remove_key, replacement, seed, stripe_objects};
use crate::fake_stripe::{WEBHOOK_SECRET, signature_header};
use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(mutated_stripe_events_are_answered_and_leave_the_books_whole);

/// Real deliveries of every kind appeal handles, from the fake Stripe: a one-off gift, a
/// monthly one and its renewal and failed renewal, a refund, a chargeback and its end, an
/// inquiry, a payout. The first of each is delivered as it is, so the mutated copies meet
/// objects that exist.
async fn corpus(app: &TestApp) -> Vec<Value> {
    app.create_campaign("office").await;
    let mut events = Vec::new();
    let once = app.checkout("office", &json!({"amount": "50.00"})).await;
    events.extend(app.stripe.pay_session(&once));
    let monthly = app.checkout("office", &json!({"amount": "10.00", "interval": "month"})).await;
    events.extend(app.stripe.pay_session(&monthly));
    let subscription =
        app.stripe.session(&monthly)["subscription"].as_str().expect("a subscription").to_owned();
    events.extend(app.stripe.renew(&subscription));
    events.extend(app.stripe.fail_renewal(&subscription));
    let charge = app.stripe.charge_of_session(&once);
    events.extend(app.stripe.refund(&charge, 500));
    let (dispute, disputed) = app.stripe.dispute(&charge);
    events.extend(disputed);
    events.extend(app.stripe.close_dispute(&dispute, true));
    let other = app.checkout("office", &json!({"amount": "20.00"})).await;
    events.extend(app.stripe.pay_session(&other));
    let other_charge = app.stripe.charge_of_session(&other);
    let (_, asked) = app.stripe.inquiry(&other_charge);
    events.extend(asked);
    let (_, paid_out) = app.stripe.payout(&[app.stripe.balance_transaction_of(&other_charge)]);
    events.extend(paid_out);
    for event in &events {
        assert_eq!(app.deliver(event).await, StatusCode::OK, "delivering {}", event["type"]);
    }
    // Stripe's example objects too, as the events of their kinds.
    for (kind, object) in stripe_objects() {
        let kind = match kind.as_str() {
            "checkout.session" => "checkout.session.completed",
            "charge" => "charge.refunded",
            "refund" => "refund.updated",
            "dispute" => "charge.dispute.funds_withdrawn",
            "invoice" => "invoice.paid",
            "subscription" => "customer.subscription.updated",
            "payout" => "payout.paid",
            _ => continue,
        };
        events.push(json!({"id": "evt_example", "object": "event", "type": kind, "created": 1_700_000_000, "data": {"object": object}}));
    }
    events
}

/// Changes made to one event: nodes replaced or removed, its type swapped for another's.
#[derive(Clone, Debug)]
struct Mutation {
    event: usize,
    changes: Vec<(usize, Option<Value>, bool)>,
    retype: Option<usize>,
}

const TYPES: [&str; 12] = [
    "checkout.session.completed",
    "checkout.session.async_payment_failed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "refund.failed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "payout.paid",
    "payout.failed",
];

fn mutation(events: usize) -> impl Strategy<Value = Mutation> {
    (
        0..events,
        prop::collection::vec(
            (any::<usize>(), prop::option::of(replacement()), prop::bool::weighted(0.2)),
            1..5,
        ),
        prop::option::weighted(0.2, 0..TYPES.len()),
    )
        .prop_map(|(event, changes, retype)| Mutation { event, changes, retype })
}

async fn ready(app: &TestApp) {
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "the server is still ready");
}

async fn mutated_stripe_events_are_answered_and_leave_the_books_whole(engine: Engine) {
    let app = spawn_app(engine).await;
    let events = corpus(&app).await;
    let mut runner = TestRunner::new_with_rng(
        config(1),
        TestRng::from_seed(Default::default(), &seed().to_le_bytes().repeat(4)),
    );
    let strategy = mutation(events.len());
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for number in 0..cases(120) {
        let change = strategy.new_tree(&mut runner).expect("a case").current();
        let mut event = events[change.event].clone();
        let mut object = event["data"]["object"].take();
        for (pick, with, remove) in &change.changes {
            if *remove {
                remove_key(&mut object, *pick);
            } else {
                let mut pick = pick % 120;
                mutate(&mut object, &mut pick, with);
            }
        }
        event["data"]["object"] = object;
        event["id"] = json!(format!("evt_fuzz_{number}"));
        if let Some(kind) = change.retype {
            event["type"] = json!(TYPES[kind]);
        }
        let body = serde_json::to_vec(&event).expect("JSON");
        let header = signature_header(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
        let shown = String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned();
        let response = app
            .client
            .post(app.url("/api/v1/stripe/webhook"))
            .header("stripe-signature", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|error| panic!("event {number} got no answer ({error}): {shown}"));
        let status = response.status();
        *answered.entry(status.as_u16()).or_default() += 1;
        if !status.is_success() {
            let content_type = response.headers().get("content-type").and_then(|value| value.to_str().ok());
            assert_eq!(
                content_type,
                Some("application/problem+json"),
                "event {number} answered {status}: {shown}"
            );
            assert!(
                matches!(
                    status,
                    StatusCode::BAD_REQUEST | StatusCode::INTERNAL_SERVER_ERROR | StatusCode::BAD_GATEWAY
                ),
                "event {number} answered {status}: {shown}"
            );
        }
    }
    eprintln!("answers by status: {answered:?}");
    ready(&app).await;
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}
