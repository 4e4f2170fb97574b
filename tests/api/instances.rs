//! `appeal serve` as separate OS processes on one database, as an operator runs it: several
//! instances, a drain on SIGTERM, a SIGKILL, an upgrade. Each instance shares the test app's
//! database, fake Stripe and fake SMTP.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{TestApp, test_env};

/// One `appeal serve` process.
pub struct Instance {
    child: Child,
    pub url: String,
    /// Where its stderr goes: a file, so that a chatty process never blocks on a full pipe.
    log: tempfile::NamedTempFile,
}

/// How long an instance may take to answer after it is started (a cold SQLite file or a
/// busy PostgreSQL on a 2-core machine).
const START_WITHIN: Duration = Duration::from_secs(60);

impl Instance {
    /// Starts `appeal serve` with the app's environment, `extra` first, and waits until it
    /// is ready.
    pub async fn start(app: &TestApp, extra: &[(&str, &str)]) -> Instance {
        let mut instance = Instance::spawn(app, extra);
        let deadline = Instant::now() + START_WITHIN;
        loop {
            if let Some(status) = instance.child.try_wait().expect("the process can be waited on") {
                panic!("appeal serve stopped before it was ready: {status}");
            }
            if instance.ready().await == Some(StatusCode::OK) {
                return instance;
            }
            assert!(Instant::now() < deadline, "appeal serve was not ready within {START_WITHIN:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `appeal serve` without waiting for it (to see it refuse to start).
    pub fn spawn(app: &TestApp, extra: &[(&str, &str)]) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let bind = format!("127.0.0.1:{port}");
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let stderr = log.reopen().expect("the log file opens");
        let mut command = Command::new(env!("CARGO_BIN_EXE_appeal"));
        command.arg("serve").current_dir(std::env::temp_dir()).stdout(Stdio::null()).stderr(stderr);
        for (name, value) in test_env(&app.db.url, Some(&app.stripe), &app.smtp) {
            command.env(name, value);
        }
        command.env("APPEAL_BIND", &bind).env("APPEAL_PUBLIC_URL", &url);
        for (name, value) in extra {
            command.env(name, value);
        }
        Instance { child: command.spawn().expect("the appeal binary starts"), url, log }
    }

    /// `/readyz`'s status, or `None` when nothing answers.
    pub async fn ready(&self) -> Option<StatusCode> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("a client");
        client.get(format!("{}/readyz", self.url)).send().await.ok().map(|response| response.status())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as systemd or a container runtime stops a service.
    pub fn terminate(&self) {
        let sent = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        assert!(sent.is_ok_and(|status| status.success()), "SIGTERM sent");
    }

    /// SIGKILL: the process ends at once, mid-request.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to end on its own, up to `within`.
    pub async fn exited(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the process can be waited on") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}
