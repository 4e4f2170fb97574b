//! Running it in production: where a database stands against this binary's migrations, an
//! instance that refuses a database newer than it knows, and a drain on SIGTERM.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::Connection;

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};
use crate::instances::Instance;

on_both_engines!(
    migrate_check_says_where_the_database_stands,
    an_instance_refuses_a_database_newer_than_it_knows,
    readyz_turns_503_while_the_server_drains,
    a_backup_taken_under_load_restores_every_acknowledged_entry,
);

async fn sql(app: &TestApp, statement: &str) {
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut connection)
        .await
        .expect("the statement runs");
    connection.close().await.expect("closed");
}

/// A migration applied by a newer appeal than this one.
const FROM_THE_FUTURE: &str = "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
     execution_time) SELECT 999999, 'from a newer appeal', success, checksum, 0 FROM _sqlx_migrations \
     WHERE version = 1";

fn check(app: &TestApp) -> (Option<i32>, String) {
    let output = app.cli(&["migrate", "--check"]);
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn migrate_check_says_where_the_database_stands(engine: Engine) {
    let app = spawn_app(engine).await;
    let (code, said) = check(&app);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("current"), "{said}");

    // A migration not applied yet: behind, and nothing is changed by asking.
    let latest = appeal::store::migration_versions().0.last().copied().expect("migrations");
    sql(&app, &format!("UPDATE _sqlx_migrations SET success = FALSE WHERE version = {latest}")).await;
    let (code, said) = check(&app);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.starts_with("behind") && said.contains(&latest.to_string()), "{said}");
    assert!(said.contains("appeal migrate"), "says what to do: {said}");
    sql(&app, &format!("UPDATE _sqlx_migrations SET success = TRUE WHERE version = {latest}")).await;

    sql(&app, FROM_THE_FUTURE).await;
    let (code, said) = check(&app);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.starts_with("ahead") && said.contains("999999"), "{said}");
}

async fn an_instance_refuses_a_database_newer_than_it_knows(engine: Engine) {
    let app = spawn_app(engine).await;
    sql(&app, FROM_THE_FUTURE).await;
    let mut instance = Instance::spawn(&app, &[]);
    let status = instance.exited(Duration::from_secs(60)).await.expect("it stops at once");
    assert!(!status.success());
    let said = instance.stderr();
    assert!(said.contains("migrated by a newer appeal") && said.contains("999999"), "{said}");
    // Nor does any command touch it.
    let listed = app.cli(&["campaign", "list"]);
    assert!(!listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stderr).contains("newer appeal"));
}

async fn readyz_turns_503_while_the_server_drains(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let mut instance = Instance::start(&app, &[("APPEAL_DRAIN_TIME", "4s")]).await;
    let client = reqwest::Client::new();
    let progress = format!("{}/api/v1/campaigns/office/progress", instance.url);
    // A live stream open when the stop comes: it is ended, not waited on for ever.
    let stream = client.get(format!("{progress}/stream")).send().await.expect("a stream");
    assert_eq!(stream.status(), StatusCode::OK);

    instance.terminate();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if instance.ready().await == Some(StatusCode::SERVICE_UNAVAILABLE) {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz turned 503 soon after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still serving while it drains.
    let answer = client.get(&progress).send().await.expect("served while draining");
    assert_eq!(answer.status(), StatusCode::OK);
    let status = instance.exited(Duration::from_secs(30)).await.expect("it stops after the drain");
    assert!(status.success(), "a clean stop: {status} {}", instance.stderr());
    drop(stream);
}

async fn a_backup_taken_under_load_restores_every_acknowledged_entry(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let folder = tempfile::tempdir().expect("a folder");
    let copy = folder.path().join("copy.db");
    let copy_arg = copy.display().to_string();
    if engine == Engine::Postgres {
        let said = app.cli(&["backup", "--output", &copy_arg]);
        assert!(!said.status.success());
        assert!(String::from_utf8_lossy(&said.stderr).contains("pg_dump"), "points at PostgreSQL's tools");
        return;
    }
    // Gifts recorded one after another while the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (client, url, token, stop) = (
            app.client.clone(),
            app.url("/api/v1/admin/campaigns/office/donations"),
            app.treasurer_token.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut day = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                day += 1;
                let body = serde_json::json!({"amount": "1.00", "method": "cash", "received_on": "2026-11-02", "reference": format!("load {day}")});
                let answer =
                    client.post(&url).bearer_auth(&token).json(&body).send().await.expect("an answer");
                assert_eq!(answer.status(), StatusCode::CREATED);
                let entry: serde_json::Value = answer.json().await.expect("JSON");
                acknowledged.push(entry["id"].as_i64().expect("an id"));
            }
            acknowledged
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.json_as(&app.treasurer_token, "/api/v1/admin/donations").await["entries"]
        .as_array()
        .map_or(0, Vec::len)
        < 20
    {
        assert!(!writer.is_finished() && Instant::now() < deadline, "the load runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let highest_before =
        app.json_as(&app.treasurer_token, "/api/v1/admin/donations?limit=1").await["entries"][0]["id"]
            .as_i64()
            .expect("an entry");
    let backup = {
        let (binary_args, url) =
            (vec!["backup".to_owned(), "--output".to_owned(), copy_arg.clone()], app.db.url.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
                .args(&binary_args)
                .env("DATABASE_URL", url)
                .env("APPEAL_LOG", "warn")
                .output()
                .expect("the appeal binary runs")
        })
        .await
        .expect("the backup ran")
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = writer.await.expect("the writer ran");
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stdout).starts_with("backed up"));
    let again = app.cli(&["backup", "--output", &copy_arg]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"), "never overwritten");

    // Restore refuses the database an instance serves, and restores into a new file.
    let served = app.cli(&["restore", "--input", &copy_arg]);
    assert!(!served.status.success());
    assert!(String::from_utf8_lossy(&served.stderr).contains("in use by a running appeal"));
    let restored_url = format!("sqlite://{}", folder.path().join("restored.db").display());
    let restored = app.cli_on(&restored_url, &["restore", "--input", &copy_arg]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let checked = app.cli_on(&restored_url, &["check"]);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // Every gift acknowledged before the backup began is in the copy, and no gift half.
    let mut connection = sqlx::AnyConnection::connect(&restored_url).await.expect("the copy opens");
    let ids: Vec<i64> = sqlx::query("SELECT id FROM ledger_entries")
        .fetch_all(&mut connection)
        .await
        .expect("its entries")
        .iter()
        .map(|row| sqlx::Row::get::<i64, _>(row, "id"))
        .collect();
    connection.close().await.expect("closed");
    let listed = format!("{ids:?}");
    for id in acknowledged.iter().filter(|id| **id <= highest_before) {
        assert!(ids.contains(id), "entry {id} in the copy: {listed}");
    }
    assert!(acknowledged.len() as i64 >= highest_before, "the load ran on while the backup was taken");
    // Restoring over an existing database keeps the one replaced.
    let over = app.cli_on(&restored_url, &["restore", "--input", &copy_arg]);
    assert!(
        String::from_utf8_lossy(&over.stdout).contains("is kept as"),
        "{}",
        String::from_utf8_lossy(&over.stdout)
    );
}
