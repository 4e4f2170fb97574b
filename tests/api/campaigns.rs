//! Campaigns: created and changed by admins, shown to the public unless drafts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, on_both_engines, problem, spawn_app};

on_both_engines!(
    a_created_campaign_is_public_with_its_branches,
    drafts_are_never_public,
    a_change_keeps_what_it_does_not_name,
    campaign_conflicts_are_refused_and_write_nothing,
    bad_campaigns_name_every_field,
);

async fn a_created_campaign_is_public_with_its_branches(engine: Engine) {
    let app = spawn_app(engine).await;
    let created = app.create_campaign("office").await;
    assert_eq!(created["goal"], "100000.00");
    let fetched: Value = app.get("/api/v1/campaigns/office").await.json().await.expect("JSON");
    assert_eq!(fetched, created);
    assert_eq!(fetched["title"], json!({"en": "New office", "fr": "Nouveau local"}));
    assert_eq!(fetched["branches"][0], json!({"slug": "montreal", "name": "Montréal", "goal": "40000.00"}));
    let listed: Value = app.get("/api/v1/campaigns").await.json().await.expect("JSON");
    assert_eq!(listed["campaigns"].as_array().map(Vec::len), Some(1));
}

async fn drafts_are_never_public(engine: Engine) {
    let app = spawn_app(engine).await;
    let draft = json!({"slug": "secret", "currency": "EUR", "goal": "500", "title": {"fr": "Secret"}, "status": "draft"});
    assert_eq!(
        app.post_as(&app.admin_token, "/api/v1/admin/campaigns", &draft).await.status(),
        StatusCode::CREATED
    );
    problem(app.get("/api/v1/campaigns/secret").await, StatusCode::NOT_FOUND).await;
    problem(app.get("/api/v1/campaigns/secret/progress").await, StatusCode::NOT_FOUND).await;
    let public: Value = app.get("/api/v1/campaigns").await.json().await.expect("JSON");
    assert_eq!(public["campaigns"], json!([]));
    let admin: Value = app.json_as(&app.viewer_token, "/api/v1/admin/campaigns").await;
    assert_eq!(admin["campaigns"][0]["slug"], "secret");

    let opened =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/secret", &json!({"status": "active"})).await;
    assert_eq!(opened.status(), StatusCode::OK);
    assert_eq!(app.progress("secret").await["goal"], "500.00");
    let closed =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/secret", &json!({"status": "closed"})).await;
    assert_eq!(closed.status(), StatusCode::OK);
    assert_eq!(app.progress("secret").await["status"], "closed");
}

async fn a_change_keeps_what_it_does_not_name(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "100.00", Some("quebec")).await;
    let changed = app
        .patch_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/office",
            &json!({"goal": "200.00", "ends_at": "2026-12-31T23:59:59-05:00",
                    "branches": [{"slug": "quebec", "name": "Ville de Québec", "goal": "150"}, {"slug": "laval", "name": "Laval"}]}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.expect("JSON");
    assert_eq!(changed["title"]["en"], "New office");
    assert_eq!(changed["ends_at"], "2027-01-01T04:59:59Z");

    let progress = app.progress("office").await;
    assert_eq!((progress["goal"].as_str(), progress["percent"].as_f64()), (Some("200.00"), Some(50.0)));
    assert_eq!(
        progress["branches"],
        json!([{"slug": "quebec", "name": "Ville de Québec", "goal": "150.00", "raised": "100.00"},
               {"slug": "laval", "name": "Laval", "goal": null, "raised": "0.00"}])
    );

    let cleared =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"ends_at": null})).await;
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(app.progress("office").await["ends_at"], Value::Null);

    let renamed = app
        .patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"slug": "new-office"}))
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(app.progress("new-office").await["raised"], "100.00");
}

async fn campaign_conflicts_are_refused_and_write_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.create_campaign("printer").await;
    app.give("office", "100.00", Some("quebec")).await;

    let taken =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/printer", &json!({"slug": "office"})).await;
    assert_eq!(
        problem(taken, StatusCode::CONFLICT).await["errors"]["slug"],
        "is already used by another campaign"
    );
    let duplicate = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns",
            &json!({"slug": "office", "currency": "CAD", "goal": "1", "title": {"en": "Again"}}),
        )
        .await;
    problem(duplicate, StatusCode::CONFLICT).await;

    let currency =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"currency": "USD"})).await;
    assert_eq!(
        problem(currency, StatusCode::CONFLICT).await["errors"]["currency"],
        "cannot change once the campaign holds ledger entries"
    );

    let drop_branch = app
        .patch_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/office",
            &json!({"goal": "5", "branches": [{"slug": "montreal", "name": "Montréal"}]}),
        )
        .await;
    let body = problem(drop_branch, StatusCode::CONFLICT).await;
    assert_eq!(body["errors"]["branches"], "cannot drop the branch \"quebec\": it holds ledger entries");

    // The refused change wrote nothing: goal and branches are as they were.
    let progress = app.progress("office").await;
    assert_eq!(progress["goal"], "100000.00");
    assert_eq!(progress["branches"].as_array().map(Vec::len), Some(3));

    // An empty campaign may still change currency.
    let usd = app
        .patch_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/printer",
            &json!({"currency": "JPY", "goal": "250000"}),
        )
        .await;
    assert_eq!(usd.status(), StatusCode::OK);
    assert_eq!(app.progress("printer").await["goal"], "250000");
}

async fn bad_campaigns_name_every_field(engine: Engine) {
    let app = spawn_app(engine).await;
    let response = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns",
            &json!({"slug": "Bad Slug", "currency": "XYZ", "goal": "10", "title": {"en": ""},
                    "status": "open", "starts_at": "tomorrow", "branches": [{"name": "No slug"}]}),
        )
        .await;
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&String> = body["errors"].as_object().expect("errors").keys().collect();
    assert_eq!(fields, ["currency", "slug", "starts_at", "status", "title"]);
    let goal = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns",
            &json!({"slug": "ok", "currency": "JPY", "goal": "10.5", "title": {"en": "T"}}),
        )
        .await;
    assert_eq!(
        problem(goal, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["goal"],
        "has more decimal places than JPY allows (0)"
    );
    let unknown =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/ok", &json!({"colour": "red"})).await;
    problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    let public: Value = app.get("/api/v1/campaigns").await.json().await.expect("JSON");
    assert_eq!(public["campaigns"], json!([]));
}
