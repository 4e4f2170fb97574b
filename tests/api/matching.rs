//! Matching gifts: an offer's match accrues with each qualifying gift (in the gift's
//! transaction), stops at its cap, is taken back in proportion by refunds, and is settled by
//! the matcher's payment, an ordinary ledger entry naming the offer; `appeal check` replays it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    a_match_accrues_stops_at_its_cap_gives_back_with_refunds_and_is_settled_late,
    concurrent_gifts_never_take_a_match_past_its_cap,
    money_given_back_restores_a_match_only_as_far_as_the_cap,
    a_treasurer_records_an_offer_and_its_payment_on_the_dashboard,
    an_offer_for_new_donors_and_first_installments_matches_only_those_and_may_count_as_pledged,
);

fn later(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

async fn offer(app: &TestApp, body: &Value) -> Value {
    let response = app.post_as(&app.admin_token, "/api/v1/admin/campaigns/office/matches", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.expect("the offer")
}

fn matching(progress: &Value) -> (String, String, String, String) {
    let figure = |name: &str| progress["matching"][name].as_str().expect("a figure").to_owned();
    (figure("matched"), figure("remaining"), figure("paid"), figure("pledged"))
}

fn check_passes(app: &TestApp) {
    let checked = app.cli(&["check"]);
    assert!(checked.status.success(), "appeal check: {}", String::from_utf8_lossy(&checked.stdout));
}

async fn a_match_accrues_stops_at_its_cap_gives_back_with_refunds_and_is_settled_late(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    assert_eq!(app.progress("office").await["matching"], Value::Null, "no offer, no matching");

    // A bad offer is refused whole, each field named.
    let refused = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/office/matches",
            &json!({"ratio": "-1", "cap": "lots", "ends_at": "2026-01-01T00:00:00Z",
                    "starts_at": "2026-02-01T00:00:00Z", "qualifies": ["everyone"]}),
        )
        .await;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    for field in ["ratio", "cap", "ends_at", "qualifies[0]"] {
        assert!(refused["errors"][field].is_string(), "{field}: {refused}");
    }
    let listed: Value = app.json_as(&app.viewer_token, "/api/v1/admin/campaigns/office/matches").await;
    assert_eq!(listed, json!([]), "nothing half-written");

    let created = offer(
        &app,
        &json!({"matcher": "Bread and Roses Fund", "cap": "100.00", "starts_at": "2026-11-01T00:00:00Z",
                "ends_at": later(7), "qualifies": ["online", "offline"]}),
    )
    .await;
    assert_eq!((created["ratio"].as_str(), created["matched"].as_str()), (Some("1"), Some("0.00")));
    let id = created["id"].as_i64().expect("an id");

    // An offline gift and an online one are matched one for one.
    app.give("office", "30.00", None).await;
    let session = app.checkout("office", &json!({"amount": "50.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let progress = app.progress("office").await;
    assert_eq!(matching(&progress), ("80.00".into(), "20.00".into(), "0.00".into(), "80.00".into()));
    assert_eq!(progress["raised"], "80.00", "matched money counts once paid");
    assert_eq!(progress["matching"]["counted"], "paid");
    assert_eq!(progress["matching"]["offers"][0]["matcher"], "Bread and Roses Fund");

    // The cap: 40.00 more earns the 20.00 left.
    let cheque = app.give("office", "40.00", None).await;
    assert_eq!(matching(&app.progress("office").await).0, "100.00");
    app.give("office", "5.00", None).await;
    assert_eq!(
        matching(&app.progress("office").await),
        ("100.00".into(), "0.00".into(), "0.00".into(), "100.00".into())
    );

    // A bounced cheque takes back what it earned (20.00); a partial refund of the online
    // gift (20.00 of 50.00) takes back 20.00 of its 50.00.
    let path = format!("/api/v1/admin/donations/{}/reversals", cheque["id"]);
    let reversed =
        app.post_as(&app.admin_token, &path, &json!({"amount": "40.00", "reason": "bounced"})).await;
    assert_eq!(reversed.status(), StatusCode::CREATED);
    let charge = app.stripe.charge_of_session(&session);
    app.deliver_all(&app.stripe.refund(&charge, 2_000)).await;
    let progress = app.progress("office").await;
    assert_eq!(matching(&progress), ("60.00".into(), "40.00".into(), "0.00".into(), "60.00".into()));
    // The cap freed by the refunds: the next gift is matched in full again.
    app.give("office", "10.00", None).await;
    assert_eq!(matching(&app.progress("office").await).0, "70.00");

    // The matcher pays late: an ordinary offline entry naming the offer. It counts as raised,
    // is never matched itself, and a match of another campaign is refused.
    let settle = |offer: i64| {
        json!({"amount": "70.00", "method": "bank_transfer", "received_on": "2026-11-20",
               "donor_name": "Bread and Roses Fund", "match": offer})
    };
    let paid = app.post_as(&app.admin_token, "/api/v1/admin/campaigns/office/donations", &settle(id)).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let progress = app.progress("office").await;
    assert_eq!(matching(&progress), ("70.00".into(), "30.00".into(), "70.00".into(), "0.00".into()));
    // 30 + 50 + 40 + 5 − 40 − 20 + 10 = 75.00 given, and the 70.00 paid.
    assert_eq!(progress["raised"], "145.00");
    let wrong =
        app.post_as(&app.admin_token, "/api/v1/admin/campaigns/office/donations", &settle(id + 99)).await;
    let wrong = problem(wrong, StatusCode::CONFLICT).await;
    assert!(wrong["errors"]["match"].is_string(), "{wrong}");

    let listed: Value = app.json_as(&app.viewer_token, "/api/v1/admin/campaigns/office/matches").await;
    assert_eq!((listed[0]["matched"].as_str(), listed[0]["paid"].as_str()), (Some("70.00"), Some("70.00")));
    check_passes(&app);
    // `appeal check` replays the matches: a kept sum changed behind its back is found.
    app.execute_sql("UPDATE match_offers SET matched_minor = matched_minor + 1").await;
    let checked = app.cli(&["check"]);
    let said = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(!checked.status.success() && said.contains("match offer"), "{said}");
    app.execute_sql("UPDATE match_offers SET matched_minor = matched_minor - 1").await;
    check_passes(&app);

    // A gift outside the window earns nothing.
    let outside = json!({"amount": "25.00", "method": "cash", "received_on": "2026-10-31"});
    let response = app.post_as(&app.admin_token, "/api/v1/admin/campaigns/office/donations", &outside).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(matching(&app.progress("office").await).0, "70.00");
}

async fn an_offer_for_new_donors_and_first_installments_matches_only_those_and_may_count_as_pledged(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give_from("office", "20.00", "old@example.org").await;
    offer(
        &app,
        &json!({"ratio": "0.5", "cap": "1000.00", "starts_at": "2026-11-01T00:00:00Z", "ends_at": later(7),
                "qualifies": ["offline", "first_installments", "new_donors"]}),
    )
    .await;
    // A donor the campaign knew earns nothing; a new one earns half, once.
    app.give_from("office", "20.00", "old@example.org").await;
    app.give_from("office", "30.00", "new@example.org").await;
    app.give_from("office", "30.00", "new@example.org").await;
    assert_eq!(matching(&app.progress("office").await).0, "15.00");

    // A new monthly subscription's first installment is matched; its renewal is not, and a
    // one-off online gift is not (online is not among the qualifying gifts).
    let session = app
        .checkout("office", &json!({"amount": "10.00", "interval": "month", "email": "monthly@example.org"}))
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let subscription =
        app.stripe.session(&session)["subscription"].as_str().expect("subscription").to_owned();
    app.deliver_all(&app.stripe.renew(&subscription)).await;
    let once = app.checkout("office", &json!({"amount": "12.00", "email": "once@example.org"})).await;
    app.deliver_all(&app.stripe.pay_session(&once)).await;
    let progress = app.progress("office").await;
    assert_eq!(matching(&progress).0, "20.00", "{progress}");
    assert_eq!(progress["raised"], "132.00");

    // Counted as pledged: raised holds the 20.00 matched, shown apart in matching.pledged.
    let changed = app
        .patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"count_matches": "pledged"}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let progress = app.progress("office").await;
    assert_eq!(
        (progress["raised"].as_str(), progress["matching"]["counted"].as_str()),
        (Some("152.00"), Some("pledged"))
    );
    assert_eq!(progress["matching"]["pledged"], "20.00");
    // The command line: an offer added and listed, the matcher's payment recorded.
    let ends_at = later(3);
    let added = app.cli(&[
        "match",
        "add",
        "--campaign",
        "office",
        "--matcher",
        "Local 12",
        "--cap",
        "50",
        "--ends-at",
        &ends_at,
        "--starts-at",
        "2026-11-01T00:00:00Z",
        "--qualifies",
        "offline",
    ]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let refused = app.cli(&["match", "add", "--campaign", "office", "--cap", "50", "--ends-at", "soon"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("error: ends_at"));
    app.give("office", "10.00", None).await;
    let listed = app.cli(&["match", "list", "--campaign", "office"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let row = listed.lines().find(|line| line.contains("Local 12")).expect("the offer listed");
    assert!(row.contains("10.00") && row.contains("offline"), "{listed}");
    let offer_id = row.split_whitespace().next().expect("an id").to_owned();
    let paid = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "office",
        "--amount",
        "10",
        "--method",
        "bank_transfer",
        "--received-on",
        "2026-11-20",
        "--match",
        &offer_id,
    ]);
    assert!(paid.status.success(), "{}", String::from_utf8_lossy(&paid.stderr));
    let offers: Value = app.json_as(&app.viewer_token, "/api/v1/admin/campaigns/office/matches").await;
    assert_eq!((offers[1]["matched"].as_str(), offers[1]["paid"].as_str()), (Some("10.00"), Some("10.00")));

    let wrong = app
        .patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"count_matches": "maybe"}))
        .await;
    assert!(problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["count_matches"].is_string());
    check_passes(&app);
}

async fn concurrent_gifts_never_take_a_match_past_its_cap(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    offer(&app, &json!({"cap": "100.00", "starts_at": "2026-11-01T00:00:00Z", "ends_at": later(7)})).await;
    // Offline gifts and webhook deliveries at once (gifts paid online take no campaign lock).
    let mut paid = Vec::new();
    for _ in 0..12 {
        let session = app.checkout("office", &json!({"amount": "7.00"})).await;
        paid.push(app.stripe.pay_session(&session));
    }
    let online = paid.iter().map(|events| app.deliver_all(events));
    let offline = (0..12).map(|_| app.give("office", "7.00", None));
    futures_util::future::join(
        futures_util::future::join_all(online),
        futures_util::future::join_all(offline),
    )
    .await;
    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), matching(&progress).0.as_str()), (Some("168.00"), "100.00"));
    check_passes(&app);
}

async fn a_treasurer_records_an_offer_and_its_payment_on_the_dashboard(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    let (status, page, _) = treasurer.get("/admin/c/office/matches").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No match offer yet."));
    let csrf = Visitor::csrf_in(&page);

    // A refusal keeps what was typed and names the fields beside them.
    let (status, page, _) = treasurer
        .post(
            "/admin/c/office/matches",
            &[
                ("csrf", &csrf),
                ("matcher", "Local 12"),
                ("ratio", "0"),
                ("cap", ""),
                ("ends_at", "2026-12-31T23:59"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"match-ratio-error\"") && page.contains("id=\"match-cap-error\""), "{page}");
    assert!(page.contains("value=\"Local 12\""), "what was typed is kept");
    let (_, listed, _) = treasurer.get("/admin/c/office/matches").await;
    assert!(listed.contains("No match offer yet."), "nothing half-written");

    let until = (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%dT%H:%M").to_string();
    let (status, _, headers) = treasurer
        .post(
            "/admin/c/office/matches",
            &[
                ("csrf", &csrf),
                ("matcher", "Local 12"),
                ("ratio", "2"),
                ("cap", "300"),
                ("starts_at", "2026-11-01T00:00"),
                ("ends_at", &until),
                ("qualifies", "offline"),
                ("qualifies", "online"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/admin/c/office/matches");
    app.give("office", "100.00", None).await;
    let (_, page, _) = treasurer.get("/admin/c/office/matches").await;
    assert!(page.contains("Matching gifts") && page.contains("Local 12") && page.contains("$200"), "{page}");
    let offers: Value = app.json_as(&app.viewer_token, "/api/v1/admin/campaigns/office/matches").await;
    let id = offers[0]["id"].as_i64().expect("an id").to_string();
    assert_eq!(offers[0]["qualifies"], json!(["online", "offline"]));

    let (status, _, _) = treasurer
        .post(
            "/admin/c/office/matches/payments",
            &[
                ("csrf", &csrf),
                ("match", &id),
                ("amount", "200"),
                ("method", "bank_transfer"),
                ("received_on", "2026-11-21"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let progress = app.progress("office").await;
    assert_eq!(matching(&progress), ("200.00".into(), "100.00".into(), "200.00".into(), "0.00".into()));
    assert_eq!(progress["raised"], "300.00");
    let entries: Value = app.json_as(&app.admin_token, "/api/v1/admin/donations?campaign=office").await;
    assert_eq!(entries["entries"][0]["donor_name"], "Local 12", "the payment is named after its matcher");
    assert_eq!(
        entries["entries"][0]["match"].as_i64(),
        offers[0]["id"].as_i64(),
        "and marked as its settlement"
    );
    check_passes(&app);
}

/// A refund takes a gift's match back and frees the cap; another gift takes it; then the
/// refund fails (the money comes back): the first gift's match returns only as far as the cap.
async fn money_given_back_restores_a_match_only_as_far_as_the_cap(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    offer(&app, &json!({"cap": "100.00", "starts_at": "2026-11-01T00:00:00Z", "ends_at": later(7)})).await;
    let session = app.checkout("office", &json!({"amount": "100.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let charge = app.stripe.charge_of_session(&session);
    app.deliver_all(&app.stripe.refund(&charge, 10_000)).await;
    assert_eq!(matching(&app.progress("office").await).0, "0.00");
    app.give("office", "100.00", None).await;
    assert_eq!(matching(&app.progress("office").await).0, "100.00");
    let refund = app.stripe.last_refund_of(&charge);
    app.deliver_all(&app.stripe.fail_refund(&refund)).await;
    let progress = app.progress("office").await;
    assert_eq!(progress["raised"], "200.00", "the money came back");
    assert_eq!(matching(&progress).0, "100.00", "the cap holds");
    check_passes(&app);
}
