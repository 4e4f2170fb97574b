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
);

async fn sql(app: &TestApp, statement: &str) {
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut connection).await.expect("the statement runs");
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
