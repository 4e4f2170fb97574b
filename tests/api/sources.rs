//! Source attribution: a `ref` rides on every way in (the checkout API, the campaign page's
//! links and form, the embed, offline gifts and deposits), stays with the gift, its refunds
//! and every installment of a subscription, and the sources report adds it up.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    every_way_in_carries_a_ref_and_the_sources_report_adds_them_up,
    links_and_pages_carry_the_ref_into_the_form_and_the_embed,
);

async fn entries(app: &TestApp) -> Vec<Value> {
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/donations?campaign=office").await;
    listed["entries"].as_array().expect("entries").clone()
}

async fn report(app: &TestApp, token: &str) -> Vec<Value> {
    let body = app.json_as(token, "/api/v1/admin/campaigns/office/sources").await;
    assert_eq!(body["campaign"], "office");
    assert_eq!(body["currency"], "CAD");
    body["sources"].as_array().expect("sources").clone()
}

fn row<'a>(rows: &'a [Value], source_ref: Option<&str>) -> &'a Value {
    rows.iter()
        .find(|row| row["ref"].as_str() == source_ref)
        .unwrap_or_else(|| panic!("a row for {source_ref:?} in {rows:#?}"))
}

async fn every_way_in_carries_a_ref_and_the_sources_report_adds_them_up(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;

    // Online: two checkouts from the December e-mail, one paid and then partly refunded.
    let paid = app
        .checkout("office", &json!({"amount": "50.00", "ref": "dec-email", "email": "ana@example.org"}))
        .await;
    app.checkout("office", &json!({"amount": "30.00", "ref": "dec-email"})).await;
    app.deliver_all(&app.stripe.pay_session(&paid)).await;
    let charge = app.stripe.charge_of_session(&paid);
    app.deliver_all(&app.stripe.refund(&charge, 1000)).await;
    // A monthly gift from a leaflet: its installments keep the leaflet's ref.
    let monthly = app
        .checkout(
            "office",
            &json!({"amount": "20.00", "interval": "month", "ref": "leaflet", "branch": "montreal"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    let subscription =
        app.stripe.session(&monthly)["subscription"].as_str().expect("subscription").to_owned();
    app.deliver_all(&app.stripe.renew(&subscription)).await;
    // One with no ref at all.
    let plain = app.checkout("office", &json!({"amount": "5.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&plain)).await;

    // A ref that breaks the rule is refused, naming it.
    let refused = app
        .client
        .post(app.url("/api/v1/campaigns/office/checkout"))
        .json(&json!({"amount": "10.00", "ref": "dec email!"}))
        .send()
        .await
        .expect("an answer");
    let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["ref"].as_str().is_some_and(|text| text.contains("64")), "{body}");

    // Offline: a gift from a branch meeting, and a deposit whose CSV has a ref column.
    let offline = app
        .post_as(
            &app.treasurer_token,
            "/api/v1/admin/campaigns/office/donations",
            &json!({"amount": "100.00", "method": "cash", "received_on": "2026-11-02", "ref": "branch-meeting",
                    "donor_name": "Marc"}),
        )
        .await;
    assert_eq!(offline.status(), StatusCode::CREATED);
    let entry: Value = offline.json().await.expect("an entry");
    assert_eq!(entry["ref"], "branch-meeting");
    let bad = app
        .post_as(
            &app.treasurer_token,
            "/api/v1/admin/campaigns/office/donations",
            &json!({"amount": "1.00", "method": "cash", "received_on": "2026-11-02", "ref": "x".repeat(65)}),
        )
        .await;
    assert!(problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["ref"].is_string());
    let csv = "amount,method,donor_name,ref\n40.00,cheque,Lise,branch-meeting\n15.00,cash,,\n";
    let imported = app
        .client
        .post(app.url(
            "/api/v1/admin/campaigns/office/batches/import?reference=slip-7&deposited_on=2026-11-03&declared_count=2&declared_total=55.00",
        ))
        .bearer_auth(&app.treasurer_token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("an answer");
    assert_eq!(imported.status(), StatusCode::CREATED);

    // Every entry keeps its ref; the refund keeps its gift's.
    let listed = entries(&app).await;
    let refs = |kind: &str, source_ref: &str| {
        listed.iter().filter(|entry| entry["kind"] == kind && entry["ref"] == source_ref).count()
    };
    assert_eq!(refs("donation", "dec-email"), 1);
    assert_eq!(refs("refund", "dec-email"), 1);
    assert_eq!(refs("donation", "leaflet"), 2, "the first payment and the renewal");
    assert_eq!(refs("donation", "branch-meeting"), 2);
    let subscriptions = app.json_as(&app.viewer_token, "/api/v1/admin/subscriptions").await;
    assert_eq!(subscriptions["subscriptions"][0]["ref"], "leaflet");

    // The report, the most money first, and the gifts with no ref as one row.
    let rows = report(&app, &app.viewer_token).await;
    let order: Vec<Option<&str>> = rows.iter().map(|row| row["ref"].as_str()).collect();
    assert_eq!(order, vec![Some("branch-meeting"), Some("dec-email"), Some("leaflet"), None]);
    let meeting = row(&rows, Some("branch-meeting"));
    assert_eq!(
        (
            meeting["checkouts"].clone(),
            meeting["gifts"].clone(),
            meeting["raised"].clone(),
            meeting["donors"].clone()
        ),
        (json!(0), json!(2), json!("140.00"), json!(2))
    );
    assert_eq!(meeting["conversion"], Value::Null);
    let email = row(&rows, Some("dec-email"));
    assert_eq!(email["checkouts"], 2);
    assert_eq!(email["checkouts_paid"], 1);
    assert_eq!(email["conversion"], "50.0");
    assert_eq!(email["gifts"], 1);
    assert_eq!(email["raised"], "40.00", "50.00 less the 10.00 refunded");
    assert_eq!(email["donors"], 1);
    let leaflet = row(&rows, Some("leaflet"));
    assert_eq!((leaflet["gifts"].clone(), leaflet["raised"].clone()), (json!(2), json!("40.00")));
    assert_eq!(leaflet["subscriptions"], 1);
    let none = row(&rows, None);
    assert_eq!(
        (none["checkouts"].clone(), none["gifts"].clone(), none["raised"].clone()),
        (json!(1), json!(2), json!("20.00"))
    );
    // Together, exactly what the campaign raised.
    let progress = app.progress("office").await;
    assert_eq!(progress["raised"], "240.00");

    // A branch treasurer's report holds their branch's gifts only.
    add_user(&app, "mtl@example.org", "treasurer", Some("montreal"));
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("mtl@example.org", PASSWORD).await;
    let (status, branch_page, _) = visitor.get("/admin/c/office/sources").await;
    assert_eq!(status, StatusCode::OK);
    assert!(branch_page.contains("leaflet") && !branch_page.contains("dec-email"), "{branch_page}");

    // The dashboard's page shows the same figures; the exports carry the ref.
    let mut admin = Visitor::new(&app);
    add_user(&app, "admin@example.org", "admin", None);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (status, page, _) = admin.get("/admin/c/office/sources").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<code>dec-email</code>") && page.contains("50.0 %") && page.contains("$140</strong>"),
        "{page}"
    );
    let csv = app
        .get_as(&app.viewer_token, "/api/v1/admin/exports/ledger?format=csv")
        .await
        .text()
        .await
        .expect("CSV");
    let header: Vec<&str> = csv.lines().next().expect("a header").split(',').collect();
    assert_eq!(header[header.len() - 4..], ["ref", "rate", "rate_date", "rate_source"]);
    assert!(csv.lines().any(|line| line.ends_with(",dec-email,,,")), "{csv}");
    let journal = app
        .get_as(&app.admin_token, "/api/v1/admin/exports/ledger?format=beancount")
        .await
        .text()
        .await
        .expect("text");
    assert!(journal.contains("  ref: \"leaflet\""), "{journal}");
    let ledger = app
        .get_as(&app.admin_token, "/api/v1/admin/exports/ledger?format=ledger")
        .await
        .text()
        .await
        .expect("text");
    assert!(ledger.contains("    ; ref: branch-meeting"), "{ledger}");
}

async fn links_and_pages_carry_the_ref_into_the_form_and_the_embed(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;

    // Twice each, so that the second answer comes from the pages kept in memory.
    for _ in 0..2 {
        let page = app.get("/c/office?ref=dec-email&lang=fr").await.text().await.expect("HTML");
        assert!(page.contains(r#"name="ref" value="dec-email""#), "the form carries the ref");
        assert!(!page.contains("ref=dec-email"), "the page's shared address does not pass the ref on");
        let plain = app.get("/c/office?lang=fr").await.text().await.expect("HTML");
        assert!(plain.contains(r#"name="ref" value="""#), "no ref, none carried");
        let utm = app
            .get("/c/office?utm_source=newsletter&utm_campaign=Winter%20push")
            .await
            .text()
            .await
            .expect("HTML");
        assert!(utm.contains(r#"name="ref" value="Winter-push""#), "utm_campaign stands in, made to fit");
        let embed = app.get("/embed/office?ref=site-montreal&lang=en").await.text().await.expect("HTML");
        assert!(embed.contains("?lang=en&amp;ref=site-montreal\""), "the embed's links carry the ref");
        assert!(embed.contains("?lang=en&amp;ref=site-montreal#give\""));
    }

    // The form sends it on: the checkout's intent, then the gift, carry it.
    let given = app
        .form_post(
            "/c/office/give",
            &[("lang", "en"), ("preset", "25"), ("ref", "dec-email"), ("email", "ana@example.org")],
        )
        .await;
    assert_eq!(given.status(), StatusCode::SEE_OTHER);
    let session = app.stripe.requests_to("POST", "/v1/checkout/sessions").len();
    assert_eq!(session, 1);
    let rows = app.json_as(&app.viewer_token, "/api/v1/admin/campaigns/office/sources").await;
    assert_eq!(rows["sources"][0]["ref"], "dec-email");
    assert_eq!(rows["sources"][0]["checkouts"], 1);

    // A ready-made link and its QR code keep the ref; the link builder offers it.
    add_user(&app, "admin@example.org", "admin", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (status, builder, _) = admin.get("/admin/c/office/links?amount=25&ref=leaflet%20nov&lang=fr").await;
    assert_eq!(status, StatusCode::OK);
    assert!(builder.contains("amount=25.00&amp;ref=leaflet-nov&amp;lang=fr"), "{builder}");
    assert!(builder.contains("only letters, digits"), "the builder says how it changed the ref");
}

on_both_engines!(the_thanks_page_asks_for_a_monthly_gift_and_the_report_counts_the_upsell);

async fn the_thanks_page_asks_for_a_monthly_gift_and_the_report_counts_the_upsell(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let path = "/api/v1/admin/campaigns/office";
    let refused = app.patch_as(&app.admin_token, path, &json!({"monthly_ask": "150%"})).await;
    assert!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["monthly_ask"].is_string());
    let once = app
        .checkout(
            "office",
            &json!({"amount": "50.00", "email": "ana@example.org", "name": "Ana", "branch": "montreal"}),
        )
        .await;
    // No ask until the campaign sets one.
    let plain = app.get(&format!("/c/office/thanks?session_id={once}")).await.text().await.expect("HTML");
    assert!(plain.contains("Thank you!") && !plain.contains("monthly-ask"));

    let changed = app.patch_as(&app.admin_token, path, &json!({"monthly_ask": "25%"})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let campaign: Value = changed.json().await.expect("JSON");
    assert_eq!(campaign["checkout"]["monthly_ask"], "25%");

    // 25 % of 50.00 is 12.50, asked as a friendly 15.00 a month, for the same branch; the page
    // says nothing of the donor (whoever holds the session id could read it), and no cache keeps it.
    let thanks = app.get(&format!("/c/office/thanks?session_id={once}&lang=fr")).await;
    assert_eq!(thanks.headers()["cache-control"], "no-store");
    let page = thanks.text().await.expect("HTML");
    for field in [
        r#"name="custom_amount" value="15.00""#,
        r#"name="interval" value="month""#,
        r#"name="ref" value="upsell""#,
        r#"name="branch" value="montreal""#,
    ] {
        assert!(page.contains(field), "{field} in {page}");
    }
    assert!(!page.contains("ana@example.org") && !page.contains(r#"name="name""#), "no donor in {page}");
    assert!(page.contains("Donner 15") && page.contains("chaque mois"), "{page}");

    // A monthly gift's thanks page, another campaign's session or none at all: no ask.
    let monthly = app.checkout("office", &json!({"amount": "20.00", "interval": "month"})).await;
    for address in [
        format!("/c/office/thanks?session_id={monthly}"),
        "/c/office/thanks".to_owned(),
        "/c/office/thanks?session_id=cs_nothing".to_owned(),
    ] {
        let page = app.get(&address).await.text().await.expect("HTML");
        assert!(!page.contains("monthly-ask"), "{address}");
    }

    // One click: a subscription checkout carrying ref=upsell, counted in the sources report.
    let taken = app
        .form_post(
            "/c/office/give",
            &[
                ("lang", "fr"),
                ("preset", "other"),
                ("custom_amount", "15.00"),
                ("interval", "month"),
                ("ref", "upsell"),
                ("branch", "montreal"),
                ("email", "ana@example.org"),
                ("name", "Ana"),
            ],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::SEE_OTHER);
    let sessions = app.stripe.requests_to("POST", "/v1/checkout/sessions");
    let last = sessions.last().expect("a session");
    assert_eq!(last.param("mode"), Some("subscription"));
    assert_eq!(last.param("line_items[0][price_data][unit_amount]"), Some("1500"));
    let rows = report(&app, &app.viewer_token).await;
    let upsell = row(&rows, Some("upsell"));
    assert_eq!((upsell["checkouts"].clone(), upsell["checkouts_paid"].clone()), (json!(1), json!(0)));
}
