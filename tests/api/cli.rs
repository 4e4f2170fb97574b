//! The command line writes through the same code as the API.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Engine, on_both_engines, spawn_app};

on_both_engines!(
    the_cli_creates_records_and_checks,
    cli_errors_name_the_field_and_write_nothing,
    check_names_a_campaign_whose_totals_drifted,
    a_command_never_creates_a_stray_database,
);

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn the_cli_creates_records_and_checks(engine: Engine) {
    let app = spawn_app(engine).await;
    let created = app.cli(&[
        "campaign",
        "create",
        "--slug",
        "printer",
        "--title",
        "A printer",
        "--title-fr",
        "Une imprimante",
        "--goal",
        "2500",
        "--currency",
        "CAD",
        "--ends-at",
        "2026-12-31T23:59:59-05:00",
        "--branch",
        "montreal:Montréal:1000",
        "--branch",
        "laval:Laval",
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(stdout(&created).trim(), "created campaign printer (active, goal 2500.00 CAD)");

    let added = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "printer",
        "--amount",
        "25.00",
        "--method",
        "cash",
        "--received-on",
        "2026-11-01",
        "--donor-name",
        "Ana",
        "--branch",
        "montreal",
        "--reference",
        "env-12",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(
        stdout(&added).starts_with("recorded entry 1 (donation): 25.00 CAD to printer on 2026-11-01"),
        "{}",
        stdout(&added)
    );

    let progress = app.progress("printer").await;
    assert_eq!((progress["raised"].as_str(), progress["percent"].as_f64()), (Some("25.00"), Some(1.0)));
    assert_eq!(progress["branches"][0]["raised"], "25.00");

    let reversed =
        app.cli(&["donation", "reverse", "--entry", "1", "--amount", "5", "--reason", "counted twice"]);
    assert!(reversed.status.success(), "{}", stderr(&reversed));
    assert_eq!(app.progress("printer").await["raised"], "20.00");

    let listed = app.cli(&["campaign", "list"]);
    assert!(stdout(&listed).contains("printer"), "{}", stdout(&listed));
    assert!(stdout(&listed).contains("$20") && stdout(&listed).contains("$2,500"), "{}", stdout(&listed));

    let token = app.cli(&["token", "create", "--name", "website", "--role", "treasurer"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let token = stdout(&token).trim().to_owned();
    let by_token = app
        .post_as(
            &token,
            "/api/v1/admin/campaigns/printer/donations",
            &json!({"amount": "5", "method": "cheque", "received_on": "2026-11-02"}),
        )
        .await;
    assert_eq!(by_token.status(), StatusCode::CREATED);

    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
}

async fn cli_errors_name_the_field_and_write_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let refused = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "office",
        "--amount",
        "12.345",
        "--method",
        "gold",
        "--received-on",
        "2026-11-01",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        stderr(&refused).lines().collect::<Vec<_>>(),
        [
            "error: amount has more decimal places than CAD allows (2)",
            "error: method must be one of cash, cheque, etransfer, bank_transfer, other"
        ]
    );
    let unknown = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "nowhere",
        "--amount",
        "1",
        "--method",
        "cash",
        "--received-on",
        "2026-11-01",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr(&unknown).trim(), "error: campaign not found");
    let duplicate = app.cli(&["token", "create", "--name", "test-admin", "--role", "admin"]);
    assert_eq!(stderr(&duplicate).trim(), "error: name is already used by another token");
    assert_eq!(app.progress("office").await["raised"], "0.00");
}

async fn check_names_a_campaign_whose_totals_drifted(engine: Engine) {
    use sqlx::Connection;
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "10.00", None).await;
    // Simulate a kept total that no longer agrees with the ledger.
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query("UPDATE campaign_totals SET gross_minor = gross_minor + 1")
        .execute(&mut connection)
        .await
        .expect("update");
    let check = app.cli(&["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(
        stdout(&check).trim(),
        "MISMATCH campaign office: gross_minor kept 1001 but the ledger says 1000"
    );
}

/// Run from the wrong folder or with a mistyped `DATABASE_URL`, a command says which database
/// it looked for and how to point at the right one, and leaves nothing behind.
async fn a_command_never_creates_a_stray_database(engine: Engine) {
    let stray = crate::helpers::TestDatabase::new(engine).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
            .args(args)
            .env("DATABASE_URL", &stray.url)
            .env("APPEAL_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .output()
            .expect("the appeal binary runs")
    };
    for args in [
        &["campaign", "list"][..],
        &["check"],
        &["user", "list"],
        &["token", "create", "--name", "x", "--role", "admin"],
    ] {
        let refused = run(args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        let message = stderr(&refused);
        assert!(message.contains("no appeal database at") && message.contains("DATABASE_URL"), "{message}");
        assert!(message.contains("appeal migrate"), "it says how to create one: {message}");
    }
    if let Some(path) = stray.url.strip_prefix("sqlite://") {
        assert!(!std::path::Path::new(path).exists(), "no file was created");
        assert!(stderr(&run(&["campaign", "list"])).contains(path), "the message names the file");
    }
    // `migrate` creates it on purpose; then the commands work.
    assert!(run(&["migrate"]).status.success());
    let listed = run(&["campaign", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
}
