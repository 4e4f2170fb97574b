//! spawn_app: the real server on a random port over a fresh database, on either engine.

use std::sync::LazyLock;

use appeal::actions;
use appeal::app::Application;
use appeal::config::Config;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::sync::oneshot;

use crate::fake_smtp::FakeSmtp;
use crate::fake_stripe::{FakeStripe, SECRET_KEY, WEBHOOK_SECRET, signature_header};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on, from `APPEAL_TEST_POSTGRES_URL`.
/// Without it the PostgreSQL half of each test is skipped, loudly; under CI it must be set.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("APPEAL_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    if url.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "APPEAL_TEST_POSTGRES_URL must be set under CI: the suite runs on both engines"
        );
        eprintln!(
            "SKIPPED on PostgreSQL: set APPEAL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
    }
    url
}

/// Runs a test body on both engines: `on_both_engines!(name)` makes `name::sqlite` and
/// `name::postgres`, each calling `async fn name(engine: Engine)`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Engine::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_url().is_some() {
                    super::$name($crate::helpers::Engine::Postgres).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_engines;

/// A fresh database that lives as long as the test.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(engine: Engine) -> Self {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("appeal.db").display());
                TestDatabase { url, postgres: None, _dir: Some(dir) }
            }
            Engine::Postgres => {
                let admin_url = postgres_url().expect("checked by the caller");
                let name = format!("appeal_test_{}", random_suffix());
                sqlx::any::install_default_drivers();
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await.expect("PostgreSQL answers");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("a test database can be created");
                let mut url = url::Url::parse(&admin_url).expect("a valid PostgreSQL URL");
                url.set_path(&name);
                TestDatabase { url: url.to_string(), postgres: Some((admin_url, name)), _dir: None }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime: do the async clean-up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

fn random_suffix() -> String {
    let mut bytes = [0_u8; 8];
    getrandom::fill(&mut bytes).expect("randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static CLIENT: LazyLock<Client> = LazyLock::new(|| {
    // Redirects are asserted, not followed: they lead to Stripe.
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
});

/// A running server with one token per role.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub stripe: FakeStripe,
    pub smtp: FakeSmtp,
    options: Options,
    pub client: Client,
    pub admin_token: String,
    pub treasurer_token: String,
    pub viewer_token: String,
    pub db: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// How a test wants its server set up beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub without_stripe: bool,
    /// More environment variables (rate limits, captcha keys...).
    pub vars: Vec<(&'static str, String)>,
    /// Serve on a known port with `APPEAL_PUBLIC_URL` pointing at it, as a browser needs.
    pub reachable: bool,
    /// As `serve --demo`.
    pub demo: bool,
}

/// The environment every test instance runs with, in this process or as an `appeal serve`
/// process of its own.
pub fn test_env(
    database_url: &str,
    stripe: Option<&FakeStripe>,
    smtp: &FakeSmtp,
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("APPEAL_BIND", "127.0.0.1:0".to_owned()),
        ("APPEAL_PUBLIC_URL", "https://give.example.org".to_owned()),
        ("APPEAL_ORG_NAME", "Solidarity Press".to_owned()),
        ("APPEAL_LOG", "warn".to_owned()),
        ("APPEAL_CHECKOUT_LIMIT_IP", "1000/10m".to_owned()),
        ("APPEAL_CHECKOUT_LIMIT_EMAIL", "1000/1h".to_owned()),
        ("SMTP_URL", smtp.url.clone()),
        ("APPEAL_MAIL_FROM", "Solidarity Press <dons@example.org>".to_owned()),
    ];
    if let Some(fake) = stripe {
        vars.push(("STRIPE_SECRET_KEY", SECRET_KEY.to_owned()));
        vars.push(("STRIPE_WEBHOOK_SECRET", format!("whsec_retired, {WEBHOOK_SECRET}")));
        vars.push(("STRIPE_API_BASE", fake.base.clone()));
    }
    vars
}

pub fn test_config(
    database_url: &str,
    stripe: Option<&FakeStripe>,
    smtp: &FakeSmtp,
    options: &Options,
) -> Config {
    // Options first: an empty value unsets the variable.
    let mut vars = options.vars.clone();
    vars.extend(test_env(database_url, stripe, smtp));
    let config = Config::from_lookup(move |name| {
        let (_, value) = vars.iter().find(|(key, _)| *key == name)?;
        Some(value.clone()).filter(|value| !value.is_empty())
    })
    .expect("the test configuration is valid");
    Config { demo: options.demo, ..config }
}

/// The server with Stripe played by a fresh fake.
pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, Options::default()).await
}

/// The server with no Stripe key, as a newcomer runs it.
pub async fn spawn_app_without_stripe(engine: Engine) -> TestApp {
    spawn_app_with(engine, Options { without_stripe: true, ..Options::default() }).await
}

pub async fn spawn_app_with(engine: Engine, mut options: Options) -> TestApp {
    if options.reachable {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        options.vars.push(("APPEAL_BIND", format!("127.0.0.1:{port}")));
        options.vars.push(("APPEAL_PUBLIC_URL", format!("http://127.0.0.1:{port}")));
    }
    let db = TestDatabase::new(engine).await;
    let stripe = FakeStripe::start().await;
    let smtp = FakeSmtp::start().await;
    let config = test_config(&db.url, (!options.without_stripe).then_some(&stripe), &smtp, &options);
    let application = Application::build(&config).await.expect("the application starts");
    let store = application.store().clone();
    let setup = appeal::access::Actor::command_line();
    let admin_token =
        actions::create_token(&store, "test-admin", "admin", None, &setup).await.expect("token").token;
    let treasurer_token = actions::create_token(&store, "test-treasurer", "treasurer", None, &setup)
        .await
        .expect("token")
        .token;
    let viewer_token =
        actions::create_token(&store, "test-viewer", "viewer", None, &setup).await.expect("token").token;
    let mut app = TestApp {
        address: String::new(),
        stripe,
        smtp,
        options,
        client: CLIENT.clone(),
        admin_token,
        treasurer_token,
        viewer_token,
        db,
        stop: None,
        server: None,
    };
    app.start(application);
    app
}

impl TestApp {
    fn start(&mut self, application: Application) {
        self.address = format!("http://127.0.0.1:{}", application.port());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let stop_signal = async {
                let _ = stopped.await;
            };
            application.run_until(stop_signal).await.expect("the server runs");
        });
        self.stop = Some(stop);
        self.server = Some(server);
    }

    /// Stops the server and starts a new one on the same database, as a restart would.
    pub async fn restart(&mut self) {
        self.shutdown().await;
        let application =
            Application::build(&test_config(&self.db.url, Some(&self.stripe), &self.smtp, &self.options))
                .await
                .expect("the application restarts");
        self.start(application);
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("the server answers")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("the server answers")
    }

    /// A GET with a token, read as JSON.
    pub async fn json_as(&self, token: &str, path: &str) -> Value {
        self.get_as(token, path).await.json().await.expect("JSON")
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    pub async fn patch_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// Creates an active campaign with the usual 100,000.00 CAD goal and three branches.
    pub async fn create_campaign(&self, slug: &str) -> Value {
        let response = self
            .post_as(
                &self.admin_token,
                "/api/v1/admin/campaigns",
                &json!({
                    "slug": slug,
                    "currency": "CAD",
                    "goal": "100000.00",
                    "title": {"en": "New office", "fr": "Nouveau local"},
                    "status": "active",
                    "branches": [
                        {"slug": "montreal", "name": "Montréal", "goal": "40000.00"},
                        {"slug": "quebec", "name": "Québec", "goal": "25000.00"},
                        {"slug": "gatineau", "name": "Gatineau"}
                    ]
                }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating {slug}");
        response.json().await.expect("a JSON campaign")
    }

    /// Records offline money through the API and returns the entry.
    pub async fn give(&self, slug: &str, amount: &str, branch: Option<&str>) -> Value {
        let mut body = json!({"amount": amount, "method": "cheque", "received_on": "2026-11-01"});
        if let Some(branch) = branch {
            body["branch"] = json!(branch);
        }
        let response = self
            .post_as(&self.treasurer_token, &format!("/api/v1/admin/campaigns/{slug}/donations"), &body)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "giving {amount} to {slug}");
        response.json().await.expect("a JSON entry")
    }

    /// Records offline money from a donor known by their email.
    pub async fn give_from(&self, slug: &str, amount: &str, email: &str) -> Value {
        let body =
            json!({"amount": amount, "method": "cheque", "received_on": "2026-11-01", "donor_email": email});
        let response = self
            .post_as(&self.treasurer_token, &format!("/api/v1/admin/campaigns/{slug}/donations"), &body)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "giving {amount} to {slug}");
        response.json().await.expect("a JSON entry")
    }

    pub async fn progress(&self, slug: &str) -> Value {
        let response = self.get(&format!("/api/v1/campaigns/{slug}/progress")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON progress document")
    }

    /// Delivers an event to the webhook, signed as Stripe signs, and returns the status.
    pub async fn deliver(&self, event: &Value) -> StatusCode {
        let body = serde_json::to_vec(event).expect("an event serializes");
        let header = signature_header(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
        self.client
            .post(self.url("/api/v1/stripe/webhook"))
            .header("stripe-signature", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers")
            .status()
    }

    /// Waits (bounded) until the supporters' emails queued so far have gone (the background
    /// sender writes and sends them after the answers that queued them).
    pub async fn wait_for_emails_sent(&self) {
        for _ in 0..400 {
            let listed = self.json_as(&self.treasurer_token, "/api/v1/admin/emails").await;
            let waiting = listed["emails"]
                .as_array()
                .is_none_or(|all| all.iter().any(|email| email["state"] == "pending"));
            if !waiting {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("emails are still waiting to be sent");
    }

    /// Delivers each event in turn, asserting each is acknowledged.
    pub async fn deliver_all(&self, events: &[Value]) {
        for event in events {
            assert_eq!(self.deliver(event).await, StatusCode::OK, "delivering {}", event["type"]);
        }
    }

    /// Posts each body to `slug`'s checkout as a supporter would, and checks that it is
    /// refused (422) with `message` on `field`.
    pub async fn checkouts_refused<'a>(
        &self,
        slug: &str,
        cases: impl IntoIterator<Item = (Value, &'a str, &'a str)>,
    ) {
        for (body, field, message) in cases {
            let response = self
                .client
                .post(self.url(&format!("/api/v1/campaigns/{slug}/checkout")))
                .json(&body)
                .send()
                .await
                .expect("answer");
            let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(problem["errors"][field], message, "{body}");
        }
    }

    /// Starts a checkout as a supporter would and returns the session id.
    pub async fn checkout(&self, slug: &str, body: &Value) -> String {
        let response = self
            .client
            .post(self.url(&format!("/api/v1/campaigns/{slug}/checkout")))
            .json(body)
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::CREATED, "checkout of {body}");
        let started: Value = response.json().await.expect("JSON");
        started["id"].as_str().expect("a session id").to_owned()
    }

    pub async fn form_post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// Runs SQL on this app's database behind its back, as a tampering hand would.
    pub async fn execute_sql(&self, sql: &str) {
        use sqlx::Connection;
        let mut connection = sqlx::AnyConnection::connect(&self.db.url).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut connection)
            .await
            .expect("the statement");
    }

    /// Runs the `appeal` binary against this app's database (and its fake Stripe).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_on(&self.db.url, args)
    }

    /// The same against another database (a restored copy).
    pub fn cli_on(&self, database_url: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("STRIPE_SECRET_KEY", SECRET_KEY)
            .env("STRIPE_API_BASE", &self.stripe.base)
            .env("APPEAL_ORG_NAME", "Solidarity Press")
            .env("APPEAL_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .output()
            .expect("the appeal binary runs")
    }
}

/// Reads a problem+json answer, checking its content type and status.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().expect("ASCII").to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], json!(status.as_u16()));
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}
