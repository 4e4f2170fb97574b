//! Annual statements: `appeal statements --year Y --send` issues one statement a donor
//! (online and offline gifts, refunds deducted), numbered in order, in the donor's language,
//! emails each once with its PDF; a second run issues and sends nothing; a corrected donor
//! gets a replacement naming the statement it voids. The PDFs are read back with pdftotext.

use std::process::Command;

use chrono::{Datelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_smtp::{body_text, decode_base64, subject};
use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(
    statements_are_issued_once_sent_once_and_replaced_when_corrected,
    a_later_refund_corrects_the_gifts_year_and_a_new_title_changes_nothing,
);

/// The text of a PDF, as pdftotext reads it (`None` when it is not installed, outside CI).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    crate::exports::tool("pdftotext")?;
    let folder = tempfile::tempdir().expect("a folder");
    let path = folder.path().join("statement.pdf");
    std::fs::write(&path, pdf).expect("the PDF written");
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext");
    assert!(out.status.success(), "pdftotext reads it: {}", String::from_utf8_lossy(&out.stderr));
    // One space for any run of spaces (and the narrow and non-breaking ones money uses).
    let text = String::from_utf8_lossy(&out.stdout).replace(['\u{a0}', '\u{202f}'], " ");
    Some(text.split(' ').filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" "))
}

/// The part of a multipart email that starts with `content_type`, up to the next boundary.
fn part<'m>(message: &'m str, content_type: &str) -> &'m str {
    let start = message
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("a {content_type} part"));
    let rest = &message[start..];
    rest.find("\n--").map_or(rest, |end| &rest[..end])
}

/// The PDF attached to an email.
fn attachment(message: &str) -> Vec<u8> {
    let message = message.replace("\r\n", "\n");
    let (_, encoded) = part(&message, "application/pdf").split_once("\n\n").expect("its body");
    decode_base64(&encoded.split_whitespace().collect::<String>())
}

/// The text of a multipart email's plain part.
fn text(message: &str) -> String {
    body_text(part(&message.replace("\r\n", "\n"), "text/plain"))
}

fn statements(app: &TestApp, args: &[&str]) -> String {
    let mut all = vec!["statements"];
    all.extend_from_slice(args);
    let run = app.cli(&all);
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{said}{}", String::from_utf8_lossy(&run.stderr));
    said
}

async fn offline(app: &TestApp, amount: &str, name: &str, email: Option<&str>) -> Value {
    let today = Utc::now().date_naive().to_string();
    let body = json!({"amount": amount, "method": "cheque", "received_on": today, "donor_name": name, "donor_email": email});
    let response = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.expect("an entry")
}

async fn statements_are_issued_once_sent_once_and_replaced_when_corrected(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let year = Utc::now().year().to_string();
    // Ana gives online in French, and a cheque; 10.00 of her online gift is refunded.
    let session = app
        .checkout(
            "office",
            &json!({"amount": "50.00", "email": "ana@example.org", "name": "Ana Béland", "locale": "fr"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let charge = app.stripe.charge_of_session(&session);
    app.deliver_all(&app.stripe.refund(&charge, 1000)).await;
    offline(&app, "25.50", "Ana Béland", Some("ana@example.org")).await;
    // Ben gives by cheque; Chloé too, without an email (her statement is not emailed).
    let ben = offline(&app, "100.00", "Ben Roy", Some("ben@example.org")).await;
    offline(&app, "40.00", "Chloé", None).await;
    let receipts = app.smtp.wait_for(1).await.len();

    let folder = tempfile::tempdir().expect("a folder");
    let pdfs = folder.path().to_str().expect("a path").to_owned();
    let said = statements(&app, &["--year", &year, "--send", "--pdf", &pdfs]);
    assert!(said.contains(&format!("{year}: 3 issued, 0 replaced, 0 unchanged, 2 emails queued")), "{said}");
    let read = |number: &str| std::fs::read(folder.path().join(format!("statement-{year}-{number}.pdf")));
    if let Some(text) = pdf_text(&read("00001").expect("Ana's statement")) {
        for expected in [
            "Solidarity Press".to_owned(),
            format!("Relevé annuel des dons {year}"),
            format!("Relevé no {year}-00001"),
            "Ana Béland".to_owned(),
            "ana@example.org".to_owned(),
            "Nouveau local".to_owned(),
            "Remboursement ou annulation -10,00 $".to_owned(),
            "Don 25,50 $".to_owned(),
            "Dons 75,50 $".to_owned(),
            "Déduit -10,00 $".to_owned(),
            format!("Total pour {year} 65,50 $"),
        ] {
            assert!(text.contains(&expected), "{expected:?} in Ana's statement:\n{text}");
        }
    }
    if let Some(text) = pdf_text(&read("00002").expect("Ben's statement")) {
        for expected in [
            format!("Annual statement of gifts {year}"),
            format!("Statement no. {year}-00002"),
            "Ben Roy".to_owned(),
            "New office Gift $100.00".to_owned(),
            format!("Total for {year} $100.00"),
        ] {
            assert!(text.contains(&expected), "{expected:?} in Ben's statement:\n{text}");
        }
    }
    assert!(read("00003").is_ok(), "Chloé's statement is made, though not emailed");

    // The sender emails both, the PDF attached.
    let messages = app.smtp.wait_for(receipts + 2).await;
    let ana = messages
        .iter()
        .find(|message| subject(message) == format!("Votre relevé {year} des dons à Solidarity Press"))
        .expect("Ana's statement email, in French");
    let said = text(ana);
    assert!(
        said.contains("Bonjour Ana Béland,")
            && said.contains(&format!("relevé des dons pour {year} (no {year}-00001) : 65,50")),
        "{said}"
    );
    assert!(ana.contains(&format!("filename=\"statement-{year}-00001.pdf\"")), "{ana}");
    let attached = attachment(ana);
    assert!(attached.starts_with(b"%PDF-"), "a PDF is attached");
    if let Some(text) = pdf_text(&attached) {
        assert!(text.contains(&format!("Total pour {year} 65,50 $")), "{text}");
    }
    assert!(
        messages
            .iter()
            .any(|message| subject(message) == format!("Your {year} statement of gifts to Solidarity Press"))
    );

    // Again: nothing new is issued, nothing is sent twice.
    let said = statements(&app, &["--year", &year, "--send"]);
    assert!(said.contains(&format!("{year}: 0 issued, 0 replaced, 3 unchanged, 0 emails queued")), "{said}");

    // Ben's cheque bounced in part: his corrected statement replaces the first.
    let reversal = json!({"amount": "30.00", "reason": "cheque partly returned"});
    let reversed = app
        .post_as(&app.treasurer_token, &format!("/api/v1/admin/donations/{}/reversals", ben["id"]), &reversal)
        .await;
    assert_eq!(reversed.status(), StatusCode::CREATED);
    let said = statements(&app, &["--year", &year, "--send", "--pdf", &pdfs]);
    assert!(said.contains(&format!("issued {year}-00004 replacing {year}-00002 for Ben Roy")), "{said}");
    assert!(said.contains(&format!("{year}: 0 issued, 1 replaced, 2 unchanged, 1 emails queued")), "{said}");
    if let Some(text) = pdf_text(&read("00004").expect("Ben's replacement")) {
        assert!(text.contains(&format!("Replaces statement no. {year}-00002, which is void.")), "{text}");
        assert!(text.contains(&format!("Total for {year} $70.00")), "{text}");
    }
    let messages = app.smtp.wait_for(receipts + 3).await;
    let replacement = messages.last().expect("the replacement's email");
    let said = text(replacement);
    assert!(said.contains(&format!("It replaces statement no. {year}-00002, which is void.")), "{said}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.smtp.messages().len(), receipts + 3, "each statement emailed once");

    // Treasurers list them, download each, and preview one not issued.
    crate::people::add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = crate::people::Visitor::new(&app);
    treasurer.sign_in("tre@example.org", crate::people::PASSWORD).await;
    let (status, page, _) = treasurer.get(&format!("/admin/statements?year={year}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("{year}-00002 (void)")) && page.contains(&format!("{year}-00004")),
        "{page}"
    );
    let listed: Vec<i64> = page
        .match_indices("/admin/statements/")
        .filter_map(|(at, _)| page[at + 18..].split('/').next()?.parse().ok())
        .collect();
    let (status, pdf, _) = treasurer.get_bytes(&format!("/admin/statements/{}/pdf", listed[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF-"));
    offline(&app, "12.00", "Dana", Some("dana@example.org")).await;
    let (status, preview, _) =
        treasurer.get_bytes(&format!("/admin/statements/preview?year={year}&email=dana@example.org")).await;
    assert_eq!(status, StatusCode::OK);
    if let Some(text) = pdf_text(&preview) {
        assert!(text.contains("Preview: not issued") && text.contains("$12.00"), "{text}");
    }

    // Long after (the outbox keeps sent emails 90 days), a run still sends nothing again.
    let store = appeal::store::Store::connect(&app.db.url).await.expect("connect");
    store.prune_outbox(Utc::now() + chrono::Duration::days(1)).await.expect("pruned");
    let said = statements(&app, &["--year", &year, "--send"]);
    assert!(
        said.contains(&format!("{year}: 1 issued, 0 replaced, 3 unchanged, 1 emails queued")),
        "only Dana's, new: a statement's email is the record that it went: {said}"
    );

    // Dana's email never gets through (its tries run out): shown as failed, and the next
    // --send tries it again.
    app.execute_sql("UPDATE outbox_emails SET send_after = NULL, attempts = 10, sent_at = NULL WHERE kind = 'annual_statement' AND to_address = 'dana@example.org'").await;
    let (_, page, _) = treasurer.get(&format!("/admin/statements?year={year}")).await;
    assert!(page.contains("failed"), "{page}");
    let said = statements(&app, &["--year", &year, "--send"]);
    assert!(said.contains("0 issued, 0 replaced, 4 unchanged, 1 emails queued"), "tried again: {said}");

    // Statements are never rewritten.
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let refused = sqlx::query("UPDATE statements SET total_minor = 0").execute(&mut connection).await;
    assert!(refused.is_err_and(|error| error.to_string().contains("append-only")));
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

async fn a_later_refund_corrects_the_gifts_year_and_a_new_title_changes_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let last_year = (Utc::now().year() - 1).to_string();
    let this_year = Utc::now().year().to_string();
    // A gift in December of last year, and a French checkout started (never paid) since.
    let gift = json!({"amount": "500.00", "method": "cheque", "received_on": format!("{last_year}-12-20"),
                      "donor_name": "Eve", "donor_email": "eve@example.org"});
    let gift: Value = app
        .post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &gift)
        .await
        .json()
        .await
        .expect("the gift");
    let said = statements(&app, &["--year", &last_year]);
    assert!(said.contains("1 issued"), "{said}");
    app.checkout("office", &json!({"amount": "10.00", "email": "eve@example.org", "locale": "fr"})).await;
    // A campaign's new title, and an abandoned checkout in another language, change nothing.
    let renamed = app
        .patch_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/office",
            &json!({"title": {"en": "A new office", "fr": "Un nouveau local"}}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let said = statements(&app, &["--year", &last_year]);
    assert!(said.contains("0 issued, 0 replaced, 1 unchanged"), "{said}");

    // This January the cheque bounces: last year's statement is corrected, this year's has none.
    let reversal = json!({"reason": "cheque returned", "received_on": format!("{this_year}-01-05")});
    let reversed = app
        .post_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/donations/{}/reversals", gift["id"]),
            &reversal,
        )
        .await;
    assert_eq!(reversed.status(), StatusCode::CREATED);
    let said = statements(&app, &["--year", &this_year]);
    assert!(said.contains("0 issued, 0 replaced, 0 unchanged"), "the refund is not this year's: {said}");
    let folder = tempfile::tempdir().expect("a folder");
    let pdfs = folder.path().to_str().expect("a path").to_owned();
    let said = statements(&app, &["--year", &last_year, "--pdf", &pdfs]);
    assert!(
        said.contains(&format!("issued {last_year}-00002 replacing {last_year}-00001 for Eve")),
        "{said}"
    );
    let pdf = std::fs::read(folder.path().join(format!("statement-{last_year}-00002.pdf"))).expect("the PDF");
    if let Some(text) = pdf_text(&pdf) {
        assert!(
            text.contains(&format!("{this_year}-01-05 A new office Refund or reversal -$500.00")),
            "{text}"
        );
        assert!(text.contains(&format!("Total for {last_year} $0.00")), "{text}");
    }
}
