//! People who sign in: sessions, CSRF, throttling, branch scopes, the audit log, the role
//! matrix of every admin endpoint, and the dashboard's forms.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};

on_both_engines!(
    a_person_signs_in_and_out_with_csrf_protection,
    sign_in_is_throttled_and_says_nothing_about_accounts,
    an_expired_session_signs_out,
    a_signed_in_api_write_needs_the_csrf_header,
    every_admin_endpoint_checks_authentication_and_role,
    a_branch_treasurer_keeps_to_their_branch,
    a_signed_in_viewer_cannot_move_money_from_the_dashboard,
    a_password_change_ends_other_sessions,
    every_write_is_in_the_audit_log,
    the_dashboard_records_a_deposit_and_exports,
);

/// A browser-like visitor: keeps cookies, follows nothing.
pub struct Visitor<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Visitor { app, cookies: BTreeMap::new() }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().expect("ASCII");
            let pair = text.split(';').next().expect("a pair");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn fetch(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("answer");
        self.keep(&response);
        response
    }

    /// A file the dashboard serves (a PDF, say), as bytes.
    pub async fn get_bytes(&mut self, path: &str) -> (StatusCode, Vec<u8>, reqwest::header::HeaderMap) {
        let response = self.fetch(path).await;
        let (status, headers) = (response.status(), response.headers().clone());
        (status, response.bytes().await.expect("bytes").to_vec(), headers)
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let response = self.fetch(path).await;
        let (status, headers) = (response.status(), response.headers().clone());
        (status, response.text().await.expect("text"), headers)
    }

    pub async fn post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let response = self
            .app
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("answer");
        self.keep(&response);
        let (status, headers) = (response.status(), response.headers().clone());
        (status, response.text().await.expect("text"), headers)
    }

    /// The CSRF token the last page carried in its forms.
    pub fn csrf_in(page: &str) -> String {
        let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        page[start..].split('"').next().expect("a value").to_owned()
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> StatusCode {
        let (_, page, _) = self.get("/admin/login").await;
        let csrf = Self::csrf_in(&page);
        let (status, _, _) =
            self.post("/admin/login", &[("csrf", &csrf), ("email", email), ("password", password)]).await;
        status
    }

    async fn csrf(&mut self) -> String {
        let (_, page, _) = self.get("/admin").await;
        Self::csrf_in(&page)
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A page of the dashboard as a newly added treasurer (without a branch) sees it.
pub async fn signed_in_page(app: &TestApp, path: &str) -> String {
    static PEOPLE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PEOPLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let email = format!("looker{n}@example.org");
    add_user(app, &email, "treasurer", None);
    let mut visitor = Visitor::new(app);
    assert_eq!(visitor.sign_in(&email, PASSWORD).await, StatusCode::SEE_OTHER);
    let (status, page, _) = visitor.get(path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    page
}

pub fn add_user(app: &TestApp, email: &str, role: &str, branch: Option<&str>) {
    use std::io::Write;
    let mut args = vec!["user", "add", "--email", email, "--role", role, "--password-stdin"];
    if let Some(branch) = branch {
        args.extend(["--branch", branch]);
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
        .args(&args)
        .env("DATABASE_URL", &app.db.url)
        .env("APPEAL_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the CLI runs");
    child.stdin.take().expect("stdin").write_all(format!("{PASSWORD}\n").as_bytes()).expect("written");
    let output = child.wait_with_output().expect("the CLI ends");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

async fn a_person_signs_in_and_out_with_csrf_protection(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);

    let (status, _, headers) = visitor.get("/admin").await;
    assert_eq!((status, headers["location"].to_str().ok()), (StatusCode::SEE_OTHER, Some("/admin/login")));

    visitor.get("/admin/login").await;
    let (forged, page, _) = visitor
        .post("/admin/login", &[("csrf", "forged"), ("email", "tre@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(forged, StatusCode::FORBIDDEN, "a login form needs its CSRF token");
    // The refused form comes back with a fresh token.
    let csrf = Visitor::csrf_in(&page);
    let (status, _, headers) = visitor
        .post("/admin/login", &[("csrf", &csrf), ("email", "tre@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session_cookie = headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().expect("ASCII"))
        .find(|value| value.starts_with("__Host-appeal_session="))
        .expect("a __Host- session cookie on https");
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    assert!(session_cookie.contains("; Secure"), "the public address is https: {session_cookie}");
    assert!(session_cookie.contains("Path=/") && !session_cookie.contains("Domain="), "{session_cookie}");
    // Only that cookie is read: the same token under the plain name (planted by a sibling
    // site or an insecure page) signs nobody in.
    let token = visitor.cookies["__Host-appeal_session"].clone();
    let planted = app
        .client
        .get(app.url("/admin"))
        .header("cookie", format!("appeal_session={token}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(planted.status(), StatusCode::SEE_OTHER, "the plain name is not read");

    let (status, home, _) = visitor.get("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("New office") && home.contains("tre@example.org (treasurer)"));

    let (refused, _, _) = visitor.post("/admin/logout", &[("csrf", "forged")]).await;
    assert_eq!(refused, StatusCode::FORBIDDEN);
    let csrf = visitor.csrf().await;
    let (status, _, _) = visitor.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = visitor.get("/admin").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed out");
}

async fn sign_in_is_throttled_and_says_nothing_about_accounts(engine: Engine) {
    let app = spawn_app(engine).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    let (_, wrong_password, _) = {
        let status = visitor.sign_in("tre@example.org", "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        visitor.get("/admin/login").await
    };
    let status = visitor.sign_in("nobody@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unknown account answers the same");
    assert!(wrong_password.contains("Sign in"));
    for _ in 0..4 {
        assert_eq!(visitor.sign_in("tre@example.org", "still wrong").await, StatusCode::UNAUTHORIZED);
    }
    // Five failures lock the account's sign-in, even with the right password.
    let (_, page, _) = visitor.get("/admin/login").await;
    let csrf = Visitor::csrf_in(&page);
    let (status, body, headers) = visitor
        .post("/admin/login", &[("csrf", &csrf), ("email", "tre@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after") && body.contains("Too many attempts"));
}

async fn an_expired_session_signs_out(engine: Engine) {
    let app = spawn_app(engine).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    assert_eq!(visitor.sign_in("tre@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    assert_eq!(visitor.get("/admin").await.0, StatusCode::OK);
    let token = visitor.cookies["__Host-appeal_session"].clone();
    let store = appeal::store::Store::connect(&app.db.url).await.expect("connect");
    store
        .set_session_expiry(
            &appeal::access::hash_token(&token),
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .expect("expired");
    assert_eq!(visitor.get("/admin").await.0, StatusCode::SEE_OTHER);
    let (status, body, _) = visitor.get("/api/v1/admin/donations").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

async fn a_signed_in_api_write_needs_the_csrf_header(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    assert_eq!(visitor.get("/api/v1/admin/donations").await.0, StatusCode::OK);
    let csrf = visitor.csrf().await;
    let post = |csrf: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/admin/campaigns/office/donations"))
            .header("cookie", visitor.cookie_header())
            .json(&json!({"amount": "5", "method": "cash", "received_on": "2026-11-01"}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    problem(post(None).await.expect("answer"), StatusCode::FORBIDDEN).await;
    problem(post(Some("forged")).await.expect("answer"), StatusCode::FORBIDDEN).await;
    let recorded: Value = post(Some(&csrf)).await.expect("answer").json().await.expect("JSON");
    assert_eq!(recorded["recorded_by"], "user:tre@example.org");
}

async fn every_admin_endpoint_checks_authentication_and_role(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let entry = app.give("office", "10.00", None).await;
    let id = entry["id"].as_i64().expect("id");
    let campaign = json!({"slug": "x", "currency": "CAD", "goal": "1", "title": {"en": "X"}});
    let endpoints: Vec<(&str, String, Value, &str)> = vec![
        ("GET", "/api/v1/admin/campaigns".into(), Value::Null, "viewer"),
        ("POST", "/api/v1/admin/campaigns".into(), campaign, "admin"),
        ("PATCH", "/api/v1/admin/campaigns/office".into(), json!({"goal": "200000"}), "admin"),
        (
            "POST",
            "/api/v1/admin/campaigns/office/donations".into(),
            json!({"amount": "1", "method": "cash", "received_on": "2026-11-01"}),
            "treasurer",
        ),
        ("POST", "/api/v1/admin/campaigns/office/batches".into(), json!({}), "treasurer"),
        ("GET", "/api/v1/admin/donations".into(), Value::Null, "viewer"),
        (
            "POST",
            format!("/api/v1/admin/donations/{id}/reversals"),
            json!({"reason": "test", "amount": "1"}),
            "treasurer",
        ),
        ("POST", format!("/api/v1/admin/donations/{id}/refund"), json!({}), "treasurer"),
        ("GET", "/api/v1/admin/subscriptions".into(), Value::Null, "viewer"),
        ("POST", "/api/v1/admin/subscriptions/sub_x/cancel".into(), json!({}), "treasurer"),
        ("GET", "/api/v1/admin/exports/ledger".into(), Value::Null, "viewer"),
        ("GET", "/api/v1/admin/stripe/flags".into(), Value::Null, "viewer"),
        ("POST", "/api/v1/admin/stripe/flags/999/resolve".into(), json!({"reason": "x"}), "treasurer"),
        ("GET", "/api/v1/admin/stripe/events".into(), Value::Null, "viewer"),
        ("POST", "/api/v1/admin/stripe/events/evt_x/retry".into(), json!({}), "treasurer"),
        ("POST", "/api/v1/admin/stripe/events/evt_x/dismiss".into(), json!({"reason": "x"}), "treasurer"),
    ];
    let tokens = [
        ("viewer", app.viewer_token.clone()),
        ("treasurer", app.treasurer_token.clone()),
        ("admin", app.admin_token.clone()),
    ];
    let rank = |role: &str| ["viewer", "treasurer", "admin"].iter().position(|r| *r == role).expect("a role");
    for (method, path, body, needed) in &endpoints {
        let request = |token: Option<&str>| {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
            let mut request = app.client.request(method, app.url(path));
            if !body.is_null() {
                request = request.json(body);
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        assert_eq!(
            request(None).await.expect("answer").status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        assert_eq!(
            request(Some("appeal_wrong")).await.expect("answer").status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        for (role, token) in &tokens {
            let status = request(Some(token)).await.expect("answer").status();
            if rank(role) < rank(needed) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role}");
            } else {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {path} as {role}: {status}"
                );
            }
        }
    }
}

async fn a_branch_treasurer_keeps_to_their_branch(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "100.00", Some("montreal")).await;
    add_user(&app, "quebec@example.org", "treasurer", Some("quebec"));
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("quebec@example.org", PASSWORD).await;
    let csrf = visitor.csrf().await;
    let record = |branch: Option<&str>| {
        let mut body = json!({"amount": "20", "method": "cash", "received_on": "2026-11-01"});
        if let Some(branch) = branch {
            body["branch"] = json!(branch);
        }
        app.client
            .post(app.url("/api/v1/admin/campaigns/office/donations"))
            .header("cookie", visitor.cookie_header())
            .header("x-csrf-token", csrf.clone())
            .json(&body)
            .send()
    };
    let other = problem(record(Some("montreal")).await.expect("answer"), StatusCode::FORBIDDEN).await;
    assert!(other["detail"].as_str().is_some_and(|d| d.contains("quebec")));
    let own: Value = record(None).await.expect("answer").json().await.expect("JSON");
    assert_eq!(own["branch"], "quebec", "their branch is the default");
    let (_, listed, _) = visitor.get("/api/v1/admin/donations").await;
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    let branches: Vec<&str> = listed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["branch"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(branches, ["quebec"], "they see only their branch");
    let montreal_entry = 1;
    let reverse = app
        .client
        .post(app.url(&format!("/api/v1/admin/donations/{montreal_entry}/reversals")))
        .header("cookie", visitor.cookie_header())
        .header("x-csrf-token", csrf.clone())
        .json(&json!({"reason": "not mine"}))
        .send()
        .await
        .expect("answer");
    problem(reverse, StatusCode::FORBIDDEN).await;
    let (_, export, _) = visitor.get("/api/v1/admin/exports/ledger?campaign=office").await;
    assert_eq!(export.lines().count(), 2, "their export holds their branch only: {export}");
    assert_eq!(app.progress("office").await["raised"], "120.00");
}

async fn a_signed_in_viewer_cannot_move_money_from_the_dashboard(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let entry = app.give("office", "100.00", None).await;
    let id = entry["id"].as_i64().expect("an entry id");
    add_user(&app, "viewer@example.org", "viewer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("viewer@example.org", PASSWORD).await;
    let csrf = visitor.csrf().await;
    let forms = [
        (format!("/admin/entries/{id}/reverse"), vec![("reason", "mistake")]),
        (format!("/admin/entries/{id}/refund"), vec![("amount", "10.00")]),
        ("/admin/subscriptions/sub_any/cancel".to_owned(), vec![("when", "now")]),
        ("/admin/c/office/donations".to_owned(), vec![("amount", "5"), ("method", "cash")]),
        ("/admin/c/office/batches".to_owned(), vec![("action", "post"), ("csv", "amount\n5")]),
    ];
    for (path, fields) in forms {
        let mut fields = fields;
        fields.extend([("csrf", csrf.as_str()), ("campaign", "office")]);
        let (status, body, _) = visitor.post(&path, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("treasurer"), "{path} names the role needed: {body}");
    }
    assert_eq!(app.progress("office").await["raised"], "100.00", "nothing moved");
    let entries = app.json_as(&app.viewer_token, "/api/v1/admin/donations").await;
    assert_eq!(entries["entries"].as_array().expect("entries").len(), 1);
}

async fn a_password_change_ends_other_sessions(engine: Engine) {
    let app = spawn_app(engine).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut laptop = Visitor::new(&app);
    let mut phone = Visitor::new(&app);
    laptop.sign_in("tre@example.org", PASSWORD).await;
    phone.sign_in("tre@example.org", PASSWORD).await;
    let csrf = laptop.csrf().await;
    let new = "a much longer passphrase";
    let (status, page, _) = laptop
        .post("/admin/password", &[("csrf", &csrf), ("current", "wrong"), ("new", new), ("confirm", new)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The current password is wrong."));
    let (status, page, _) = laptop
        .post(
            "/admin/password",
            &[("csrf", &csrf), ("current", PASSWORD), ("new", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("at least 12 characters"));
    let (status, _, _) = laptop
        .post("/admin/password", &[("csrf", &csrf), ("current", PASSWORD), ("new", new), ("confirm", new)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(laptop.get("/admin").await.0, StatusCode::OK, "this session stays");
    assert_eq!(phone.get("/admin").await.0, StatusCode::SEE_OTHER, "the others end");
    let mut again = Visitor::new(&app);
    assert_eq!(again.sign_in("tre@example.org", PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(again.sign_in("tre@example.org", new).await, StatusCode::SEE_OTHER);
}

async fn every_write_is_in_the_audit_log(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"goal": "150000"})).await;
    app.give("office", "10.00", None).await;
    add_user(&app, "admin@example.org", "admin", None);
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (status, page, _) = admin.get("/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    for action in ["campaign.create", "campaign.update", "donation.record", "user.add", "user.sign_in"] {
        assert!(page.contains(action), "{action} is logged");
    }
    assert!(
        page.contains("token:test-admin")
            && page.contains("token:test-treasurer")
            && page.contains("127.0.0.1")
    );
    assert!(
        page.contains("&quot;goal&quot;:&quot;100000.00&quot;")
            && page.contains("&quot;goal&quot;:&quot;150000.00&quot;"),
        "before and after"
    );
    let (status, csv, headers) = admin.get("/admin/audit?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.starts_with("id,at,actor,action,target,before,after,address")
            && csv.contains("\"donation.record\"")
    );
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    assert_eq!(treasurer.get("/admin/audit").await.0, StatusCode::FORBIDDEN);
}

async fn the_dashboard_records_a_deposit_and_exports(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (status, page, _) = visitor.get("/admin/c/office").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = Visitor::csrf_in(&page);

    let (status, _, headers) = visitor
        .post(
            "/admin/c/office/donations",
            &[
                ("csrf", &csrf),
                ("amount", "40"),
                ("method", "cheque"),
                ("received_on", "2026-11-03"),
                ("branch", "montreal"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "recorded");
    assert_eq!(headers["location"], "/admin/c/office", "the notice is not in the address");
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(page.contains(r#"<p class="notice ok" role="status">Recorded entry"#), "said once, as a success");
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(!page.contains("Recorded entry"), "and not again");
    let (_, forged, _) = visitor.get("/admin/c/office?notice=Your+account+is+closed").await;
    assert!(!forged.contains("Your account is closed"), "a link cannot make the dashboard speak");
    let (status, page, _) = visitor
        .post("/admin/c/office/donations", &[("csrf", &csrf), ("amount", "-4"), ("method", "cheque")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("must not be negative") && page.contains("Nothing was written"));

    let rows = "amount,method,donor_name\n100,cheque,Ana\n35.50,cash,\n";
    let deposit = [
        ("csrf", csrf.as_str()),
        ("reference", "Slip 9"),
        ("deposited_on", "2026-11-04"),
        ("declared_count", "2"),
        ("declared_total", "135.50"),
        ("csv", rows),
    ];
    let mut preview = deposit.to_vec();
    preview.push(("action", "preview"));
    let (status, page, _) = visitor.post("/admin/c/office/batches", &preview).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Post this deposit") && page.contains("135.50"));
    assert_eq!(app.progress("office").await["raised"], "40.00", "a preview posts nothing");
    let mut wrong = deposit.to_vec();
    wrong[4] = ("declared_total", "130.00");
    wrong.push(("action", "post"));
    let (status, page, _) = visitor.post("/admin/c/office/batches", &wrong).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("is 130.00 but the entries add up to 135.50"));
    let mut post = deposit.to_vec();
    post.push(("action", "post"));
    let (status, _, _) = visitor.post("/admin/c/office/batches", &post).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.progress("office").await["raised"], "175.50");

    let (status, csv, headers) = visitor.get("/admin/export?campaign=office&format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-disposition"].to_str().expect("ASCII").contains("appeal-office-"));
    assert_eq!(csv.lines().count(), 4);
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(page.contains("<svg class=\"chart\"") && page.contains("(deposit 1)"), "{page}");
    assert!(!page.contains("<script"), "the dashboard runs no script");
}
