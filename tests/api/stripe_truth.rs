//! The ledger agrees with Stripe in every documented situation: what Stripe reports is
//! recorded from its own balance transactions, never refused, and what does not fit is
//! flagged for a treasurer; reconcile never stalls on an event that cannot apply.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_stripe::{API_VERSION, DISPUTE_FEE, stripe_fee};
use crate::helpers::{Engine, Options, TestApp, on_both_engines, problem, spawn_app, spawn_app_with};

on_both_engines!(
    reconcile_goes_past_an_event_that_can_never_apply,
    a_webhook_delivery_that_keeps_failing_is_quarantined_and_acknowledged,
    a_dispute_after_a_full_refund_is_recorded_and_flags_the_gift,
    partial_refunds_of_a_converted_gift_may_take_a_cent_more_than_it_held,
    an_inquiry_moves_no_money_and_a_refund_during_it_works,
    an_inquiry_that_escalates_withdraws_the_funds_then,
    a_refund_that_fails_or_is_cancelled_is_undone,
    refunds_of_a_converted_gift_are_asked_in_the_charge_currency,
    isk_and_three_decimal_amounts_are_sent_as_stripe_reads_them,
    converted_refunds_and_disputes_are_booked_from_their_own_balance_transactions,
    a_gift_that_cannot_be_counted_is_held_for_a_treasurer,
    the_currency_cannot_change_while_a_checkout_is_open,
    subscription_and_payout_states_only_move_forward,
    serve_reconciles_by_itself,
    a_rolled_key_does_not_quarantine_events,
    dismissing_a_held_gift_sets_its_waiting_refunds_aside,
);

/// The ledger, oldest entry first.
pub async fn ledger(app: &TestApp) -> Vec<Value> {
    let listed: Value = app.json_as(&app.treasurer_token, "/api/v1/admin/donations?limit=500").await;
    let mut entries = listed["entries"].as_array().expect("entries").clone();
    entries.reverse();
    entries
}

/// (kind, amount, fee, net) of each entry, oldest first.
async fn lines(app: &TestApp) -> Vec<(String, String, String, String)> {
    ledger(app)
        .await
        .iter()
        .map(|entry| {
            let text = |field: &str| entry[field].as_str().expect("a field").to_owned();
            (text("kind"), text("amount"), text("fee"), text("net"))
        })
        .collect()
}

fn line(kind: &str, amount: &str, fee: &str, net: &str) -> (String, String, String, String) {
    (kind.to_owned(), amount.to_owned(), fee.to_owned(), net.to_owned())
}

fn cents(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `appeal check --stripe`: its exit code and what it printed.
fn check_stripe(app: &TestApp) -> (Option<i32>, String) {
    let output = app.cli(&["check", "--stripe"]);
    (output.status.code(), format!("{}{}", stdout(&output), String::from_utf8_lossy(&output.stderr)))
}

fn assert_agrees_with_stripe(app: &TestApp) {
    let (code, printed) = check_stripe(app);
    assert_eq!(code, Some(0), "{printed}");
}

async fn open_flags(app: &TestApp) -> Vec<Value> {
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/stripe/flags").await;
    listed["flags"].as_array().expect("flags").clone()
}

async fn paid_gift(app: &TestApp, amount: &str, email: &str) -> String {
    let session = app.checkout("office", &json!({"amount": amount, "email": email})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    app.stripe.charge_of_session(&session)
}

async fn audited_actions(app: &TestApp) -> Vec<String> {
    use sqlx::{Connection, Row};
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&mut connection)
        .await
        .expect("the audit log")
        .iter()
        .map(|row| row.get::<String, _>("action"))
        .collect()
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "api_version": API_VERSION, "created": created,
        "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": kind
    })
}

async fn reconcile_goes_past_an_event_that_can_never_apply(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // The first event of the window can never apply: its charge has no id.
    let created = chrono::Utc::now().timestamp() - 60;
    app.stripe.push_event(event(
        "evt_poison",
        "charge.refunded",
        created,
        json!({"object": "charge", "amount": 100}),
    ));
    // Two gifts whose events were never delivered.
    let first = app.checkout("office", &json!({"amount": "45.00"})).await;
    let second = app.checkout("office", &json!({"amount": "20.00", "interval": "month"})).await;
    app.stripe.pay_session(&first);
    app.stripe.pay_session(&second);

    let run = app.cli(&["reconcile"]);
    let printed = stdout(&run);
    assert_eq!(run.status.code(), Some(1), "an event still failing fails the run: {printed}");
    assert!(printed.contains("FAILED evt_poison charge.refunded"), "{printed}");
    assert!(printed.contains("checkout.session.completed") && printed.contains("invoice.paid"), "{printed}");
    assert_eq!(app.progress("office").await["raised"], "65.00", "the later events were applied");

    // Each later run tries it again; after five tries it is quarantined for a treasurer.
    for _ in 0..4 {
        app.cli(&["reconcile"]);
    }
    let run = app.cli(&["reconcile"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stdout(&run).contains("QUARANTINED evt_poison charge.refunded (5 attempts)"), "{}", stdout(&run));
    let (code, printed) = check_stripe(&app);
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("QUARANTINED evt_poison"), "{printed}");
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/stripe/events").await;
    assert_eq!(listed["events"][0]["id"], "evt_poison");
    assert_eq!(listed["events"][0]["status"], "quarantined");
    assert_eq!(listed["events"][0]["attempts"], 5);
    assert!(listed["events"][0]["last_error"].as_str().is_some_and(|error| error.contains("cannot be read")));

    // A treasurer applies it again (it still fails), then dismisses it with a reason.
    let retried =
        app.post_as(&app.treasurer_token, "/api/v1/admin/stripe/events/evt_poison/retry", &json!({})).await;
    let still = problem(retried, StatusCode::CONFLICT).await;
    assert!(still["errors"]["event"].as_str().is_some_and(|m| m.starts_with("still fails: ")), "{still}");
    let no_reason =
        app.post_as(&app.treasurer_token, "/api/v1/admin/stripe/events/evt_poison/dismiss", &json!({})).await;
    assert_eq!(problem(no_reason, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["reason"], "is required");
    let dismissed =
        app.cli(&["stripe", "dismiss", "--event", "evt_poison", "--reason", "a test object, not ours"]);
    assert!(dismissed.status.success(), "{}", String::from_utf8_lossy(&dismissed.stderr));
    let run = app.cli(&["reconcile"]);
    assert_eq!(run.status.code(), Some(0), "{}", stdout(&run));
    assert_agrees_with_stripe(&app);
    let actions = audited_actions(&app).await;
    assert!(actions.contains(&"stripe_event.retry".to_owned()), "{actions:?}");
    assert!(actions.contains(&"stripe_event.dismiss".to_owned()), "{actions:?}");
}

async fn a_webhook_delivery_that_keeps_failing_is_quarantined_and_acknowledged(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let poison = event(
        "evt_unreadable",
        "charge.refunded",
        chrono::Utc::now().timestamp(),
        json!({"object": "charge"}),
    );
    // Stripe retries what is not acknowledged; a lasting failure is quarantined on the fifth.
    for _ in 0..4 {
        assert!(app.deliver(&poison).await.is_server_error());
    }
    assert_eq!(app.deliver(&poison).await, StatusCode::OK);
    assert_eq!(app.deliver(&poison).await, StatusCode::OK, "a quarantined event is not tried again");
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/stripe/events").await;
    assert_eq!(
        (listed["events"][0]["status"].as_str(), listed["events"][0]["attempts"].as_i64()),
        (Some("quarantined"), Some(5))
    );
    // The dashboard shows it.
    let page = crate::people::signed_in_page(&app, "/admin/stripe").await;
    assert!(page.contains("evt_unreadable") && page.contains("quarantined"), "{page}");
}

async fn a_dispute_after_a_full_refund_is_recorded_and_flags_the_gift(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let charge = paid_gift(&app, "100.00", "ana@example.org").await;
    app.deliver_all(&app.stripe.refund(&charge, 10_000)).await;
    assert_eq!(app.progress("office").await["raised"], "0.00");

    // The card network allows a dispute of the refunded charge; Stripe withdraws it again.
    let (_, opened) = app.stripe.dispute(&charge);
    app.deliver_all(&opened).await;
    let fee = stripe_fee(10_000);
    assert_eq!(
        lines(&app).await,
        [
            line("donation", "100.00", &cents(fee), &cents(10_000 - fee)),
            line("refund", "-100.00", "0.00", "-100.00"),
            line("dispute", "-100.00", &cents(DISPUTE_FEE), &cents(-10_000 - DISPUTE_FEE)),
        ]
    );
    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), progress["donations"].as_i64()), (Some("-100.00"), Some(0)));

    let flags = open_flags(&app).await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    let gift = ledger(&app).await[0]["id"].as_i64().expect("id");
    assert_eq!((flags[0]["kind"].as_str(), flags[0]["entry"].as_i64()), (Some("over_reversed"), Some(gift)));
    assert!(flags[0]["detail"].as_str().is_some_and(|detail| detail.contains("over-reversed by 100.00 CAD")));
    let (code, printed) = check_stripe(&app);
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains(&format!("OVER-REVERSED gift #{gift}")), "{printed}");
    // appeal check (totals against the ledger) still holds.
    assert!(app.cli(&["check"]).status.success());

    // A treasurer acknowledges it, with a reason.
    let id = flags[0]["id"].as_i64().expect("id");
    let path = format!("/api/v1/admin/stripe/flags/{id}/resolve");
    problem(app.post_as(&app.viewer_token, &path, &json!({"reason": "x"})).await, StatusCode::FORBIDDEN)
        .await;
    let resolved =
        app.post_as(&app.treasurer_token, &path, &json!({"reason": "contested with the bank"})).await;
    assert_eq!(resolved.status(), StatusCode::OK);
    assert!(open_flags(&app).await.is_empty());
    assert_agrees_with_stripe(&app);
}

async fn partial_refunds_of_a_converted_gift_may_take_a_cent_more_than_it_held(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.stripe.set_rate("eur", "1.4712");
    let session = app.checkout("office", &json!({"amount": "14.71"})).await;
    // 10.00 EUR settles as 14.71 CAD; each 5.00 EUR refund as 7.36 CAD (735.6 rounded).
    app.deliver_all(&app.stripe.pay_session_in(&session, "eur", 1000)).await;
    let charge = app.stripe.charge_of_session(&session);
    app.deliver_all(&app.stripe.refund(&charge, 500)).await;
    app.deliver_all(&app.stripe.refund(&charge, 500)).await;
    let refunds: Vec<_> = lines(&app).await.into_iter().filter(|(kind, ..)| kind == "refund").collect();
    assert_eq!(refunds, [line("refund", "-7.36", "0.00", "-7.36"), line("refund", "-7.36", "0.00", "-7.36")]);
    assert_eq!(app.progress("office").await["raised"], "-0.01");
    let flags = open_flags(&app).await;
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0]["reported"]["over_by"], "0.01");
    assert!(app.cli(&["check"]).status.success());
}

async fn an_inquiry_moves_no_money_and_a_refund_during_it_works(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let charge = paid_gift(&app, "50.00", "bo@example.org").await;
    let (inquiry, asked) = app.stripe.inquiry(&charge);
    app.deliver_all(&asked).await;
    assert_eq!(app.progress("office").await["raised"], "50.00", "an inquiry withdraws nothing");
    let gift = &ledger(&app).await[0];
    assert_eq!(gift["dispute"]["id"], inquiry.as_str());
    assert_eq!(
        (gift["dispute"]["status"].as_str(), gift["dispute"]["inquiry"].as_bool()),
        (Some("warning_needs_response"), Some(true))
    );
    let page = crate::people::signed_in_page(&app, "/admin/c/office").await;
    assert!(page.contains("inquiry"), "the dashboard shows the inquiry");

    // Stripe's advice: refund during an inquiry.
    let id = gift["id"].as_i64().expect("id");
    let asked =
        app.post_as(&app.treasurer_token, &format!("/api/v1/admin/donations/{id}/refund"), &json!({})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    app.deliver_all(&app.stripe.take_pending()).await;
    app.deliver_all(&app.stripe.close_inquiry(&inquiry)).await;
    assert_eq!(
        lines(&app)
            .await
            .iter()
            .map(|(kind, amount, ..)| (kind.as_str(), amount.as_str()))
            .collect::<Vec<_>>(),
        [("donation", "50.00"), ("refund", "-50.00")]
    );
    assert_eq!(app.progress("office").await["raised"], "0.00");
    assert_eq!(ledger(&app).await[0]["dispute"]["status"], "warning_closed");
    assert_agrees_with_stripe(&app);
}

async fn an_inquiry_that_escalates_withdraws_the_funds_then(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let charge = paid_gift(&app, "40.00", "cy@example.org").await;
    let (inquiry, asked) = app.stripe.inquiry(&charge);
    app.deliver_all(&asked).await;
    let escalated = app.stripe.escalate(&inquiry);
    let lost = app.stripe.close_dispute(&inquiry, false);
    // Delivered backwards: the later word arrives first.
    app.deliver_all(&lost).await;
    app.deliver_all(&escalated).await;
    let kinds: Vec<String> = lines(&app).await.into_iter().map(|(kind, ..)| kind).collect();
    assert_eq!(kinds, ["donation", "dispute"]);
    assert_eq!(app.progress("office").await["raised"], "0.00");
    assert_eq!(ledger(&app).await[0]["dispute"]["status"], "lost", "an older word does not reopen it");
    assert_agrees_with_stripe(&app);
}

async fn a_refund_that_fails_or_is_cancelled_is_undone(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let charge = paid_gift(&app, "80.00", "di@example.org").await;
    let gift = ledger(&app).await[0]["id"].as_i64().expect("id");
    let refund_path = format!("/api/v1/admin/donations/{gift}/refund");

    let asked = app.post_as(&app.treasurer_token, &refund_path, &json!({"amount": "30.00"})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    app.deliver_all(&app.stripe.take_pending()).await;
    assert_eq!(app.progress("office").await["raised"], "50.00");
    app.deliver_all(&app.stripe.fail_refund(&app.stripe.last_refund_of(&charge))).await;
    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), progress["donations"].as_i64()), (Some("80.00"), Some(1)));

    // A refund of all of it, cancelled: the failure arrives before the refund itself.
    let asked = app.post_as(&app.treasurer_token, &refund_path, &json!({})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let refunded = app.stripe.take_pending();
    let cancelled = app.stripe.cancel_refund(&app.stripe.last_refund_of(&charge));
    app.deliver_all(&cancelled).await;
    app.deliver_all(&refunded).await;
    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), progress["donations"].as_i64()), (Some("80.00"), Some(1)));
    assert_eq!(
        lines(&app)
            .await
            .iter()
            .skip(1)
            .map(|(kind, amount, ..)| (kind.as_str(), amount.as_str()))
            .collect::<Vec<_>>(),
        [("refund", "-30.00"), ("refund_failed", "30.00"), ("refund", "-80.00"), ("refund_failed", "80.00")]
    );
    let undone = &ledger(&app).await[2];
    assert_eq!(undone["reverses"], ledger(&app).await[1]["id"], "the undo points at its refund");
    assert!(app.cli(&["check"]).status.success());
    assert_agrees_with_stripe(&app);
}

async fn refunds_of_a_converted_gift_are_asked_in_the_charge_currency(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.stripe.set_rate("eur", "1.475");
    let session = app.checkout("office", &json!({"amount": "29.50"})).await;
    // 20.00 EUR settles as 29.50 CAD.
    app.deliver_all(&app.stripe.pay_session_in(&session, "eur", 2000)).await;
    let gift = ledger(&app).await[0].clone();
    assert_eq!((gift["amount"].as_str(), gift["presented_amount"].as_str()), (Some("29.50"), Some("20.00")));
    let receipt = crate::fake_smtp::body_text(&app.smtp.wait_for(1).await[0]);
    assert!(
        receipt.contains("We received your gift of €20"),
        "the receipt says what the donor paid: {receipt}"
    );
    let path = format!("/api/v1/admin/donations/{}/refund", gift["id"]);

    // 10.00 CAD of it is 6.78 EUR, asked in euros.
    let asked = app.post_as(&app.treasurer_token, &path, &json!({"amount": "10.00"})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let body: Value = asked.json().await.expect("JSON");
    assert_eq!(
        (body["charged_amount"].as_str(), body["charged_currency"].as_str()),
        (Some("6.78"), Some("EUR"))
    );
    let requests = app.stripe.requests_to("POST", "/v1/refunds");
    assert_eq!(requests[0].param("amount"), Some("678"));
    app.deliver_all(&app.stripe.take_pending()).await;
    // What is left, all of it: what Stripe still holds of the charge.
    let asked = app.post_as(&app.treasurer_token, &path, &json!({})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED, "{:?}", asked.text().await);
    assert_eq!(app.stripe.requests_to("POST", "/v1/refunds")[1].param("amount"), Some("1322"));
    app.deliver_all(&app.stripe.take_pending()).await;
    assert_eq!(
        lines(&app)
            .await
            .iter()
            .skip(1)
            .map(|(kind, amount, ..)| (kind.as_str(), amount.as_str()))
            .collect::<Vec<_>>(),
        [("refund", "-10.00"), ("refund", "-19.50")]
    );
    assert_eq!(app.progress("office").await["raised"], "0.00");
    assert_agrees_with_stripe(&app);
}

async fn create_campaign_in(app: &TestApp, slug: &str, currency: &str, goal: &str) {
    let response = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns",
            &json!({"slug": slug, "currency": currency, "goal": goal, "title": {"en": slug, "fr": slug}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.text().await);
}

async fn isk_and_three_decimal_amounts_are_sent_as_stripe_reads_them(engine: Engine) {
    let app = spawn_app(engine).await;
    create_campaign_in(&app, "reykjavik", "ISK", "1000000").await;
    let session = app.checkout("reykjavik", &json!({"amount": "5000"})).await;
    let request = &app.stripe.requests_to("POST", "/v1/checkout/sessions")[0];
    assert_eq!(
        request.param("line_items[0][price_data][unit_amount]"),
        Some("500000"),
        "5000 ISK in Stripe's units"
    );
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    assert_eq!(app.progress("reykjavik").await["raised"], "5000");

    create_campaign_in(&app, "kuwait", "KWD", "10000.000").await;
    let odd = app
        .client
        .post(app.url("/api/v1/campaigns/kuwait/checkout"))
        .json(&json!({"amount": "10.005"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        problem(odd, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["amount"],
        "must be a multiple of 0.010 KWD, which Stripe can charge"
    );
    let covered = app.checkout("kuwait", &json!({"amount": "10.010", "cover_fees": true})).await;
    // The fixed fee is 0.300 KWD: (10010 + 300) / 0.971 = 10617.92, up to 10620, a multiple of 10.
    assert_eq!(app.stripe.session(&covered)["amount_total"], 10_620);
    app.deliver_all(&app.stripe.pay_session(&covered)).await;
    assert_eq!(app.progress("kuwait").await["raised"], "10.620");
    // Stripe's balance transactions, in its units, read back as the ledger's.
    assert_agrees_with_stripe(&app);
}

async fn converted_refunds_and_disputes_are_booked_from_their_own_balance_transactions(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.stripe.set_rate("eur", "1.5");
    let session = app.checkout("office", &json!({"amount": "30.00"})).await;
    app.deliver_all(&app.stripe.pay_session_in(&session, "eur", 2000)).await;
    let charge = app.stripe.charge_of_session(&session);
    let today = chrono::Utc::now().date_naive();

    // The euro rose before the refund: 10.00 EUR now takes 16.00 CAD, not half the gift.
    app.stripe.set_rate("eur", "1.6");
    app.deliver_all(&app.stripe.refund(&charge, 1000)).await;
    app.stripe.advance_days(3);
    let (dispute, opened) = app.stripe.dispute(&charge);
    app.deliver_all(&opened).await;
    assert_eq!(open_flags(&app).await.len(), 1, "30.00 - 16.00 - 32.00 is below zero");
    app.stripe.advance_days(10);
    app.deliver_all(&app.stripe.win_dispute_with_fee_back(&dispute)).await;

    let fee = stripe_fee(3000);
    assert_eq!(
        lines(&app).await,
        [
            line("donation", "30.00", &cents(fee), &cents(3000 - fee)),
            line("refund", "-16.00", "0.00", "-16.00"),
            line("dispute", "-32.00", "15.00", "-47.00"),
            line("dispute_won", "32.00", "-15.00", "47.00"),
        ]
    );
    let dates: Vec<String> =
        ledger(&app).await.iter().map(|e| e["received_on"].as_str().expect("date").to_owned()).collect();
    let day = |days: u64| (today + chrono::Days::new(days)).format("%Y-%m-%d").to_string();
    assert_eq!(dates, [day(0), day(0), day(3), day(13)], "dated when Stripe moved the money");
    assert_eq!(app.progress("office").await["raised"], "14.00");
    assert!(open_flags(&app).await.is_empty(), "the money came back: the flag closed itself");
    let (gross, net) = app.stripe.balance_of_charge(&charge);
    let ledger_net: i64 = [3000 - fee, -1600, -4700, 4700].iter().sum();
    assert_eq!((gross, net), (1400, ledger_net), "the ledger holds Stripe's balance for the charge");
    assert_agrees_with_stripe(&app);
}

async fn a_gift_that_cannot_be_counted_is_held_for_a_treasurer(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // Paid in euros, settled in US dollars: neither is the campaign's Canadian dollar.
    app.stripe.settle_in("usd");
    app.stripe.set_rate("eur", "1.08");
    let session = app.checkout("office", &json!({"amount": "29.00", "email": "eu@example.org"})).await;
    app.deliver_all(&app.stripe.pay_session_in(&session, "eur", 2000)).await;
    let charge = app.stripe.charge_of_session(&session);
    assert!(ledger(&app).await.is_empty());
    let flags = open_flags(&app).await;
    assert_eq!(flags.len(), 1, "held, not dropped");
    assert_eq!(flags[0]["kind"], "uncounted");
    assert_eq!(flags[0]["reported"]["amount"], "20.00 EUR");
    assert_eq!(flags[0]["reported"]["balance_transaction"]["amount"], "21.60 USD");
    let (code, printed) = check_stripe(&app);
    assert_eq!(code, Some(1));
    assert!(printed.contains("UNCOUNTED"), "{printed}");

    // A refund of it waits for the gift.
    app.deliver_all(&app.stripe.refund(&charge, 500)).await;
    // The treasurer gives what it counts for, from the bank statement.
    let id = flags[0]["id"].as_i64().expect("id");
    let path = format!("/api/v1/admin/stripe/flags/{id}/resolve");
    let bad = app.post_as(&app.treasurer_token, &path, &json!({"amount": "lots", "reason": "bank"})).await;
    assert!(problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["amount"].is_string());
    let resolved = app
        .post_as(
            &app.treasurer_token,
            &path,
            &json!({"amount": "29.16", "fee": "1.15", "reason": "bank statement"}),
        )
        .await;
    assert_eq!(resolved.status(), StatusCode::OK, "{:?}", resolved.text().await);
    let gift = &ledger(&app).await[0];
    assert_eq!(
        (gift["kind"].as_str(), gift["amount"].as_str(), gift["fee"].as_str(), gift["recorded_by"].as_str()),
        (Some("donation"), Some("29.16"), Some("1.15"), Some("token:test-treasurer"))
    );
    assert_eq!(gift["donor_email"], "eu@example.org", "the held entry kept who gave");
    // The waiting refund followed, and is held in turn.
    let flags = open_flags(&app).await;
    assert_eq!(flags.len(), 1);
    assert!(flags[0]["detail"].as_str().is_some_and(|d| d.contains("refund of -5.00 EUR")), "{flags:?}");
    let by_cli = app.cli(&[
        "stripe",
        "resolve",
        "--flag",
        &flags[0]["id"].to_string(),
        "--amount",
        "7.29",
        "--reason",
        "statement",
    ]);
    assert!(by_cli.status.success(), "{}", String::from_utf8_lossy(&by_cli.stderr));
    assert_eq!(app.progress("office").await["raised"], "21.87");
    assert!(open_flags(&app).await.is_empty());
    assert!(app.cli(&["check"]).status.success());
}

async fn the_currency_cannot_change_while_a_checkout_is_open(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.checkout("office", &json!({"amount": "25.00"})).await;
    let changed =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"currency": "EUR"})).await;
    let body = problem(changed, StatusCode::CONFLICT).await;
    assert!(body["errors"]["currency"].as_str().is_some_and(|m| m.contains("checkouts open")), "{body}");
    assert_eq!(app.progress("office").await["currency"], "CAD");
}

async fn subscription_and_payout_states_only_move_forward(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "15.00", "interval": "month"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let subscription = app.stripe.session(&session)["subscription"].as_str().expect("id").to_owned();
    let failed = app.stripe.fail_renewal(&subscription);
    let recovered = app.stripe.renew(&subscription);
    // The recovery arrives first, in the same second as the failure.
    app.deliver_all(&recovered).await;
    app.deliver_all(&failed).await;
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/subscriptions").await;
    assert_eq!(listed["subscriptions"][0]["status"], "active", "an older failure does not undo the recovery");
    assert_eq!(app.progress("office").await["recurring"]["active"], 1);

    // An inquiry on an installment shows on the subscription.
    let charge = app.stripe.charges_of_subscription(&subscription)[0].clone();
    app.deliver_all(&app.stripe.inquiry(&charge).1).await;
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/subscriptions").await;
    let disputes = &listed["subscriptions"][0]["disputes"];
    assert_eq!(
        (disputes[0]["status"].as_str(), disputes[0]["inquiry"].as_bool()),
        (Some("warning_needs_response"), Some(true))
    );

    let (payout, paid) = app.stripe.payout(&[app.stripe.balance_transaction_of(&charge)]);
    let failed = app.stripe.fail_payout(&payout);
    app.deliver_all(&failed).await;
    app.deliver_all(&paid).await;
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/payouts").await;
    assert_eq!(
        listed["payouts"][0]["status"], "failed",
        "a payout that failed after it was paid stays failed"
    );
    assert_agrees_with_stripe(&app);
}

async fn serve_reconciles_by_itself(engine: Engine) {
    let options = Options { vars: vec![("APPEAL_RECONCILE_EVERY", "1s".to_owned())], ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "12.00"})).await;
    // Paid, but the webhook never came.
    app.stripe.pay_session(&session);
    let mut raised = Value::Null;
    for _ in 0..120 {
        raised = app.progress("office").await["raised"].clone();
        if raised == "12.00" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(raised, "12.00", "serve's own reconcile applied the missed payment");
}

async fn a_rolled_key_does_not_quarantine_events(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "20.00"})).await;
    let paid = app.stripe.pay_session(&session);
    // The key is being rolled: Stripe refuses every call for a while; that passes by itself.
    app.stripe.roll_key(true);
    for _ in 0..6 {
        assert!(!app.deliver(&paid[0]).await.is_success());
    }
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/stripe/events").await;
    assert_eq!(
        (listed["events"][0]["status"].as_str(), listed["events"][0]["attempts"].as_i64()),
        (Some("failing"), Some(6))
    );
    app.stripe.roll_key(false);
    assert_eq!(app.deliver(&paid[0]).await, StatusCode::OK);
    assert_eq!(app.progress("office").await["raised"], "20.00");
    assert!(
        app.json_as(&app.viewer_token, "/api/v1/admin/stripe/events").await["events"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

async fn dismissing_a_held_gift_sets_its_waiting_refunds_aside(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.stripe.settle_in("usd");
    app.stripe.set_rate("eur", "1.08");
    let session = app.checkout("office", &json!({"amount": "29.00"})).await;
    app.deliver_all(&app.stripe.pay_session_in(&session, "eur", 2000)).await;
    let refunded = app.stripe.refund(&app.stripe.charge_of_session(&session), 500);
    app.deliver_all(&refunded).await;
    let flag = open_flags(&app).await[0]["id"].clone();
    let path = format!("/api/v1/admin/stripe/flags/{flag}/resolve");
    let resolved =
        app.post_as(&app.treasurer_token, &path, &json!({"reason": "a test payment, not a gift"})).await;
    assert_eq!(resolved.status(), StatusCode::OK);
    use sqlx::{Connection, Row};
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let row = sqlx::query("SELECT status, resolution FROM stripe_events WHERE id = $1")
        .bind(refunded[0]["id"].as_str().expect("id"))
        .fetch_one(&mut connection)
        .await
        .expect("the refund's event");
    assert_eq!(row.get::<String, _>("status"), "dismissed", "it does not wait for ever");
    assert!(row.get::<String, _>("resolution").contains("a test payment, not a gift"));
    assert!(ledger(&app).await.is_empty());
    // The money is still in Stripe's balance, in no campaign: the check keeps saying so.
    let (code, printed) = check_stripe(&app);
    assert_eq!((code, printed.matches("UNRECORDED").count()), (Some(1), 2), "{printed}");
}
