//! What supporters and the organization's website see: pages in their language, the form,
//! the live stream, receipts, self-service links, and the card-testing defence.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_smtp::{body_text, subject};
use crate::helpers::{Engine, Options, TestApp, on_both_engines, problem, spawn_app, spawn_app_with};

on_both_engines!(
    campaign_pages_come_from_memory_until_their_figures_move,
    pages_speak_the_visitors_language,
    the_donor_wall_shows_text_as_text,
    the_form_sends_the_supporter_to_checkout,
    the_honeypot_and_rate_limits_refuse_card_testing,
    a_configured_captcha_is_checked_on_the_server,
    pages_carry_security_headers_and_no_inline_script,
    the_live_stream_sends_each_change,
    live_streams_are_capped_per_address,
    receipts_go_out_in_the_donors_language,
    a_receipt_waits_out_a_mail_server_that_turns_it_away,
    self_service_links_work_once_and_expire,
    without_smtp_emails_are_written_to_files,
    the_embed_script_defines_the_widget,
);

const NNBSP: char = '\u{202f}';
const NBSP: char = '\u{a0}';

async fn html(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answer");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("text"))
}

async fn pages_speak_the_visitors_language(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "90000.00", Some("montreal")).await;
    let draft = json!({"slug": "secret", "currency": "CAD", "goal": "10", "title": {"en": "Secret plan"}, "status": "draft"});
    app.post_as(&app.admin_token, "/api/v1/admin/campaigns", &draft).await;

    let (status, _, french) =
        html(&app, "/c/office", &[("accept-language", "fr-CA,fr;q=0.9,en;q=0.5")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(french.contains(r#"<html lang="fr" dir="ltr">"#));
    assert!(french.contains("<h1>Nouveau local</h1>"));
    assert!(french.contains(&format!("90{NNBSP}000{NBSP}$")), "French money");
    assert!(french.contains(&format!("amassés sur 100{NNBSP}000{NBSP}$")));
    assert!(french.contains(&format!("90{NNBSP}% de l’objectif")));
    assert!(french.contains("1 donateur"));
    assert!(french.contains(r#"<progress class="bar" max="100" value="90.0""#));
    assert!(french.contains("Montréal") && french.contains("Amassé à l’interne"));

    let (_, headers, english) = html(&app, "/c/office?lang=en", &[("accept-language", "fr")]).await;
    assert!(
        english.contains(r#"<html lang="en" dir="ltr">"#)
            && english.contains("$90,000")
            && english.contains("raised of $100,000")
    );
    let cookie = headers["set-cookie"].to_str().expect("ASCII");
    assert!(cookie.starts_with("appeal_lang=en;"), "{cookie}");
    let (_, _, remembered) =
        html(&app, "/c/office", &[("accept-language", "fr"), ("cookie", "appeal_lang=en")]).await;
    assert!(remembered.contains(r#"<html lang="en" dir="ltr">"#));

    let (_, _, index) = html(&app, "/", &[]).await;
    assert!(index.contains("New office") && !index.contains("Secret plan"));
    let (status, _, _) = html(&app, "/c/secret", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = html(&app, "/c/nowhere", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_donor_wall_shows_text_as_text(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let gift = json!({"amount": "20.00", "method": "cash", "received_on": "2026-11-01", "anonymous": false,
                      "donor_name": "<b>Mallory</b>", "message": "<script>alert('x')</script>"});
    app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &gift).await;
    let hidden = json!({"amount": "30.00", "method": "cash", "received_on": "2026-11-01", "donor_name": "Secret Sam", "anonymous": true});
    app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &hidden).await;
    // Money raised internally is anonymous unless the treasurer says the donor agreed.
    let by_default = json!({"amount": "10.00", "method": "cheque", "received_on": "2026-11-01", "donor_name": "Quiet Quinn"});
    app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &by_default).await;
    let deposit = "amount,method,donor_name,anonymous\n5,cash,Deposit Dana,\n6,cash,Named Ned,no\n";
    let posted = app
        .client
        .post(app.url("/api/v1/admin/campaigns/office/batches/import?reference=S1&deposited_on=2026-11-02&declared_count=2&declared_total=11"))
        .bearer_auth(&app.treasurer_token)
        .header("content-type", "text/csv")
        .body(deposit)
        .send()
        .await
        .expect("answer");
    assert_eq!(posted.status(), StatusCode::CREATED);
    let (_, _, page) = html(&app, "/c/office?lang=en", &[]).await;
    assert!(
        page.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;"),
        "the message is escaped"
    );
    assert!(page.contains("&lt;b&gt;Mallory&lt;&#x2f;b&gt;"));
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("Anonymous") && !page.contains("Secret Sam"));
    assert!(!page.contains("Quiet Quinn") && !page.contains("Deposit Dana"), "anonymous by default");
    assert!(page.contains("Named Ned"), "a row may name its donor");
}

async fn the_form_sends_the_supporter_to_checkout(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let response = app
        .form_post(
            "/c/office/give",
            &[
                ("lang", "fr"),
                ("preset", "other"),
                ("custom_amount", "25"),
                ("interval", "month"),
                ("cover_fees", "1"),
                ("branch", "quebec"),
                ("name", "Ana"),
                ("email", "ana@example.org"),
                ("message", "Courage"),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("ASCII").to_owned();
    assert!(location.starts_with(&format!("{}/pay/cs_test_", app.stripe.base)), "{location}");
    let request = &app.stripe.requests_to("POST", "/v1/checkout/sessions")[0];
    assert_eq!(request.param("line_items[0][price_data][unit_amount]"), Some("2606"));
    assert_eq!(request.param("line_items[0][price_data][recurring][interval]"), Some("month"));
    assert_eq!(request.param("locale"), Some("fr"));
    assert_eq!(request.param("metadata[appeal_branch]"), Some("quebec"));

    let refused = app
        .form_post("/c/office/give", &[("lang", "en"), ("preset", "other"), ("custom_amount", "1.00")])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.expect("text");
    assert!(page.contains("must be at least 2.00") && page.contains(r#"aria-invalid="true""#));
    assert!(page.contains(r#"value="1.00""#), "what was typed is kept");
    assert_eq!(app.stripe.requests_to("POST", "/v1/checkout/sessions").len(), 1);
}

async fn the_honeypot_and_rate_limits_refuse_card_testing(engine: Engine) {
    let options = Options {
        vars: vec![
            ("APPEAL_CHECKOUT_LIMIT_IP", "3/10m".to_owned()),
            ("APPEAL_CHECKOUT_LIMIT_EMAIL", "2/1h".to_owned()),
        ],
        ..Options::default()
    };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let checkout =
        |body: Value| app.client.post(app.url("/api/v1/campaigns/office/checkout")).json(&body).send();

    let bot = checkout(json!({"amount": "5", "website": "http://spam.example"})).await.expect("answer");
    assert_eq!(
        problem(bot, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["website"],
        "must be left empty"
    );

    for _ in 0..2 {
        assert_eq!(
            checkout(json!({"amount": "5", "email": "card@example.org"})).await.expect("answer").status(),
            StatusCode::CREATED
        );
    }
    let by_email = checkout(json!({"amount": "5", "email": "card@example.org"})).await.expect("answer");
    let retry_after: u64 =
        by_email.headers()["retry-after"].to_str().expect("ASCII").parse().expect("seconds");
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    let body = problem(by_email, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body["title"], "Too many attempts");
    let by_address = checkout(json!({"amount": "5", "email": "other@example.org"})).await.expect("answer");
    assert!(
        by_address.headers()["retry-after"].to_str().expect("ASCII").parse::<u64>().expect("seconds") <= 600
    );
    problem(by_address, StatusCode::TOO_MANY_REQUESTS).await;
    let page = app.form_post("/c/office/give", &[("lang", "en"), ("preset", "25")]).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));

    assert_eq!(
        app.stripe.requests_to("POST", "/v1/checkout/sessions").len(),
        2,
        "refused attempts reach nobody"
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("appeal_checkouts_refused_total{reason=\"honeypot\"} 1"), "{metrics}");
    assert!(metrics.contains("appeal_checkouts_refused_total{reason=\"rate_limited\"} 3"), "{metrics}");
    assert!(metrics.contains("appeal_checkouts_started_total 2"), "{metrics}");
}

/// A stand-in for Cloudflare's siteverify: "good-token" passes, anything else fails.
async fn fake_captcha() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/siteverify", listener.local_addr().expect("address"));
    let router = axum::Router::new().route(
        "/siteverify",
        axum::routing::post(|body: axum::body::Bytes| async move {
            let pairs: Vec<(String, String)> =
                form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            let success = get("secret") == Some("captcha-secret") && get("response") == Some("good-token");
            axum::Json(json!({"success": success, "error-codes": if success { json!([]) } else { json!(["invalid-input-response"]) }}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the fake captcha serves") });
    url
}

async fn a_configured_captcha_is_checked_on_the_server(engine: Engine) {
    let verify_url = fake_captcha().await;
    let options = Options {
        vars: vec![
            ("TURNSTILE_SITE_KEY", "site-key-123".to_owned()),
            ("TURNSTILE_SECRET_KEY", "captcha-secret".to_owned()),
            ("APPEAL_CAPTCHA_VERIFY_URL", verify_url),
        ],
        ..Options::default()
    };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let checkout =
        |body: Value| app.client.post(app.url("/api/v1/campaigns/office/checkout")).json(&body).send();
    for body in [json!({"amount": "5"}), json!({"amount": "5", "captcha_token": "forged"})] {
        let refused = checkout(body).await.expect("answer");
        assert_eq!(
            problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["captcha_token"],
            "did not pass the captcha check"
        );
    }
    let passed = checkout(json!({"amount": "5", "captcha_token": "good-token"})).await.expect("answer");
    assert_eq!(passed.status(), StatusCode::CREATED);

    let (_, headers, page) = html(&app, "/c/office?lang=en", &[]).await;
    assert!(page.contains(r#"<div class="cf-turnstile" data-sitekey="site-key-123">"#));
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("ASCII")
            .contains("https://challenges.cloudflare.com")
    );
    let form = app
        .form_post(
            "/c/office/give",
            &[("lang", "en"), ("preset", "25"), ("cf-turnstile-response", "good-token")],
        )
        .await;
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("appeal_checkouts_refused_total{reason=\"captcha\"} 2"), "{metrics}");
}

async fn pages_carry_security_headers_and_no_inline_script(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    for path in ["/", "/c/office", "/c/office/thanks", "/manage"] {
        let (status, headers, page) = html(&app, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let policy = headers["content-security-policy"].to_str().expect("ASCII");
        assert!(
            policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self';"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}");
        assert!(policy.contains("form-action 'self' https://checkout.stripe.com"), "{path}: {policy}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        for script in page.split("<script").skip(1) {
            assert!(script.trim_start().starts_with("src="), "{path} has an inline script");
        }
        assert!(
            !page.contains(" style=\"") && !page.contains(" onclick="),
            "{path} has inline style or handlers"
        );
    }
    let progress = app.get("/api/v1/campaigns/office/progress").await;
    let headers = progress.headers();
    assert_eq!(headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(!headers.contains_key("vary"), "the same answer for every origin");
    let (_, headers, embed) = html(&app, "/embed/office", &[]).await;
    assert!(headers["content-security-policy"].to_str().expect("ASCII").contains("frame-ancestors *"));
    assert!(!headers.contains_key("x-frame-options"));
    assert!(embed.contains("role=") || embed.contains("<progress"), "the embed shows a bar");
}

/// Reads Server-Sent Events from a streaming response, one `data:` payload at a time.
pub struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    pub fn new(response: reqwest::Response) -> Self {
        EventReader { response, buffer: String::new() }
    }

    pub async fn next_progress(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|line| line == "event: progress") {
                    let data: String = block.lines().filter_map(|line| line.strip_prefix("data: ")).collect();
                    return serde_json::from_str(&data).expect("progress JSON");
                }
                continue;
            }
            // Bounded so that a broken stream fails the test instead of hanging it.
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .expect("an event arrives")
                .expect("the stream stays open")
                .expect("the stream has more");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn open_stream(app: &TestApp, slug: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/campaigns/{slug}/progress/stream")))
        .send()
        .await
        .expect("answer")
}

async fn the_live_stream_sends_each_change(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let response = open_stream(&app, "office").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let mut events = EventReader { response, buffer: String::new() };
    assert_eq!(events.next_progress().await["raised"], "0.00");

    app.give("office", "10.00", None).await;
    assert_eq!(events.next_progress().await["raised"], "10.00");

    // An online gift reaches the stream too, from the webhook.
    let session = app.checkout("office", &json!({"amount": "15.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let progress = events.next_progress().await;
    assert_eq!(
        (progress["raised"].as_str(), progress["by_source"]["online"].as_str()),
        (Some("25.00"), Some("15.00"))
    );

    // And a write by another process (the CLI) within a second or so.
    let added = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "office",
        "--amount",
        "5",
        "--method",
        "cash",
        "--received-on",
        "2026-11-01",
    ]);
    assert!(added.status.success());
    assert_eq!(events.next_progress().await["raised"], "30.00");
}

async fn live_streams_are_capped_per_address(engine: Engine) {
    let options = Options { vars: vec![("APPEAL_MAX_STREAMS_PER_IP", "2".to_owned())], ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let first = open_stream(&app, "office").await;
    let second = open_stream(&app, "office").await;
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    problem(open_stream(&app, "office").await, StatusCode::TOO_MANY_REQUESTS).await;
    drop(first);
    // The closed stream's place is given back once the server notices.
    let mut reopened = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..100 {
        reopened = open_stream(&app, "office").await.status();
        if reopened == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reopened, StatusCode::OK);
    problem(open_stream(&app, "nowhere").await, StatusCode::NOT_FOUND).await;
}

async fn receipts_go_out_in_the_donors_language(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let session = app
        .checkout(
            "office",
            &json!({"amount": "25.00", "email": "ana@example.org", "name": "Ana", "locale": "fr"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let monthly = app
        .checkout(
            "office",
            &json!({"amount": "10.00", "interval": "month", "email": "ben@example.org", "locale": "en"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;

    let messages = app.smtp.wait_for(2).await;
    assert_eq!(messages.len(), 2, "one receipt per paid gift");
    let french = messages.iter().find(|m| m.contains("ana@example.org")).expect("Ana's receipt");
    assert_eq!(subject(french), "Merci pour votre don à Nouveau local");
    let body = body_text(french);
    assert!(body.contains("Bonjour Ana,"), "{body}");
    assert!(body.contains(&format!("votre don de 25{NBSP}$")), "{body}");
    assert!(body.contains(&format!("Référence : {}", app.stripe.charge_of_session(&session))), "{body}");
    assert!(body.contains("Solidarity Press"));
    assert!(french.contains("From: \"Solidarity Press\" <dons@example.org>"), "{french}");
    let headers = french.split("\r\n\r\n").next().unwrap_or_default();
    assert!(headers.contains("MIME-Version: 1.0") && headers.contains("Date: "), "{headers}");
    let message_id = headers.lines().find(|line| line.starts_with("Message-ID: ")).unwrap_or_default();
    assert!(message_id.ends_with("@give.example.org>"), "{headers}");
    let today = chrono::Utc::now().date_naive();
    let months = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let day = format!(
        "{} {} {}",
        chrono::Datelike::day(&today),
        months[chrono::Datelike::month0(&today) as usize],
        chrono::Datelike::year(&today)
    );
    assert!(body.contains(&day), "the date in French: {body}");

    let english = messages.iter().find(|m| m.contains("ben@example.org")).expect("Ben's receipt");
    let body = body_text(english);
    assert_eq!(subject(english), "Thank you for your gift to New office");
    assert!(
        body.contains("We received your gift of $10")
            && body.contains("installment of your solidarity subscription"),
        "{body}"
    );
    assert!(body.contains("https://give.example.org/manage?lang=en"), "{body}");

    // A duplicate delivery sends nothing more.
    app.deliver_all(&app.stripe.all_events()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.smtp.messages().len(), 2);
}

async fn self_service_links_work_once_and_expire(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let monthly = app
        .checkout("office", &json!({"amount": "10.00", "interval": "month", "email": "Reader@Example.org"}))
        .await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    let receipts = app.smtp.wait_for(1).await.len();

    let unknown = app.form_post("/manage", &[("lang", "en"), ("email", "stranger@example.org")]).await;
    let known = app.form_post("/manage", &[("lang", "en"), ("email", "reader@example.org")]).await;
    let (unknown_status, known_status) = (unknown.status(), known.status());
    let (unknown_page, known_page) = (unknown.text().await.expect("text"), known.text().await.expect("text"));
    assert_eq!((unknown_status, known_status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(unknown_page, known_page, "the answer never tells whether an address is known");
    assert!(known_page.contains("If this address has gifts or a subscription with us"));

    let messages = app.smtp.wait_for(receipts + 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.smtp.messages().len(), receipts + 1, "only the known address gets a link");
    let mail = messages.last().expect("the link");
    assert_eq!(subject(mail), "Your link to manage your subscription");
    let body = body_text(mail);
    let link = body
        .lines()
        .find(|line| line.starts_with("https://give.example.org/manage/"))
        .expect("a link")
        .trim()
        .to_owned();
    let path = link.trim_start_matches("https://give.example.org");

    let (status, _, page) = html(&app, path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Open my subscription settings"));
    let token_path = path.split('?').next().expect("path");
    let opened = app.form_post(token_path, &[("lang", "en")]).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert!(
        opened.headers()["location"]
            .to_str()
            .expect("ASCII")
            .starts_with(&format!("{}/portal/bps_", app.stripe.base))
    );
    let portal = &app.stripe.requests_to("POST", "/v1/billing_portal/sessions")[0];
    assert!(portal.param("customer").is_some_and(|customer| customer.starts_with("cus_")));
    assert_eq!(portal.param("return_url"), Some("https://give.example.org/manage?lang=en"));

    let again = app.form_post(token_path, &[("lang", "en")]).await;
    assert_eq!(again.status(), StatusCode::GONE);
    let (status, _, _) = html(&app, path, &[]).await;
    assert_eq!(status, StatusCode::GONE, "a used link is spent");

    let store = appeal::store::Store::connect(&app.db.url).await.expect("connect");
    let expired = "0123456789abcdef";
    store
        .insert_manage_token(
            &appeal::access::hash_token(expired),
            "reader@example.org",
            "cus_x",
            "en",
            chrono::Utc::now() - chrono::Duration::minutes(1),
        )
        .await
        .expect("insert");
    let (status, _, page) = html(&app, &format!("/manage/{expired}"), &[]).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This link has expired or was already used"));
    assert_eq!(app.form_post(&format!("/manage/{expired}"), &[]).await.status(), StatusCode::GONE);
}

/// A gift's receipt is written in the transaction that records the gift, and the background
/// sender sends it: a mail server that turns it away for a while delays it, and loses nothing
/// (it used to be sent once after the commit, and dropped with a log line when that failed).
/// Once the mail server takes it, it is no longer kept.
async fn a_receipt_waits_out_a_mail_server_that_turns_it_away(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.smtp.refuse(true);
    let session =
        app.checkout("office", &json!({"amount": "25.00", "email": "ana@example.org", "name": "Ana"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let receipts = || async {
        let listed = app.json_as(&app.treasurer_token, "/api/v1/admin/emails").await;
        let all = listed["emails"].as_array().cloned().unwrap_or_default();
        all.into_iter().filter(|email| email["kind"] == "receipt").collect::<Vec<Value>>()
    };
    let mut turned_away = Vec::new();
    for _ in 0..400 {
        turned_away = receipts().await;
        if turned_away.first().is_some_and(|receipt| receipt["attempts"].as_i64() >= Some(1)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let [receipt] = turned_away.as_slice() else { panic!("one receipt waits: {turned_away:?}") };
    assert_eq!(receipt["to"], "ana@example.org", "{receipt}");
    assert_eq!(receipt["state"], "pending", "{receipt}");
    assert_eq!(receipt["campaign"], "office", "{receipt}");
    assert!(receipt["last_error"].as_str().is_some_and(|error| error.contains("451")), "{receipt}");
    assert!(app.smtp.messages().is_empty());

    // The mail server is back: the next try (seconds later) goes through.
    app.smtp.refuse(false);
    let mut messages = Vec::new();
    for _ in 0..120 {
        messages = app.smtp.messages();
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let [message] = messages.as_slice() else { panic!("the receipt went out once: {messages:?}") };
    assert!(message.contains("To: ana@example.org"), "{message}");
    assert_eq!(subject(message), "Thank you for your gift to New office");
    assert!(body_text(message).contains("Ana"), "{message}");
    let mut kept = vec![Value::Null];
    for _ in 0..200 {
        kept = receipts().await;
        if kept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(kept.is_empty(), "a receipt sent is not kept: {kept:?}");
}

async fn without_smtp_emails_are_written_to_files(engine: Engine) {
    let outbox = tempfile::tempdir().expect("a folder");
    let options = Options {
        vars: vec![("SMTP_URL", String::new()), ("APPEAL_MAIL_DIR", outbox.path().display().to_string())],
        ..Options::default()
    };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "25.00", "email": "ana@example.org"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    // The receipt is sent by the background sender, soon after the answer.
    let mut files = Vec::new();
    for _ in 0..200 {
        files = std::fs::read_dir(outbox.path()).map(|dir| dir.flatten().collect()).unwrap_or_default();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(files.len(), 1);
    let message = std::fs::read_to_string(files[0].path()).expect("a readable .eml");
    assert!(files[0].path().extension().is_some_and(|ext| ext == "eml"));
    assert!(message.contains("To: ana@example.org") && subject(&message).contains("New office"));
    assert!(app.smtp.messages().is_empty());
}

async fn the_embed_script_defines_the_widget(engine: Engine) {
    let app = spawn_app(engine).await;
    let response = app.get("/embed.js").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/javascript; charset=utf-8");
    let script = response.text().await.expect("text");
    assert!(script.starts_with("(function () {"), "nothing leaks into the host page");
    assert!(script.contains("customElements.define(\"appeal-progress\""));
    assert!(script.contains("var ORIGIN = \"https://give.example.org\";"));
    assert!(script.contains("\"fr\":{") && script.contains("attachShadow"));
    let css = app.get("/static/app.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(app.get("/static/nothing.js").await.status(), StatusCode::NOT_FOUND);
}

async fn campaign_pages_come_from_memory_until_their_figures_move(engine: Engine) {
    use sqlx::Connection;
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let app = &app;
    let page = |path: &'static str| async move { app.get(path).await.text().await.expect("a page") };
    for path in ["/c/office?lang=en", "/embed/office?lang=en"] {
        assert!(page(path).await.contains("New office") || path.starts_with("/embed"), "{path}");
    }
    let home = page("/?lang=en").await;
    assert!(home.contains("New office"));

    // A change the figures do not show, made behind the server's back: the kept pages stand
    // (they were not read from the database again).
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query("UPDATE campaigns SET title_en = 'Renamed behind its back'")
        .execute(&mut connection)
        .await
        .expect("renamed");
    connection.close().await.expect("closed");
    assert!(page("/c/office?lang=en").await.contains("New office"), "served from memory");
    assert!(page("/?lang=en").await.contains("New office"), "served from memory");

    // A gift moves the figures: the page is rendered again at once, with the gift.
    app.give("office", "10.00", None).await;
    let after = page("/c/office?lang=en").await;
    assert!(after.contains("$10") && after.contains("Renamed behind its back"), "{after}");
    let embed = page("/embed/office?lang=en").await;
    assert!(embed.contains("$10"), "{embed}");
    // A title changed through appeal shows at once, though the figures stand.
    let renamed = json!({"title": {"en": "Renamed through appeal", "fr": "Nouveau local"}});
    assert_eq!(
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &renamed).await.status(),
        StatusCode::OK
    );
    assert!(page("/c/office?lang=en").await.contains("Renamed through appeal"));
    // Each language its own page; a page with a notice is never kept.
    let french = page("/c/office?lang=fr").await;
    assert!(french.contains(r#"lang="fr""#) && french.contains("Nouveau local"), "{french}");
    let cancelled = page("/c/office?lang=en&cancelled=1").await;
    assert!(cancelled.contains(CANCELLED_NOTICE), "{cancelled}");
    assert!(!page("/c/office?lang=en").await.contains(CANCELLED_NOTICE));
}

/// What the page says when a supporter comes back from Stripe without paying.
const CANCELLED_NOTICE: &str = "Your payment was cancelled; nothing was charged.";
