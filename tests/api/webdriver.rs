//! A small WebDriver client over HTTP for headless Chromium (Debian's chromium and
//! chromium-driver): enough to open pages, click, type, run a script and take screenshots.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session; the driver process ends with it.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("base", &self.base).finish()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether the browser is installed. Under CI it must be: `.ci/run` installs it.
pub fn available() -> bool {
    let present = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var("CI").is_err(),
            "Chromium and chromedriver must be installed under CI (.ci/run does it)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** Browser tests SKIPPED: install Debian's chromium and chromium-driver to run them. ***\n"
        );
    }
    present
}

impl Browser {
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if let Ok(response) = client.get(format!("{base}/status")).send().await
                && response.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a profile folder");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                         format!("--user-data-dir={}", profile.path().display()),
                         format!("--window-size={width},{height}")]
            }
        }}});
        let response: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("JSON");
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {response}"))
            .to_owned();
        Browser { client, base: format!("{base}/session/{session}"), driver, _profile: profile }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.expect("chromedriver answers").json().await.expect("JSON");
        if let Some(error) = response["value"].get("error") {
            panic!("WebDriver {path}: {error} {}", response["value"]["message"]);
        }
        response["value"].clone()
    }

    /// Ends the session: Chromium closes and its connections with it.
    pub async fn quit(self) {
        let _ = self.client.delete(&self.base).send().await;
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height})))
            .await;
    }

    /// Runs `script` (a function body) and returns its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Runs an async script: its last argument is the callback to call with the result.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []}))).await
    }

    pub async fn find(&self, css: &str) -> String {
        let element = self
            .call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        element
            .as_object()
            .and_then(|map| map.values().next())
            .and_then(Value::as_str)
            .expect("an element")
            .to_owned()
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text})))
            .await;
    }

    /// Opens a new tab and switches to it; returns its handle.
    pub async fn new_tab(&self) -> String {
        let created = self.call(reqwest::Method::POST, "/window/new", Some(json!({"type": "tab"}))).await;
        let handle = created["handle"].as_str().expect("a handle").to_owned();
        self.switch_to(&handle).await;
        handle
    }

    /// Closes the current tab; switch to another one afterwards.
    pub async fn close_tab(&self) {
        self.call(reqwest::Method::DELETE, "/window", None).await;
    }

    pub async fn current_tab(&self) -> String {
        self.call(reqwest::Method::GET, "/window", None).await.as_str().expect("a handle").to_owned()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.call(reqwest::Method::POST, "/window", Some(json!({"handle": handle}))).await;
    }

    /// Waits (bounded, so a failure cannot hang) until `script` returns `expected`.
    pub async fn wait_for(&self, script: &str, expected: &Value) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.eval(script).await;
            if &last == expected {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("waited for {script} to give {expected}, last saw {last}");
    }

    /// Saves a PNG of the page.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use crate::fake_smtp::decode_base64 as decode;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = decode(data.as_str().expect("base64 PNG"));
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the screenshot folder");
        std::fs::write(path, bytes).expect("the screenshot is written");
    }
}
