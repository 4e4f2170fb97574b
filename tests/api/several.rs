//! Several `appeal serve` processes on one PostgreSQL database, as the README promises: live
//! streams hear every instance, concurrent writes spread over the instances land exactly once,
//! reconciles run at once apply each event once, and a SIGKILL loses nothing acknowledged.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_stripe::{WEBHOOK_SECRET, signature_header};
use crate::helpers::{Engine, TestApp, postgres_url, spawn_app};
use crate::instances::Instance;
use crate::supporters::EventReader;

/// An answer from one instance, `None` when the connection failed (a killed instance).
async fn post(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> Option<(StatusCode, Value)> {
    let answer = client.post(url).bearer_auth(token).json(&body).send().await.ok()?;
    let status = answer.status();
    Some((status, answer.json().await.unwrap_or(Value::Null)))
}

/// A Stripe event delivered to one instance, signed as Stripe signs it.
/// A campaign's live progress stream, opened on `instance`.
async fn stream_on(client: &reqwest::Client, instance: &str, slug: &str) -> EventReader {
    let stream = client
        .get(format!("{instance}/api/v1/campaigns/{slug}/progress/stream"))
        .send()
        .await
        .expect("a stream on the instance");
    EventReader::new(stream)
}

async fn deliver(client: &reqwest::Client, instance: &str, event: &Value) -> Option<StatusCode> {
    let body = serde_json::to_vec(event).expect("an event serializes");
    let header = signature_header(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
    let answer = client
        .post(format!("{instance}/api/v1/stripe/webhook"))
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    Some(answer.status())
}

/// The campaign's raised amount and donation count as `instance` serves them, once they
/// settle on `expected`: other instances hear of a commit a moment after it (LISTEN/NOTIFY).
async fn settled(client: &reqwest::Client, instance: &str, expected: (&str, i64)) -> (String, i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let url = format!("{instance}/api/v1/campaigns/office/progress");
        let seen: Value = client.get(url).send().await.expect("an answer").json().await.expect("a document");
        let raised = seen["raised"].as_str().unwrap_or_default().to_owned();
        let figures = (raised, seen["donations"].as_i64().unwrap_or(-1));
        if (figures.0.as_str(), figures.1) == expected || std::time::Instant::now() > deadline {
            return figures;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Online donations in the ledger, counted in the database itself.
async fn online_gifts(app: &TestApp) -> i64 {
    use sqlx::{Connection, Row};
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let sql = "SELECT COUNT(*) AS n FROM ledger_entries WHERE kind = 'donation' AND source = 'online'";
    let row = sqlx::query(sql).fetch_one(&mut connection).await.expect("counted");
    row.get::<i64, _>("n")
}

/// Paid checkouts whose events are made by the fake Stripe but not delivered yet.
async fn paid_sessions(app: &TestApp, count: usize, amount: &str) -> Vec<Vec<Value>> {
    let mut events = Vec::new();
    for _ in 0..count {
        let session = app.checkout("office", &json!({"amount": amount})).await;
        events.push(app.stripe.pay_session(&session));
    }
    events
}

fn check_is_clean(app: &TestApp) {
    let checked = app.cli(&["check"]);
    assert!(
        checked.status.success(),
        "appeal check is clean: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[tokio::test]
async fn several_instances_share_one_postgres_database() {
    if postgres_url().is_none() {
        eprintln!("skipped: several instances need APPEAL_TEST_POSTGRES_URL");
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    app.create_campaign("office").await;
    let instances = [Instance::start(&app, &[]).await, Instance::start(&app, &[]).await];
    let mut third = Instance::start(&app, &[]).await;
    let urls: Vec<String> =
        instances.iter().map(|instance| instance.url.clone()).chain([third.url.clone()]).collect();
    let client = reqwest::Client::new();

    // A stream open on B hears a gift recorded on A.
    let mut heard = stream_on(&client, &urls[1], "office").await;
    assert_eq!(heard.next_progress().await["raised"], "0.00");
    let gift =
        json!({"amount": "10.00", "method": "cash", "received_on": "2026-11-02", "reference": "first"});
    let recorded = post(
        &client,
        format!("{}/api/v1/admin/campaigns/office/donations", urls[0]),
        &app.treasurer_token,
        gift,
    )
    .await;
    assert_eq!(recorded.map(|(status, _)| status), Some(StatusCode::CREATED));
    assert_eq!(heard.next_progress().await["raised"], "10.00", "B heard what A recorded");

    // A burst on A alone, to another campaign: A coalesces its change notices while the
    // burst commits, and B (which commits nothing itself) still hears where it ended.
    app.create_campaign("burst").await;
    let mut heard_burst = stream_on(&client, &urls[1], "burst").await;
    assert_eq!(heard_burst.next_progress().await["raised"], "0.00");
    let burst = (0..12).map(|index| {
        let body = json!({"amount": "1.00", "method": "cash", "received_on": "2026-11-02", "reference": format!("burst {index}")});
        post(&client, format!("{}/api/v1/admin/campaigns/burst/donations", urls[0]), &app.treasurer_token, body)
    });
    let answers = join_all(burst).await;
    assert!(
        answers.iter().all(|answer| answer.as_ref().map(|(status, _)| *status) == Some(StatusCode::CREATED)),
        "{answers:?}"
    );
    let last_heard = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let raised = heard_burst.next_progress().await["raised"].as_str().unwrap_or_default().to_owned();
            if raised == "12.00" {
                break raised;
            }
        }
    })
    .await;
    assert_eq!(last_heard.as_deref(), Ok("12.00"), "B heard the end of A's burst");

    // Gifts and deposits spread over the three instances at once all land, once each.
    let gifts = (0..30).map(|index| {
        let url = format!("{}/api/v1/admin/campaigns/office/donations", urls[index % 3]);
        let body = json!({"amount": "1.00", "method": "cheque", "received_on": "2026-11-03", "reference": format!("cheque {index}")});
        post(&client, url, &app.treasurer_token, body)
    });
    let deposits = (0..6).map(|index| {
        let url = format!("{}/api/v1/admin/campaigns/office/batches", urls[index % 3]);
        let amount = index + 1;
        let rows: Vec<Value> = (0..5).map(|_| json!({"amount": format!("{amount}.00"), "method": "cash"})).collect();
        let body = json!({"reference": format!("Slip {index}"), "deposited_on": "2026-11-04", "declared_count": 5,
                          "declared_total": format!("{}.00", 5 * amount), "entries": rows});
        post(&client, url, &app.treasurer_token, body)
    });
    let (gifts, deposits) = tokio::join!(join_all(gifts), join_all(deposits));
    assert!(
        gifts.iter().all(|answer| answer.as_ref().map(|(status, _)| *status) == Some(StatusCode::CREATED)),
        "{gifts:?}"
    );
    assert!(
        deposits.iter().all(|answer| answer.as_ref().map(|(status, _)| *status) == Some(StatusCode::CREATED)),
        "{deposits:?}"
    );

    // The same slip posted on the three instances at once: one lands, two are asked about.
    let same = urls.iter().map(|url| {
        let rows = vec![json!({"amount": "7.00", "method": "cash"})];
        let body = json!({"reference": "Slip twice", "deposited_on": "2026-11-05", "declared_count": 1,
                          "declared_total": "7.00", "entries": rows});
        post(&client, format!("{url}/api/v1/admin/campaigns/office/batches"), &app.treasurer_token, body)
    });
    let statuses = |answers: Vec<Option<(StatusCode, Value)>>| {
        let mut statuses: Vec<u16> =
            answers.into_iter().map(|answer| answer.map_or(0, |(status, _)| status.as_u16())).collect();
        statuses.sort_unstable();
        statuses
    };
    assert_eq!(
        statuses(join_all(same).await),
        [201, 409, 409],
        "a look-alike deposit is caught across instances"
    );
    let same = urls.iter().map(|url| {
        let body = json!({"amount": "4.00", "method": "cheque", "received_on": "2026-11-05", "reference": "cheque 77"});
        post(&client, format!("{url}/api/v1/admin/campaigns/office/donations"), &app.treasurer_token, body)
    });
    assert_eq!(statuses(join_all(same).await), [201, 409, 409], "and a look-alike gift");

    // Stripe's events, each delivered to two instances at once, the rest spread over them.
    let sessions = paid_sessions(&app, 8, "25.00").await;
    let deliveries = sessions.iter().flatten().enumerate().flat_map(|(index, event)| {
        let first = urls[index % 3].clone();
        let second = urls[(index + 1) % 3].clone();
        [(first, event.clone()), (second, event.clone())]
    });
    let answers = join_all(deliveries.map(|(url, event)| {
        let client = client.clone();
        async move { deliver(&client, &url, &event).await }
    }))
    .await;
    assert!(answers.iter().all(|status| *status == Some(StatusCode::OK)), "{answers:?}");
    // 10.00 + 30 × 1.00 + deposits of 5.00 to 30.00 (105.00) + 8 × 25.00 online + the slip 7.00 + the cheque 4.00.
    for url in &urls {
        assert_eq!(settled(&client, url, ("356.00", 71)).await, ("356.00".to_owned(), 71), "on {url}");
    }

    // Events Stripe holds but never delivered: two reconciles at once apply each once.
    let missed = paid_sessions(&app, 4, "5.00").await;
    let (one, two) = tokio::join!(
        tokio::task::spawn_blocking({
            let (url, base) = (app.db.url.clone(), app.stripe.base.clone());
            move || reconcile(&url, &base)
        }),
        tokio::task::spawn_blocking({
            let (url, base) = (app.db.url.clone(), app.stripe.base.clone());
            move || reconcile(&url, &base)
        })
    );
    for output in [one.expect("ran"), two.expect("ran")] {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(missed.len(), 4);
    assert_eq!(settled(&client, &urls[2], ("376.00", 75)).await, ("376.00".to_owned(), 75), "each once");
    check_is_clean(&app);

    // A burst to C, killed part-way: what C acknowledged is in the ledger; Stripe's
    // redelivery (to A) completes the rest, once.
    let burst = paid_sessions(&app, 12, "3.00").await;
    let events: Vec<Value> = burst.iter().flatten().cloned().collect();
    let acknowledged_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent = {
        let (client, url, events, so_far) =
            (client.clone(), third.url.clone(), events.clone(), acknowledged_so_far.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            // Two deliveries in flight at a time, as Stripe sends them, until one fails.
            for pair in events.chunks(2) {
                let answers = join_all(pair.iter().map(|event| deliver(&client, &url, event))).await;
                let mut failed = false;
                for (event, answer) in pair.iter().zip(answers) {
                    match answer {
                        Some(StatusCode::OK) => acknowledged.push(event["id"].clone()),
                        _ => failed = true,
                    }
                }
                so_far.store(acknowledged.len(), std::sync::atomic::Ordering::Relaxed);
                if failed {
                    break;
                }
            }
            acknowledged
        })
    };
    while acknowledged_so_far.load(std::sync::atomic::Ordering::Relaxed) < 6 && !sent.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    third.kill();
    let acknowledged = sent.await.expect("the burst ran");
    let acknowledged_sessions = burst
        .iter()
        .filter(|session| session.iter().all(|event| acknowledged.contains(&event["id"])))
        .count();
    let counted = online_gifts(&app).await - 8 - 4;
    assert!(
        counted >= acknowledged_sessions as i64,
        "{acknowledged_sessions} acknowledged, {counted} counted"
    );
    eprintln!("killed after {} of {} deliveries were acknowledged", acknowledged.len(), events.len());
    for event in &events {
        assert_eq!(deliver(&client, &urls[0], event).await, Some(StatusCode::OK), "redelivered");
    }
    assert_eq!(
        settled(&client, &urls[1], ("412.00", 87)).await,
        ("412.00".to_owned(), 87),
        "the burst, once"
    );
    check_is_clean(&app);
}

/// `appeal reconcile` as its own process.
fn reconcile(database_url: &str, stripe_base: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_appeal"))
        .args(["reconcile", "--since", "1h"])
        .env("DATABASE_URL", database_url)
        .env("STRIPE_SECRET_KEY", crate::fake_stripe::SECRET_KEY)
        .env("STRIPE_API_BASE", stripe_base)
        .env("APPEAL_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the appeal binary runs")
}
