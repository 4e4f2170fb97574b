//! Payout reconciliation against the fake Stripe: every transaction of a payout next to its
//! ledger entry, and the payout's amount against the sum of our entries.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};

on_both_engines!(
    a_matching_payout_reconciles_to_the_cent,
    a_payout_with_a_transaction_we_never_recorded_shows_it,
    a_payout_whose_amount_differs_from_an_entry_shows_it,
);

async fn report(app: &TestApp, payout: &str) -> Value {
    let response = app.get_as(&app.viewer_token, &format!("/api/v1/admin/payouts/{payout}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

fn cents(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor.abs() % 100)
}

/// A paid gift of 100.00 with a 20.00 refund: the two transactions a payout would carry.
async fn gift_and_refund(app: &TestApp) -> Vec<String> {
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "100.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let charge = app.stripe.charge_of_session(&session);
    app.deliver_all(&app.stripe.refund(&charge, 2000)).await;
    let entries: Value = app.json_as(&app.treasurer_token, "/api/v1/admin/donations").await;
    let refund_transaction = app
        .get_as(&app.treasurer_token, "/api/v1/admin/exports/ledger")
        .await
        .text()
        .await
        .expect("CSV")
        .lines()
        .skip(1)
        .filter(|line| line.contains(",refund,"))
        .map(|line| line.split(',').nth(22).expect("a balance transaction").to_owned())
        .next()
        .expect("the refund");
    assert_eq!(entries["entries"].as_array().map(Vec::len), Some(2));
    vec![app.stripe.balance_transaction_of(&charge), refund_transaction]
}

async fn a_matching_payout_reconciles_to_the_cent(engine: Engine) {
    let app = spawn_app(engine).await;
    let transactions = gift_and_refund(&app).await;
    let (payout, events) = app.stripe.payout(&transactions);
    app.deliver_all(&events).await;
    let body = report(&app, &payout).await;
    let expected = 10000 - crate::fake_stripe::stripe_fee(10000) - 2000;
    assert_eq!(body["amount"], cents(expected));
    assert_eq!(
        (body["entries_total"].as_str(), body["difference"].as_str()),
        (Some(cents(expected).as_str()), Some("0.00"))
    );
    assert_eq!(body["reconciled"], true);
    assert_eq!(body["lines"].as_array().map(Vec::len), Some(2));

    // The dashboard writes the same figures as money is written on the public pages.
    crate::people::add_user(&app, "viewer@example.org", "viewer", None);
    let mut visitor = crate::people::Visitor::new(&app);
    visitor.sign_in("viewer@example.org", crate::people::PASSWORD).await;
    let (_, page, _) = visitor.get("/admin/payouts").await;
    assert!(page.contains("Stripe paid <strong>$76.80</strong>"), "{page}");
    assert!(page.contains("difference <strong>$0</strong>"), "{page}");

    // The ledger CSV filtered by the payout holds its two entries, with the payout named.
    let csv = app
        .get_as(&app.treasurer_token, &format!("/api/v1/admin/exports/ledger?payout={payout}"))
        .await
        .text()
        .await
        .expect("CSV");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.split(',').nth(25) == Some(payout.as_str())), "{csv}");
    let net: i64 = rows
        .iter()
        .map(|row| {
            let net = row.split(',').nth(12).expect("net");
            let (whole, cents) = net.split_once('.').expect("cents");
            let value = whole.trim_start_matches('-').parse::<i64>().expect("whole") * 100
                + cents.parse::<i64>().expect("cents");
            if net.starts_with('-') { -value } else { value }
        })
        .sum();
    assert_eq!(net, expected, "the CSV's net sums to the payout");

    // Dated by the payout's arrival, the entries fall on that day.
    let arrival = body["arrival_date"].as_str().expect("a date");
    let by_payout = app
        .get_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/exports/ledger?basis=payout&from={arrival}&to={arrival}"),
        )
        .await
        .text()
        .await
        .expect("CSV");
    assert_eq!(by_payout.lines().count(), 3);
    let before = app
        .get_as(
            &app.treasurer_token,
            "/api/v1/admin/exports/ledger?basis=payout&from=2000-01-01&to=2000-01-02",
        )
        .await
        .text()
        .await
        .expect("CSV");
    assert_eq!(before.lines().count(), 1, "only the header");

    let listed = app.cli(&["payout", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("reconciled"));
    let check = app.cli(&["check", "--stripe"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("Stripe transactions agree with the ledger"));
    assert!(app.cli(&["payout", "report", "--id", &payout]).status.success());
    let bad_basis = app.get_as(&app.treasurer_token, "/api/v1/admin/exports/ledger?basis=bank").await;
    assert!(problem(bad_basis, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["basis"].is_string());
}

async fn a_payout_with_a_transaction_we_never_recorded_shows_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut transactions = gift_and_refund(&app).await;
    let foreign = app.stripe.foreign_charge(5000);
    transactions.push(foreign.clone());
    let (payout, events) = app.stripe.payout(&transactions);
    app.deliver_all(&events).await;
    let body = report(&app, &payout).await;
    assert_eq!(body["reconciled"], false);
    let missing = body["missing_entries"].as_array().expect("a list");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["balance_transaction"], foreign.as_str());
    assert!(missing[0]["source"].as_str().is_some_and(|source| source.starts_with("ch_")));
    assert_eq!(body["difference"], cents(5000 - crate::fake_stripe::stripe_fee(5000)));
    let report = app.cli(&["payout", "report", "--id", &payout]);
    assert_eq!(report.status.code(), Some(1), "a payout that does not reconcile fails the report");
    assert!(String::from_utf8_lossy(&app.cli(&["payout", "list"]).stdout).contains("NEEDS A LOOK"));
    let check = app.cli(&["check", "--stripe"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains(&format!("UNRECORDED Stripe charge {foreign}")));
}

async fn a_payout_whose_amount_differs_from_an_entry_shows_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let transactions = gift_and_refund(&app).await;
    // Stripe adjusted the charge's fee after we recorded it.
    app.stripe.adjust_fee(&transactions[0], 500);
    let (payout, events) = app.stripe.payout(&transactions);
    app.deliver_all(&events).await;
    let body = report(&app, &payout).await;
    assert_eq!(body["reconciled"], false);
    let different = body["different_amounts"].as_array().expect("a list");
    assert_eq!(different.len(), 1);
    assert_eq!(different[0]["stripe_net"], "95.00");
    assert_eq!(different[0]["entry_net"], cents(10000 - crate::fake_stripe::stripe_fee(10000)));
    assert_eq!(
        body["difference"],
        cents((10000 - 500 - 2000) - (10000 - crate::fake_stripe::stripe_fee(10000) - 2000))
    );
    problem(app.get_as(&app.viewer_token, "/api/v1/admin/payouts/po_nothing").await, StatusCode::NOT_FOUND)
        .await;
}
