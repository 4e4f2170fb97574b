//! The benchmark: progress reads, the campaign page, live fan-out, webhook ingestion, exports and footprint,
//! each against a baseline measured in the same run on the same machine.
//!
//! `cargo build --release && cargo run --release --example bench -- [--quick] [--engine sqlite|postgres|both] [--only reads,pages,fan-out,webhooks,export,footprint] [--output BENCHMARKS.md]`
//!
//! `--only` runs some of the scenarios, for profiling one at a time (`perf record -- ...`).
//! PostgreSQL runs when `APPEAL_TEST_POSTGRES_URL` (or `APPEAL_BENCH_POSTGRES_URL`) is set.
//! `--quick` runs every scenario at a tenth of the size for a few seconds: a smoke test of
//! the tool, which asserts no speed.

#![recursion_limit = "256"]

#[allow(dead_code, clippy::all)]
#[path = "../tests/api/fake_stripe/mod.rs"]
mod fake_stripe;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use appeal::app::Application;
use appeal::config::Config;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, Debug)]
struct Size {
    entries_small: i64,
    entries_large: i64,
    read_seconds: u64,
    streams: usize,
    events: usize,
    export_entries: i64,
}

const FULL: Size = Size {
    entries_small: 10_000,
    entries_large: 1_000_000,
    read_seconds: 10,
    streams: 10_000,
    events: 2_000,
    export_entries: 1_000_000,
};
const QUICK: Size = Size {
    entries_small: 1_000,
    entries_large: 100_000,
    read_seconds: 2,
    streams: 1_000,
    events: 200,
    export_entries: 100_000,
};

/// One line of the results table.
struct Row {
    engine: &'static str,
    scenario: String,
    figure: String,
    baseline: String,
    ratio: String,
    target: String,
    pass: Option<bool>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let value = |name: &str| args.iter().position(|arg| arg == name).and_then(|at| args.get(at + 1)).cloned();
    let postgres = std::env::var("APPEAL_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("APPEAL_TEST_POSTGRES_URL"))
        .ok();
    let engines: Vec<Engine> = match value("--engine").as_deref() {
        Some("sqlite") => vec![Engine::Sqlite],
        Some("postgres") => vec![Engine::Postgres],
        _ if postgres.is_some() => vec![Engine::Sqlite, Engine::Postgres],
        _ => vec![Engine::Sqlite],
    };
    let output = value("--output")
        .unwrap_or_else(|| if quick { "target/BENCHMARKS-quick.md".into() } else { "BENCHMARKS.md".into() });
    let size = if quick { QUICK } else { FULL };
    let only = Only::parse(value("--only").as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut rows = Vec::new();
    for engine in engines {
        eprintln!("== {engine:?}");
        rows.extend(runtime.block_on(run_engine(engine, size, &only, postgres.as_deref()))?);
    }
    let report = render(&rows, quick);
    println!("{report}");
    std::fs::write(&output, &report)?;
    eprintln!("wrote {output}");
    Ok(())
}

/// The scenarios to run: all unless `--only` names some.
struct Only(Vec<String>);

impl Only {
    const NAMES: [&str; 6] = ["reads", "pages", "fan-out", "webhooks", "export", "footprint"];

    fn parse(list: Option<&str>) -> anyhow::Result<Self> {
        let names: Vec<String> =
            list.unwrap_or_default().split(',').filter(|name| !name.is_empty()).map(str::to_owned).collect();
        if let Some(unknown) = names.iter().find(|name| !Self::NAMES.contains(&name.as_str())) {
            anyhow::bail!(
                "--only: unknown scenario {unknown:?}; the scenarios are {}",
                Self::NAMES.join(", ")
            );
        }
        Ok(Only(names))
    }

    fn runs(&self, scenario: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|name| name == scenario)
    }
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    }
}

/// A fresh database for one engine.
async fn fresh_database(
    engine: Engine,
    postgres: Option<&str>,
) -> anyhow::Result<(String, Option<tempfile::TempDir>)> {
    sqlx::any::install_default_drivers();
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir()?;
            Ok((format!("sqlite://{}", dir.path().join("bench.db").display()), Some(dir)))
        }
        Engine::Postgres => {
            let admin =
                postgres.ok_or_else(|| anyhow::anyhow!("set APPEAL_TEST_POSTGRES_URL for PostgreSQL"))?;
            let name = format!("appeal_bench_{}", std::process::id());
            let mut connection = sqlx::AnyConnection::connect(admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut connection)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut connection)
                .await?;
            let mut url = url::Url::parse(admin)?;
            url.set_path(&name);
            Ok((url.to_string(), None))
        }
    }
}

fn config(database_url: &str, stripe_base: &str) -> anyhow::Result<Config> {
    let database_url = database_url.to_owned();
    let stripe_base = stripe_base.to_owned();
    Ok(Config::from_lookup(move |name| match name {
        "DATABASE_URL" => Some(database_url.clone()),
        "APPEAL_BIND" => Some("127.0.0.1:0".to_owned()),
        "APPEAL_LOG" => Some("error".to_owned()),
        "APPEAL_MAX_STREAMS_PER_IP" | "APPEAL_MAX_STREAMS" | "APPEAL_MAX_CONNECTIONS" => {
            Some("1000000".to_owned())
        }
        "APPEAL_CHECKOUT_LIMIT_IP" => Some("1000000/1m".to_owned()),
        "APPEAL_CHECKOUT_LIMIT_EMAIL" => Some("1000000/1m".to_owned()),
        "APPEAL_MAIL_DIR" => Some(std::env::temp_dir().join("appeal-bench-mail").display().to_string()),
        "STRIPE_SECRET_KEY" => Some(fake_stripe::SECRET_KEY.to_owned()),
        "STRIPE_WEBHOOK_SECRET" => Some(fake_stripe::WEBHOOK_SECRET.to_owned()),
        "STRIPE_API_BASE" => Some(stripe_base.clone()),
        _ => None,
    })?)
}

/// Inserts `count` offline entries straight into the ledger (a load fixture).
async fn bulk_entries(database_url: &str, campaign: &str, count: i64) -> anyhow::Result<()> {
    let mut connection = sqlx::AnyConnection::connect(database_url).await?;
    let false_ = if database_url.starts_with("sqlite") { "0" } else { "FALSE" };
    let mut left = count;
    while left > 0 {
        let batch = left.min(200_000);
        let sql = format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {batch}) \
             INSERT INTO ledger_entries (campaign_id, kind, source, method, amount_minor, fee_minor, net_minor, currency, \
             donor_key, anonymous, recurring, received_on, recorded_at, recorded_by, reference) \
             SELECT c.id, 'donation', 'offline', 'cash', 1000 + i, 0, 1000 + i, 'CAD', 'd-bench', \
             {false_}, {false_}, '2026-11-01', '2026-11-01T12:00:00.000000Z', 'bench', 'ref' FROM n, campaigns c WHERE c.slug = '{campaign}'"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut connection).await?;
        left -= batch;
    }
    // Each with its donor's name, kept beside the ledger as appeal keeps it.
    sqlx::query(
        "INSERT INTO donor_details (entry_id, name) SELECT e.id, 'A donor' FROM ledger_entries e \
         WHERE e.recorded_by = 'bench' AND NOT EXISTS (SELECT 1 FROM donor_details d WHERE d.entry_id = e.id)",
    )
    .execute(&mut connection)
    .await?;
    // On PostgreSQL, settle the table as a live one would be, so that the autovacuum of a
    // million fresh rows does not run into the next scenario. (SQLite is left as appeal
    // leaves it, without ANALYZE: see BENCHMARKS.md.)
    if !database_url.starts_with("sqlite") {
        sqlx::query("VACUUM ANALYZE ledger_entries").execute(&mut connection).await?;
        sqlx::query("VACUUM ANALYZE donor_details").execute(&mut connection).await?;
    }
    Ok(())
}

/// A gift of 1.00 to one campaign every 20 ms, as a campaign push brings them, while readers
/// are measured.
struct Trickle {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Trickle {
    fn start(client: &reqwest::Client, address: &str, token: &str, campaign: &str) -> Trickle {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{address}/api/v1/admin/campaigns/{campaign}/donations");
        let (client, token, stopped) = (client.clone(), token.to_owned(), stop.clone());
        let task = tokio::spawn(async move {
            while !stopped.load(Ordering::Relaxed) {
                let _ = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"amount": "1.00", "method": "cash", "received_on": "2026-11-01"}))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Trickle { stop, task }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

struct Load {
    per_second: f64,
    p99_micros: u64,
}

/// `connections` keep-alive connections reading `url` as fast as they can for `seconds`.
async fn load(url: &str, connections: usize, seconds: u64) -> Load {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("a client");
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let start = Instant::now();
                if let Ok(response) = client.get(&url).send().await {
                    let _ = response.bytes().await;
                    latencies.push(start.elapsed().as_micros() as u64);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    all.sort_unstable();
    let p99 = all.get(all.len().saturating_mul(99) / 100).copied().unwrap_or(0);
    Load { per_second: all.len() as f64 / seconds as f64, p99_micros: p99 }
}

/// A bare axum server answering `body` at one path: the baseline for reads.
async fn bare_server(body: Vec<u8>) -> String {
    bare_server_of(body, "application/json").await
}

/// The same for a body of another type (a campaign page's HTML).
async fn bare_server_of(body: Vec<u8>, content_type: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    let body = axum::body::Bytes::from(body);
    let router = axum::Router::new().route(
        "/progress",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", content_type), ("cache-control", "public, max-age=5")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the baseline serves") });
    format!("http://{address}/progress")
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn run_engine(
    engine: Engine,
    size: Size,
    only: &Only,
    postgres: Option<&str>,
) -> anyhow::Result<Vec<Row>> {
    let name = engine_name(engine);
    let mut rows = Vec::new();
    let stripe = fake_stripe::FakeStripe::start().await;
    let (database_url, _dir) = fresh_database(engine, postgres).await?;
    let application = Application::build(&config(&database_url, &stripe.base)?).await?;
    let store = application.store().clone();
    let setup = appeal::access::Actor::command_line();
    let token = appeal::actions::create_token(&store, "bench", "admin", None, &setup).await?.token;
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(async move {
        let _ = application.run_until(std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let create = |slug: &str| {
        client
            .post(format!("{address}/api/v1/admin/campaigns"))
            .bearer_auth(&token)
            .json(&json!({"slug": slug, "currency": "CAD", "goal": "100000", "title": {"en": "Bench"}, "status": "active"}))
            .send()
    };
    create("reads").await?;
    create("stream").await?;
    create("hooks").await?;
    create("export").await?;
    create("pages").await?;

    if only.runs("reads") {
        // 1. Progress reads, at two ledger sizes, with a trickle of donations.
        let progress_url = format!("{address}/api/v1/campaigns/reads/progress");
        let body = client.get(&progress_url).send().await?.bytes().await?.to_vec();
        let baseline_url = bare_server(body).await;
        let mut small_rate = 0.0;
        for (label, entries) in [("small", size.entries_small), ("large", size.entries_large)] {
            bulk_entries(
                &database_url,
                "reads",
                if label == "small" { entries } else { entries - size.entries_small },
            )
            .await?;
            let trickle = Trickle::start(&client, &address, &token, "reads");
            let baseline = load(&baseline_url, 64, size.read_seconds).await;
            let ours = load(&progress_url, 64, size.read_seconds).await;
            trickle.stop().await;
            let ratio = ours.per_second / baseline.per_second.max(1.0);
            rows.push(Row {
                engine: name,
                scenario: format!("progress reads, {entries} entries: requests/s"),
                figure: format!("{:.0}", ours.per_second),
                baseline: format!("{:.0}", baseline.per_second),
                ratio: format!("{ratio:.2}"),
                target: "≥ 0.80".into(),
                pass: Some(ratio >= 0.8),
            });
            let p99_ratio = ours.p99_micros as f64 / baseline.p99_micros.max(1) as f64;
            rows.push(Row {
                engine: name,
                scenario: format!("progress reads, {entries} entries: p99"),
                figure: format!("{:.2} ms", ours.p99_micros as f64 / 1000.0),
                baseline: format!("{:.2} ms", baseline.p99_micros as f64 / 1000.0),
                ratio: format!("{p99_ratio:.2}"),
                target: "≤ 2.00".into(),
                pass: Some(p99_ratio <= 2.0),
            });
            if label == "small" {
                small_rate = ours.per_second;
            } else {
                let growth = ours.per_second / small_rate.max(1.0);
                rows.push(Row {
                    engine: name,
                    scenario: format!(
                        "progress reads: {} vs {} entries",
                        size.entries_large, size.entries_small
                    ),
                    figure: format!("{:.0}/s", ours.per_second),
                    baseline: format!("{small_rate:.0}/s"),
                    ratio: format!("{growth:.2}"),
                    target: "≥ 0.80 (no growth in cost)".into(),
                    pass: Some(growth >= 0.8),
                });
            }
        }
    }
    if only.runs("pages") {
        // 1b. The campaign page under a push: many readers of one page while gifts trickle in,
        // against a bare server answering the same HTML.
        let page_url = format!("{address}/c/pages?lang=en");
        let body = client.get(&page_url).send().await?.bytes().await?.to_vec();
        let baseline_url = bare_server_of(body, "text/html; charset=utf-8").await;
        let trickle = Trickle::start(&client, &address, &token, "pages");
        let baseline = load(&baseline_url, 64, size.read_seconds).await;
        let ours = load(&page_url, 64, size.read_seconds).await;
        trickle.stop().await;
        let ratio = ours.per_second / baseline.per_second.max(1.0);
        rows.push(Row {
            engine: name,
            scenario: "campaign page under a push (a gift every 20 ms): requests/s".into(),
            figure: format!("{:.0}", ours.per_second),
            baseline: format!("{:.0}", baseline.per_second),
            ratio: format!("{ratio:.2}"),
            target: "≥ 0.20".into(),
            pass: Some(ratio >= 0.2),
        });
        rows.push(Row {
            engine: name,
            scenario: "campaign page under a push: p99".into(),
            figure: format!("{:.2} ms", ours.p99_micros as f64 / 1000.0),
            baseline: format!("{:.2} ms", baseline.p99_micros as f64 / 1000.0),
            ratio: "—".into(),
            target: "≤ 10 ms".into(),
            pass: Some(ours.p99_micros <= 10_000),
        });
    }
    if only.runs("fan-out") {
        // 2. Live fan-out: many open streams, one donation, how soon each hears of it. The
        // server runs as its own process (the built binary), so that each side has its own
        // file descriptors and the memory per stream is the server's alone.
        rows.extend(fan_out(name, &database_url, &token, size.streams, 1).await);
        if engine == Engine::Postgres {
            // 2b. The same across three instances on one database: the donation is recorded on
            // the first, the streams are spread over all three.
            rows.extend(fan_out(name, &database_url, &token, size.streams, 3).await);
        }
    }
    if only.runs("webhooks") {
        // 3. Webhook ingestion: signed events from 32 senders, against one INSERT per transaction.
        // One-off gifts (`checkout.session.completed`) and monthly ones (their first
        // `invoice.paid` too), alternately, each from its own supporter, until there are
        // `size.events` events.
        let mut events = Vec::new();
        let mut gifts = 0_usize;
        while events.len() < size.events {
            let interval = if gifts.is_multiple_of(2) { "once" } else { "month" };
            gifts += 1;
            let session = client
                .post(format!("{address}/api/v1/campaigns/hooks/checkout"))
                .json(&json!({"amount": "10.00", "interval": interval, "email": format!("supporter{gifts}@example.org")}))
                .send()
                .await?
                .json::<Value>()
                .await?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            events.extend(stripe.pay_session(&session).into_iter().filter(|event| {
                matches!(event["type"].as_str(), Some("checkout.session.completed" | "invoice.paid"))
            }));
        }
        let deliver = |events: Vec<Value>| {
            let (client, address) = (client.clone(), address.clone());
            async move {
                let events = Arc::new(events);
                let start = Instant::now();
                let mut senders = Vec::new();
                for lane in 0..32 {
                    let (client, address, events) = (client.clone(), address.clone(), events.clone());
                    senders.push(tokio::spawn(async move {
                        for event in events.iter().skip(lane).step_by(32) {
                            let body = serde_json::to_vec(event).unwrap_or_default();
                            let header = fake_stripe::signature_header(
                                fake_stripe::WEBHOOK_SECRET,
                                chrono::Utc::now().timestamp(),
                                &body,
                            );
                            let _ = client
                                .post(format!("{address}/api/v1/stripe/webhook"))
                                .header("stripe-signature", header)
                                .header("content-type", "application/json")
                                .body(body)
                                .send()
                                .await;
                        }
                    }));
                }
                for sender in senders {
                    let _ = sender.await;
                }
                events.len() as f64 / start.elapsed().as_secs_f64()
            }
        };
        // The campaign's page is being read, as it is during a push: its progress document is
        // in memory, and the commits keep it up to date.
        client.get(format!("{address}/api/v1/campaigns/hooks/progress")).send().await?.error_for_status()?;
        let new_rate = deliver(events.clone()).await;
        let duplicate_rate = deliver(events.clone()).await;
        let baseline_rate = {
            let pool = sqlx::any::AnyPoolOptions::new().max_connections(32).connect(&database_url).await?;
            sqlx::query("CREATE TABLE bench_events (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
                .execute(&pool)
                .await?;
            let start = Instant::now();
            let mut lanes = Vec::new();
            for lane in 0..32 {
                let (pool, count) = (pool.clone(), events.len());
                lanes.push(tokio::spawn(async move {
                    for index in (lane..count).step_by(32) {
                        if let Ok(mut tx) = pool.begin().await {
                            let _ = sqlx::query("INSERT INTO bench_events (id, body) VALUES ($1, $2)")
                                .bind(format!("evt_{index}"))
                                .bind("{}")
                                .execute(&mut *tx)
                                .await;
                            let _ = tx.commit().await;
                        }
                    }
                }));
            }
            for lane in lanes {
                let _ = lane.await;
            }
            events.len() as f64 / start.elapsed().as_secs_f64()
        };
        let ratio = new_rate / baseline_rate.max(1.0);
        rows.push(Row {
            engine: name,
            scenario: format!(
                    "webhook ingestion: new events/s ({} checkout.session.completed and invoice.paid, 32 senders)",
                    events.len()
                ),
            figure: format!("{new_rate:.0}"),
            baseline: format!("{baseline_rate:.0}"),
            ratio: format!("{ratio:.2}"),
            target: "≥ 0.50".into(),
            pass: Some(ratio >= 0.5),
        });
        let cost = new_rate / duplicate_rate.max(1.0);
        rows.push(Row {
            engine: name,
            scenario: "webhook ingestion: cost of a duplicate vs a new event".into(),
            figure: format!("{duplicate_rate:.0}/s"),
            baseline: format!("{new_rate:.0}/s"),
            ratio: format!("{cost:.2}"),
            target: "≤ 0.25".into(),
            pass: Some(cost <= 0.25),
        });
    }
    if only.runs("export") {
        // 4. Ledger export through the API, against a plain streaming SELECT of the same rows.
        bulk_entries(&database_url, "export", size.export_entries).await?;
        // One untimed pass first, so that neither side pays for reading freshly written
        // rows (PostgreSQL sets their hint bits on the first read) and the order of the
        // two timed passes does not favour the second.
        plain_export_select(&database_url).await?;
        let peak_before = rss_kib("VmRSS:");
        let sampler_stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = sampler_stop.clone();
            tokio::spawn(async move {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(rss_kib("VmRSS:"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                peak
            })
        };
        let start = Instant::now();
        let mut response = client
            .get(format!("{address}/api/v1/admin/exports/ledger?campaign=export"))
            .bearer_auth(&token)
            .send()
            .await?;
        let mut bytes = 0_usize;
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len();
        }
        let export_seconds = start.elapsed().as_secs_f64();
        sampler_stop.store(true, Ordering::Relaxed);
        let peak = sampler.await.unwrap_or(0);
        let baseline_seconds = plain_export_select(&database_url).await?;
        let ratio = export_seconds / baseline_seconds.max(0.001);
        rows.push(Row {
            engine: name,
            scenario: format!(
                "ledger export: {} entries to CSV ({:.0} MB)",
                size.export_entries,
                bytes as f64 / 1e6
            ),
            figure: format!("{export_seconds:.2} s"),
            baseline: format!("{baseline_seconds:.2} s"),
            ratio: format!("{ratio:.2}"),
            target: "≤ 1.50".into(),
            pass: Some(ratio <= 1.5),
        });
        let grown = peak.saturating_sub(peak_before) as f64 / 1024.0;
        rows.push(Row {
            engine: name,
            scenario: "ledger export: memory grown while exporting".into(),
            figure: format!("{grown:.1} MiB"),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≤ 64 MiB".into(),
            pass: Some(grown <= 64.0),
        });
    }
    if only.runs("footprint") {
        // 5. Footprint of the release binary on this (existing) database.
        rows.extend(footprint(name, &database_url).await);
    }
    Ok(rows)
}

/// The export's baseline: the same rows (with their donors' details, kept beside the ledger)
/// read with a plain streaming SELECT and written, two fields each, to nowhere. Returns the seconds it took.
async fn plain_export_select(database_url: &str) -> anyhow::Result<f64> {
    use futures_util::TryStreamExt;
    use sqlx::Row as _;
    use std::io::Write as _;
    let mut connection = sqlx::AnyConnection::connect(database_url).await?;
    let start = Instant::now();
    let mut sink = std::io::sink();
    let mut rows = sqlx::query(
        "SELECT e.*, pd.* FROM ledger_entries e JOIN campaigns c ON c.id = e.campaign_id \
         LEFT JOIN donor_details pd ON pd.entry_id = e.id WHERE c.slug = 'export' ORDER BY e.id",
    )
    .fetch(&mut connection);
    while let Some(row) = rows.try_next().await? {
        let id: i64 = row.try_get("id")?;
        let amount: i64 = row.try_get("amount_minor")?;
        let _ = writeln!(sink, "{id},{amount}");
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The `appeal` binary built beside this example (`target/<profile>/appeal`).
fn built_binary() -> Option<std::path::PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|example| example.parent()?.parent().map(|dir| dir.join("appeal")))
        .filter(|path| path.exists())
}

/// Starts the built binary on `database_url` and waits until it is ready.
async fn serve_binary(
    database_url: &str,
    extra: &[(&str, &str)],
) -> Option<(std::process::Child, String, Duration)> {
    let binary = built_binary()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).ok()?.port();
    let start = Instant::now();
    let mut command = std::process::Command::new(&binary);
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("APPEAL_BIND", format!("127.0.0.1:{port}"))
        .env("APPEAL_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    let mut child = command.spawn().ok()?;
    let client = reqwest::Client::new();
    let address = format!("http://127.0.0.1:{port}");
    for _ in 0..5000 {
        if let Ok(response) = client.get(format!("{address}/readyz")).send().await
            && response.status().is_success()
        {
            return Some((child, address, start.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = child.kill();
    None
}

fn process_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn fan_out(
    name: &'static str,
    database_url: &str,
    token: &str,
    streams: usize,
    instances: usize,
) -> Vec<Row> {
    let skipped = |why: &str| {
        vec![Row {
            engine: name,
            scenario: format!("live fan-out: skipped, {why}"),
            figure: "—".into(),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—".into(),
            pass: None,
        }]
    };
    let mut children: Vec<(std::process::Child, String)> = Vec::with_capacity(instances);
    for _ in 0..instances {
        let Some((child, address, _)) = serve_binary(
            database_url,
            &[
                ("APPEAL_MAX_STREAMS_PER_IP", "1000000"),
                ("APPEAL_MAX_STREAMS", "1000000"),
                ("APPEAL_MAX_CONNECTIONS", "1000000"),
            ],
        )
        .await
        else {
            for (mut child, _) in children {
                let _ = child.kill();
            }
            return skipped("build the binary first (`cargo build --release`)");
        };
        children.push((child, address));
    }
    let pid = children[0].0.id();
    let address = children[0].1.clone();
    let before = process_rss_kib(pid);
    let hosts: Vec<String> =
        children.iter().map(|(_, address)| address.trim_start_matches("http://").to_owned()).collect();
    let (ready_sender, mut ready) = tokio::sync::mpsc::channel::<()>(streams.max(1));
    let recorded_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let mut readers = Vec::with_capacity(streams);
    for index in 0..streams {
        let (host, ready_sender, recorded_at) =
            (hosts[index % hosts.len()].clone(), ready_sender.clone(), recorded_at.clone());
        readers.push(tokio::spawn(async move {
            let mut socket = tokio::net::TcpStream::connect(&host).await.ok()?;
            let request =
                format!("GET /api/v1/campaigns/stream/progress/stream HTTP/1.1\r\nHost: {host}\r\n\r\n");
            socket.write_all(request.as_bytes()).await.ok()?;
            let mut buffer = vec![0_u8; 4096];
            let mut seen = String::new();
            let mut events = 0;
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let read = tokio::time::timeout(left, socket.read(&mut buffer)).await.ok()?.ok()?;
                if read == 0 {
                    return None;
                }
                seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
                while let Some(end) = seen.find("\n\n") {
                    let block: String = seen.drain(..end + 2).collect();
                    if block.contains("event: progress") {
                        events += 1;
                        if events == 1 {
                            let _ = ready_sender.send(()).await;
                        } else {
                            let at = (*recorded_at.lock().ok()?)?;
                            return Some(at.elapsed());
                        }
                    }
                }
            }
        }));
    }
    drop(ready_sender);
    // Wait until every stream has its first event, or none arrives for ten seconds.
    let mut open = 0;
    while open < streams {
        match tokio::time::timeout(Duration::from_secs(10), ready.recv()).await {
            Ok(Some(())) => open += 1,
            _ => break,
        }
    }
    let during = process_rss_kib(pid);
    *recorded_at.lock().expect("not poisoned") = Some(Instant::now());
    let recorded = reqwest::Client::new()
        .post(format!("{address}/api/v1/admin/campaigns/stream/donations"))
        .bearer_auth(token)
        .json(&json!({"amount": "5.00", "method": "cash", "received_on": "2026-11-01"}))
        .send()
        .await;
    if recorded.is_err() {
        for (mut child, _) in children {
            let _ = child.kill();
        }
        return skipped("the donation could not be recorded");
    }
    let mut within = 0;
    for reader in readers {
        if let Ok(Some(delay)) = reader.await
            && delay <= Duration::from_secs(1)
        {
            within += 1;
        }
    }
    for (mut child, _) in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let share = within as f64 * 100.0 / streams as f64;
    if instances > 1 {
        return vec![Row {
            engine: name,
            scenario: format!(
                "live fan-out across {instances} instances: {streams} streams ({open} opened) hear of a donation on one within 1 s"
            ),
            figure: format!("{share:.1} %"),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≥ 99 %".into(),
            pass: Some(share >= 99.0),
        }];
    }
    vec![
        Row {
            engine: name,
            scenario: format!(
                "live fan-out: {streams} streams ({open} opened) hear of a donation within 1 s"
            ),
            figure: format!("{share:.1} %"),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≥ 99 %".into(),
            pass: Some(share >= 99.0),
        },
        Row {
            engine: name,
            scenario: "live fan-out: server memory per open stream".into(),
            figure: format!("{:.1} KiB", during.saturating_sub(before) as f64 / open.max(1) as f64),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "reported".into(),
            pass: None,
        },
    ]
}

async fn footprint(name: &'static str, database_url: &str) -> Vec<Row> {
    let binary = built_binary();
    let Some(binary) = binary else {
        return vec![Row {
            engine: name,
            scenario: "footprint: skipped, run `cargo build --release` first".into(),
            figure: "—".into(),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—".into(),
            pass: None,
        }];
    };
    let Some((mut child, _, ready_after)) = serve_binary(database_url, &[]).await else {
        return Vec::new();
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = process_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let size = std::fs::metadata(&binary).map(|meta| meta.len()).unwrap_or(0);
    let ready_ms = ready_after.as_secs_f64() * 1000.0;
    vec![
        Row {
            engine: name,
            scenario: "footprint: idle memory after start-up".into(),
            figure: format!("{:.1} MiB", idle as f64 / 1024.0),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≤ 30 MiB".into(),
            pass: Some(idle as f64 / 1024.0 <= 30.0),
        },
        Row {
            engine: name,
            scenario: "footprint: process start to /readyz (existing database)".into(),
            figure: format!("{ready_ms:.0} ms"),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≤ 200 ms".into(),
            pass: Some(ready_ms <= 200.0),
        },
        Row {
            engine: name,
            scenario: "footprint: binary size".into(),
            figure: format!("{:.1} MB", size as f64 / 1e6),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "reported".into(),
            pass: None,
        },
    ]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| info.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {:.1} GiB of memory, {}",
        memory as f64 / 1048576.0,
        std::env::consts::ARCH
    )
}

fn render(rows: &[Row], quick: bool) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        out,
        "Run with `cargo build --release && cargo run --release --example bench{}` on {} at {}.\n",
        if quick { " -- --quick" } else { "" },
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    if quick {
        out.push_str("**Quick run**: a tenth of the size for a few seconds; it checks the tool works, not the speed.\n\n");
    }
    out.push_str("| engine | scenario | figure | baseline | ratio | target | pass |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for row in rows {
        let pass = match row.pass {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.engine, row.scenario, row.figure, row.baseline, row.ratio, row.target, pass
        );
    }
    out
}
