//! Forgetting a person (`appeal donor forget`, the donor page's action for admins): their
//! name, email, address and messages erased everywhere appeal keeps them, every amount left in
//! the ledger under a record that names no one, the ledger itself never changed; and the
//! migration that moved personal data out of the ledger, from a database of the version before.

use chrono::{Datelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

use crate::fake_smtp::body_text;
use crate::helpers::{Engine, TestApp, TestDatabase, on_both_engines, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    a_forgotten_donor_leaves_their_amounts_and_nothing_that_names_them,
    a_donor_whose_subscription_runs_is_forgotten_once_it_ends,
    an_admin_forgets_a_donor_and_their_merged_records_from_the_dashboard,
    a_database_from_before_moves_personal_data_out_of_the_ledger,
);

async fn cheque(app: &TestApp, amount: &str, name: Option<&str>, email: Option<&str>, message: Option<&str>) {
    let today = Utc::now().date_naive().to_string();
    let body = json!({"amount": amount, "method": "cheque", "received_on": today, "donor_name": name,
                      "donor_email": email, "message": message});
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &body).await;
    assert_eq!(posted.status(), StatusCode::CREATED, "{:?}", posted.text().await);
}

async fn scalar(url: &str, sql: &str) -> String {
    let mut connection = sqlx::AnyConnection::connect(url).await.expect("connect");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut connection).await.expect(sql);
    row.try_get::<Option<String>, _>(0)
        .ok()
        .flatten()
        .or_else(|| row.try_get::<Option<i64>, _>(0).ok().flatten().map(|n| n.to_string()))
        .unwrap_or_default()
}

/// Every text kept in any table (but the migrations' own), as `table.column: value`, for
/// searching the whole database for a person.
async fn every_text(url: &str) -> Vec<String> {
    let mut connection = sqlx::AnyConnection::connect(url).await.expect("connect");
    let columns_sql = if url.starts_with("sqlite") {
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND p.type = 'TEXT' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\'"
    } else {
        "SELECT CAST(table_name AS TEXT) AS t, CAST(column_name AS TEXT) AS c FROM information_schema.columns \
         WHERE table_schema = 'public' AND data_type = 'text' AND table_name NOT LIKE '\\_sqlx%'"
    };
    let columns: Vec<(String, String)> = sqlx::query(columns_sql)
        .fetch_all(&mut connection)
        .await
        .expect("the columns")
        .iter()
        .map(|row| (row.try_get("t").expect("t"), row.try_get("c").expect("c")))
        .collect();
    assert!(columns.len() > 50, "every text column: {columns:?}");
    let mut texts = Vec::new();
    for (table, column) in columns {
        let sql = format!("SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut connection).await.expect("the rows") {
            let value: String = row.try_get("v").expect("text");
            texts.push(format!("{table}.{column}: {value}"));
        }
    }
    texts
}

/// The texts that name any of `words` (any case; a word inside a longer address, such as
/// `ana@…` in `diana@…`, does not count).
fn naming(texts: &[String], words: &[&str]) -> Vec<String> {
    texts
        .iter()
        .filter(|text| {
            let text = text.to_lowercase();
            words.iter().any(|word| {
                text.match_indices(&word.to_lowercase()).any(|(at, _)| {
                    !text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || "._-+".contains(c))
                })
            })
        })
        .cloned()
        .collect()
}

/// The ledger as figures: entries, their sum, and each one's amount and key.
async fn ledger(app: &TestApp) -> (String, String, String) {
    let figures = |sql: &'static str| scalar(&app.db.url, sql);
    (
        figures("SELECT COUNT(*) FROM ledger_entries").await,
        figures("SELECT CAST(SUM(amount_minor) AS BIGINT) FROM ledger_entries").await,
        figures(
            "SELECT COALESCE(STRING_AGG(CAST(id AS TEXT) || ':' || CAST(amount_minor AS TEXT) || ':' || donor_key, ','), '') \
             FROM (SELECT id, amount_minor, donor_key FROM ledger_entries ORDER BY id) AS entries",
        )
        .await,
    )
}

fn export_of(app: &TestApp, email: &str) -> Value {
    let exported = app.cli(&["donor", "export", "--email", email]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    serde_json::from_slice(&exported.stdout).expect("JSON")
}

async fn a_forgotten_donor_leaves_their_amounts_and_nothing_that_names_them(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let year = Utc::now().year().to_string();
    // An endpoint keeps the gifts' events (with names) in the outgoing outbox.
    let hook = json!({"url": "https://hooks.example.org/appeal", "events": ["donation.recorded"]});
    assert_eq!(
        app.post_as(&app.admin_token, "/api/v1/admin/webhooks", &hook).await.status(),
        StatusCode::CREATED
    );

    // Ana: online with a message (Stripe's events hold her name and address), and a cheque.
    let gift = json!({"amount": "25.00", "email": "Ana@Example.org", "name": "Ana Béland",
                      "message": "Courage à tous !", "locale": "fr"});
    let session = app.checkout("office", &gift).await;
    let paid = app.stripe.pay_session(&session);
    app.deliver_all(&paid).await;
    cheque(&app, "20.00", Some("Ana Béland"), Some("ana@example.org"), None).await;
    // Diana, whose address holds hers, gives online too: nothing of hers may go.
    let diana = json!({"amount": "12.00", "email": "diana@example.org", "name": "Diana Roy", "message": "Ana, merci"});
    let diana = app.checkout("office", &diana).await;
    app.deliver_all(&app.stripe.pay_session(&diana)).await;
    // A checkout she left unpaid, and Ben, who stays.
    let left = app
        .checkout("office", &json!({"amount": "90.00", "email": "ana@example.org", "name": "Ana Béland"}))
        .await;
    // An event of hers waits to be applied, kept as Stripe sent it (her name and address in it).
    let waiting =
        app.stripe.pay_session(&left).into_iter().find(|event| event["type"] == "checkout.session.completed");
    let waiting = waiting.expect("the session's event");
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query(
        "INSERT INTO stripe_events (id, type, created, status, waiting_for, payload, source, received_at) \
         VALUES ($1, $2, $3, 'deferred', 'ch_not_yet', $4, 'webhook', '2026-12-01T00:00:00.000000Z')",
    )
    .bind(waiting["id"].as_str().expect("id"))
    .bind("checkout.session.completed")
    .bind(waiting["created"].as_i64().expect("created"))
    .bind(waiting.to_string())
    .execute(&mut connection)
    .await
    .expect("kept");
    cheque(&app, "30.00", Some("Ben Roy"), Some("ben@example.org"), Some("Tenez bon")).await;
    // Her statement, sent; her self-service link.
    let run = app.cli(&["statements", "--year", &year, "--send"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(
        app.form_post("/manage", &[("lang", "fr"), ("email", "ana@example.org")]).await.status(),
        StatusCode::OK
    );
    // The link is stored and mailed after that answer: its mail says it is stored.
    app.smtp
        .wait_until(|messages| messages.iter().any(|message| body_text(message).contains("/manage/")))
        .await;

    let ana = ["ana@example.org", "Béland", "Courage à tous"];
    app.wait_for_emails_sent().await;
    let before = every_text(&app.db.url).await;
    for table in [
        "donor_details",
        "checkout_intents",
        "stripe_events",
        "outbox.",
        "outbox_emails",
        "manage_tokens",
        "statement_addressees",
    ] {
        assert!(naming(&before, &ana).iter().any(|text| text.starts_with(table)), "{table} names her before");
    }
    let books = ledger(&app).await;
    let dianas = naming(&before, &["diana@example.org", "Diana Roy"]);
    assert!(dianas.len() >= 3, "{dianas:?}");
    let progress = app.get("/api/v1/campaigns/office/progress").await.json::<Value>().await.expect("JSON");
    let wall = app.get("/c/office").await.text().await.expect("the page");
    assert!(wall.contains("Ana Béland") && wall.contains("Courage à tous"), "{wall}");

    // Without a terminal, it asks for --yes and changes nothing.
    let refused = app.cli(&["donor", "forget", "--email", "ana@example.org"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("yes"), "{refused:?}");
    assert_eq!(export_of(&app, "ana@example.org")["gifts"].as_array().expect("gifts").len(), 2);

    let forgot = app.cli(&["donor", "forget", "--email", "ANA@example.org", "--yes"]);
    assert!(forgot.status.success(), "{}", String::from_utf8_lossy(&forgot.stderr));
    let said = String::from_utf8_lossy(&forgot.stdout);
    assert!(
        said.contains("forgotten: 1 record(s); erased from 2 ledger entries, 1 statement(s), 2 checkout(s)"),
        "{said}"
    );
    assert!(said.contains("1 Stripe event(s)") && said.contains("1 self-service link(s)"), "{said}");
    assert!(!said.to_lowercase().contains("ana"), "{said}");

    // Nothing anywhere names her; Ben is all there.
    let after = every_text(&app.db.url).await;
    assert_eq!(naming(&after, &ana), Vec::<String>::new());
    assert!(naming(&after, &["ben@example.org"]).iter().any(|text| text.starts_with("donor_details")));
    assert_eq!(naming(&after, &["diana@example.org", "Diana Roy"]), dianas, "Diana's, whole");
    assert!(
        naming(&after, &["Tenez bon"]).len() == naming(&before, &["Tenez bon"]).len(),
        "Ben's message is kept"
    );
    let export = export_of(&app, "ana@example.org");
    for part in ["gifts", "checkouts", "subscriptions", "emails", "statements", "merges", "records"] {
        assert_eq!(export[part], json!([]), "{part}: {export}");
    }

    // The ledger did not change; the figures neither; the books check and balance.
    assert_eq!(ledger(&app).await, books);
    let now = app.get("/api/v1/campaigns/office/progress").await.json::<Value>().await.expect("JSON");
    for figure in ["raised", "donations", "donors"] {
        assert_eq!(now[figure], progress[figure], "{figure}");
    }
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let csv =
        app.get_as(&app.treasurer_token, "/api/v1/admin/exports/ledger?format=csv&campaign=office").await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.expect("the export");
    assert_eq!(csv.lines().count(), 5, "four gifts and the header: {csv}");
    assert!(!csv.contains("Béland") && csv.contains("Ben Roy"), "{csv}");
    // Her gift is still on the wall, without her name or message (a page the server kept
    // from before, forgotten from another process, is at most five seconds old).
    let mut wall = String::new();
    for _ in 0..100 {
        wall = app.get("/c/office").await.text().await.expect("the page");
        if !wall.contains("Béland") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!wall.contains("Courage à tous") && !wall.contains("Béland"), "{wall}");
    assert!(wall.contains("<span class=\"amount\">$25</span>"), "{wall}");

    // Audited, by counts and a record that names no one.
    let audited =
        scalar(&app.db.url, "SELECT after_state FROM audit_log WHERE action = 'donor.forgotten'").await;
    let audited: Value = serde_json::from_str(&audited).expect("JSON");
    assert_eq!(audited["entries"], 2);
    assert!(audited["records"][0].as_str().is_some_and(|key| key.starts_with("d-")), "{audited}");

    // Her statement stands as issued, to no one: not issued again, nor voided.
    let run = app.cli(&["statements", "--year", &year]);
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(said.contains("0 issued, 0 replaced"), "{said}");

    // A late copy of her payment's event from Stripe is a replay: it brings back no record of her.
    let mut late =
        paid.iter().find(|event| event["type"] == "checkout.session.completed").expect("paid").clone();
    late["id"] = json!("evt_late_copy");
    app.deliver_all(&[late]).await;
    assert_eq!(ledger(&app).await, books);
    assert_eq!(naming(&every_text(&app.db.url).await, &ana), Vec::<String>::new());

    // Forgetting cannot be undone, and asking again finds nothing: said, not done quietly.
    let again = app.cli(&["donor", "forget", "--email", "ana@example.org", "--yes"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("forgotten already, or never given"),
        "{again:?}"
    );
    // An address that begins like a record's key is an address.
    cheque(&app, "5.00", Some("Dee"), Some("d-0123456789abcdef0@example.org"), None).await;
    let dee = app.cli(&["donor", "forget", "--email", "d-0123456789abcdef0@example.org", "--yes"]);
    assert!(
        String::from_utf8_lossy(&dee.stdout).contains("forgotten: 1 record(s); erased from 1 ledger entry"),
        "{dee:?}"
    );
}

async fn a_donor_whose_subscription_runs_is_forgotten_once_it_ends(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let monthly =
        json!({"amount": "15.00", "interval": "month", "email": "carla@example.org", "name": "Carla Nunes"});
    let session = app.checkout("office", &monthly).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let subscription = scalar(&app.db.url, "SELECT id FROM subscriptions").await;

    let refused = app.cli(&["donor", "forget", "--email", "carla@example.org", "--yes"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("email") && said.contains(&subscription) && said.contains("cancel it in Stripe"),
        "{said}"
    );
    assert_eq!(export_of(&app, "carla@example.org")["subscriptions"].as_array().expect("kept").len(), 1);

    app.deliver_all(&app.stripe.end_subscription(&subscription, "cancellation_requested")).await;
    let forgot = app.cli(&["donor", "forget", "--email", "carla@example.org", "--yes"]);
    assert!(forgot.status.success(), "{}", String::from_utf8_lossy(&forgot.stderr));
    assert!(String::from_utf8_lossy(&forgot.stdout).contains("1 subscription(s)"));
    assert_eq!(naming(&every_text(&app.db.url).await, &["carla"]), Vec::<String>::new());
    // The subscription's history stays, to no one: the recurring figures do not change.
    let health = app.json_as(&app.treasurer_token, "/api/v1/admin/recurring").await;
    assert_eq!(
        health["months"].as_array().expect("months").last().expect("this month")["new"],
        1,
        "{health}"
    );
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

async fn an_admin_forgets_a_donor_and_their_merged_records_from_the_dashboard(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    cheque(&app, "50.00", Some("Ana Béland"), Some("ana@example.org"), Some("Pour la grève")).await;
    cheque(&app, "20.00", Some("Ana Béland"), None, None).await;
    cheque(&app, "30.00", Some("Ben Roy"), Some("ben@example.org"), None).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    add_user(&app, "boss@example.org", "admin", None);
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    let ana = crate::donors::record_path(&mut treasurer, "ana%40example.org").await;
    let (_, page, _) = treasurer.get(&ana).await;
    let csrf = Visitor::csrf_in(&page);
    assert!(!page.contains("Forget this person"), "for admins only");
    let (status, _, _) = treasurer
        .post(&format!("{ana}/merge"), &[("csrf", &csrf), ("other", "Ana Béland"), ("reason", "")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) =
        treasurer.post(&format!("{ana}/forget"), &[("csrf", &csrf), ("confirm", "ana@example.org")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let mut admin = Visitor::new(&app);
    admin.sign_in("boss@example.org", PASSWORD).await;
    let (_, page, _) = admin.get(&ana).await;
    assert!(
        page.contains("Forget this person") && page.contains("Type ana@example.org to confirm"),
        "{page}"
    );
    let csrf = Visitor::csrf_in(&page);
    let (status, refused, _) =
        admin.post(&format!("{ana}/forget"), &[("csrf", &csrf), ("confirm", "ana")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains("Confirmation") && refused.contains("must be ana@example.org, typed again"),
        "{refused}"
    );
    // Nothing erased yet: her two gifts' details, and the record her name finds.
    assert_eq!(naming(&every_text(&app.db.url).await, &["Béland"]).len(), 3, "nothing erased yet");

    let (status, _, headers) =
        admin.post(&format!("{ana}/forget"), &[("csrf", &csrf), ("confirm", " ANA@example.org ")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/admin/donors");
    let (_, listed, _) = admin.get("/admin/donors").await;
    assert!(
        listed.contains("Forgotten: their name, email and messages are erased from 2 ledger entries"),
        "{listed}"
    );
    // Both of her records (the cheque by name merged into her) name no one now.
    assert_eq!(
        naming(&every_text(&app.db.url).await, &["Béland", "ana@example.org", "grève"]),
        Vec::<String>::new()
    );
    let (_, found, _) = admin.get("/admin/donors?q=B%C3%A9land").await;
    assert!(!found.contains("href=\"/admin/donors/d-"), "{found}");
    let (status, page, _) = admin.get(&ana).await;
    assert_eq!(status, StatusCode::OK, "the record stays, its amounts with it");
    assert!(page.contains("2 gifts, <strong>$70.00</strong> in all"), "{page}");
    assert!(!page.contains("Béland"));
    assert!(page.contains("A forgotten donor") && !page.contains("Merge into this donor"), "{page}");
    // Merged with a named record, her gifts would name someone again: refused.
    let csrf = Visitor::csrf_in(&page);
    let (status, refused, _) = admin
        .post(&format!("{ana}/merge"), &[("csrf", &csrf), ("other", "ben@example.org"), ("reason", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("cannot be merged with a forgotten donor"), "{refused}");
    let audited = scalar(&app.db.url, "SELECT actor FROM audit_log WHERE action = 'donor.forgotten'").await;
    assert_eq!(audited, "user:boss@example.org");
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

/// A database at the migration before personal data left the ledger, with gifts, a merge and
/// a statement written as that version wrote them, is migrated by this appeal.
async fn a_database_from_before_moves_personal_data_out_of_the_ledger(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let folder = match engine {
        Engine::Sqlite => "migrations/sqlite",
        Engine::Postgres => "migrations/postgres",
    };
    sqlx::any::install_default_drivers();
    let all = sqlx::migrate::Migrator::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
        .await
        .expect("the migrations");
    let url = if engine == Engine::Sqlite { format!("{}?mode=rwc", db.url) } else { db.url.clone() };
    let mut connection = sqlx::AnyConnection::connect(&url).await.expect("connect");
    all.run_to(23, &mut connection).await.expect("migrated to 23");
    let (false_, true_) = if engine == Engine::Sqlite { ("0", "1") } else { ("FALSE", "TRUE") };
    let at = "2026-03-01T12:00:00.000000Z";
    for sql in [
        format!(
            "INSERT INTO campaigns (slug, currency, goal_minor, title_en, title_fr, description_en, description_fr, \
             status, created_at, updated_at) VALUES ('office', 'CAD', 100000, 'Office', 'Bureau', '', '', 'active', '{at}', '{at}')"
        ),
        format!(
            "INSERT INTO ledger_entries (campaign_id, kind, source, method, amount_minor, fee_minor, net_minor, currency, \
             donor_key, donor_name, donor_email, anonymous, public_message, recurring, received_on, recorded_at, recorded_by) \
             VALUES (1, 'donation', 'offline', 'cheque', 5000, 0, 5000, 'CAD', 'email:ana@example.org', 'Ana Béland', \
             'Ana@Example.org', {false_}, 'Courage', {false_}, '2026-03-01', '{at}', 'tre')"
        ),
        format!(
            "INSERT INTO ledger_entries (campaign_id, kind, source, method, amount_minor, fee_minor, net_minor, currency, \
             donor_key, donor_name, donor_email, anonymous, public_message, recurring, received_on, recorded_at, recorded_by) \
             VALUES (1, 'donation', 'offline', 'cash', 2000, 0, 2000, 'CAD', 'name:ana béland', 'Ana Béland', \
             NULL, {true_}, NULL, {false_}, '2026-03-02', '{at}', 'tre')"
        ),
        format!(
            "INSERT INTO ledger_entries (campaign_id, kind, source, method, amount_minor, fee_minor, net_minor, currency, \
             donor_key, anonymous, recurring, received_on, recorded_at, recorded_by) \
             VALUES (1, 'donation', 'offline', 'cash', 1000, 0, 1000, 'CAD', 'unnamed:abc', {false_}, {false_}, '2026-03-03', '{at}', 'tre')"
        ),
        "INSERT INTO donor_totals (campaign_id, donor_key, gross_minor) VALUES (1, 'email:ana@example.org', 5000), \
         (1, 'name:ana béland', 2000), (1, 'unnamed:abc', 1000)"
            .to_owned(),
        format!(
            "INSERT INTO donor_merges (from_key, into_key, at, by_actor) VALUES ('name:ana béland', 'email:ana@example.org', '{at}', 'tre')"
        ),
        format!(
            "INSERT INTO statements (year, number, donor_key, locale, body, total_minor, issued_at, issued_on, issued_by) \
             VALUES (2026, 1, 'email:ana@example.org', 'fr', \
             '{{\"name\":\"Ana Béland\",\"email\":\"Ana@Example.org\",\"lines\":[],\"totals\":[]}}', 7000, '{at}', '2026-03-01', 'tre')"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(&mut connection).await.expect(&sql);
    }
    connection.close().await.ok();

    // This appeal migrates it.
    let migrated = std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("APPEAL_LOG", "warn")
        .output()
        .expect("appeal runs");
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));

    let mut connection = sqlx::AnyConnection::connect(&db.url).await.expect("connect");
    let keys: Vec<String> = sqlx::query_scalar("SELECT donor_key FROM ledger_entries ORDER BY id")
        .fetch_all(&mut connection)
        .await
        .expect("keys");
    assert!(keys[0].starts_with("d-") && keys[1].starts_with("d-") && keys[0] != keys[1], "{keys:?}");
    assert_eq!(keys[2], "unnamed:abc");
    let lookup = |key: &str| format!("SELECT lookup FROM donors WHERE key = '{key}'");
    assert_eq!(scalar(&db.url, &lookup(&keys[0])).await, "email:ana@example.org");
    assert_eq!(scalar(&db.url, &lookup(&keys[1])).await, "name:ana béland");
    // The ledger holds no name, email or message any more; they are beside it.
    assert!(sqlx::query("SELECT donor_name FROM ledger_entries").fetch_all(&mut connection).await.is_err());
    assert!(
        sqlx::query("SELECT public_message FROM ledger_entries").fetch_all(&mut connection).await.is_err()
    );
    let details = scalar(
        &db.url,
        "SELECT name || '|' || email || '|' || message FROM donor_details WHERE entry_id = 1",
    )
    .await;
    assert_eq!(details, "Ana Béland|Ana@Example.org|Courage");
    assert_eq!(scalar(&db.url, "SELECT COUNT(*) FROM donor_details").await, "2");
    // Totals, merges and statements follow the new keys; a statement's addressee is beside it.
    let totals =
        scalar(&db.url, &format!("SELECT gross_minor FROM donor_totals WHERE donor_key = '{}'", keys[1]))
            .await;
    assert_eq!(totals, "2000");
    let merge = scalar(&db.url, "SELECT from_key || '>' || into_key FROM donor_merges").await;
    assert_eq!(merge, format!("{}>{}", keys[1], keys[0]));
    assert_eq!(scalar(&db.url, "SELECT donor_key FROM statements").await, keys[0]);
    let body = scalar(&db.url, "SELECT body FROM statements").await;
    assert!(!body.contains("Ana") && body.contains("lines"), "{body}");
    assert_eq!(
        scalar(&db.url, "SELECT name || '|' || email FROM statement_addressees").await,
        "Ana Béland|Ana@Example.org"
    );
    // Still append-only.
    for sql in [
        "UPDATE ledger_entries SET amount_minor = 1 WHERE id = 1",
        "UPDATE statements SET total_minor = 1",
        "UPDATE donor_merges SET reason = 'x'",
    ] {
        let refused = sqlx::query(sql).execute(&mut connection).await;
        assert!(refused.is_err_and(|error| error.to_string().contains("append-only")), "{sql}");
    }

    // And this appeal reads it: her export finds both records, with her details.
    let exported = std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
        .args(["donor", "export", "--email", "ana@example.org"])
        .env("DATABASE_URL", &db.url)
        .env("APPEAL_LOG", "warn")
        .output()
        .expect("appeal runs");
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let export: Value = serde_json::from_slice(&exported.stdout).expect("JSON");
    assert_eq!(export["gifts"].as_array().expect("gifts").len(), 2, "{export}");
    assert_eq!(export["gifts"][0]["donor_name"], "Ana Béland");
    assert_eq!(export["statements"][0]["body"]["name"], "Ana Béland");
}
