//! In a real browser (headless Chromium): a supporter gives from the French campaign page,
//! and the open page and a widget embedded on another site show the new total without reload.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{Engine, Options, TestApp, on_both_engines, spawn_app_with};
use crate::webdriver::{Browser, available};

on_both_engines!(a_supporter_gives_and_every_open_bar_moves);

const NBSP: char = '\u{a0}';

/// Where screenshots go, to be looked at.
pub fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots")
}

/// A page of another origin (localhost, another port) that pastes the widget.
async fn host_site(app: &TestApp) -> String {
    host_site_with(
        app,
        r#"<appeal-progress campaign="office" lang="fr" ref="site-journal"></appeal-progress>"#,
    )
    .await
}

/// A page of another origin that pastes `element` and the widget's script.
pub async fn host_site_with(app: &TestApp, element: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("address").port();
    let page = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Le journal</title></head>\
         <body style=\"font-family:serif;max-width:30rem;margin:2rem\"><h1>Le journal</h1>\
         <p>Soutenez-nous :</p>{element}\
         <script src=\"{}/embed.js\"></script></body></html>",
        app.address
    );
    let router =
        axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(page) }));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the host site serves") });
    format!("http://localhost:{port}/")
}

pub fn axe_source() -> Option<String> {
    let path = std::env::var("APPEAL_AXE_JS").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe/node_modules/axe-core/axe.min.js")
    });
    let source = std::fs::read_to_string(&path).ok();
    if source.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "axe-core must be installed under CI (.ci/run does it): {}",
            path.display()
        );
        eprintln!("*** accessibility check SKIPPED: npm install --prefix target/axe axe-core ***");
    }
    source
}

/// Runs axe-core's WCAG 2 A and AA rules on the open page; returns the violations.
pub async fn accessibility_violations(browser: &Browser, axe: &str) -> Vec<Value> {
    browser.eval(&format!("{axe}\nreturn true;")).await;
    let result = browser
        .eval_async(
            "var done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})\
               .then(function (r) { done(r.violations.map(function (v) { return v.id + ' (' + v.impact + '): ' + v.nodes.map(function (n) { return n.target.join(' '); }).join(', '); })); })\
               .catch(function (e) { done(['axe failed: ' + e]); });",
        )
        .await;
    result.as_array().cloned().unwrap_or_default()
}

async fn a_supporter_gives_and_every_open_bar_moves(engine: Engine) {
    if !available() {
        return;
    }
    let app = spawn_app_with(engine, Options { reachable: true, ..Options::default() }).await;
    app.create_campaign("office").await;
    app.give("office", "90000.00", Some("montreal")).await;
    let browser = Browser::start(1280, 900).await;

    // A newspaper's site with the widget, from another origin.
    let widget_tab = browser.current_tab().await;
    browser.goto(&host_site(&app).await).await;
    let widget_raised =
        "var w = document.querySelector('appeal-progress'); return w && w.getAttribute('data-raised');";
    browser.wait_for(widget_raised, &json!("90000.00")).await;

    // A reader keeps the campaign page open.
    let watching_tab = browser.new_tab().await;
    browser.goto(&app.url("/c/office?lang=fr")).await;
    let page_raised = "return document.querySelector('[data-field=raised]').textContent;";
    browser.wait_for(page_raised, &json!(format!("90\u{202f}000{NBSP}$"))).await;

    // Another supporter gives 25 $ monthly, fees covered.
    let giving_tab = browser.new_tab().await;
    browser.goto(&app.url("/c/office?lang=fr")).await;
    browser.click("input[name=preset][value=other]").await;
    browser.type_into("#custom-amount", "25").await;
    browser.click("input[name=interval][value=month]").await;
    browser.click("input[name=cover_fees]").await;
    browser.type_into("#field-email", "lectrice@example.org").await;
    let total = browser.eval("return document.querySelector('[data-field=total]').textContent;").await;
    assert_eq!(total, json!(format!("Total prélevé : 26,06{NBSP}$")));
    let label = browser.eval("return document.querySelector('[data-field=cover_label]').textContent;").await;
    assert_eq!(label, json!(format!("Ajouter 1,06{NBSP}$ pour couvrir les frais de traitement")));
    browser.click("button.primary").await;
    let mut checkout_url = String::new();
    for _ in 0..100 {
        checkout_url = browser.url().await;
        if checkout_url.starts_with(&app.stripe.base) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(checkout_url.starts_with(&format!("{}/pay/cs_test_", app.stripe.base)), "{checkout_url}");
    let session = checkout_url.rsplit('/').next().expect("a session id").to_owned();
    assert_eq!(app.stripe.session(&session)["amount_total"], 2606);
    assert_eq!(app.stripe.session(&session)["locale"], "fr");

    // Stripe confirms: the open page and the widget move without reload.
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    browser.switch_to(&watching_tab).await;
    browser.wait_for(page_raised, &json!(format!("90\u{202f}026,06{NBSP}$"))).await;
    let recurring =
        browser.eval("return document.querySelector('[data-field=recurring]').textContent;").await;
    assert_eq!(recurring, json!(format!("1 abonnement de soutien, 26,06{NBSP}$ par mois")));
    browser.switch_to(&widget_tab).await;
    browser.wait_for(widget_raised, &json!("90026.06")).await;
    let shown = browser.eval("return document.querySelector('appeal-progress').shadowRoot.querySelector('.r strong').textContent;").await;
    assert_eq!(shown, json!(format!("90\u{202f}026,06{NBSP}$")));
    // The widget's give link carries the site's ref to the campaign page's form.
    let give = browser.eval("return document.querySelector('appeal-progress').shadowRoot.querySelector('a.g').getAttribute('href');").await;
    assert!(
        give.as_str().is_some_and(|href| href.ends_with("/c/office?lang=fr&ref=site-journal#give")),
        "{give}"
    );
    let engine_name = format!("{engine:?}").to_lowercase();
    browser.screenshot(&screenshots().join(format!("{engine_name}-widget-fr.png"))).await;

    // Each open page holds a live stream; close those tabs before looking at more pages.
    browser.close_tab().await;
    browser.switch_to(&watching_tab).await;
    browser.close_tab().await;
    browser.switch_to(&giving_tab).await;

    // Screenshots of the campaign page to look at, and the accessibility check.
    let axe = axe_source();
    for (lang, width, height, device) in [
        ("fr", 1280, 1400, "desktop"),
        ("en", 1280, 1400, "desktop"),
        ("fr", 390, 2200, "phone"),
        ("en", 390, 2200, "phone"),
    ] {
        browser.set_size(width, height).await;
        browser.goto(&app.url(&format!("/c/office?lang={lang}"))).await;
        browser.wait_for("return document.readyState;", &json!("complete")).await;
        browser.screenshot(&screenshots().join(format!("{engine_name}-campaign-{lang}-{device}.png"))).await;
        if let Some(axe) = &axe {
            let violations = accessibility_violations(&browser, axe).await;
            assert!(violations.is_empty(), "{lang} {device}: {violations:#?}");
        }
    }
    browser.goto(&app.url("/manage?lang=fr")).await;
    if let Some(axe) = &axe {
        let violations = accessibility_violations(&browser, axe).await;
        assert!(violations.is_empty(), "manage: {violations:#?}");
    }
    browser.quit().await;
}

on_both_engines!(a_treasurer_records_a_deposit_and_the_bar_moves);

async fn a_treasurer_records_a_deposit_and_the_bar_moves(engine: Engine) {
    if !available() {
        return;
    }
    let app = spawn_app_with(engine, Options { reachable: true, ..Options::default() }).await;
    app.create_campaign("office").await;
    app.give("office", "1000.00", None).await;
    let session =
        app.checkout("office", &json!({"amount": "50.00", "interval": "month", "name": "Reader"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let added = {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
            .args(["user", "add", "--email", "tre@example.org", "--role", "treasurer", "--password-stdin"])
            .env("DATABASE_URL", &app.db.url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the CLI runs");
        child.stdin.take().expect("stdin").write_all(b"correct horse battery staple\n").expect("written");
        child.wait().expect("the CLI ends")
    };
    assert!(added.success());
    let browser = Browser::start(1280, 1000).await;

    // The public page is open in a tab.
    let public_tab = browser.current_tab().await;
    browser.goto(&app.url("/c/office?lang=en")).await;
    let page_raised = "return document.querySelector('[data-field=raised]').textContent;";
    browser.wait_for(page_raised, &json!("$1,050")).await;

    // The treasurer signs in and records a deposit of two cheques.
    browser.new_tab().await;
    browser.goto(&app.url("/admin/login")).await;
    browser.type_into("#login-email", "tre@example.org").await;
    browser.type_into("#login-password", "correct horse battery staple").await;
    browser.click("button.primary").await;
    browser.wait_for("return location.pathname;", &json!("/admin")).await;
    browser.goto(&app.url("/admin/c/office")).await;
    browser.type_into("#batch-reference", "Slip 42").await;
    browser.type_into("#batch-count", "2").await;
    browser.type_into("#batch-total", "350").await;
    browser.type_into("#batch-csv", "amount,method,donor_name\n250,cheque,Ana\n100,cheque,Ben").await;
    browser.click("#batch-title ~ form button.primary").await;
    browser.wait_for("return !!document.querySelector('button[value=post]');", &json!(true)).await;
    let shots = screenshots();
    let engine_name = format!("{engine:?}").to_lowercase();
    browser.screenshot(&shots.join(format!("{engine_name}-dashboard-preview.png"))).await;
    browser.click("button[value=post]").await;
    browser
        .wait_for(
            "return document.querySelector('.notice') && document.querySelector('.notice').textContent;",
            &json!("Posted batch 1: 2 entries."),
        )
        .await;
    browser.screenshot(&shots.join(format!("{engine_name}-dashboard.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "dashboard: {violations:#?}");
    }

    // The export downloads with the session.
    let csv = browser
        .eval_async("var done = arguments[arguments.length - 1]; fetch('/admin/export?campaign=office&format=csv').then(function (r) { return r.text(); }).then(done);")
        .await;
    let csv = csv.as_str().expect("CSV text");
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.contains(",cheque,") && csv.contains("Ana"));

    // The open public page moved without reload.
    let dashboard_tab = browser.current_tab().await;
    browser.switch_to(&public_tab).await;
    browser.wait_for(page_raised, &json!("$1,400")).await;
    browser.switch_to(&dashboard_tab).await;

    // Stripe takes back a refunded gift again, and an event cannot be read: both wait on the
    // Needs a look page, where the treasurer acknowledges the gift with a reason.
    let gift = app.checkout("office", &json!({"amount": "30.00", "name": "Cy"})).await;
    app.deliver_all(&app.stripe.pay_session(&gift)).await;
    let charge = app.stripe.charge_of_session(&gift);
    app.deliver_all(&app.stripe.refund(&charge, 3000)).await;
    app.deliver_all(&app.stripe.dispute(&charge).1).await;
    let poison = json!({"id": "evt_unreadable", "object": "event", "type": "charge.refunded",
                        "created": chrono::Utc::now().timestamp(), "data": {"object": {"object": "charge"}}});
    for _ in 0..5 {
        app.deliver(&poison).await;
    }
    browser.goto(&app.url("/admin")).await;
    browser
        .wait_for(
            "return document.querySelector('.notice a') && document.querySelector('.notice a').textContent;",
            &json!("2 things from Stripe need a look"),
        )
        .await;
    browser.goto(&app.url("/admin/stripe")).await;
    browser.screenshot(&shots.join(format!("{engine_name}-needs-a-look.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "needs a look: {violations:#?}");
    }
    browser.type_into("input[id$=-reason]", "Contested with the card network").await;
    browser.click("article.review form button.primary").await;
    browser
        .wait_for(
            "return document.querySelector('.notice') && document.querySelector('.notice').textContent;",
            &json!("Flag 1 resolved."),
        )
        .await;
    browser.quit().await;
}

on_both_engines!(every_dashboard_page_is_accessible_on_a_phone);

/// An admin on a phone (390 px wide) walks every dashboard page, a confirmation opened: each
/// passes axe's WCAG 2 A and AA rules and is saved as a screenshot to look at.
async fn every_dashboard_page_is_accessible_on_a_phone(engine: Engine) {
    if !available() {
        return;
    }
    let app = spawn_app_with(engine, Options { reachable: true, ..Options::default() }).await;
    app.create_campaign("office").await;
    app.give("office", "120.00", Some("montreal")).await;
    let deposit = json!({"reference": "Slip 7", "deposited_on": "2026-11-02", "declared_count": 1,
                         "declared_total": "15.00", "entries": [{"amount": "15.00", "method": "cheque", "donor_name": "Ana"}]});
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &deposit).await;
    assert_eq!(posted.status(), reqwest::StatusCode::CREATED);
    let gift = app
        .checkout(
            "office",
            &json!({"amount": "40.00", "name": "Ben", "anonymous": false, "message": "Go on", "ref": "dec-email"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&gift)).await;
    crate::people::add_user(&app, "admin@example.org", "admin", None);
    let receiver = crate::receiver::Receiver::start().await;
    receiver.answer_next(&[(500, std::time::Duration::ZERO)]);
    let endpoint = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/webhooks",
            &json!({"url": receiver.url, "events": ["donation.recorded"]}),
        )
        .await;
    let endpoint: Value = endpoint.json().await.expect("an endpoint");
    app.give("office", "5.00", None).await;
    receiver.wait_for(1).await;
    let ends_at = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let offer = json!({"matcher": "Bread and Roses Fund", "cap": "500.00", "starts_at": "2026-11-01T00:00:00Z", "ends_at": ends_at});
    let offered = app.post_as(&app.admin_token, "/api/v1/admin/campaigns/office/matches", &offer).await;
    assert_eq!(offered.status(), reqwest::StatusCode::CREATED);
    app.give("office", "30.00", None).await;
    let monthly =
        app.checkout("office", &json!({"amount": "12.00", "interval": "month", "name": "Cy"})).await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    let webhook_log = format!("/admin/webhooks/{}", endpoint["id"]);
    let browser = Browser::start(390, 844).await;
    browser.goto(&app.url("/admin/login")).await;
    browser.type_into("#login-email", "admin@example.org").await;
    browser.type_into("#login-password", crate::people::PASSWORD).await;
    browser.click("button.primary").await;
    browser.wait_for("return location.pathname;", &json!("/admin")).await;
    let shots = screenshots();
    let engine_name = format!("{engine:?}").to_lowercase();
    let axe = axe_source();
    let pages = [
        ("home", "/admin"),
        ("campaign", "/admin/c/office"),
        ("entries", "/admin/c/office/entries?q=cheque"),
        ("links", "/admin/c/office/links?branch=montreal&amount=25&interval=month&ref=leaflet"),
        ("sources", "/admin/c/office/sources"),
        ("matches", "/admin/c/office/matches"),
        ("edit", "/admin/c/office/edit"),
        ("new-campaign", "/admin/campaigns/new"),
        ("people", "/admin/people"),
        ("webhooks", "/admin/webhooks"),
        ("webhook-log", webhook_log.as_str()),
        ("audit", "/admin/audit"),
        ("payouts", "/admin/payouts"),
        ("recurring", "/admin/recurring"),
        ("donors", "/admin/donors?q=Ben"),
        ("donor", "/admin/donors/name%3Aana"),
        ("statements", "/admin/statements"),
        ("rates", "/admin/rates?from=EUR&to=CAD&date=2026-12-01"),
        ("password", "/admin/password"),
        ("not-found", "/admin/c/nowhere"),
    ];
    for (name, path) in pages {
        browser.goto(&app.url(path)).await;
        if name == "campaign" {
            // A confirmation open, as a treasurer sees it before reversing.
            browser.click("table.entries details summary").await;
        }
        browser.screenshot(&shots.join(format!("{engine_name}-phone-{name}.png"))).await;
        if let Some(axe) = &axe {
            let violations = accessibility_violations(&browser, axe).await;
            assert!(violations.is_empty(), "{path}: {violations:#?}");
        }
        let wide = browser.eval("return document.documentElement.scrollWidth > window.innerWidth + 1;").await;
        assert_eq!(wide, json!(false), "{path}: the page itself does not scroll sideways (its tables do)");
    }
    browser.quit().await;
}

on_both_engines!(a_ready_made_link_opens_the_form_filled_in);

/// A supporter follows a branch's ready-made link (a QR code on a leaflet, say): the form
/// shows the amount, the interval and the branch chosen, in French, and passes axe.
async fn a_ready_made_link_opens_the_form_filled_in(engine: Engine) {
    if !available() {
        return;
    }
    let app = spawn_app_with(engine, Options { reachable: true, ..Options::default() }).await;
    app.create_campaign("office").await;
    let browser = Browser::start(390, 844).await;
    browser.goto(&app.url("/c/office?amount=25&interval=month&branch=montreal&lang=fr")).await;
    let chosen = browser
        .eval(
            "return [document.documentElement.lang, \
             document.querySelector('input[name=preset]:checked').value, \
             document.querySelector('input[name=interval]:checked').value, \
             document.querySelector('select[name=branch]').value];",
        )
        .await;
    assert_eq!(chosen, json!(["fr", "25", "month", "montreal"]));
    let engine_name = format!("{engine:?}").to_lowercase();
    browser.eval("document.querySelector('input[name=preset]:checked').scrollIntoView(); return true;").await;
    browser.screenshot(&screenshots().join(format!("{engine_name}-ready-made-link-fr.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "the filled-in form: {violations:#?}");
    }
    // A branch's own page: its bar on top, the branch chosen; with stretch goals and a donor
    // goal, the ladder listed.
    let ladder = json!({"goals": ["100000.00", "120000.00"], "donor_goal": 500});
    let patched = app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &ladder).await;
    assert_eq!(patched.status(), reqwest::StatusCode::OK);
    browser.goto(&app.url("/c/office/b/montreal?lang=fr")).await;
    let goals = browser.eval("return document.querySelectorAll('ol.goals li').length;").await;
    assert_eq!(goals, json!(2));
    let chosen = browser.eval("return document.querySelector('select[name=branch]').value;").await;
    assert_eq!(chosen, json!("montreal"));
    browser.screenshot(&screenshots().join(format!("{engine_name}-branch-page-fr.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "a branch's page: {violations:#?}");
    }
    // The branch leaderboard, as a branch's site frames it.
    browser.goto(&app.url("/c/office/branches?lang=fr")).await;
    browser.screenshot(&screenshots().join(format!("{engine_name}-branches-fr.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "the branch leaderboard: {violations:#?}");
    }
    // A match offer: the matched money not yet paid is the bar's own segment, kept live.
    let ends_at = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let offer = json!({"matcher": "Bread and Roses Fund", "cap": "50000.00", "starts_at": "2026-11-01T00:00:00Z", "ends_at": ends_at});
    let offered = app.post_as(&app.admin_token, "/api/v1/admin/campaigns/office/matches", &offer).await;
    assert_eq!(offered.status(), reqwest::StatusCode::CREATED);
    app.give("office", "20000.00", None).await;
    browser.goto(&app.url("/c/office?lang=fr")).await;
    let segment = "return [document.querySelector('[data-field=match_segment]').getAttribute('x'), \
                   document.querySelector('[data-field=match_segment]').getAttribute('width')];";
    // 20,000 given of the 100,000 goal: the gifts' fifth, then the 20,000 matched after it.
    assert_eq!(browser.eval(segment).await, json!(["200", "200"]));
    app.give("office", "10000.00", None).await;
    browser.wait_for(segment, &json!(["300", "300"])).await;
    let line = browser.eval("return document.querySelector('[data-field=matching]').textContent;").await;
    assert!(
        line.as_str().is_some_and(|text| text.starts_with("Dons jumelés") && text.contains("30")),
        "{line}"
    );
    // The bar's own animation done, for the picture.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    browser.screenshot(&screenshots().join(format!("{engine_name}-campaign-matching-fr.png"))).await;
    // The widget on a branch's site draws the same segment.
    let host = host_site(&app).await;
    browser.goto(&host).await;
    let widget_segment = "var svg = document.querySelector('appeal-progress').shadowRoot.querySelector('.b svg'); \
                          return svg.hasAttribute('hidden') ? null : [svg.firstChild.getAttribute('x'), svg.firstChild.getAttribute('width')];";
    browser.wait_for(widget_segment, &json!(["300", "300"])).await;
    // The bar's own animation done, for the picture.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    browser.screenshot(&screenshots().join(format!("{engine_name}-widget-matching-fr.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "a page with matching: {violations:#?}");
    }
    // The campaign ends while its page is open: the form gives way to the closing note.
    let ends_at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let patched =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"ends_at": ends_at})).await;
    assert_eq!(patched.status(), reqwest::StatusCode::OK);
    browser.goto(&app.url("/c/office?lang=fr")).await;
    assert_eq!(browser.eval("return document.querySelectorAll('section.give form').length;").await, json!(1));
    let note = browser
        .wait_for(
            "return document.querySelector('section.give form') ? null : \
             document.querySelector('section.give [role=status]').textContent;",
            &json!("Cette campagne n\u{2019}accepte pas de dons."),
        )
        .await;
    assert_eq!(note, json!("Cette campagne n\u{2019}accepte pas de dons."));
    browser.screenshot(&screenshots().join(format!("{engine_name}-campaign-ended-fr.png"))).await;
    browser.quit().await;
}

on_both_engines!(the_api_docs_page_reads_well_and_passes_axe);

/// A developer opens `/api/docs`: the contract as a page, every operation's example body a
/// click away, on a phone too, with no accessibility violation.
async fn the_api_docs_page_reads_well_and_passes_axe(engine: Engine) {
    if !available() {
        return;
    }
    let app = spawn_app_with(engine, Options { reachable: true, ..Options::default() }).await;
    let engine_name = format!("{engine:?}").to_lowercase();
    for (device, width, height) in [("desktop", 1200, 900), ("phone", 390, 844)] {
        let browser = Browser::start(width, height).await;
        browser.goto(&app.url("/api/docs")).await;
        let opened = browser
            .eval(
                "const op = document.getElementById('post--api-v1-admin-campaigns--slug--donations');\
                 const details = op.parentElement.querySelector('details'); details.open = true;\
                 op.scrollIntoView(); return details.querySelector('code').textContent;",
            )
            .await;
        let example: Value =
            serde_json::from_str(opened.as_str().expect("text")).expect("the example is JSON");
        assert_eq!(example["method"], "cheque");
        browser.screenshot(&screenshots().join(format!("{engine_name}-api-docs-{device}.png"))).await;
        if let Some(axe) = axe_source() {
            let violations = accessibility_violations(&browser, &axe).await;
            assert!(violations.is_empty(), "/api/docs on a {device}: {violations:#?}");
        }
        browser.quit().await;
    }
}

on_both_engines!(the_thanks_page_offers_a_monthly_gift_and_passes_axe);

/// A supporter back from paying a one-off gift sees the monthly ask, in French, on a phone.
async fn the_thanks_page_offers_a_monthly_gift_and_passes_axe(engine: Engine) {
    if !available() {
        return;
    }
    let app = spawn_app_with(engine, Options { reachable: true, ..Options::default() }).await;
    app.create_campaign("office").await;
    let changed = app
        .patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"monthly_ask": "25%"}))
        .await;
    assert_eq!(changed.status(), reqwest::StatusCode::OK);
    let session = app.checkout("office", &json!({"amount": "100.00", "email": "ana@example.org"})).await;
    let browser = Browser::start(390, 844).await;
    browser.goto(&app.url(&format!("/c/office/thanks?session_id={session}&lang=fr"))).await;
    let button = browser
        .eval("document.querySelector('.thanks').scrollIntoView(); return document.querySelector('.monthly-ask button').textContent;")
        .await;
    assert_eq!(button, json!(format!("Donner 25{NBSP}$ chaque mois")));
    let engine_name = format!("{engine:?}").to_lowercase();
    browser.screenshot(&screenshots().join(format!("{engine_name}-thanks-monthly-ask-fr.png"))).await;
    if let Some(axe) = axe_source() {
        let violations = accessibility_violations(&browser, &axe).await;
        assert!(violations.is_empty(), "the thanks page's ask: {violations:#?}");
    }
    browser.quit().await;
}
