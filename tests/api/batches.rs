//! Offline deposits: entries post together only when the declared count and total match.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};

on_both_engines!(
    a_matching_deposit_posts_every_entry_at_once,
    a_mismatched_deposit_posts_nothing,
    a_csv_deposit_is_previewed_then_posted,
    a_bad_csv_row_posts_nothing_and_names_the_row,
);

fn deposit(count: i64, total: &str) -> Value {
    json!({
        "reference": "Deposit 2026-11-03",
        "deposited_on": "2026-11-03",
        "declared_count": count,
        "declared_total": total,
        "entries": [
            {"amount": "100.00", "method": "cheque", "reference": "CHQ-1", "donor_name": "Ana"},
            {"amount": "50.00", "method": "cash", "branch": "quebec"},
            {"amount": "25.00", "method": "etransfer", "received_on": "2026-11-02", "donor_email": "ben@example.org"}
        ]
    })
}

async fn entry_count(app: &TestApp) -> usize {
    let listed: Value = app.json_as(&app.viewer_token, "/api/v1/admin/donations").await;
    listed["entries"].as_array().map_or(0, Vec::len)
}

async fn a_matching_deposit_posts_every_entry_at_once(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let response = app
        .post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &deposit(3, "175.00"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!((body["count"].as_i64(), body["total"].as_str()), (Some(3), Some("175.00")));
    assert_eq!(body["entries"][2]["received_on"], "2026-11-02");
    assert_eq!(body["entries"][0]["received_on"], "2026-11-03", "rows without a date take the deposit's");
    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), progress["donations"].as_i64()), (Some("175.00"), Some(3)));
    assert_eq!(progress["branches"][1]["raised"], "50.00");
    let csv =
        app.get_as(&app.treasurer_token, "/api/v1/admin/exports/ledger").await.text().await.expect("CSV");
    let batch = body["batch"].as_i64().expect("a batch id").to_string();
    let column = csv.lines().next().and_then(|header| header.split(',').position(|name| name == "batch"));
    let column = column.expect("a batch column");
    assert_eq!(
        csv.lines().skip(1).filter(|line| line.split(',').nth(column) == Some(batch.as_str())).count(),
        3
    );
    problem(
        app.post_as(&app.viewer_token, "/api/v1/admin/campaigns/office/batches", &deposit(3, "175.00")).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

async fn a_mismatched_deposit_posts_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let path = "/api/v1/admin/campaigns/office/batches";
    let count = problem(
        app.post_as(&app.treasurer_token, path, &deposit(4, "175.00")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(count["errors"]["declared_count"], "is 4 but the batch holds 3 entries");
    let total = problem(
        app.post_as(&app.treasurer_token, path, &deposit(3, "170.00")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(total["errors"]["declared_total"], "is 170.00 but the entries add up to 175.00");
    let mut bad = deposit(3, "175.00");
    bad["entries"][1]["amount"] = json!("-50");
    bad["entries"][2]["method"] = json!("barter");
    let entries =
        problem(app.post_as(&app.treasurer_token, path, &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(entries["errors"]["entries[1].amount"], "must not be negative");
    assert!(entries["errors"]["entries[2].method"].is_string());
    let empty = problem(
        app.post_as(&app.treasurer_token, path, &json!({"reference": "x", "deposited_on": "2026-11-03", "declared_count": 1, "declared_total": "1"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(empty["errors"]["entries"], "must hold at least one entry");
    assert_eq!(entry_count(&app).await, 0);
    assert_eq!(app.progress("office").await["raised"], "0.00");
}

const GOOD_CSV: &str = "amount,method,donor_name,reference,branch,anonymous\n\
100.00,cheque,\"Tremblay, Marie\",CHQ-12,montreal,no\n\
40,cash,,,,yes\n\
35.50,etransfer,Sam,ET-9,quebec,\n";

async fn import(app: &TestApp, query: &str, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/admin/campaigns/office/batches/import?{query}")))
        .bearer_auth(&app.treasurer_token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("answer")
}

const DECLARED: &str =
    "reference=Deposit%2017&deposited_on=2026-11-04&declared_count=3&declared_total=175.50";

async fn a_csv_deposit_is_previewed_then_posted(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let preview = import(&app, &format!("{DECLARED}&preview=true"), GOOD_CSV).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let body: Value = preview.json().await.expect("JSON");
    assert_eq!(
        (body["preview"].as_bool(), body["count"].as_i64(), body["total"].as_str()),
        (Some(true), Some(3), Some("175.50"))
    );
    assert_eq!(body["entries"][0]["donor_name"], "Tremblay, Marie");
    assert_eq!(entry_count(&app).await, 0, "a preview posts nothing");

    let posted = import(&app, DECLARED, GOOD_CSV).await;
    assert_eq!(posted.status(), StatusCode::CREATED);
    let progress = app.progress("office").await;
    assert_eq!(progress["raised"], "175.50");
    assert_eq!(progress["branches"][0]["raised"], "100.00");

    // The CLI posts the same file.
    let file = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(file.path(), GOOD_CSV).expect("written");
    let path = file.path().display().to_string();
    let cli = app.cli(&[
        "batch",
        "import",
        "--campaign",
        "office",
        "--file",
        &path,
        "--reference",
        "Deposit 18",
        "--deposited-on",
        "2026-11-05",
        "--count",
        "3",
        "--total",
        "175.50",
    ]);
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert!(String::from_utf8_lossy(&cli.stdout).contains("3 entries, 175.50 CAD"));
    assert_eq!(app.progress("office").await["raised"], "351.00");
}

async fn a_bad_csv_row_posts_nothing_and_names_the_row(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let bad_row = "amount,method,branch\n100.00,cheque,montreal\n4O.00,cash,\n35.50,etransfer,toronto\n";
    let body = problem(import(&app, DECLARED, bad_row).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"]["rows[3].amount"], "must be a decimal number such as \"25.00\"");
    assert_eq!(body["errors"]["rows[4].branch"], "is not a branch of campaign \"office\"");
    let unknown = problem(
        import(&app, DECLARED, "amount,method,colour\n1,cash,red\n").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        unknown["errors"]["columns[2]"]
            .as_str()
            .is_some_and(|m| m.starts_with("\"colour\" is not a known column"))
    );
    let ragged = problem(
        import(&app, DECLARED, "amount,method\n1,cash,extra\n").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(ragged["errors"]["rows[2]"].is_string(), "{ragged}");
    let wrong_type = app
        .client
        .post(app.url(&format!("/api/v1/admin/campaigns/office/batches/import?{DECLARED}")))
        .bearer_auth(&app.treasurer_token)
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    problem(wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(entry_count(&app).await, 0);
    assert_eq!(app.progress("office").await["raised"], "0.00");
}
