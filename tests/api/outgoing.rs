//! Outgoing webhooks: endpoints registered by admins, events written with the change that
//! causes them, delivered signed (Standard Webhooks), retried, logged, replayed, disabled
//! after failing for their whole schedule, and sent once across instances.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_smtp::{body_text, subject};
use crate::helpers::{
    Engine, Options, TestApp, on_both_engines, postgres_url, problem, spawn_app, spawn_app_with,
};
use crate::instances::Instance;
use crate::people::{PASSWORD, Visitor, add_user};
use crate::receiver::{Receiver, verified_independently};

on_both_engines!(
    endpoints_are_registered_by_admins_and_checked_field_by_field,
    money_recorded_is_sent_signed_to_the_endpoints_that_want_it,
    a_receiver_answering_500_is_tried_again_with_the_same_id,
    a_receiver_down_or_slow_is_logged_and_a_replay_completes_it,
    an_endpoint_failing_for_its_whole_schedule_is_disabled_and_admins_told,
    subscriptions_goals_and_payouts_are_announced,
    events_written_while_no_server_runs_are_sent_when_one_starts,
    the_cli_adds_lists_and_removes_endpoints,
    admins_manage_endpoints_and_replay_deliveries_in_the_dashboard,
    an_answer_the_database_cannot_keep_is_logged_cleaned_and_retried,
    a_replay_asked_while_the_delivery_is_in_flight_is_sent,
);

const ALL_MONEY: [&str; 3] = ["donation.recorded", "donation.reversed", "batch.posted"];

async fn register(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let response =
        app.post_as(&app.admin_token, "/api/v1/admin/webhooks", &json!({"url": url, "events": events})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.expect("JSON")
}

async fn log(app: &TestApp, endpoint: &Value) -> Vec<Value> {
    let path = format!("/api/v1/admin/webhooks/{}/deliveries", endpoint["id"]);
    let body = app.json_as(&app.admin_token, &path).await;
    body["deliveries"].as_array().expect("deliveries").clone()
}

/// Waits (30 s at most) until the endpoint's log satisfies `done`.
async fn log_until(app: &TestApp, endpoint: &Value, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..300 {
        let deliveries = log(app, endpoint).await;
        if done(&deliveries) {
            return deliveries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery log never got there: {:#?}", log(app, endpoint).await);
}

fn kinds(received: &[crate::receiver::Received]) -> BTreeMap<String, usize> {
    let mut counted = BTreeMap::new();
    for request in received {
        *counted.entry(request.kind()).or_default() += 1;
    }
    counted
}

fn check_passes(app: &TestApp) {
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

async fn endpoints_are_registered_by_admins_and_checked_field_by_field(engine: Engine) {
    let app = spawn_app(engine).await;
    let good = json!({"url": "https://crm.example.org/hooks", "events": ["donation.recorded"]});
    for token in [&app.viewer_token, &app.treasurer_token] {
        problem(app.post_as(token, "/api/v1/admin/webhooks", &good).await, StatusCode::FORBIDDEN).await;
        problem(app.get_as(token, "/api/v1/admin/webhooks").await, StatusCode::FORBIDDEN).await;
    }
    let refused = problem(
        app.post_as(&app.admin_token, "/api/v1/admin/webhooks", &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused["errors"]["url"].is_string() && refused["errors"]["events"].is_string(), "{refused}");
    let refused = problem(
        app.post_as(
            &app.admin_token,
            "/api/v1/admin/webhooks",
            &json!({"url": "http://crm.example.org/hooks", "events": ["donation.recorded", "donation"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused["errors"]["url"].as_str().is_some_and(|message| message.contains("https")), "{refused}");
    assert!(
        refused["errors"]["events[1]"].as_str().is_some_and(|message| message.contains("batch.posted")),
        "{refused}"
    );
    assert_eq!(
        app.json_as(&app.admin_token, "/api/v1/admin/webhooks").await["webhooks"],
        json!([]),
        "nothing kept"
    );

    let created =
        register(&app, "https://crm.example.org/hooks", &["donation.recorded", "batch.posted"]).await;
    let secret = created["secret"].as_str().expect("the secret, shown once");
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    assert_eq!(created["events"], json!(["donation.recorded", "batch.posted"]));
    assert_eq!(created["enabled"], true);
    let listed = app.json_as(&app.admin_token, "/api/v1/admin/webhooks").await;
    assert_eq!(listed["webhooks"][0]["url"], "https://crm.example.org/hooks");
    assert!(listed["webhooks"][0].get("secret").is_none(), "the secret is not shown again");
    let path = format!("/api/v1/admin/webhooks/{}", created["id"]);
    let shown = app.json_as(&app.admin_token, &path).await;
    assert!(shown.get("secret").is_none());

    let changed = app
        .patch_as(&app.admin_token, &path, &json!({"events": ["donation.reversed"], "enabled": false}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.expect("JSON");
    assert_eq!(
        (changed["events"].clone(), changed["enabled"].clone()),
        (json!(["donation.reversed"]), json!(false))
    );
    problem(
        app.patch_as(&app.admin_token, &path, &json!({"url": "ftp://crm.example.org"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.patch_as(&app.admin_token, &path, &json!({"colour": "red"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let removed =
        app.client.delete(app.url(&path)).bearer_auth(&app.admin_token).send().await.expect("answer");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    problem(app.get_as(&app.admin_token, &path).await, StatusCode::NOT_FOUND).await;
    let again = app.client.delete(app.url(&path)).bearer_auth(&app.admin_token).send().await.expect("answer");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

async fn money_recorded_is_sent_signed_to_the_endpoints_that_want_it(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url, &ALL_MONEY).await;
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
    // Another endpoint wants only subscriptions: it gets none of this.
    let other = Receiver::start().await;
    register(&app, &other.url, &["subscription.started"]).await;

    let gift = app.give("office", "25.00", Some("montreal")).await;
    let received = receiver.wait_for(1).await;
    let request = &received[0];
    let body = request.json();
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("webhook-id"), body["id"].as_str().expect("an event id"));
    assert!(request.header("webhook-id").starts_with("evt_"));
    let timestamp: i64 = request.header("webhook-timestamp").parse().expect("a Unix timestamp");
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(body["type"], "donation.recorded");
    assert_eq!(body["data"]["id"], gift["id"]);
    assert_eq!(
        (
            &body["data"]["amount"],
            &body["data"]["campaign"],
            &body["data"]["branch"],
            &body["data"]["currency"]
        ),
        (&json!("25.00"), &json!("office"), &json!("montreal"), &json!("CAD"))
    );
    assert_eq!(body["data"], app.json_as(&app.viewer_token, "/api/v1/admin/donations").await["entries"][0]);

    // The signature checks out with an implementation that is not appeal's...
    assert!(verified_independently(
        &secret,
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
        &request.body,
    ));
    // ...which itself reproduces the specification's published vector, and refuses a change.
    let vector = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330");
    let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verified_independently(vector.0, vector.1, vector.2, signature, r#"{"test": 2432232314}"#));
    assert!(!verified_independently(vector.0, vector.1, vector.2, signature, r#"{"test": 2432232315}"#));
    assert!(!verified_independently(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
        &request.body,
    ));

    // A reversal, and a deposit of two cheques.
    let reversed = app
        .post_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/donations/{}/reversals", gift["id"]),
            &json!({"amount": "5.00", "reason": "entered 25 for 20"}),
        )
        .await;
    assert_eq!(reversed.status(), StatusCode::CREATED);
    let deposit = json!({"reference": "Slip 7", "deposited_on": "2026-11-05", "declared_count": 2,
        "declared_total": "30.00", "entries": [{"amount": "10.00", "method": "cheque"}, {"amount": "20.00", "method": "cheque"}]});
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &deposit).await;
    assert_eq!(posted.status(), StatusCode::CREATED);
    let posted: Value = posted.json().await.expect("JSON");

    let received = receiver.wait_for(5).await;
    let expected: BTreeMap<String, usize> =
        [("donation.recorded", 3), ("donation.reversed", 1), ("batch.posted", 1)]
            .map(|(k, n)| (k.to_owned(), n))
            .into();
    assert_eq!(kinds(&received), expected);
    let reversal =
        received.iter().find(|request| request.kind() == "donation.reversed").expect("a reversal").json();
    assert_eq!((&reversal["data"]["amount"], &reversal["data"]["reverses"]), (&json!("-5.00"), &gift["id"]));
    let batch = received.iter().find(|request| request.kind() == "batch.posted").expect("a deposit").json();
    assert_eq!(batch["data"]["batch"], posted["batch"]);
    assert_eq!((&batch["data"]["count"], &batch["data"]["total"]), (&json!(2), &json!("30.00")));
    assert_eq!(batch["data"]["entries"], posted["entries"]);
    let ids: std::collections::HashSet<&str> =
        received.iter().map(|request| request.header("webhook-id")).collect();
    assert_eq!(ids.len(), 5, "each event has its own id");
    for request in &received {
        assert!(verified_independently(
            &secret,
            request.header("webhook-id"),
            request.header("webhook-timestamp"),
            request.header("webhook-signature"),
            &request.body,
        ));
    }

    let deliveries = log_until(&app, &endpoint, |deliveries| {
        deliveries.len() == 5 && deliveries.iter().all(|delivery| delivery["state"] == "delivered")
    })
    .await;
    for delivery in &deliveries {
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["log"][0]["status"], 200);
        assert_eq!(delivery["log"][0]["answer"], "answered 200");
        assert!(delivery["log"][0]["latency_ms"].as_i64().is_some_and(|ms| ms >= 0));
    }
    assert!(other.received().is_empty(), "an endpoint gets only the types it asked for");
    check_passes(&app);
}

async fn a_receiver_answering_500_is_tried_again_with_the_same_id(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[(500, Duration::ZERO)]);
    let endpoint = register(&app, &receiver.url, &ALL_MONEY).await;
    app.give("office", "12.00", None).await;
    // Tried again about five seconds later.
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    assert_eq!(received[0].body, received[1].body, "the same event, byte for byte");
    let deliveries = log_until(&app, &endpoint, |deliveries| deliveries[0]["state"] == "delivered").await;
    let attempts = deliveries[0]["log"].as_array().expect("attempts");
    assert_eq!(
        attempts.iter().map(|attempt| attempt["status"].clone()).collect::<Vec<_>>(),
        [json!(500), json!(200)]
    );
    assert_eq!(attempts[0]["answer"], "answered 500");
    assert_eq!(deliveries[0]["attempts"], 2);
}

async fn a_receiver_down_or_slow_is_logged_and_a_replay_completes_it(engine: Engine) {
    let options = Options { vars: vec![("APPEAL_WEBHOOK_TIMEOUT", "1s".to_owned())], ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    // Nobody listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let down_url = format!("http://{}/hooks", closed.local_addr().expect("address"));
    drop(closed);
    let down = register(&app, &down_url, &["donation.recorded"]).await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[(200, Duration::from_secs(3))]);
    let slow = register(&app, &receiver.url, &["donation.recorded"]).await;

    app.give("office", "8.00", None).await;
    let deliveries = log_until(&app, &down, |deliveries| {
        deliveries.first().is_some_and(|delivery| !delivery["log"].as_array().expect("log").is_empty())
    })
    .await;
    let attempt = &deliveries[0]["log"][0];
    assert_eq!(
        (attempt["status"].clone(), attempt["answer"].clone()),
        (Value::Null, json!("cannot connect"))
    );
    assert_eq!(deliveries[0]["state"], "pending");
    assert!(deliveries[0]["next_attempt_at"].is_string(), "tried again later");

    let deliveries = log_until(&app, &slow, |deliveries| {
        deliveries.first().is_some_and(|delivery| !delivery["log"].as_array().expect("log").is_empty())
    })
    .await;
    let attempt = &deliveries[0]["log"][0];
    assert_eq!(
        (attempt["status"].clone(), attempt["answer"].clone()),
        (Value::Null, json!("no answer in time"))
    );
    assert!(attempt["latency_ms"].as_i64().is_some_and(|ms| ms >= 1000));
    // The retry, answered at once, delivers it.
    log_until(&app, &slow, |deliveries| deliveries[0]["state"] == "delivered").await;

    // The endpoint that was down moves to the receiver; a replay sends the delivery now.
    let path = format!("/api/v1/admin/webhooks/{}", down["id"]);
    assert_eq!(
        app.patch_as(&app.admin_token, &path, &json!({"url": receiver.url})).await.status(),
        StatusCode::OK
    );
    let delivery = deliveries_of(&app, &down).await[0]["id"].clone();
    let replay =
        app.post_as(&app.admin_token, &format!("{path}/replay"), &json!({"delivery": delivery})).await;
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    assert_eq!(replay.json::<Value>().await.expect("JSON")["queued"], 1);
    let deliveries = log_until(&app, &down, |deliveries| deliveries[0]["state"] == "delivered").await;
    let last = deliveries[0]["log"].as_array().expect("log").last().cloned().expect("an attempt");
    assert_eq!((last["status"].clone(), last["replay"].clone()), (json!(200), json!(true)));
    problem(
        app.post_as(&app.admin_token, &format!("{path}/replay"), &json!({"delivery": 999_999})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post_as(&app.admin_token, &format!("{path}/replay"), &json!({"from": "yesterday"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn deliveries_of(app: &TestApp, endpoint: &Value) -> Vec<Value> {
    log(app, endpoint).await
}

async fn an_endpoint_failing_for_its_whole_schedule_is_disabled_and_admins_told(engine: Engine) {
    let app = spawn_app(engine).await;
    add_user(&app, "admin@example.org", "admin", None);
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[(503, Duration::ZERO), (503, Duration::ZERO)]);
    let endpoint = register(&app, &receiver.url, &["donation.recorded"]).await;
    app.give("office", "30.00", None).await;
    log_until(&app, &endpoint, |deliveries| {
        deliveries.first().is_some_and(|delivery| delivery["attempts"] == 1)
    })
    .await;
    // Ten attempts have failed over three days: the eleventh is the last.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.expect("the test database");
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = 10, next_attempt_at = '2001-01-01T00:00:00.000000Z'",
    )
    .execute(&pool)
    .await
    .expect("moved on");
    pool.close().await;
    let path = format!("/api/v1/admin/webhooks/{}", endpoint["id"]);
    let deliveries = log_until(&app, &endpoint, |deliveries| deliveries[0]["state"] == "failed").await;
    assert_eq!(deliveries[0]["attempts"], 11);
    let shown = app.json_as(&app.admin_token, &path).await;
    assert_eq!(shown["enabled"], false);
    assert!(shown["disabled_reason"].as_str().is_some_and(|reason| reason.contains("every delivery failed")));
    let mail = app.smtp.wait_for(1).await;
    assert_eq!(subject(&mail[0]), "A webhook endpoint was disabled");
    let text = body_text(&mail[0]);
    assert!(text.contains(&receiver.url) && text.contains("/admin/webhooks"), "{text}");

    // Money recorded while it is disabled is kept for it, and sent once it is enabled again
    // and what it missed replayed.
    let later = app.give("office", "31.00", None).await;
    let enabled = app.patch_as(&app.admin_token, &path, &json!({"enabled": true})).await;
    assert_eq!(enabled.json::<Value>().await.expect("JSON")["disabled_reason"], Value::Null);
    let replay =
        app.post_as(&app.admin_token, &format!("{path}/replay"), &json!({"from": "2026-01-01"})).await;
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    assert_eq!(replay.json::<Value>().await.expect("JSON")["queued"], 2);
    let deliveries = log_until(&app, &endpoint, |deliveries| {
        deliveries.len() == 2 && deliveries.iter().all(|delivery| delivery["state"] == "delivered")
    })
    .await;
    assert_eq!(deliveries.len(), 2);
    let amounts: Vec<String> = receiver
        .received()
        .iter()
        .filter(|request| request.header("webhook-id").starts_with("evt_"))
        .map(|request| request.json()["data"]["amount"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(amounts.contains(&"31.00".to_owned()), "{amounts:?}");
    assert_eq!(
        amounts.iter().filter(|amount| *amount == "30.00").count(),
        3,
        "two failures, then the replay"
    );
    assert_eq!(later["amount"], "31.00");
}

async fn subscriptions_goals_and_payouts_are_announced(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    register(
        &app,
        &receiver.url,
        &[
            "subscription.started",
            "subscription.updated",
            "subscription.ended",
            "campaign.goal_reached",
            "payout.reconciled",
        ],
    )
    .await;
    let patched =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"goal": "50.00"})).await;
    assert_eq!(patched.status(), StatusCode::OK, "{:?}", patched.text().await);

    let session = app
        .checkout("office", &json!({"amount": "20.00", "interval": "month", "email": "ana@example.org"}))
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let subscription =
        app.stripe.session(&session)["subscription"].as_str().expect("subscription").to_owned();
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].kind(), "subscription.started");
    let started = received[0].json();
    assert_eq!(
        (
            &started["data"]["id"],
            &started["data"]["amount"],
            &started["data"]["interval"],
            &started["data"]["campaign"]
        ),
        (&json!(subscription), &json!("20.00"), &json!("month"), &json!("office"))
    );
    app.deliver_all(&app.stripe.fail_renewal(&subscription)).await;
    let cancelled = app.cli(&["subscription", "cancel", "--id", &subscription, "--now"]);
    assert!(cancelled.status.success(), "{}", String::from_utf8_lossy(&cancelled.stderr));
    app.deliver_all(&app.stripe.take_pending()).await;

    // 20.00 raised; a one-off 40.00 passes the 50.00 goal, announced once.
    let one_off = app.checkout("office", &json!({"amount": "40.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&one_off)).await;
    let charge = app.stripe.charge_of_session(&one_off);
    let transactions = vec![app.stripe.balance_transaction_of(&charge)];
    let (payout, events) = app.stripe.payout(&transactions);
    app.deliver_all(&events).await;
    app.give("office", "5.00", None).await;

    let wanted = |received: &[crate::receiver::Received]| {
        let counted = kinds(received);
        counted.contains_key("subscription.ended")
            && counted.contains_key("campaign.goal_reached")
            && counted.contains_key("payout.reconciled")
    };
    for _ in 0..300 {
        if wanted(&receiver.received()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = receiver.received();
    let counted = kinds(&received);
    assert_eq!(counted.get("subscription.started"), Some(&1), "{counted:?}");
    assert_eq!(counted.get("subscription.ended"), Some(&1), "{counted:?}");
    assert!(counted.get("subscription.updated").is_some_and(|n| *n >= 1), "past due: {counted:?}");
    assert!(
        received
            .iter()
            .filter(|request| request.kind() == "subscription.updated")
            .any(|request| request.json()["data"]["status"] == "past_due"),
        "the failed installment made it past due"
    );
    let ended = received.iter().find(|request| request.kind() == "subscription.ended").expect("ended").json();
    assert_eq!(ended["data"]["status"], "canceled");
    let reconciled =
        received.iter().find(|request| request.kind() == "payout.reconciled").expect("payout").json();
    assert_eq!(
        (&reconciled["data"]["id"], &reconciled["data"]["reconciled"]),
        (&json!(payout), &json!(true))
    );
    // The goal: after the gift that passed it; its progress document says so.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let goals: Vec<Value> = receiver
        .received()
        .iter()
        .filter(|request| request.kind() == "campaign.goal_reached")
        .map(crate::receiver::Received::json)
        .collect();
    assert_eq!(goals.len(), 1, "announced once");
    assert_eq!(
        (&goals[0]["data"]["campaign"], &goals[0]["data"]["goal"]),
        (&json!("office"), &json!("50.00"))
    );
    let raised: f64 =
        goals[0]["data"]["raised"].as_str().and_then(|raised| raised.parse().ok()).expect("raised");
    assert!(raised >= 50.0, "{}", goals[0]);
    check_passes(&app);
}

async fn events_written_while_no_server_runs_are_sent_when_one_starts(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[(500, Duration::ZERO)]);
    let endpoint = register(&app, &receiver.url, &ALL_MONEY).await;
    app.give("office", "40.00", None).await;
    let first = receiver.wait_for(1).await;
    app.shutdown().await;
    // Recorded from the command line while no server runs.
    let added = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "office",
        "--amount",
        "9.00",
        "--method",
        "cash",
        "--received-on",
        "2026-11-20",
    ]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    // An operator may send what is due without a server: the job's own command.
    let delivered = app.cli(&["webhook", "deliver"]);
    assert!(delivered.status.success(), "{}", String::from_utf8_lossy(&delivered.stderr));
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].json()["data"]["amount"], "9.00");
    app.restart().await;
    let deliveries = log_until(&app, &endpoint, |deliveries| {
        deliveries.len() == 2 && deliveries.iter().all(|delivery| delivery["state"] == "delivered")
    })
    .await;
    assert_eq!(deliveries.len(), 2);
    let received = receiver.received();
    let retried: Vec<_> = received
        .iter()
        .filter(|request| request.header("webhook-id") == first[0].header("webhook-id"))
        .collect();
    assert_eq!(retried.len(), 2, "the one that failed before the restart was sent again after it");
    assert_eq!(received.iter().filter(|request| request.json()["data"]["amount"] == "9.00").count(), 1);
}

async fn the_cli_adds_lists_and_removes_endpoints(engine: Engine) {
    let app = spawn_app(engine).await;
    let added = app.cli(&[
        "webhook",
        "add",
        "--url",
        "https://chat.example.org/appeal",
        "--event",
        "donation.recorded",
        "--event",
        "campaign.goal_reached",
    ]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let out = String::from_utf8_lossy(&added.stdout);
    assert!(out.contains("whsec_"), "the secret is shown once: {out}");
    let listed = app.cli(&["webhook", "list"]);
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        out.contains("https://chat.example.org/appeal") && out.contains("campaign.goal_reached"),
        "{out}"
    );
    assert!(!out.contains("whsec_"), "{out}");
    let refused = app.cli(&["webhook", "add", "--url", "http://chat.example.org/", "--event", "donation"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("url") && err.contains("events[0]"), "{err}");
    let id = app.json_as(&app.admin_token, "/api/v1/admin/webhooks").await["webhooks"][0]["id"].to_string();
    let removed = app.cli(&["webhook", "remove", "--id", &id]);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(app.json_as(&app.admin_token, "/api/v1/admin/webhooks").await["webhooks"], json!([]));
}

/// Three instances on one PostgreSQL database, each with its sender: gifts recorded on all
/// of them reach the endpoint once each, sent by one sender at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_send_each_event_once() {
    if postgres_url().is_none() {
        eprintln!("skipped: several instances need APPEAL_TEST_POSTGRES_URL");
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    register(&app, &receiver.url, &ALL_MONEY).await;
    let instances = [Instance::start(&app, &[]).await, Instance::start(&app, &[]).await];
    let urls = [app.address.clone(), instances[0].url.clone(), instances[1].url.clone()];
    let client = reqwest::Client::new();
    let gifts = (0..30).map(|index| {
        let body = json!({"amount": "1.00", "method": "cheque", "received_on": "2026-11-03", "reference": format!("cheque {index}")});
        client
            .post(format!("{}/api/v1/admin/campaigns/office/donations", urls[index % 3]))
            .bearer_auth(&app.treasurer_token)
            .json(&body)
            .send()
    });
    for answer in futures_util::future::join_all(gifts).await {
        assert_eq!(answer.expect("an answer").status(), StatusCode::CREATED);
    }
    let received = receiver.wait_for(30).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = if receiver.received().len() > received.len() { receiver.received() } else { received };
    let ids: std::collections::HashSet<&str> =
        received.iter().map(|request| request.header("webhook-id")).collect();
    assert_eq!((received.len(), ids.len()), (30, 30), "each event once");
}

async fn admins_manage_endpoints_and_replay_deliveries_in_the_dashboard(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "admin@example.org", "admin", None);
    add_user(&app, "treasurer@example.org", "treasurer", None);
    add_user(&app, "montreal@example.org", "admin", Some("montreal"));
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("treasurer@example.org", PASSWORD).await;
    assert_eq!(treasurer.get("/admin/webhooks").await.0, StatusCode::FORBIDDEN);
    // Webhooks carry every branch's money: not for an admin who keeps one branch.
    let mut branch_admin = Visitor::new(&app);
    branch_admin.sign_in("montreal@example.org", PASSWORD).await;
    assert_eq!(branch_admin.get("/admin/webhooks").await.0, StatusCode::FORBIDDEN);

    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (status, page, _) = admin.get("/admin/webhooks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No endpoint yet") && page.contains("campaign.goal_reached"), "{page}");
    let csrf = Visitor::csrf_in(&page);

    // Refused beside its fields, what was typed kept.
    let (status, page, _) =
        admin.post("/admin/webhooks", &[("csrf", &csrf), ("url", "http://crm.example.org/in")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"webhook-url-error\"") && page.contains("must use https"), "{page}");
    assert!(page.contains("id=\"webhook-events-error\""), "{page}");
    assert!(page.contains("value=\"http:&#x2f;&#x2f;crm.example.org&#x2f;in\""), "kept as typed: {page}");

    let receiver = Receiver::start().await;
    let (status, page, _) = admin
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("url", &receiver.url),
                ("events", "donation.recorded"),
                ("events", "batch.posted"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("whsec_") && page.contains("not shown again"), "the secret, once: {page}");
    let listed = app.json_as(&app.admin_token, "/api/v1/admin/webhooks").await;
    let endpoint = listed["webhooks"][0].clone();
    assert_eq!(endpoint["events"], json!(["donation.recorded", "batch.posted"]));
    let (_, page, _) = admin.get("/admin/webhooks").await;
    assert!(!page.contains("whsec_"), "not shown again");

    app.give("office", "14.00", None).await;
    log_until(&app, &endpoint, |deliveries| deliveries.first().is_some_and(|d| d["state"] == "delivered"))
        .await;
    let path = format!("/admin/webhooks/{}", endpoint["id"]);
    let (status, page, _) = admin.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("donation.recorded") && page.contains("HTTP 200") && page.contains("answered 200"),
        "{page}"
    );
    let delivery = log(&app, &endpoint).await[0]["id"].to_string();
    let (status, _, headers) =
        admin.post(&format!("{path}/replay"), &[("csrf", &csrf), ("delivery", &delivery)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], path.as_str());
    let (_, page, _) = admin.get(&path).await;
    assert!(page.contains("1 delivery will be sent again"), "{page}");
    receiver.wait_for(2).await;
    let (status, page, _) = admin.post(&format!("{path}/replay"), &[("csrf", &csrf), ("from", "soon")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"replay-from-error\""), "{page}");

    let (status, _, _) = admin.post(&format!("{path}/disable"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = admin.get("/admin/webhooks").await;
    assert!(page.contains("is disabled") && page.contains(">Enable<"), "{page}");
    let (status, _, _) = admin.post(&format!("{path}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.json_as(&app.admin_token, "/api/v1/admin/webhooks").await["webhooks"], json!([]));
}

async fn an_answer_the_database_cannot_keep_is_logged_cleaned_and_retried(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    // PostgreSQL's text holds no NUL byte.
    receiver.answer_next_with(500, "bad\u{0}answer");
    let endpoint = register(&app, &receiver.url, &ALL_MONEY).await;
    app.give("office", "3.00", None).await;
    let deliveries = log_until(&app, &endpoint, |deliveries| {
        deliveries.first().is_some_and(|delivery| delivery["state"] == "delivered")
    })
    .await;
    let attempts = deliveries[0]["log"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(
        (attempts[0]["status"].clone(), attempts[0]["answer"].clone()),
        (json!(500), json!("bad answer"))
    );
    assert_eq!(receiver.received().len(), 2, "tried again on the schedule, not at once");
}

async fn a_replay_asked_while_the_delivery_is_in_flight_is_sent(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[(200, Duration::from_secs(2))]);
    let endpoint = register(&app, &receiver.url, &ALL_MONEY).await;
    app.give("office", "4.00", None).await;
    receiver.wait_for(1).await;
    // The first attempt is still waiting for its answer.
    let delivery = log(&app, &endpoint).await[0]["id"].clone();
    let path = format!("/api/v1/admin/webhooks/{}/replay", endpoint["id"]);
    let replay = app.post_as(&app.admin_token, &path, &json!({"delivery": delivery})).await;
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    let deliveries = log_until(&app, &endpoint, |deliveries| {
        deliveries[0]["log"].as_array().is_some_and(|log| log.len() == 2)
            && deliveries[0]["state"] == "delivered"
    })
    .await;
    assert_eq!(deliveries[0]["log"][1]["replay"], true);
}
