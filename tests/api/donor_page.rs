//! The donor's own page: the link from `/manage` opens every gift tied to the address (online
//! and offline, one-off and recurring, refunds deducted) per year and in all, sends a gift's
//! receipt again, and downloads the annual statements; a donor without a subscription gets a
//! link too, without the Billing Portal; nobody reaches another donor's gift or statement.

use chrono::{Datelike, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::fake_smtp::{body_text, subject};
use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(a_donor_sees_every_gift_gets_a_receipt_again_and_downloads_statements);

/// Asks for the link and returns its path.
async fn link_for(app: &TestApp, email: &str, lang: &str, before: usize) -> String {
    let asked = app.form_post("/manage", &[("lang", lang), ("email", email)]).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let messages = app.smtp.wait_for(before + 1).await;
    let mail = messages.iter().rev().find(|m| m.contains(email)).expect("the link");
    let body = body_text(mail);
    let link =
        body.lines().find(|line| line.starts_with("https://give.example.org/manage/")).expect("a link");
    link.trim().trim_start_matches("https://give.example.org").to_owned()
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get(path).await;
    let status = response.status();
    (status, response.text().await.expect("text").replace(['\u{a0}', '\u{202f}'], " "))
}

async fn a_donor_sees_every_gift_gets_a_receipt_again_and_downloads_statements(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let year = Utc::now().year();
    // Ana: a monthly gift online (in French), and a cheque; Ben: a cheque only.
    let monthly = app
        .checkout(
            "office",
            &json!({"amount": "15.00", "interval": "month", "email": "ana@example.org", "name": "Ana", "locale": "fr"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    let today = Utc::now().date_naive().to_string();
    let cheque = json!({"amount": "40.00", "method": "cheque", "received_on": today, "donor_name": "Ana", "donor_email": "ana@example.org"});
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &cheque).await;
    assert_eq!(posted.status(), StatusCode::CREATED);
    let last_year = format!("{}-06-01", year - 1);
    let old = json!({"amount": "10.00", "method": "cash", "received_on": last_year, "donor_email": "ana@example.org"});
    assert_eq!(
        app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &old).await.status(),
        StatusCode::CREATED
    );
    let ben = json!({"amount": "25.00", "method": "cheque", "received_on": today, "donor_name": "Ben", "donor_email": "ben@example.org"});
    let ben: serde_json::Value = app
        .post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &ben)
        .await
        .json()
        .await
        .expect("Ben's gift");
    let said = app.cli(&["statements", "--year", &(year - 1).to_string()]);
    assert!(said.status.success(), "{}", String::from_utf8_lossy(&said.stderr));
    let receipts = app.smtp.wait_for(1).await.len();

    // Ana's page, in French: both years, newest first, the totals, last year's statement.
    let path = link_for(&app, "ana@example.org", "fr", receipts).await;
    let (status, shown) = page(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "Mes dons et abonnements".to_owned(),
        "Ouvrir les réglages de mon abonnement".to_owned(),
        "Au total : 65,00 $".to_owned(),
        format!("{year} : 55,00 $"),
        format!("{} : 10,00 $", year - 1),
        "Don régulier".to_owned(),
        format!("Relevé {} (no {}-00001), PDF", year - 1, year - 1),
    ] {
        assert!(shown.contains(&expected), "{expected:?} on Ana's page:\n{shown}");
    }
    assert!(shown.find(&format!("{year} : ")) < shown.find(&format!("{} : ", year - 1)), "newest year first");
    assert!(!shown.contains("25,00"), "nobody else's gift");

    // As a donor sees it on a phone: it passes axe's WCAG 2 A and AA rules.
    if crate::webdriver::available() {
        let browser = crate::webdriver::Browser::start(390, 1400).await;
        browser.goto(&app.url(&path)).await;
        let engine_name = format!("{engine:?}").to_lowercase();
        browser
            .screenshot(&crate::browser::screenshots().join(format!("{engine_name}-donor-page-fr.png")))
            .await;
        if let Some(axe) = crate::browser::axe_source() {
            let violations = crate::browser::accessibility_violations(&browser, &axe).await;
            assert!(violations.is_empty(), "the donor's page: {violations:#?}");
        }
        browser.quit().await;
    }

    // Her statement downloads; Ben's does not, through her link.
    let token = path.trim_start_matches("/manage/").split('?').next().expect("a token").to_owned();
    let statement_path = shown
        .split(&format!("/manage/{token}/statements/"))
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .map(|id| format!("/manage/{token}/statements/{id}"))
        .expect("a statement link");
    let pdf = app.get(&statement_path).await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.expect("bytes").starts_with(b"%PDF-"));
    assert_eq!(app.get(&format!("/manage/{token}/statements/999999")).await.status(), StatusCode::NOT_FOUND);

    // Her cheque's receipt, again; Ben's gift is not hers to ask for.
    let entries: serde_json::Value =
        app.json_as(&app.admin_token, "/api/v1/admin/donations?campaign=office&q=ana%40example.org").await;
    let cheque_id = entries["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|entry| entry["method"] == "cheque")
        .and_then(|entry| entry["id"].as_i64())
        .expect("the cheque");
    let before = app.smtp.messages().len();
    let resent = app
        .form_post(&format!("/manage/{token}/receipts"), &[("lang", "fr"), ("entry", &cheque_id.to_string())])
        .await;
    assert_eq!(resent.status(), StatusCode::OK);
    assert!(resent.text().await.expect("text").contains("Le reçu est en route vers ana@example.org."));
    let messages = app.smtp.wait_for(before + 1).await;
    let receipt = messages.last().expect("the receipt");
    assert!(receipt.contains("ana@example.org"), "{receipt}");
    assert_eq!(subject(receipt), "Merci pour votre don à Nouveau local", "in the page's language");
    let text = body_text(receipt).replace('\u{a0}', " ");
    assert!(text.contains("votre don de 40 $"), "{text}");
    let refused = app
        .form_post(&format!("/manage/{token}/receipts"), &[("lang", "fr"), ("entry", &ben["id"].to_string())])
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.smtp.messages().len(), before + 1, "no receipt sent to anyone else");

    // Ben has no subscription: his link opens his gifts, without the Billing Portal.
    let path = link_for(&app, "ben@example.org", "en", app.smtp.messages().len()).await;
    let (status, shown) = page(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains("In all: $25.00") && !shown.contains("Open my subscription settings"), "{shown}");
    let token_path = path.split('?').next().expect("a path");
    let portal = app.form_post(token_path, &[("lang", "en")]).await;
    assert_eq!(portal.status(), StatusCode::OK, "no portal, the page again");
    assert!(app.stripe.requests_to("POST", "/v1/billing_portal/sessions").is_empty());
}
