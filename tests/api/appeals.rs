//! Appeals: two campaigns of this instance (CAD, EUR) and one of another section's instance,
//! served by its own `appeal serve` process and followed by its public progress URL, gathered
//! under one total in CAD. Fixed and latest rate policies; a missing rate named, never 1; a
//! remote that stops answering keeps its last figure, marked stale; `appeal check` recomputes
//! the total from the ledger and the rates.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, Options, TestApp, on_both_engines, problem, spawn_app, spawn_app_with};
use crate::instances::Instance;
use crate::supporters::EventReader;

on_both_engines!(
    an_appeal_rolls_up_local_and_remote_campaigns_in_one_currency,
    appeals_refuse_bad_input_by_field,
);

/// How long a change may take to show (the follower asks every second here).
const WITHIN: Duration = Duration::from_secs(45);

async fn offline(app: &TestApp, campaign: &str, amount: &str) {
    let response = app
        .post_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/campaigns/{campaign}/donations"),
            &json!({"amount": amount, "method": "cash", "received_on": "2026-11-30"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
}

async fn progress(app: &TestApp, slug: &str) -> Value {
    let response = app.get(&format!("/api/v1/appeals/{slug}/progress")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

/// The appeal's progress once `ready` holds of it, or a failed test saying what it was.
async fn progress_when(app: &TestApp, slug: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WITHIN;
    loop {
        let document = progress(app, slug).await;
        if ready(&document) {
            return document;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within {WITHIN:?}: {document:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

fn yesterday() -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string()
}

async fn keep_rate(app: &TestApp, base: &str, quote: &str, date: &str, rate: &str) {
    let body =
        json!({"base": base, "quote": quote, "date": date, "rate": rate, "source": "Caisse statement"});
    let response = app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn an_appeal_rolls_up_local_and_remote_campaigns_in_one_currency(engine: Engine) {
    // The UK section: its own database and its own `appeal serve` process.
    let uk = spawn_app(engine).await;
    let created = uk
        .post_as(
            &uk.admin_token,
            "/api/v1/admin/campaigns",
            &json!({"slug": "appeal", "currency": "GBP", "goal": "50000.00", "title": {"en": "UK appeal"}, "status": "active"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    offline(&uk, "appeal", "2500.50").await;
    let mut uk_server = Instance::start(&uk, &[]).await;

    // This section: a CAD campaign and a EUR one, followed remotes asked every second.
    let app = spawn_app_with(
        engine,
        Options { vars: vec![("APPEAL_REMOTE_EVERY", "1s".to_owned())], ..Options::default() },
    )
    .await;
    app.create_campaign("office").await;
    let paris = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns",
            &json!({"slug": "paris", "currency": "EUR", "goal": "40000.00", "title": {"en": "Paris", "fr": "Paris"}, "status": "active"}),
        )
        .await;
    assert_eq!(paris.status(), StatusCode::CREATED);
    offline(&app, "office", "90000.00").await;
    offline(&app, "paris", "1000.00").await;

    let body = json!({
        "slug": "international",
        "title": {"en": "International centre", "fr": "Centre international"},
        "currency": "CAD",
        "goal": "250000.00",
        "fixed_rates": {"EUR": "1.47"},
        "members": [
            {"campaign": "office"},
            {"campaign": "paris"},
            {"url": format!("{}/c/appeal", uk_server.url), "name": "UK section"},
        ],
    });
    let created = app.post_as(&app.admin_token, "/api/v1/admin/appeals", &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], "/api/v1/appeals/international/progress");
    let created: Value = created.json().await.expect("JSON");
    assert_eq!(created["rate_policy"], "fixed");
    assert_eq!(created["launched_on"], today());
    // A page URL is taken for the campaign's progress URL.
    assert_eq!(created["members"][2]["url"], format!("{}/api/v1/campaigns/appeal/progress", uk_server.url));

    // The remote is heard; its currency has no rate yet: named, not counted, never 1.
    let document = progress_when(&app, "international", "hearing the UK section", |document| {
        document["members"][2]["raised"] == "2500.50"
    })
    .await;
    assert_eq!(document["members"][0]["raised_converted"], "90000.00");
    assert_eq!(document["members"][1]["raised_converted"], "1470.00");
    assert_eq!(document["members"][1]["rate_source"], "fixed at launch");
    let uk_member = &document["members"][2];
    assert_eq!(uk_member["currency"], "GBP");
    assert_eq!(uk_member["stale"], false);
    assert!(uk_member["raised_converted"].is_null());
    let problem_text = uk_member["problem"].as_str().expect("the missing rate is named");
    assert!(problem_text.contains("GBP to CAD") && problem_text.contains(&today()), "{problem_text}");
    assert_eq!(
        (document["raised"].as_str(), document["complete"].as_bool()),
        (Some("91470.00"), Some(false))
    );
    let warned = app.cli(&["check"]);
    assert!(warned.status.success(), "a missing rate is a gap, not a mismatch");
    assert!(
        String::from_utf8_lossy(&warned.stdout)
            .contains("WARNING appeal international: UK section is not counted")
    );

    // A treasurer keeps a GBP rate of the day before launch: the fixed policy takes it.
    keep_rate(&app, "GBP", "CAD", &yesterday(), "1.79").await;
    let document =
        progress_when(&app, "international", "the GBP rate", |document| document["complete"] == true).await;
    assert_eq!(document["members"][2]["raised_converted"], "4475.90");
    assert_eq!(document["members"][2]["rate"], "1.79");
    assert_eq!(document["members"][2]["rate_date"], yesterday());
    assert_eq!(document["raised"], "95945.90");
    assert_eq!(document["percent"], 38.4);

    // Live: a stream hears the UK section's next gift, from its own process.
    let stream = app
        .client
        .get(app.url("/api/v1/appeals/international/progress/stream"))
        .send()
        .await
        .expect("a stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let mut events = EventReader::new(stream);
    assert_eq!(events.next_progress().await["raised"], "95945.90");
    offline(&uk, "appeal", "100.00").await;
    let deadline = Instant::now() + WITHIN;
    loop {
        let event = events.next_progress().await;
        if event["members"][2]["raised"] == "2600.50" {
            assert_eq!(event["raised"], "96124.90");
            break;
        }
        assert!(Instant::now() < deadline, "the stream did not hear the UK gift: {event:#}");
    }

    // Under the fixed policy a new EUR rate changes nothing; under the latest it counts.
    keep_rate(&app, "EUR", "CAD", &yesterday(), "1.55").await;
    assert_eq!(progress(&app, "international").await["members"][1]["raised_converted"], "1470.00");
    let changed = app
        .patch_as(&app.admin_token, "/api/v1/admin/appeals/international", &json!({"rate_policy": "latest"}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let document = progress(&app, "international").await;
    assert_eq!(document["rate_policy"], "latest");
    assert_eq!(document["members"][1]["raised_converted"], "1550.00");
    assert_eq!(document["members"][1]["rate_date"], yesterday());
    keep_rate(&app, "EUR", "CAD", &today(), "1.60").await;
    let document = progress_when(&app, "international", "today's EUR rate", |document| {
        document["members"][1]["raised_converted"] == "1600.00"
    })
    .await;
    assert_eq!(document["raised"], "96254.90");

    // The UK section's server stops: its last figure stays, marked stale, never zero.
    uk_server.kill();
    let document = progress_when(&app, "international", "the UK section going stale", |document| {
        document["members"][2]["stale"] == true
    })
    .await;
    assert_eq!(document["members"][2]["raised"], "2600.50");
    assert_eq!(document["raised"], "96254.90");
    assert_eq!(document["stale"], true);
    let page = app.get("/a/international").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("a page");
    assert!(html.contains("UK section") && html.contains("£2,600.50"), "the page shows the last figure");
    assert!(html.contains("Not answering lately"), "and says it is stale");
    let french = app.get("/a/international?lang=fr").await.text().await.expect("a page");
    assert!(
        french.contains("Centre international") && french.contains("96\u{202f}254,90\u{a0}$"),
        "French figures"
    );

    // `appeal check` recomputes the total from the ledger and the rates, and agrees.
    let checked = app.cli(&["check"]);
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{said}");
    assert!(said.contains("ok: appeal international totals 96254.90 CAD from 3 of 3 members"), "{said}");

    // Members change: the remote dropped, then listed again, keeps what it last said.
    let members = json!({"members": [{"campaign": "office"}]});
    let changed = app.patch_as(&app.admin_token, "/api/v1/admin/appeals/international", &members).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(progress(&app, "international").await["raised"], "90000.00");
    let listed: Value = app.json_as(&app.viewer_token, "/api/v1/admin/appeals").await;
    assert_eq!(listed["appeals"][0]["members"], json!([{"campaign": "office", "url": null, "name": null}]));
    let shown = app.cli(&["appeals", "show", "international"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("international: 90000.00 of 250000.00 CAD"));
}

async fn appeals_refuse_bad_input_by_field(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let good = json!({"slug": "world", "title": {"en": "World"}, "currency": "CAD", "goal": "1000.00",
        "members": [{"campaign": "office"}]});

    // Admins set appeals up; a treasurer may not.
    let refused = app.post_as(&app.treasurer_token, "/api/v1/admin/appeals", &good).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let bad = json!({"slug": "World Wide", "title": {"en": ""}, "currency": "CAD", "goal": "12.345",
        "rate_policy": "whenever", "fixed_rates": {"EUR": 1.5, "CAD": "1"},
        "members": [{"campaign": "nowhere"}, {"url": "http://uk.example.org/api/v1/campaigns/a/progress"},
                    {"campaign": "office", "url": "https://uk.example.org/c/a"}]});
    let refused = app.post_as(&app.admin_token, "/api/v1/admin/appeals", &bad).await;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    for field in [
        "slug",
        "title",
        "goal",
        "rate_policy",
        "fixed_rates.EUR",
        "fixed_rates.CAD",
        "members[1].url",
        "members[2]",
    ] {
        assert!(refused["errors"][field].is_string(), "{field}: {refused}");
    }
    // A campaign that does not exist is named by its place in the list.
    let mut unknown = good.clone();
    unknown["members"] = json!([{"campaign": "office"}, {"campaign": "nowhere"}]);
    let refused = problem(
        app.post_as(&app.admin_token, "/api/v1/admin/appeals", &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused["errors"]["members[1].campaign"].as_str().is_some_and(|text| text.contains("nowhere")),
        "{refused}"
    );

    assert_eq!(
        app.post_as(&app.admin_token, "/api/v1/admin/appeals", &good).await.status(),
        StatusCode::CREATED
    );
    let taken = app.post_as(&app.admin_token, "/api/v1/admin/appeals", &good).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    // A new currency changes what the goal and fixed rates mean: they must come with it.
    let with_rates = json!({"fixed_rates": {"EUR": "1.47"}});
    assert_eq!(
        app.patch_as(&app.admin_token, "/api/v1/admin/appeals/world", &with_rates).await.status(),
        StatusCode::OK
    );
    let moved =
        app.patch_as(&app.admin_token, "/api/v1/admin/appeals/world", &json!({"currency": "USD"})).await;
    let moved = problem(moved, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(moved["errors"]["goal"].is_string() && moved["errors"]["fixed_rates"].is_string(), "{moved}");
    let whole = json!({"currency": "USD", "goal": "800.00", "fixed_rates": {"CAD": "0.73"}});
    assert_eq!(
        app.patch_as(&app.admin_token, "/api/v1/admin/appeals/world", &whole).await.status(),
        StatusCode::OK
    );
    let missing =
        app.patch_as(&app.admin_token, "/api/v1/admin/appeals/nowhere", &json!({"goal": "5.00"})).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/appeals/nowhere/progress").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/a/nowhere").await.status(), StatusCode::NOT_FOUND);

    // Nothing half-written: the refused appeals left no trace, the good one is whole.
    let listed: Value = app.json_as(&app.viewer_token, "/api/v1/admin/appeals").await;
    assert_eq!(listed["appeals"].as_array().map(Vec::len), Some(1));
    let document = progress(&app, "world").await;
    assert_eq!((document["raised"].as_str(), document["complete"].as_bool()), (Some("0.00"), Some(true)));
    assert_eq!((document["currency"].as_str(), document["goal"].as_str()), (Some("USD"), Some("800.00")));

    // The CLI speaks the same: a member by slug or URL, named with NAME=.
    let created = app.cli(&[
        "appeals",
        "create",
        "--slug",
        "cli",
        "--title",
        "By hand",
        "--currency",
        "EUR",
        "--goal",
        "500",
        "--rate-policy",
        "latest",
        "--member",
        "Office=office",
        "--member",
        "https://uk.example.org/c/appeal",
    ]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let refused = app.cli(&[
        "appeals",
        "create",
        "--slug",
        "bad",
        "--title",
        "x",
        "--currency",
        "EUR",
        "--goal",
        "5",
        "--fixed-rate",
        "GBP",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("error: fixed_rates must be CURRENCY=RATE"));
    let document = progress(&app, "cli").await;
    assert_eq!(document["members"][0]["name"], "Office");
    // Office's CAD has no rate to EUR today: named, not counted.
    assert!(
        document["members"][0]["problem"].as_str().is_some_and(|text| text.contains("CAD to EUR")),
        "{document}"
    );
}

on_both_engines!(the_appeal_page_and_widget_move_live_in_a_browser);

async fn the_appeal_page_and_widget_move_live_in_a_browser(engine: Engine) {
    if !crate::webdriver::available() {
        return;
    }
    let options = Options {
        reachable: true,
        vars: vec![("APPEAL_REMOTE_EVERY", "1s".to_owned())],
        ..Options::default()
    };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let paris = json!({"slug": "paris", "currency": "EUR", "goal": "40000.00", "title": {"en": "Paris section", "fr": "Section de Paris"}, "status": "active"});
    assert_eq!(
        app.post_as(&app.admin_token, "/api/v1/admin/campaigns", &paris).await.status(),
        StatusCode::CREATED
    );
    offline(&app, "office", "90000.00").await;
    offline(&app, "paris", "1000.00").await;
    // A section whose server nobody answers on: never heard, shown so, not counted.
    let body = json!({"slug": "international", "title": {"en": "International centre", "fr": "Centre international"},
        "currency": "CAD", "goal": "250000.00", "fixed_rates": {"EUR": "1.47"},
        "members": [{"campaign": "office"}, {"campaign": "paris"},
                    {"url": "http://127.0.0.1:9/api/v1/campaigns/appeal/progress", "name": "UK section"}]});
    assert_eq!(
        app.post_as(&app.admin_token, "/api/v1/admin/appeals", &body).await.status(),
        StatusCode::CREATED
    );

    let browser = crate::webdriver::Browser::start(1280, 1200).await;
    browser.goto(&app.url("/a/international?lang=en")).await;
    browser.wait_for("return document.readyState;", &json!("complete")).await;
    let raised = "return document.querySelector('[data-field=raised]').textContent;";
    browser.wait_for(raised, &json!("$91,470")).await;
    // Money arrives in Paris: the open page moves without reload, at the fixed rate.
    offline(&app, "paris", "100.00").await;
    browser.wait_for(raised, &json!("$91,617")).await;
    let paris_line = browser
        .eval(
            "return document.querySelector('[data-member=\"1\"] [data-field=member_converted]').textContent;",
        )
        .await;
    assert!(
        paris_line.as_str().is_some_and(|text| text.starts_with("$1,617 at 1.47 (fixed at launch")),
        "{paris_line}"
    );
    let uk = browser.eval("return document.querySelector('[data-member=\"2\"]').textContent;").await;
    assert!(uk.as_str().is_some_and(|text| text.contains("Not heard from yet")), "{uk}");
    // In Urdu, the figures stay readable: written as CLDR writes them, each kept left to right.
    browser.goto(&app.url("/a/international?lang=ur")).await;
    browser.wait_for(raised, &json!("\u{2066}$\u{a0}91,617\u{2069}")).await;
    let isolated = browser
        .eval("return getComputedStyle(document.querySelector('[data-field=raised]')).unicodeBidi;")
        .await;
    assert_eq!(isolated, json!("isolate"));
    let shots = crate::browser::screenshots();
    let engine_name = format!("{engine:?}").to_lowercase();
    let axe = crate::browser::axe_source();
    for (lang, width, height, device) in [
        ("en", 1280, 1200, "desktop"),
        ("fr", 390, 1800, "phone"),
        ("ur", 1280, 1200, "desktop"),
        ("es", 390, 1800, "phone"),
    ] {
        browser.set_size(width, height).await;
        browser.goto(&app.url(&format!("/a/international?lang={lang}"))).await;
        browser.wait_for("return document.readyState;", &json!("complete")).await;
        // Urdu is written right to left: the page says so, and the layout mirrors.
        let direction = browser
            .eval("return [document.documentElement.dir, getComputedStyle(document.body).direction];")
            .await;
        let expected = if lang == "ur" { "rtl" } else { "ltr" };
        assert_eq!(direction, json!([expected, expected]), "{lang}");
        browser.screenshot(&shots.join(format!("{engine_name}-appeal-{lang}-{device}.png"))).await;
        if let Some(axe) = &axe {
            let violations = crate::browser::accessibility_violations(&browser, axe).await;
            assert!(violations.is_empty(), "appeal {lang} {device}: {violations:#?}");
        }
    }

    // The widget on another site shows the total and each member, and moves too.
    browser.set_size(1280, 1200).await;
    browser
        .goto(
            &crate::browser::host_site_with(
                &app,
                r#"<appeal-progress appeal="international" lang="fr"></appeal-progress>"#,
            )
            .await,
        )
        .await;
    let widget = "return document.querySelector('appeal-progress').getAttribute('data-raised');";
    browser.wait_for(widget, &json!("91617.00")).await;
    offline(&app, "office", "10.00").await;
    browser.wait_for(widget, &json!("91627.00")).await;
    let members = browser
        .eval(
            "return document.querySelector('appeal-progress').shadowRoot.querySelectorAll('.ms li').length;",
        )
        .await;
    assert_eq!(members, json!(3));
    browser.screenshot(&shots.join(format!("{engine_name}-appeal-widget-fr.png"))).await;
    browser.quit().await;
}
