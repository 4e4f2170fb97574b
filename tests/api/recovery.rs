//! Failed-payment recovery: a failed installment emails its donor once (in their language,
//! with a one-time link to change the card and the day Stripe tries again), a payment that
//! recovers thanks them once, a notice not sent yet is put aside when the payment goes
//! through first, and treasurers see the past-due subscriptions and what was sent.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_smtp::{body_text, subject};
use crate::helpers::{Engine, Options, TestApp, on_both_engines, spawn_app, spawn_app_with};

on_both_engines!(
    a_failed_installment_emails_its_donor_once_and_a_recovery_thanks_them,
    a_yearly_gift_is_announced_a_week_before_it_renews,
    the_donor_is_reminded_before_stripes_last_try_only,
);

async fn subscribe(app: &TestApp, email: &str, locale: &str) -> String {
    subscribe_every(app, "month", email, locale).await
}

async fn subscribe_every(app: &TestApp, interval: &str, email: &str, locale: &str) -> String {
    let session = app
        .checkout(
            "office",
            &json!({"amount": "15.00", "interval": interval, "email": email, "name": "Ana", "locale": locale}),
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
    // (And its reminder waits for the day before Stripe's last try, far off with 8 tries.)
    let listed = emails(&app, &format!("?subscription={subscription}")).await;
    let states: Vec<(&str, &str)> = listed
        .iter()
        .map(|email| (email["kind"].as_str().unwrap_or(""), email["state"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(states, [("payment_reminder", "pending"), ("payment_failed", "sent")]);

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
    assert_eq!(kinds, ["payment_recovered", "payment_reminder", "payment_failed"], "newest first, each once");
    assert_eq!(listed[1]["state"], "cancelled", "no reminder once the payment went through");
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

async fn a_yearly_gift_is_announced_a_week_before_it_renews(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // A monthly gift, and a yearly one far from renewing: no notice.
    subscribe(&app, "ben@example.org", "en").await;
    subscribe_every(&app, "year", "cleo@example.org", "en").await;
    // A yearly gift started 360 days ago renews in five days.
    app.stripe.advance_days(-360);
    let renewing = subscribe_every(&app, "year", "ana@example.org", "en").await;
    app.stripe.advance_days(360);
    let messages = app.smtp.wait_for(4).await;
    let notice = messages
        .iter()
        .find(|message| subject(message) == "Your yearly gift to New office renews soon")
        .expect("the renewal notice");
    assert!(notice.contains("ana@example.org"));
    let body = body_text(notice);
    assert!(body.contains("Dear Ana,") && body.contains("It renews on "), "{body}");
    assert!(body.lines().any(|line| line.starts_with("https://give.example.org/manage/")), "{body}");
    // Once for this renewal, however often the sender looks.
    app.give("office", "5.00", None).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let listed = emails(&app, "").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0]["kind"].as_str(), listed[0]["subscription"].as_str()),
        (Some("renewal_notice"), Some(renewing.as_str()))
    );
}

async fn the_donor_is_reminded_before_stripes_last_try_only(engine: Engine) {
    let options = Options { vars: vec![("APPEAL_PAYMENT_TRIES", "3".to_owned())], ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let subscription = subscribe(&app, "ana@example.org", "en").await;
    let receipts = app.smtp.wait_for(1).await.len();
    // Stripe's clock three days behind: each next try is due now, its reminder a day ago.
    app.stripe.advance_days(-3);
    app.deliver_all(&app.stripe.fail_renewal(&subscription)).await;
    app.smtp.wait_for(receipts + 1).await;
    // The first try failed, the next is not the last of 3: the reminder waits.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.smtp.messages().len(), receipts + 1, "the failure notice only");
    // The second fails: the next is the last, and the donor is reminded, once.
    app.deliver_all(&app.stripe.retry_failed(&subscription, false)).await;
    let messages = app.smtp.wait_for(receipts + 2).await;
    let reminder = messages.last().expect("the reminder");
    assert_eq!(subject(reminder), "Last try: your gift to New office");
    let body = body_text(reminder);
    assert!(body.contains("one last time on ") && body.contains("/manage/"), "{body}");
    // Marked sent once the mail server took it (a moment after the message arrives here).
    let mut listed = emails(&app, "").await;
    for _ in 0..50 {
        if listed[0]["state"] == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        listed = emails(&app, "").await;
    }
    assert_eq!(
        (listed[0]["kind"].as_str(), listed[0]["state"].as_str()),
        (Some("payment_reminder"), Some("sent"))
    );
}
