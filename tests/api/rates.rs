//! Exchange rates, kept and sourced: imported from an ECB reference-rate file (a real
//! excerpt, `tests/fixtures/ecb`), given by treasurers, listed, and looked up for a pair on a
//! day (a day without rates takes the week before's; none is an error naming the pair and day).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(rates_are_imported_from_the_ecb_given_by_treasurers_and_looked_up);

const ECB_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ecb/eurofxref-hist-2025-04.csv");

async fn lookup(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let response = app.get_as(&app.viewer_token, &format!("/api/v1/admin/rates/lookup?{query}")).await;
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

async fn rates_are_imported_from_the_ecb_given_by_treasurers_and_looked_up(engine: Engine) {
    let app = spawn_app(engine).await;

    let imported = app.cli(&["rates", "import", "--ecb", ECB_FILE]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let said = String::from_utf8_lossy(&imported.stdout);
    assert!(said.contains("ECB rates of 5 day(s), 2025-04-17 to 2025-04-25"), "{said}");
    let again = app.cli(&["rates", "import", "--ecb", ECB_FILE]);
    assert!(String::from_utf8_lossy(&again.stdout).contains(": 0 new or changed"), "kept once");

    // Easter Sunday had no rates: Thursday's. SEK to GBP goes across the euro.
    let (status, rate) = lookup(&app, "from=SEK&to=GBP&date=2025-04-20").await;
    assert_eq!(status, StatusCode::OK, "{rate}");
    assert_eq!(
        rate,
        json!({"base": "SEK", "quote": "GBP", "date": "2025-04-17", "rate": "0.077869566006", "source": "ECB"})
    );
    // CAD to EUR inverts EUR to CAD (1.5891 on the 22nd).
    let (_, rate) = lookup(&app, "from=cad&to=EUR&date=2025-04-22").await;
    assert_eq!((rate["rate"].as_str(), rate["date"].as_str()), (Some("0.629287017809"), Some("2025-04-22")));
    // None near that day: an error naming the pair and the day, never 1.
    let (status, refused) = lookup(&app, "from=PKR&to=CAD&date=2025-04-22").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = refused["errors"]["date"].as_str().expect("the day is named");
    assert!(detail.contains("no PKR to CAD rate") && detail.contains("2025-04-22"), "{refused}");
    let (_, later) = lookup(&app, "from=USD&to=EUR&date=2025-05-05").await;
    assert!(
        later["errors"]["date"].as_str().is_some_and(|text| text.contains("7 days before 2025-05-05")),
        "{later}"
    );

    // A treasurer's rate from their bank, then corrected (replaced, and audited).
    let mine = json!({"base": "PKR", "quote": "CAD", "date": "2025-04-21", "rate": "0.0049", "source": "Meezan Bank statement"});
    let kept = app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &mine).await;
    assert_eq!(kept.status(), StatusCode::CREATED);
    let mut corrected = mine.clone();
    corrected["rate"] = json!("0.00491");
    assert_eq!(
        app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &corrected).await.status(),
        StatusCode::CREATED
    );
    let (_, rate) = lookup(&app, "from=PKR&to=CAD&date=2025-04-22").await;
    assert_eq!(
        rate,
        json!({"base": "PKR", "quote": "CAD", "date": "2025-04-21", "rate": "0.00491", "source": "Meezan Bank statement"})
    );
    let (_, back) = lookup(&app, "from=CAD&to=PKR&date=2025-04-21").await;
    assert_eq!(back["rate"], "203.665987780041");

    // Bad input names each field; a viewer may look, not keep.
    let bad = json!({"base": "EUR", "quote": "XXX", "date": "2025-02-30", "rate": "1e3", "source": ""});
    let refused = app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = refused.json().await.expect("JSON");
    for field in ["quote", "date", "rate", "source"] {
        assert!(refused["errors"][field].is_string(), "{field}: {refused}");
    }
    assert_eq!(
        app.post_as(&app.viewer_token, "/api/v1/admin/rates", &mine).await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, _) = lookup(&app, "from=SEK&date=2025-04-20").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Listed newest first, one pair or all.
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/rates?base=EUR&quote=GBP").await;
    let days: Vec<&str> =
        listed["rates"].as_array().expect("rates").iter().filter_map(|rate| rate["date"].as_str()).collect();
    assert_eq!(days, ["2025-04-25", "2025-04-24", "2025-04-23", "2025-04-22", "2025-04-17"]);
    assert_eq!(listed["rates"][4]["rate"], "0.85873");
    let wrong = app.get_as(&app.viewer_token, "/api/v1/admin/rates?base=euro").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The command line says the same.
    let looked = app.cli(&["rates", "lookup", "--from", "SEK", "--to", "GBP", "--date", "2025-04-20"]);
    assert_eq!(
        String::from_utf8_lossy(&looked.stdout).trim(),
        "2025-04-17  1 SEK = 0.077869566006 GBP  (ECB)"
    );
    let listed = app.cli(&["rates", "list", "--base", "PKR"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout)
            .contains("2025-04-21  1 PKR = 0.00491 CAD  (Meezan Bank statement)")
    );
    let refused = app.cli(&[
        "rates",
        "add",
        "--base",
        "EUR",
        "--quote",
        "CAD",
        "--date",
        "2025-04-22",
        "--rate",
        "0",
        "--source",
        "x",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rate"), "{refused:?}");
    let broken = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(broken.path(), "Date,USD\n2025-04-22,one\n").expect("written");
    let refused = app.cli(&["rates", "import", "--ecb", broken.path().to_str().expect("a path")]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("line 2: USD"), "{refused:?}");

    // Audited: the import once per run, each rate a treasurer kept.
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'rate%' ORDER BY id")
            .fetch_all(&mut connection)
            .await
            .expect("the audit log");
    assert_eq!(actions, ["rates.imported", "rates.imported", "rate.kept", "rate.kept"]);
}
