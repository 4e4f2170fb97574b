//! A donation site under attack: slow and numerous clients, limits that cannot be sidestepped
//! from one network or grown with junk keys, and sign-in throttling that many attempts at
//! once cannot slip under.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Engine, Options, TestApp, on_both_engines, problem, spawn_app_with};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    a_client_that_sends_half_a_request_line_is_disconnected,
    past_the_connection_cap_a_client_gets_503,
    past_the_stream_cap_the_next_stream_gets_503,
    an_ipv6_network_shares_one_limit_and_forwarded_for_is_read_by_hops,
    an_email_is_only_counted_once_it_is_an_email,
    many_wrong_passwords_at_once_cannot_pass_the_lock,
    stalled_export_downloads_give_their_connections_back,
    a_form_sent_twice_acts_once,
    two_identical_partial_refunds_are_two_refunds,
    a_stream_of_a_campaign_set_back_to_draft_ends_without_its_figures,
    asking_for_a_self_service_link_is_not_a_captcha_refusal,
    amounts_are_read_in_the_page_language_and_odd_inputs_are_refused,
    a_missing_campaign_is_remembered_until_one_is_created,
);

fn with(vars: &[(&'static str, &str)]) -> Options {
    Options {
        vars: vars.iter().map(|(name, value)| (*name, (*value).to_owned())).collect(),
        ..Options::default()
    }
}

fn address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; what it sent. Gives up after `patience`.
async fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(patience, async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

async fn a_client_that_sends_half_a_request_line_is_disconnected(engine: Engine) {
    let app = spawn_app_with(engine, with(&[("APPEAL_HEADER_TIMEOUT", "1s")])).await;
    let mut slow = TcpStream::connect(address(&app)).await.expect("connect");
    slow.write_all(b"GET /healthz HT").await.expect("half a request line");
    // The server closes it after its header timeout; a generous wait, not a speed test.
    let answer = read_until_closed(&mut slow, Duration::from_secs(30)).await;
    assert!(answer.is_some(), "the connection was closed");
    assert!(!answer.unwrap_or_default().contains("200 OK"));
    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(address(&app)).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("a request");
    let answer = read_until_closed(&mut idle, Duration::from_secs(30)).await.expect("closed when idle");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // The server still serves.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

async fn past_the_connection_cap_a_client_gets_503(engine: Engine) {
    let app = spawn_app_with(engine, with(&[("APPEAL_MAX_CONNECTIONS", "2")])).await;
    let held: Vec<TcpStream> = {
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("a request");
            let mut buffer = [0_u8; 512];
            let read = stream.read(&mut buffer).await.expect("an answer");
            assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
            held.push(stream);
        }
        held
    };
    let mut third = TcpStream::connect(address(&app)).await.expect("connect");
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("a request");
    let answer =
        read_until_closed(&mut third, Duration::from_secs(30)).await.expect("an answer, then closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 5") && answer.contains("application/problem+json"), "{answer}");
    drop(held);
    // Room again once they go.
    let mut again = None;
    for _ in 0..100 {
        let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("a request");
        let answer = read_until_closed(&mut stream, Duration::from_secs(30)).await.unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            again = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "served again once the held connections closed");
}

async fn past_the_stream_cap_the_next_stream_gets_503(engine: Engine) {
    let app = spawn_app_with(engine, with(&[("APPEAL_MAX_STREAMS", "2")])).await;
    app.create_campaign("office").await;
    let open = || app.client.get(app.url("/api/v1/campaigns/office/progress/stream")).send();
    let first = open().await.expect("a stream");
    let second = open().await.expect("a stream");
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    let third = open().await.expect("an answer");
    assert_eq!(third.headers()["retry-after"], "30");
    let body = problem(third, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["title"], "Live updates are full");
    drop((first, second));
}

async fn checkout_from(app: &TestApp, forwarded: &[&str], body: Value) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/v1/campaigns/office/checkout")).json(&body);
    for line in forwarded {
        request = request.header("x-forwarded-for", *line);
    }
    request.send().await.expect("an answer")
}

async fn an_ipv6_network_shares_one_limit_and_forwarded_for_is_read_by_hops(engine: Engine) {
    let options = with(&[("APPEAL_CHECKOUT_LIMIT_IP", "1/10m"), ("APPEAL_TRUST_FORWARDED_FOR", "2")]);
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let gift = json!({"amount": "5"});
    // Two proxies append: the client is two places from the right, over every header line.
    let first = checkout_from(&app, &["6.6.6.6, 2001:db8:1:2::aaaa", "10.0.0.1"], gift.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // Another address of the same /64 shares its limit...
    let same_network = checkout_from(&app, &["2001:db8:1:2::bbbb, 10.0.0.1"], gift.clone()).await;
    problem(same_network, StatusCode::TOO_MANY_REQUESTS).await;
    // ...whatever the client claims further left; another network has its own.
    let spoofed = checkout_from(&app, &["1.2.3.4", "2001:db8:1:2::cccc", "10.0.0.1"], gift.clone()).await;
    problem(spoofed, StatusCode::TOO_MANY_REQUESTS).await;
    let other_network = checkout_from(&app, &["2001:db8:1:3::1, 10.0.0.1"], gift).await;
    assert_eq!(other_network.status(), StatusCode::CREATED);
}

async fn an_email_is_only_counted_once_it_is_an_email(engine: Engine) {
    let app = spawn_app_with(engine, with(&[("APPEAL_CHECKOUT_LIMIT_EMAIL", "1/1h")])).await;
    app.create_campaign("office").await;
    let junk = "x".repeat(60_000);
    for _ in 0..3 {
        let refused = checkout_from(&app, &[], json!({"amount": "5", "email": junk})).await;
        // Refused for what it is, not counted as an address that tried too often.
        assert!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["email"].is_string());
    }
    let real = checkout_from(&app, &[], json!({"amount": "5", "email": "ana@example.org"})).await;
    assert_eq!(real.status(), StatusCode::CREATED);
    let again = checkout_from(&app, &[], json!({"amount": "5", "email": "ANA@example.org"})).await;
    problem(again, StatusCode::TOO_MANY_REQUESTS).await;
}

async fn many_wrong_passwords_at_once_cannot_pass_the_lock(engine: Engine) {
    let app = spawn_app_with(engine, Options::default()).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    // Twelve wrong passwords at once, each through its own sign-in form.
    let mut forms = Vec::new();
    for _ in 0..12 {
        let mut visitor = Visitor::new(&app);
        let (_, page, _) = visitor.get("/admin/login").await;
        forms.push((visitor, Visitor::csrf_in(&page)));
    }
    let attempts = forms.iter_mut().map(|(visitor, csrf)| {
        let fields = [
            ("csrf", csrf.clone()),
            ("email", "tre@example.org".to_owned()),
            ("password", "wrong, wrong".to_owned()),
        ];
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        app.client
            .post(app.url("/admin/login"))
            .header("cookie", visitor.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("an answer").status())
        .collect();
    let checked = statuses.iter().filter(|status| **status == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 7), "{statuses:?}");
    // The account stays locked, even for the right password.
    let mut owner = Visitor::new(&app);
    assert_eq!(owner.sign_in("tre@example.org", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
}

async fn stalled_export_downloads_give_their_connections_back(engine: Engine) {
    let app = spawn_app_with(engine, with(&[("APPEAL_EXPORT_STALL_TIMEOUT", "1s")])).await;
    app.create_campaign("office").await;
    // Some 20 MB of CSV: more than a socket buffers, so an unread download blocks.
    crate::exports::bulk_entries(&app, "office", 100_000).await;
    let client = reqwest::Client::new();
    let mut stalled = Vec::new();
    // More downloads than the pool has connections (8 on SQLite, 16 on PostgreSQL), never read.
    for _ in 0..20 {
        let download = client
            .get(app.url("/api/v1/admin/exports/ledger?campaign=office"))
            .bearer_auth(&app.treasurer_token)
            .send()
            .await
            .expect("headers");
        stalled.push(download);
    }
    let started = stalled.iter().filter(|response| response.status() == StatusCode::OK).count();
    assert!(started >= 16, "{started} downloads started");
    // Once they have filled what the sockets buffer and stalled, they let go of the
    // database: everyone else is served again (a stalled download used to hold its
    // connection for as long as the client kept the socket open).
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..30 {
        status = app.get_as(&app.viewer_token, "/api/v1/admin/donations?limit=1").await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(status, StatusCode::OK, "the database answers while 20 downloads sit unread");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    drop(stalled);
}

/// The one-time token of the form named `name` on a dashboard page.
pub fn form_token(page: &str, name: &str) -> String {
    page.split("name=\"form_token\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|token| token.ends_with(&format!("-{name}")))
        .unwrap_or_else(|| panic!("a {name} form"))
        .to_owned()
}

async fn a_form_sent_twice_acts_once(engine: Engine) {
    let app = spawn_app_with(engine, Options::default()).await;
    app.create_campaign("office").await;
    let online = app.checkout("office", &json!({"amount": "50.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&online)).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    let csrf = Visitor::csrf_in(&page);
    let gift = ledger_ids(&app).await[0];

    // A double click on each form.
    let record = form_token(&page, "record");
    let deposit = form_token(&page, "deposit");
    let refund = form_token(&page, &format!("refund-{gift}"));
    for _ in 0..2 {
        let (status, _, _) = visitor
            .post(
                "/admin/c/office/donations",
                &[
                    ("csrf", &csrf),
                    ("form_token", &record),
                    ("amount", "20"),
                    ("method", "cash"),
                    ("received_on", "2026-11-01"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = visitor
            .post(
                "/admin/c/office/batches",
                &[
                    ("csrf", &csrf),
                    ("form_token", &deposit),
                    ("action", "post"),
                    ("reference", "Slip 9"),
                    ("deposited_on", "2026-11-02"),
                    ("declared_count", "1"),
                    ("declared_total", "15"),
                    ("csv", "amount,method\n15,cheque"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = visitor
            .post(
                &format!("/admin/entries/{gift}/refund"),
                &[
                    ("csrf", &csrf),
                    ("form_token", &refund),
                    ("campaign", "office"),
                    ("amount", "10.00"),
                    ("reason", "asked twice"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    app.deliver_all(&app.stripe.take_pending()).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    let cash = *ledger_ids(&app).await.iter().find(|id| **id != gift).expect("the cash");
    let reverse = form_token(&page, &format!("reverse-{cash}"));
    for _ in 0..2 {
        let (status, _, _) = visitor
            .post(
                &format!("/admin/entries/{cash}/reverse"),
                &[
                    ("csrf", &csrf),
                    ("form_token", &reverse),
                    ("campaign", "office"),
                    ("amount", "5"),
                    ("reason", "miscounted"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let kinds = ledger_kinds(&app).await;
    assert_eq!(kinds, ["donation", "donation", "donation", "refund", "adjustment"], "each form acted once");
    assert_eq!(
        app.stripe.requests_to("POST", "/v1/refunds").len(),
        2,
        "Stripe was asked twice, under one key"
    );
    assert_eq!(app.progress("office").await["raised"], "70.00");
}

async fn two_identical_partial_refunds_are_two_refunds(engine: Engine) {
    let app = spawn_app_with(engine, Options::default()).await;
    app.create_campaign("office").await;
    let online = app.checkout("office", &json!({"amount": "50.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&online)).await;
    let gift = ledger_ids(&app).await[0];
    let path = format!("/api/v1/admin/donations/{gift}/refund");
    for _ in 0..2 {
        let asked = app.post_as(&app.treasurer_token, &path, &json!({"amount": "10.00"})).await;
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
    }
    app.deliver_all(&app.stripe.take_pending()).await;
    assert_eq!(ledger_kinds(&app).await, ["donation", "refund", "refund"]);
    assert_eq!(app.progress("office").await["raised"], "30.00");
    // The same request sent again, with its Idempotency-Key, is one refund.
    for _ in 0..2 {
        let asked = app
            .client
            .post(app.url(&path))
            .bearer_auth(&app.treasurer_token)
            .header("idempotency-key", "retry-1")
            .json(&json!({"amount": "10.00"}))
            .send()
            .await
            .expect("answer");
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
    }
    app.deliver_all(&app.stripe.take_pending()).await;
    assert_eq!(app.progress("office").await["raised"], "20.00");
}

/// The ledger's entry ids and kinds, oldest first.
async fn ledger_ids(app: &TestApp) -> Vec<i64> {
    crate::stripe_truth::ledger(app).await.iter().map(|entry| entry["id"].as_i64().expect("id")).collect()
}

async fn ledger_kinds(app: &TestApp) -> Vec<String> {
    crate::stripe_truth::ledger(app)
        .await
        .iter()
        .map(|entry| entry["kind"].as_str().expect("kind").to_owned())
        .collect()
}

async fn a_stream_of_a_campaign_set_back_to_draft_ends_without_its_figures(engine: Engine) {
    let app = spawn_app_with(engine, Options::default()).await;
    app.create_campaign("office").await;
    app.give("office", "10.00", None).await;
    let mut stream =
        app.client.get(app.url("/api/v1/campaigns/office/progress/stream")).send().await.expect("a stream");
    let first = stream.chunk().await.expect("bytes").expect("the first event");
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.contains("\"raised\":\"10.00\""), "{first}");
    let drafted =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"status": "draft"})).await;
    assert_eq!(drafted.status(), StatusCode::OK);
    app.give("office", "99.00", None).await;
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        let mut rest = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            rest.push_str(&String::from_utf8_lossy(&chunk));
        }
        rest
    })
    .await
    .expect("the stream ended");
    assert!(!rest.contains("raised"), "no figure of the draft went out: {rest}");
}

async fn asking_for_a_self_service_link_is_not_a_captcha_refusal(engine: Engine) {
    let options = with(&[
        ("TURNSTILE_SITE_KEY", "site-key-123"),
        ("TURNSTILE_SECRET_KEY", "captcha-secret"),
        ("APPEAL_CAPTCHA_VERIFY_URL", "http://127.0.0.1:9/unused"),
    ]);
    let app = spawn_app_with(engine, options).await;
    let asked = app.form_post("/manage", &[("lang", "en"), ("email", "reader@example.org")]).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(
        asked.text().await.expect("text").contains("If this address has gifts or a subscription with us")
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("appeal_checkouts_refused_total{reason=\"captcha\"} 0"), "{metrics}");
}

async fn amounts_are_read_in_the_page_language_and_odd_inputs_are_refused(engine: Engine) {
    let app = spawn_app_with(engine, Options::default()).await;
    app.create_campaign("office").await;
    for (lang, amount) in [("en", "2,500"), ("fr", "2,5"), ("fr", "2\u{202f}500,50")] {
        let fields = [("lang", lang), ("preset", "other"), ("custom_amount", amount)];
        assert_eq!(
            app.form_post("/c/office/give", &fields).await.status(),
            StatusCode::SEE_OTHER,
            "{amount}"
        );
    }
    let sessions = app.stripe.requests_to("POST", "/v1/checkout/sessions");
    let amounts: Vec<_> =
        sessions.iter().map(|request| request.param("line_items[0][price_data][unit_amount]")).collect();
    assert_eq!(
        amounts,
        [Some("250000"), Some("250"), Some("250050")],
        "\"2,500\" is two thousand five hundred in English and two and a half in French"
    );

    let huge = app
        .patch_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/office",
            &json!({"fee_percent": "79228162514264337593543950335"}),
        )
        .await;
    let body = problem(huge, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["fee_percent"].as_str().is_some_and(|text| text.contains("percentage")), "{body}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "the server still answers");
}

async fn a_missing_campaign_is_remembered_until_one_is_created(engine: Engine) {
    let app = spawn_app_with(engine, Options::default()).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/campaigns/later/progress").await.status(), StatusCode::NOT_FOUND);
    }
    app.create_campaign("later").await;
    let progress = app.get("/api/v1/campaigns/later/progress").await;
    assert_eq!(progress.status(), StatusCode::OK, "a campaign created under a missing slug is seen at once");
}
