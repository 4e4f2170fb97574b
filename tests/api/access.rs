//! Tokens and roles: no token is 401, a role too weak is 403.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, on_both_engines, problem, spawn_app};

on_both_engines!(
    admin_endpoints_need_a_valid_token,
    each_role_does_only_its_part,
    viewers_see_no_donor_names_or_emails_as_in_their_exports
);

async fn admin_endpoints_need_a_valid_token(engine: Engine) {
    let app = spawn_app(engine).await;
    let body = json!({"slug": "x", "currency": "CAD", "goal": "10", "title": {"en": "X"}});
    let anonymous =
        app.client.post(app.url("/api/v1/admin/campaigns")).json(&body).send().await.expect("answer");
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let wrong = app.post_as("appeal_not-a-real-token", "/api/v1/admin/campaigns", &body).await;
    problem(wrong, StatusCode::UNAUTHORIZED).await;
    let basic = app
        .client
        .get(app.url("/api/v1/admin/donations"))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .expect("answer");
    problem(basic, StatusCode::UNAUTHORIZED).await;
    let listed: Value = app.get("/api/v1/campaigns").await.json().await.expect("JSON");
    assert_eq!(listed["campaigns"], json!([]), "nothing was created");
}

async fn each_role_does_only_its_part(engine: Engine) {
    let app = spawn_app(engine).await;
    let campaign = json!({"slug": "office", "currency": "CAD", "goal": "100", "title": {"en": "Office"}});
    let donation = json!({"amount": "5.00", "method": "cash", "received_on": "2026-11-01"});
    let donations = "/api/v1/admin/campaigns/office/donations";

    problem(
        app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns", &campaign).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.post_as(&app.viewer_token, "/api/v1/admin/campaigns", &campaign).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        app.post_as(&app.admin_token, "/api/v1/admin/campaigns", &campaign).await.status(),
        StatusCode::CREATED
    );

    let change = json!({"goal": "200"});
    problem(
        app.patch_as(&app.treasurer_token, "/api/v1/admin/campaigns/office", &change).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    problem(app.post_as(&app.viewer_token, donations, &donation).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.post_as(&app.treasurer_token, donations, &donation).await.status(), StatusCode::CREATED);
    assert_eq!(app.post_as(&app.admin_token, donations, &donation).await.status(), StatusCode::CREATED);

    assert_eq!(app.get_as(&app.viewer_token, "/api/v1/admin/donations").await.status(), StatusCode::OK);
    assert_eq!(app.get_as(&app.viewer_token, "/api/v1/admin/campaigns").await.status(), StatusCode::OK);
    assert_eq!(app.progress("office").await["raised"], "10.00");
}

async fn viewers_see_no_donor_names_or_emails_as_in_their_exports(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let body = json!({"amount": "5.00", "method": "cash", "received_on": "2026-11-01",
                      "donor_name": "Ana", "donor_email": "ana@example.org", "reference": "R-17"});
    let recorded = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &body).await;
    let recorded: Value = recorded.json().await.expect("JSON");
    assert_eq!(recorded["recorded_by"], "token:test-treasurer");
    assert_eq!(recorded["donor_email"], "ana@example.org");

    let as_viewer: Value = app.json_as(&app.viewer_token, "/api/v1/admin/donations?campaign=office").await;
    assert_eq!(as_viewer["entries"][0]["donor_name"], Value::Null);
    assert_eq!(as_viewer["entries"][0]["donor_email"], Value::Null);
    assert_eq!(as_viewer["entries"][0]["reference"], "R-17");
    let as_treasurer: Value =
        app.json_as(&app.treasurer_token, "/api/v1/admin/donations?campaign=office").await;
    assert_eq!(as_treasurer["entries"][0]["donor_email"], "ana@example.org");
    assert_eq!(as_treasurer["entries"][0]["reference"], "R-17");
}
