//! Ledger exports: exact CSV, range edges in the organization's time zone, journals that the
//! real bean-check and hledger accept, and memory that does not grow with the ledger.

use std::path::Path;
use std::process::Command;

use chrono::TimeZone;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Engine, Options, TestApp, on_both_engines, problem, spawn_app, spawn_app_with};

on_both_engines!(
    the_csv_explains_every_cent_of_a_scripted_history,
    the_range_includes_the_last_minute_of_the_last_local_day,
    journals_pass_bean_check_and_hledger_and_balance_to_raised,
    viewers_get_no_donor_details_and_bad_requests_name_the_field,
    a_large_export_streams_in_constant_memory,
);

/// Donations online (one-off and a recurring series), partial refunds, a lost dispute,
/// offline cash, and a bounced cheque.
async fn scripted_history(app: &TestApp) {
    app.create_campaign("office").await;
    let once =
        app.checkout("office", &json!({"amount": "100.00", "email": "ana@example.org", "name": "Ana"})).await;
    app.deliver_all(&app.stripe.pay_session(&once)).await;
    let charge = app.stripe.charge_of_session(&once);
    app.deliver_all(&app.stripe.refund(&charge, 2000)).await;
    app.deliver_all(&app.stripe.refund(&charge, 500)).await;
    let monthly =
        app.checkout("office", &json!({"amount": "20.00", "interval": "month", "branch": "quebec"})).await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    let subscription =
        app.stripe.session(&monthly)["subscription"].as_str().expect("subscription").to_owned();
    app.deliver_all(&app.stripe.renew(&subscription)).await;
    app.deliver_all(&app.stripe.renew(&subscription)).await;
    let disputed = app.checkout("office", &json!({"amount": "50.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&disputed)).await;
    let (dispute, opened) = app.stripe.dispute(&app.stripe.charge_of_session(&disputed));
    app.deliver_all(&opened).await;
    app.deliver_all(&app.stripe.close_dispute(&dispute, false)).await;
    let cash = json!({"amount": "300.00", "method": "cash", "received_on": "2026-11-01", "donor_name": "Branch picnic", "branch": "montreal"});
    app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &cash).await;
    let cheque =
        json!({"amount": "75.00", "method": "cheque", "received_on": "2026-11-02", "reference": "CHQ-88"});
    let cheque: serde_json::Value = app
        .post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &cheque)
        .await
        .json()
        .await
        .expect("JSON");
    let path = format!("/api/v1/admin/donations/{}/reversals", cheque["id"]);
    app.post_as(&app.treasurer_token, &path, &json!({"reason": "bounced"})).await;
}

pub async fn export(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = app.get_as(token, &format!("/api/v1/admin/exports/ledger?{query}")).await;
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("text"))
}

fn minor(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let negative = whole.starts_with('-');
    let value = whole.trim_start_matches('-').parse::<i64>().expect("whole") * 100
        + fraction.parse::<i64>().expect("cents");
    if negative { -value } else { value }
}

fn fee(amount: i64) -> String {
    let fee = crate::fake_stripe::stripe_fee(amount);
    format!("{}.{:02}", fee / 100, fee % 100)
}

async fn the_csv_explains_every_cent_of_a_scripted_history(engine: Engine) {
    let app = spawn_app(engine).await;
    scripted_history(&app).await;
    let (status, headers, csv) = export(&app, &app.treasurer_token, "format=csv&campaign=office").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ASCII")
            .starts_with("attachment; filename=\"appeal-office-2000-01-01-")
    );
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(
        &header[..14],
        [
            "entry_id",
            "date",
            "kind",
            "source",
            "method",
            "campaign",
            "branch",
            "donor_name",
            "donor_email",
            "anonymous",
            "gross",
            "fee",
            "net",
            "currency"
        ]
    );
    let column = |name: &str| header.iter().position(|h| *h == name).expect("a column");
    let rows: Vec<Vec<String>> = lines.map(|line| line.split(',').map(str::to_owned).collect()).collect();
    let pick = |row: &Vec<String>, names: &[&str]| {
        names.iter().map(|name| row[column(name)].clone()).collect::<Vec<_>>()
    };
    let summary: Vec<Vec<String>> = rows
        .iter()
        .map(|row| pick(row, &["kind", "source", "method", "branch", "gross", "fee", "net", "recurring"]))
        .collect();
    let s = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    let net = |gross: i64| {
        let net = gross - crate::fake_stripe::stripe_fee(gross);
        format!("{}.{:02}", net / 100, net % 100)
    };
    assert_eq!(
        summary,
        vec![
            s(&["donation", "online", "stripe", "", "100.00", &fee(10000), &net(10000), "false"]),
            s(&["refund", "online", "stripe", "", "-20.00", "0.00", "-20.00", "false"]),
            s(&["refund", "online", "stripe", "", "-5.00", "0.00", "-5.00", "false"]),
            s(&["donation", "online", "stripe", "quebec", "20.00", &fee(2000), &net(2000), "true"]),
            s(&["donation", "online", "stripe", "quebec", "20.00", &fee(2000), &net(2000), "true"]),
            s(&["donation", "online", "stripe", "quebec", "20.00", &fee(2000), &net(2000), "true"]),
            s(&["donation", "online", "stripe", "", "50.00", &fee(5000), &net(5000), "false"]),
            s(&["dispute", "online", "stripe", "", "-50.00", "15.00", "-65.00", "false"]),
            s(&["donation", "offline", "cash", "montreal", "300.00", "0.00", "300.00", "false"]),
            s(&["donation", "offline", "cheque", "", "75.00", "0.00", "75.00", "false"]),
            s(&["adjustment", "offline", "cheque", "", "-75.00", "0.00", "-75.00", "false"]),
        ]
    );
    assert_eq!(rows[0][column("donor_email")], "ana@example.org");
    assert!(
        rows[0][column("stripe_charge")].starts_with("ch_")
            && rows[1][column("stripe_refund")].starts_with("re_")
    );
    assert!(
        rows[3][column("stripe_invoice")].starts_with("in_")
            && rows[3][column("stripe_subscription")].starts_with("sub_")
    );
    assert_eq!(rows[10][column("reverses")], rows[9][column("entry_id")]);
    assert_eq!(rows[9][column("reference")], "CHQ-88");

    // The columns sum to the campaign's figures.
    let sum = |name: &str| rows.iter().map(|row| minor(&row[column(name)])).sum::<i64>();
    let progress = app.progress("office").await;
    assert_eq!(sum("gross"), minor(progress["raised"].as_str().expect("raised")));
    let online: i64 = rows
        .iter()
        .filter(|row| row[column("source")] == "online")
        .map(|row| minor(&row[column("gross")]))
        .sum();
    assert_eq!(online, minor(progress["by_source"]["online"].as_str().expect("online")));
    assert_eq!(sum("gross") - sum("fee"), sum("net"));

    // The CLI writes the same file.
    let file = tempfile::NamedTempFile::new().expect("a file");
    let out = app.cli(&["export", "--campaign", "office", "--output", &file.path().display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(file.path()).expect("the file"), csv);
}

async fn the_range_includes_the_last_minute_of_the_last_local_day(engine: Engine) {
    let options =
        Options { vars: vec![("APPEAL_TIMEZONE", "America/Toronto".to_owned())], ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let store = appeal::store::Store::connect(&app.db.url).await.expect("connect");
    let campaign = store.campaign_by_slug("office").await.expect("read").expect("a campaign");
    let toronto = chrono_tz::America::Toronto;
    let at = |day: u32, month: u32, hour: u32, minute: u32| {
        toronto
            .with_ymd_and_hms(2026, month, day, hour, minute, 0)
            .single()
            .expect("a local time")
            .with_timezone(&chrono::Utc)
    };
    for (n, received_at) in [(1, at(1, 11, 0, 0)), (2, at(30, 11, 23, 59)), (3, at(1, 12, 0, 1))] {
        let entry = appeal::ledger::NewEntry {
            campaign_id: campaign.id,
            branch_id: None,
            kind: appeal::ledger::EntryKind::Donation,
            source: appeal::ledger::Source::Online,
            method: "stripe".to_owned(),
            amount_minor: n * 100,
            fee_minor: 0,
            currency: campaign.currency,
            donor: appeal::ledger::entry::Donor::default(),
            recurring: false,
            received_on: received_at.date_naive(),
            recorded_by: "test".to_owned(),
            reference: None,
            reason: None,
            reverses_entry_id: None,
            capped: true,
            reverses_key: None,
            idempotency_key: None,
            stripe: appeal::ledger::StripeRefs::default(),
            presented: None,
            rate: None,
            received_at: Some(received_at),
            batch_id: None,
            source_ref: None,
            match_offer_id: None,
        };
        store.record_entry(&entry).await.expect("recorded");
    }
    let dates_and_amounts = |csv: &str| -> Vec<(String, String)> {
        csv.lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                (fields[1].to_owned(), fields[10].to_owned())
            })
            .collect()
    };
    let (_, _, november) = export(&app, &app.treasurer_token, "from=2026-11-01&to=2026-11-30").await;
    assert_eq!(
        dates_and_amounts(&november),
        [("2026-11-01".to_owned(), "1.00".to_owned()), ("2026-11-30".to_owned(), "2.00".to_owned())],
        "midnight on the first day and 23:59 on the last are in; 00:01 the next day is out"
    );
    let (_, _, one_day) = export(&app, &app.treasurer_token, "from=2026-11-30&to=2026-11-30").await;
    assert_eq!(dates_and_amounts(&one_day), [("2026-11-30".to_owned(), "2.00".to_owned())]);
    let (_, _, december) = export(&app, &app.treasurer_token, "from=2026-12-01&to=2026-12-31").await;
    assert_eq!(dates_and_amounts(&december), [("2026-12-01".to_owned(), "3.00".to_owned())]);
}

pub fn tool(name: &str) -> Option<String> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success());
    match found {
        Some(output) => Some(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
        None => {
            assert!(std::env::var("CI").is_err(), "{name} must be installed under CI (.ci/run does it)");
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** {name} not installed: that journal check is SKIPPED ***\n"
            );
            None
        }
    }
}

pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sums the amounts posted to Income accounts in a journal written by appeal.
fn income_in(journal: &str) -> i64 {
    journal
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("Income:"))
        .map(|line| minor(line.split_whitespace().nth(1).expect("an amount")))
        .sum()
}

async fn journals_pass_bean_check_and_hledger_and_balance_to_raised(engine: Engine) {
    let app = spawn_app(engine).await;
    scripted_history(&app).await;
    // A refund that failed, and a dispute won with its fee given back (a negative fee).
    let gift = app.checkout("office", &json!({"amount": "60.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&gift)).await;
    let charge = app.stripe.charge_of_session(&gift);
    app.deliver_all(&app.stripe.refund(&charge, 1000)).await;
    app.deliver_all(&app.stripe.fail_refund(&app.stripe.last_refund_of(&charge))).await;
    let (dispute, opened) = app.stripe.dispute(&charge);
    app.deliver_all(&opened).await;
    app.deliver_all(&app.stripe.win_dispute_with_fee_back(&dispute)).await;
    let raised = minor(app.progress("office").await["raised"].as_str().expect("raised"));
    let folder = tempfile::tempdir().expect("a folder");

    let (status, _, beancount) = export(&app, &app.treasurer_token, "format=beancount").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(income_in(&beancount), -raised);
    let beancount_file = folder.path().join("ledger.beancount");
    std::fs::write(&beancount_file, &beancount).expect("written");
    if let Some(bean_check) = tool("bean-check") {
        run(&bean_check, &[&beancount_file.display().to_string()]);
    }

    let (status, _, journal) = export(&app, &app.treasurer_token, "format=ledger").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(income_in(&journal), -raised);
    let journal_file = folder.path().join("ledger.journal");
    std::fs::write(&journal_file, &journal).expect("written");
    if let Some(hledger) = tool("hledger") {
        let file = journal_file.display().to_string();
        run(&hledger, &["-f", &file, "check", "accounts", "commodities"]);
        let balance =
            run(&hledger, &["-f", &file, "balance", "Income", "--depth", "2", "--no-total", "-O", "csv"]);
        let income = balance.lines().find(|line| line.contains("Income:Donations")).expect("an income line");
        let amount = income.split(',').nth(1).expect("an amount").trim_matches('"').replace(" CAD", "");
        assert_eq!(minor(&amount), -raised, "{balance}");
    }
    assert!(Path::new(&beancount_file).exists());
}

async fn viewers_get_no_donor_details_and_bad_requests_name_the_field(engine: Engine) {
    let app = spawn_app(engine).await;
    scripted_history(&app).await;
    let (_, _, as_viewer) = export(&app, &app.viewer_token, "campaign=office").await;
    assert!(
        !as_viewer.contains("ana@example.org")
            && !as_viewer.contains("Ana")
            && !as_viewer.contains("Branch picnic")
    );
    let (_, _, as_treasurer) = export(&app, &app.treasurer_token, "campaign=office").await;
    assert!(as_treasurer.contains("ana@example.org") && as_treasurer.contains("Branch picnic"));

    let anonymous = app.get("/api/v1/admin/exports/ledger").await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let cases = [
        ("format=xlsx", "format"),
        ("from=01/11/2026", "from"),
        ("from=2026-12-01&to=2026-11-01", "to"),
        ("campaign=nowhere", "campaign"),
        ("campaign=office&branch=toronto", "branch"),
        ("branch=quebec", "branch"),
        ("colour=red", "colour"),
    ];
    for (query, field) in cases {
        let response =
            app.get_as(&app.treasurer_token, &format!("/api/v1/admin/exports/ledger?{query}")).await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(body["errors"][field].is_string(), "{query}: {body}");
    }
}

/// Inserts `count` offline entries straight into the ledger, as a load fixture (the kept
/// totals are not the point here).
pub async fn bulk_entries(app: &TestApp, campaign: &str, count: i64) {
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO ledger_entries (campaign_id, kind, source, method, amount_minor, fee_minor, net_minor, currency, \
         donor_key, anonymous, recurring, received_on, recorded_at, recorded_by, reference) \
         SELECT c.id, 'donation', 'offline', 'cash', 1000 + i, 0, 1000 + i, 'CAD', 'd-load', \
         {false_}, {false_}, '2026-11-01', '2026-11-01T12:00:00.000000Z', 'load', 'a reference to pad the row a little' \
         FROM n, campaigns c WHERE c.slug = '{campaign}'",
        false_ = if app.db.url.starts_with("sqlite") { "0" } else { "FALSE" }
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut connection).await.expect("bulk insert");
    sqlx::query(
        "INSERT INTO donor_details (entry_id, name) SELECT e.id, 'A donor with a long enough name' \
         FROM ledger_entries e WHERE e.recorded_by = 'load' \
         AND NOT EXISTS (SELECT 1 FROM donor_details d WHERE d.entry_id = e.id)",
    )
    .execute(&mut connection)
    .await
    .expect("bulk details");
}

/// Runs `appeal export` and returns its peak resident memory in kB (VmHWM).
fn export_peak_memory(app: &TestApp, args: &[&str]) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_appeal"))
        .arg("export")
        .args(args)
        .args(["--output", "/dev/null"])
        .env("DATABASE_URL", &app.db.url)
        .env("APPEAL_LOG", "warn")
        .spawn()
        .expect("the export runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|line| line.starts_with("VmHWM:"))
        {
            peak = peak.max(line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).unwrap_or(0));
        }
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "the export failed");
            return peak;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

async fn a_large_export_streams_in_constant_memory(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("small").await;
    app.create_campaign("large").await;
    bulk_entries(&app, "small", 20_000).await;
    bulk_entries(&app, "large", 180_000).await;
    let small = export_peak_memory(&app, &["--campaign", "small"]);
    let all = export_peak_memory(&app, &[]);
    // 200,000 rows of CSV are some 60 MB: held in memory, they would show.
    assert!(small > 0 && all > 0);
    assert!(
        all < small + 16 * 1024,
        "peak memory grew from {small} kB (20,000 rows) to {all} kB (200,000 rows)"
    );
    // The API streams it whole.
    let response = app.get_as(&app.viewer_token, "/api/v1/admin/exports/ledger?format=csv").await;
    let body = response.text().await.expect("the whole export");
    assert_eq!(body.lines().count(), 200_001);
}
