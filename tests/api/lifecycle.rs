//! Tokens and people come and go: tokens are listed, expire and are revoked; people are
//! listed, disabled, enabled and removed, and the books keep the name of whoever recorded what.

use reqwest::StatusCode;
use serde_json::json;

use crate::hardening::form_token;
use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(tokens_are_listed_expire_and_are_revoked, people_are_disabled_enabled_and_removed,);

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub async fn audit_csv(app: &TestApp) -> String {
    add_user(app, "auditor@example.org", "admin", None);
    let mut admin = Visitor::new(app);
    assert_eq!(admin.sign_in("auditor@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    admin.get("/admin/audit?format=csv").await.1
}

async fn tokens_are_listed_expire_and_are_revoked(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let created = app.cli(&["token", "create", "--name", "website", "--role", "viewer"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let website = stdout(&created).trim().to_owned();
    let created =
        app.cli(&["token", "create", "--name", "quarterly", "--role", "viewer", "--expires-in", "90d"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stderr(&created).contains("expires on"), "{}", stderr(&created));
    let quarterly = stdout(&created).trim().to_owned();
    assert_eq!(app.get_as(&quarterly, "/api/v1/admin/campaigns").await.status(), StatusCode::OK);

    let refused = app.cli(&["token", "create", "--name", "soon", "--role", "viewer", "--expires-in", "soon"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(stderr(&refused).trim(), "error: expires_in must be a duration such as 90d or 12h");

    let listed = app.cli(&["token", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed = stdout(&listed);
    let line = |name: &str| listed.lines().find(|line| line.starts_with(name)).map(str::to_owned);
    assert!(listed.lines().next().is_some_and(|head| head.starts_with("NAME")), "{listed}");
    let quarterly_line = line("quarterly").expect("listed");
    assert!(quarterly_line.contains("viewer") && quarterly_line.contains("active"), "{quarterly_line}");
    let in_90_days = (chrono::Utc::now() + chrono::Duration::days(90)).format("%Y-%m-%d").to_string();
    assert!(quarterly_line.contains(&in_90_days), "{quarterly_line}");
    assert!(line("website").expect("listed").contains("never"), "{listed}");
    assert!(!listed.contains(&website) && !listed.contains(&quarterly), "no token is shown again");

    app.execute_sql(
        "UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE name = 'quarterly'",
    )
    .await;
    let expired =
        problem(app.get_as(&quarterly, "/api/v1/admin/campaigns").await, StatusCode::UNAUTHORIZED).await;
    assert!(expired["detail"].as_str().is_some_and(|detail| detail.contains("expired")), "{expired}");
    assert!(line_of(&app, "quarterly").contains("expired"));

    assert_eq!(app.get_as(&website, "/api/v1/admin/campaigns").await.status(), StatusCode::OK);
    let revoked = app.cli(&["token", "revoke", "website"]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let refused =
        problem(app.get_as(&website, "/api/v1/admin/campaigns").await, StatusCode::UNAUTHORIZED).await;
    assert!(refused["detail"].as_str().is_some_and(|detail| detail.contains("revoked")), "{refused}");
    assert!(line_of(&app, "website").contains("revoked"));
    let again = app.cli(&["token", "revoke", "website"]);
    assert!(again.status.success() && stdout(&again).contains("already revoked"), "{}", stdout(&again));
    let unknown = app.cli(&["token", "revoke", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr(&unknown).trim(), "error: token not found");
    let reused = app.cli(&["token", "create", "--name", "website", "--role", "viewer"]);
    assert_eq!(stderr(&reused).trim(), "error: name is already used by another token");

    let audit = audit_csv(&app).await;
    assert!(audit.contains("\"token.revoke\"") && audit.contains("\"token:website\""), "{audit}");
    assert!(audit.contains("expires_at"), "the expiry is in the audit log: {audit}");
}

fn line_of(app: &TestApp, name: &str) -> String {
    let listed = stdout(&app.cli(&["token", "list"]));
    listed.lines().find(|line| line.starts_with(name)).unwrap_or_default().to_owned()
}

async fn people_are_disabled_enabled_and_removed(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", Some("montreal"));
    let mut treasurer = Visitor::new(&app);
    assert_eq!(treasurer.sign_in("tre@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    let (_, page, _) = treasurer.get("/admin/c/office").await;
    let fields = [
        ("csrf", Visitor::csrf_in(&page)),
        ("form_token", form_token(&page, "record")),
        ("amount", "20".to_owned()),
        ("method", "cash".to_owned()),
        ("received_on", "2026-11-01".to_owned()),
        ("branch", "montreal".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(treasurer.post("/admin/c/office/donations", &fields).await.0, StatusCode::SEE_OTHER);

    let listed = app.cli(&["user", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let line = stdout(&listed).lines().find(|line| line.starts_with("tre@example.org")).map(str::to_owned);
    let line = line.expect("listed");
    assert!(line.contains("treasurer") && line.contains("montreal") && line.contains("active"), "{line}");

    let disabled = app.cli(&["user", "disable", "tre@example.org"]);
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    let (status, _, headers) = treasurer.get("/admin").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the open session ended");
    assert!(headers["location"].to_str().expect("ASCII").starts_with("/admin/login"));
    let mut again = Visitor::new(&app);
    assert_eq!(again.sign_in("tre@example.org", PASSWORD).await, StatusCode::UNAUTHORIZED);
    let listed = stdout(&app.cli(&["user", "list"]));
    assert!(
        listed.lines().any(|line| line.starts_with("tre@example.org") && line.contains("disabled")),
        "{listed}"
    );

    let enabled = app.cli(&["user", "enable", "tre@example.org"]);
    assert!(enabled.status.success(), "{}", stderr(&enabled));
    let mut back = Visitor::new(&app);
    assert_eq!(back.sign_in("tre@example.org", PASSWORD).await, StatusCode::SEE_OTHER);

    let removed = app.cli(&["user", "remove", "tre@example.org"]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_eq!(back.get("/admin").await.0, StatusCode::SEE_OTHER, "the session ended with the person");
    let mut gone = Visitor::new(&app);
    assert_eq!(gone.sign_in("tre@example.org", PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert!(!stdout(&app.cli(&["user", "list"])).contains("tre@example.org"));
    let unknown = app.cli(&["user", "disable", "nobody@example.org"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr(&unknown).trim(), "error: user not found");

    let entries = app.json_as(&app.admin_token, "/api/v1/admin/donations?campaign=office").await;
    assert_eq!(entries["entries"][0]["recorded_by"], json!("user:tre@example.org"), "{entries}");
    let audit = audit_csv(&app).await;
    for action in ["user.disable", "user.enable", "user.remove", "donation.record"] {
        assert!(audit.contains(&format!("\"{action}\"")), "{action} is logged: {audit}");
    }
    assert!(
        audit.lines().any(|line| line.contains("\"user:tre@example.org\",\"donation.record\"")),
        "the removed person's writes keep their name: {audit}"
    );
    add_user(&app, "tre@example.org", "viewer", None);
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
}
