//! A donor seen whole: treasurers search donors by name or email, see one person's every gift
//! and subscription across campaigns with totals per year, and merge two records of the same
//! person (audited, undone by a newer record, never by editing the ledger); the merge carries
//! to the donor's own page and their annual statements.

use chrono::{Datelike, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    two_records_of_one_donor_are_merged_seen_whole_and_unmerged,
    everything_held_about_a_donor_is_exported_as_json,
);

async fn cheque(app: &TestApp, amount: &str, name: &str, email: Option<&str>) {
    let today = Utc::now().date_naive().to_string();
    let body = json!({"amount": amount, "method": "cheque", "received_on": today, "donor_name": name, "donor_email": email});
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &body).await;
    assert_eq!(posted.status(), StatusCode::CREATED);
}

fn statements(app: &TestApp, year: &str) -> String {
    let run = app.cli(&["statements", "--year", year]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    String::from_utf8_lossy(&run.stdout).into_owned()
}

async fn two_records_of_one_donor_are_merged_seen_whole_and_unmerged(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let year = Utc::now().year().to_string();
    let session = app
        .checkout("office", &json!({"amount": "50.00", "email": "ana@example.org", "name": "Ana Béland"}))
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    cheque(&app, "20.00", "Ana Béland", None).await;
    cheque(&app, "30.00", "Ben Roy", Some("ben@example.org")).await;
    let said = statements(&app, &year);
    assert!(said.contains(&format!("{year}: 3 issued")), "{said}");

    add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    let (status, found, _) = treasurer.get("/admin/donors?q=B%C3%A9land").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found.matches("/admin/donors/").count(), 2, "two records of Ana, not yet one: {found}");
    assert!(!found.contains("Ben Roy"));

    // Ana's record by email: her online gift only. A record's key names no one (`d-…`).
    let ana = &record_path(&mut treasurer, "ana%40example.org").await;
    assert!(ana.starts_with("/admin/donors/d-"), "{ana}");
    let (status, page, _) = treasurer.get(ana).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("1 gift, <strong>$50.00</strong> in all"), "{page}");

    // A record that does not exist, or herself, is refused, naming the field.
    let csrf = Visitor::csrf_in(&page);
    for (other, message) in [
        ("nobody@example.org", "no gift is recorded under nobody@example.org"),
        ("ana@example.org", "is this donor already"),
    ] {
        let (status, refused, _) = treasurer
            .post(&format!("{ana}/merge"), &[("csrf", &csrf), ("other", other), ("reason", "")])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{other}");
        assert!(refused.contains("Other record") && refused.contains(message), "{refused}");
    }

    // Her cheque, recorded by name, is merged into her.
    let (status, _, headers) = treasurer
        .post(
            &format!("{ana}/merge"),
            &[("csrf", &csrf), ("other", "Ana Béland"), ("reason", "same person, cheque")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], ana);
    let (_, page, _) = treasurer.get(ana).await;
    assert!(page.contains("2 gifts, <strong>$70.00</strong> in all"), "{page}");
    assert!(
        page.contains("merged by user:tre@example.org") && page.contains("same person, cheque"),
        "{page}"
    );
    let (_, found, _) = treasurer.get("/admin/donors?q=B%C3%A9land").await;
    assert_eq!(found.matches("/admin/donors/").count(), 1, "one person now: {found}");
    {
        use sqlx::{Connection, Row};
        let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
        let row = sqlx::query("SELECT actor, after_state FROM audit_log WHERE action = 'donor.merged'")
            .fetch_one(&mut connection)
            .await
            .expect("the merge is in the audit log");
        let after: String = row.try_get("after_state").expect("after");
        // Records, not people: the audit log names the two keys, neither of which says who.
        assert!(after.matches("\"d-").count() == 2 && !after.contains("ana"), "{after}");
        assert_eq!(row.try_get::<String, _>("actor").expect("actor"), "user:tre@example.org");
    }

    // Her own page shows the cheque now, and its receipt goes to the address her link went to.
    let before = app.smtp.messages().len();
    let asked = app.form_post("/manage", &[("lang", "en"), ("email", "ana@example.org")]).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let messages = app.smtp.wait_for(before + 1).await;
    let link = crate::fake_smtp::body_text(messages.last().expect("her link"))
        .lines()
        .find(|line| line.starts_with("https://give.example.org/manage/"))
        .map(|line| line.trim().trim_start_matches("https://give.example.org").to_owned())
        .expect("a link");
    let shown = app.get(&link).await.text().await.expect("her page");
    assert!(shown.contains("In all: $70.00"), "{shown}");
    let token = link.trim_start_matches("/manage/").split('?').next().expect("a token").to_owned();
    let cheque_id = page_entry_id(&shown, "$20.00");
    let sent = app.smtp.messages().len();
    let resent =
        app.form_post(&format!("/manage/{token}/receipts"), &[("lang", "en"), ("entry", &cheque_id)]).await;
    assert_eq!(resent.status(), StatusCode::OK);
    let messages = app.smtp.wait_for(sent + 1).await;
    assert!(messages.last().expect("the receipt").contains("To: ana@example.org"), "{:?}", messages.last());

    // Her statement is replaced by one with both gifts; the cheque's own one is voided.
    let said = statements(&app, &year);
    assert!(said.contains("0 issued, 2 replaced, 1 unchanged"), "{said}");

    // Undone by a newer record: two records again, the ledger never touched.
    let (_, page, _) = treasurer.get(ana).await;
    let undo = page
        .split("/admin/donors/merges/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("an undo form");
    let csrf = Visitor::csrf_in(&page);
    let (status, _, _) =
        treasurer.post(&format!("/admin/donors/merges/{undo}/undo"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = treasurer.get(ana).await;
    assert!(page.contains("1 gift, <strong>$50.00</strong> in all"), "{page}");
    let said = statements(&app, &year);
    assert!(said.contains("0 issued, 2 replaced, 1 unchanged"), "{said}");

    // Not for a branch treasurer, nor a viewer.
    add_user(&app, "branch@example.org", "treasurer", Some("montreal"));
    let mut branch = Visitor::new(&app);
    branch.sign_in("branch@example.org", PASSWORD).await;
    assert_eq!(branch.get("/admin/donors?q=ana").await.0, StatusCode::FORBIDDEN);

    // Merges are never rewritten; the books balance.
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let refused = sqlx::query("DELETE FROM donor_merges").execute(&mut connection).await;
    assert!(refused.is_err_and(|error| error.to_string().contains("append-only")));
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

/// The path of the first donor a search for `query` lists.
pub async fn record_path(visitor: &mut Visitor<'_>, query: &str) -> String {
    let (status, found, _) = visitor.get(&format!("/admin/donors?q={query}")).await;
    assert_eq!(status, StatusCode::OK);
    let at = found.find("href=\"/admin/donors/").expect("a donor found") + 6;
    found[at..].split('"').next().expect("a path").to_owned()
}

/// The entry id of the first gift of `amount` on a donor's page (its receipt form).
fn page_entry_id(page: &str, amount: &str) -> String {
    let at = page.find(amount).expect("the gift");
    let rest = &page[at..];
    let value = rest.find("name=\"entry\" value=\"").expect("its receipt form") + 20;
    rest[value..].split('"').next().expect("an id").to_owned()
}

async fn everything_held_about_a_donor_is_exported_as_json(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let year = Utc::now().year().to_string();
    let gift = json!({"amount": "25.00", "email": "ana@example.org", "name": "Ana", "message": "Courage !", "locale": "fr"});
    let session = app.checkout("office", &gift).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    // A checkout she left, and a stranger's gift.
    app.checkout("office", &json!({"amount": "90.00", "email": "Ana@Example.org"})).await;
    cheque(&app, "30.00", "Ben Roy", Some("ben@example.org")).await;
    let run = app.cli(&["statements", "--year", &year, "--send"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let exported = app.cli(&["donor", "export", "--email", " ANA@example.org "]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let export: serde_json::Value = serde_json::from_slice(&exported.stdout).expect("JSON");
    let records = export["records"].as_array().expect("records");
    assert!(records.len() == 1 && records[0].as_str().is_some_and(|key| key.starts_with("d-")), "{export}");
    let gifts = export["gifts"].as_array().expect("gifts");
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0]["message"], "Courage !");
    assert_eq!(gifts[0]["donor_email"], "ana@example.org");
    assert_eq!(export["checkouts"].as_array().expect("checkouts").len(), 2, "the one she left too");
    assert_eq!(export["statements"][0]["number"], format!("{year}-00001"));
    assert!(
        export["emails"].as_array().expect("emails").iter().any(|email| email["kind"] == "annual_statement"),
        "{export}"
    );
    assert!(!export.to_string().contains("ben@example.org"), "nobody else's");

    // To a file, never over one; a wrong address is refused naming the field.
    let folder = tempfile::tempdir().expect("a folder");
    let path = folder.path().join("ana.json");
    let path_text = path.to_str().expect("a path");
    let written = app.cli(&["donor", "export", "--email", "ana@example.org", "--output", path_text]);
    assert!(written.status.success());
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the file")).expect("JSON");
    assert_eq!(again["gifts"], export["gifts"]);
    let over = app.cli(&["donor", "export", "--email", "ana@example.org", "--output", path_text]);
    assert!(!over.status.success(), "an existing file is kept");
    let wrong = app.cli(&["donor", "export", "--email", "not an address"]);
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("email"));
    let stranger = app.cli(&["donor", "export", "--email", "nobody@example.org"]);
    let stranger: serde_json::Value = serde_json::from_slice(&stranger.stdout).expect("JSON");
    assert_eq!(stranger["gifts"], json!([]));
    assert_eq!(stranger["checkouts"], json!([]));
}
