//! Failed-payment recovery: a failed installment emails its donor once (in their language,
//! with a one-time link to change the card and the day Stripe tries again), a payment that
//! recovers thanks them once, a notice not sent yet is put aside when the payment goes
//! through first, and treasurers see the past-due subscriptions and what was sent.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_smtp::{body_text, subject};
use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(a_failed_installment_emails_its_donor_once_and_a_recovery_thanks_them);

async fn subscribe(app: &TestApp, email: &str, locale: &str) -> String {
    let session = app
        .checkout(
            "office",
            &json!({"amount": "15.00", "interval": "month", "email": email, "name": "Ana", "locale": locale}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    app.stripe.session(&session)["subscription"].as_str().expect("a subscription").to_owned()
}

async fn emails(app: &TestApp, query: &str) -> Vec<Value> {
    let listed: Value = app.json_as(&app.admin_token, &format!("/api/v1/admin/emails{query}")).await;
    listed["emails"].as_array().expect("emails").clone()
}

async fn a_failed_installment_emails_its_donor_once_and_a_recovery_thanks_them(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let subscription = subscribe(&app, "ana@example.org", "fr").await;
    let receipts = app.smtp.wait_for(1).await.len();

    // The installment fails; Stripe tells twice (a redelivery, and reconcile would too).
    let failed = app.stripe.fail_renewal(&subscription);
    app.deliver_all(&failed).await;
    app.deliver_all(&failed).await;
    let messages = app.smtp.wait_for(receipts + 1).await;
    let notice = messages.last().expect("the notice").clone();
    assert!(notice.contains("ana@example.org"));
    assert_eq!(subject(&notice), "Votre don à Nouveau local n’a pas pu être prélevé");
    let body = body_text(&notice);
    assert!(body.contains("Bonjour Ana,") && body.contains("Nous réessaierons le "), "{body}");
    let link = body
        .lines()
        .find(|line| line.starts_with("https://give.example.org/manage/"))
        .expect("a link to change the card")
        .to_owned();
    // The link opens the self-service page (without using it up: a mail scanner may fetch it).
    let path = link.trim_start_matches("https://give.example.org");
    let opened = app.get(path).await;
    assert_eq!(opened.status(), StatusCode::OK);
    let page = opened.text().await.expect("the page");
    assert!(page.contains("<form"), "a button to open Stripe's billing portal: {page}");
    assert_eq!(app.get(path).await.status(), StatusCode::OK, "still usable");

    // Stripe tries again and fails once more: no second notice for the same invoice.
    app.deliver_all(&app.stripe.retry_failed(&subscription, false)).await;
    let listed = emails(&app, &format!("?subscription={subscription}")).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0]["kind"].as_str(), listed[0]["state"].as_str()),
        (Some("payment_failed"), Some("sent"))
    );

    // Then it goes through: the donor is thanked, once.
    let recovered = app.stripe.retry_failed(&subscription, true);
    app.deliver_all(&recovered).await;
    app.deliver_all(&recovered).await;
    let messages = app.smtp.wait_for(receipts + 3).await;
    let thanks = messages
        .iter()
        .find(|message| subject(message).starts_with("Merci : votre don"))
        .expect("a thank-you");
    assert!(body_text(thanks).contains("a finalement été accepté"), "{}", body_text(thanks));
    assert_eq!(app.progress("office").await["recurring"]["active"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let listed = emails(&app, "").await;
    let kinds: Vec<&str> = listed.iter().filter_map(|email| email["kind"].as_str()).collect();
    assert_eq!(kinds, ["payment_recovered", "payment_failed"], "newest first, each once");
    // The receipt of the recovered installment, the notice and the thank-you: nothing twice.
    assert_eq!(app.smtp.messages().len(), receipts + 3);

    // Treasurers see it on the dashboard's "Needs a look" page.
    crate::people::add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = crate::people::Visitor::new(&app);
    treasurer.sign_in("tre@example.org", crate::people::PASSWORD).await;
    let (_, page, _) = treasurer.get("/admin/stripe").await;
    assert!(page.contains("Emails to supporters") && page.contains("payment_recovered"), "{page}");
    // A viewer may not read donors' addresses.
    let refused = app.get_as(&app.viewer_token, "/api/v1/admin/emails").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
