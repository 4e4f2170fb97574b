//! A webhook receiver on loopback: it keeps every request it gets and answers as a test
//! scripts it (a status and a delay per request, then 200 at once).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<(u16, Duration, Option<String>)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("url", &self.url).finish()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let headers = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    let (status, delay, body) = {
        let mut inner = inner.lock().expect("not poisoned");
        inner.received.push(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
        inner.script.pop_front().unwrap_or((200, Duration::ZERO, None))
    };
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("a status"), body.unwrap_or_else(|| format!("answered {status}")))
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the receiver");
        let url = format!("http://{}/hooks/appeal", listener.local_addr().expect("an address"));
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let router = axum::Router::new()
            .route("/hooks/appeal", axum::routing::post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, inner }
    }

    /// The next requests are answered with these statuses, after these delays.
    pub fn answer_next(&self, answers: &[(u16, Duration)]) {
        let answers = answers.iter().map(|(status, delay)| (*status, *delay, None));
        self.inner.lock().expect("not poisoned").script.extend(answers);
    }

    /// The next request is answered with this status and body.
    pub fn answer_next_with(&self, status: u16, body: &str) {
        self.inner.lock().expect("not poisoned").script.push_back((
            status,
            Duration::ZERO,
            Some(body.to_owned()),
        ));
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("not poisoned").received.clone()
    }

    /// Waits (30 s at most) until `count` requests have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..600 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, not {count}: {:?}", self.received().len(), self.received());
    }
}

/// Checks a request's signature with Python's own HMAC and base64, as a receiver following
/// the Standard Webhooks specification would: an implementation independent of appeal's.
pub fn verified_independently(secret: &str, id: &str, timestamp: &str, signatures: &str, body: &str) -> bool {
    use std::io::Write;
    const VERIFY: &str = r#"
import base64, hashlib, hmac, sys
secret, msg_id, timestamp, signatures = sys.argv[1:5]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
found = [s.split(",", 1)[1] for s in signatures.split(" ") if s.startswith("v1,")]
sys.exit(0 if any(hmac.compare_digest(expected, s) for s in found) else 1)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", VERIFY, secret, id, timestamp, signatures])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(body.as_bytes()).expect("written");
    child.wait().expect("python3 ends").success()
}
