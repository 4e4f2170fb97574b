//! Generated bodies to every endpoint that reads JSON (and the CSV import and the queries of
//! the lists): wrong types, huge numbers, deep nesting, invalid UTF-8, missing and extra
//! fields. The server must answer every one (no panic), never with a 5xx; a refusal is
//! `application/problem+json` naming the field, and writes nothing; `appeal check` stays clean.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::{cases, config, seed};
use crate::helpers::{Engine, Options, TestApp, on_both_engines, spawn_app_with};

on_both_engines!(every_json_endpoint_refuses_generated_bodies_cleanly);

/// Where a body goes, who sends it, and a body it would take.
struct Endpoint {
    method: reqwest::Method,
    path: String,
    token: Option<String>,
    base: Value,
}

/// Raw JSON put where a field's value was: other types, numbers no type holds, nesting past
/// any parser's depth, bytes that are not UTF-8, text that is too long or has control bytes.
fn raw_values() -> Vec<Vec<u8>> {
    let mut raws: Vec<Vec<u8>> = [
        "null",
        "true",
        "0",
        "-1",
        "12",
        "0.5",
        "-0",
        "1e400",
        "-1e400",
        "99999999999999999999999999999999999999",
        "9223372036854775808",
        "-9223372036854775809",
        "1.7976931348623157e309",
        "[]",
        "{}",
        "[1,2,3]",
        "{\"en\":{\"x\":1}}",
        "\"\"",
        "\"   \"",
        "\"0\"",
        "\"-25\"",
        "\"25.001\"",
        "\"1e5\"",
        "\"NaN\"",
        "\"Infinity\"",
        "\"79228162514264337593543950335\"",
        "\"7922816251426433759354395033.5\"",
        "\"9999999999999999.99\"",
        "\"2026-13-45\"",
        "\"+262142-12-31\"",
        "\"-1999-12-31\"",
        "\"9999-12-31T23:59:59+14:00\"",
        "\"0001-01-01T00:00:00-14:00\"",
        "\"a\\u0000b\"",
        "\"a\\u0007b\"",
        "\"\\ud800\"",
        "\"<script>alert(1)</script>\"",
        "\"\u{202e}\u{1F600}\"",
        "\"cash\"",
        "\"month\"",
        "\"refund\"",
        "\"montreal\"",
        "\"nowhere\"",
        "\"a@b\"",
        "\"x@example.org\"",
    ]
    .iter()
    .map(|raw| raw.as_bytes().to_vec())
    .collect();
    raws.push(b"\"\xff\xfe\"".to_vec());
    raws.push(b"\"caf\xc3\"".to_vec());
    raws.push(format!("\"{}\"", "a".repeat(5_000)).into_bytes());
    raws.push(format!("\"{}\"", "b".repeat(70_000)).into_bytes());
    raws.push(format!("{}1{}", "[".repeat(200), "]".repeat(200)).into_bytes());
    raws.push(format!("{}1{}", "{\"a\":".repeat(3_000), "}".repeat(3_000)).into_bytes());
    raws
}

/// Whole bodies that are no object at all.
fn raw_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "",
        " ",
        "null",
        "[]",
        "[{}]",
        "\"text\"",
        "12",
        "{",
        "{}}",
        "{\"a\":",
        "{\"a\" 1}",
        "{,}",
        "{\"a\":1,}",
    ]
    .iter()
    .map(|body| body.as_bytes().to_vec())
    .collect();
    bodies.push(b"{\"reason\":\"\xff\"}".to_vec());
    bodies.push(b"\xef\xbb\xbf{}".to_vec());
    bodies.push("[".repeat(100_000).into_bytes());
    bodies.push(format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000)).into_bytes());
    bodies
}

/// One change to a body.
#[derive(Clone, Debug)]
enum Change {
    /// Set a field (one of the body's, by index, or a new name) to a raw value.
    Set { field: usize, extra: bool, raw: usize },
    /// Remove one of the body's fields.
    Remove { field: usize },
}

/// A generated request: changes to the base body, or a whole raw body; and its content type.
#[derive(Clone, Debug)]
struct Case {
    endpoint: usize,
    changes: Vec<Change>,
    whole: Option<usize>,
    content_type: &'static str,
}

fn case(endpoints: usize, raws: usize, bodies: usize) -> impl Strategy<Value = Case> {
    let change = prop_oneof![
        4 => (any::<usize>(), any::<bool>(), 0..raws).prop_map(|(field, extra, raw)| Change::Set { field, extra, raw }),
        1 => any::<usize>().prop_map(|field| Change::Remove { field }),
    ];
    (
        0..endpoints,
        prop::collection::vec(change, 1..4),
        prop::option::weighted(0.1, 0..bodies),
        prop::sample::select(vec![
            "application/json",
            "application/json",
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "",
        ]),
    )
        .prop_map(|(endpoint, changes, whole, content_type)| Case {
            endpoint,
            changes,
            whole,
            content_type,
        })
}

/// The body of a case: the base object with its changes, raw values spliced in as bytes.
fn body_of(case: &Case, base: &Value, raws: &[Vec<u8>], bodies: &[Vec<u8>]) -> Vec<u8> {
    if let Some(whole) = case.whole {
        return bodies[whole].clone();
    }
    let mut object: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    let mut spliced = Vec::new();
    for change in &case.changes {
        let names: Vec<String> = object.keys().cloned().collect();
        match change {
            Change::Set { field, extra, raw } => {
                let name = if *extra || names.is_empty() {
                    format!("extra_{}", field % 3)
                } else {
                    names[field % names.len()].clone()
                };
                object.insert(name, Value::String(format!("\u{1}RAW{}\u{1}", spliced.len())));
                spliced.push(*raw);
            }
            Change::Remove { field } if !names.is_empty() => {
                object.remove(&names[field % names.len()]);
            }
            Change::Remove { .. } => {}
        }
    }
    let mut text = serde_json::to_vec(&Value::Object(object)).expect("JSON");
    for (index, raw) in spliced.iter().enumerate() {
        let placeholder = format!("\"\\u0001RAW{index}\\u0001\"");
        if let Some(at) = find(&text, placeholder.as_bytes()) {
            text.splice(at..at + placeholder.len(), raws[*raw].iter().copied());
        }
    }
    text
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Rows counted and stamps read in every table a request could write.
async fn fingerprint(app: &TestApp) -> Vec<String> {
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let mut queries: Vec<String> = [
        "campaigns",
        "branches",
        "ledger_entries",
        "campaign_totals",
        "branch_totals",
        "campaign_total_shards",
        "branch_total_shards",
        "donor_totals",
        "api_tokens",
        "checkout_intents",
        "stripe_events",
        "subscriptions",
        "manage_tokens",
        "batches",
        "users",
        "audit_log",
        "payouts",
        "payout_items",
        "stripe_flags",
        "disputes",
    ]
    .iter()
    .map(|table| format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
    .collect();
    for table in
        ["campaigns", "campaign_totals", "campaign_total_shards", "checkout_intents", "subscriptions"]
    {
        queries.push(format!("SELECT COALESCE(MAX(updated_at), '') FROM {table}"));
    }
    queries.push("SELECT CAST(COUNT(*) AS TEXT) FROM stripe_flags WHERE resolved_at IS NULL".to_owned());
    queries.push("SELECT CAST(COUNT(*) AS TEXT) FROM stripe_events WHERE status = 'dismissed'".to_owned());
    let mut print = Vec::new();
    for query in queries {
        let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(query.clone()))
            .fetch_one(&mut connection)
            .await
            .expect(&query);
        print.push(format!("{query}: {value}"));
    }
    print
}

async fn set_up(app: &TestApp) -> Vec<Endpoint> {
    app.create_campaign("office").await;
    let offline = app.give("office", "40.00", Some("montreal")).await;
    let offline = offline["id"].as_i64().expect("an id");
    let session = app.checkout("office", &json!({"amount": "50.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let monthly = app.checkout("office", &json!({"amount": "10.00", "interval": "month"})).await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    let subscription =
        app.stripe.session(&monthly)["subscription"].as_str().expect("a subscription").to_owned();
    let entries = app.json_as(&app.admin_token, "/api/v1/admin/donations?campaign=office").await;
    let online = entries["entries"]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["source"] == "online"))
        .and_then(|entry| entry["id"].as_i64())
        .expect("an online gift");

    let admin = Some(app.admin_token.clone());
    let treasurer = Some(app.treasurer_token.clone());
    let post = reqwest::Method::POST;
    vec![
        Endpoint {
            method: post.clone(),
            path: "/api/v1/admin/campaigns".to_owned(),
            token: admin.clone(),
            base: json!({
                "slug": "fuzzed", "currency": "CAD", "goal": "1000.00", "status": "active",
                "title": {"en": "Fuzzed", "fr": "Fuzzé"}, "description": {"en": "About"},
                "starts_at": "2026-01-01T00:00:00-05:00", "ends_at": "2026-12-31T23:59:59-05:00",
                "count_net_of_fees": false, "checkout_min": "2.00", "checkout_max": "500.00",
                "fee_percent": "2.9", "fee_fixed": "0.30",
                "branches": [{"slug": "north", "name": "North", "goal": "100.00"}]
            }),
        },
        Endpoint {
            method: reqwest::Method::PATCH,
            path: "/api/v1/admin/campaigns/office".to_owned(),
            token: admin.clone(),
            base: json!({"goal": "100000.00", "title": {"en": "New office", "fr": "Nouveau local"}, "fee_percent": "2.9"}),
        },
        Endpoint {
            method: post.clone(),
            path: "/api/v1/admin/campaigns/office/donations".to_owned(),
            token: treasurer.clone(),
            base: json!({
                "amount": "25.00", "method": "cash", "received_on": "2026-11-01", "donor_name": "Ana",
                "donor_email": "ana@example.org", "reference": "R1", "branch": "montreal",
                "anonymous": true, "message": "Courage"
            }),
        },
        Endpoint {
            method: post.clone(),
            path: "/api/v1/admin/campaigns/office/batches".to_owned(),
            token: treasurer.clone(),
            base: json!({
                "reference": "Deposit 1", "deposited_on": "2026-11-02", "declared_count": 1,
                "declared_total": "15.00", "entries": [{"amount": "15.00", "method": "cheque"}]
            }),
        },
        Endpoint {
            method: post.clone(),
            path: format!("/api/v1/admin/donations/{offline}/reversals"),
            token: treasurer.clone(),
            base: json!({"reason": "bounced", "amount": "5.00", "kind": "refund", "received_on": "2026-11-03"}),
        },
        Endpoint {
            method: post.clone(),
            path: format!("/api/v1/admin/donations/{online}/refund"),
            token: treasurer.clone(),
            base: json!({"amount": "1.00"}),
        },
        Endpoint {
            method: post.clone(),
            path: format!("/api/v1/admin/subscriptions/{subscription}/cancel"),
            token: treasurer.clone(),
            base: json!({"at_period_end": true}),
        },
        Endpoint {
            method: post.clone(),
            path: "/api/v1/campaigns/office/checkout".to_owned(),
            token: None,
            base: json!({
                "amount": "25.00", "interval": "month", "email": "sup@example.org", "name": "Sup",
                "anonymous": false, "message": "Go", "branch": "quebec", "cover_fees": true,
                "locale": "fr", "website": ""
            }),
        },
        Endpoint {
            method: post.clone(),
            path: "/api/v1/admin/stripe/flags/1/resolve".to_owned(),
            token: treasurer.clone(),
            base: json!({"reason": "seen", "amount": "5.00", "fee": "0.10"}),
        },
        Endpoint {
            method: post.clone(),
            path: "/api/v1/admin/stripe/events/evt_none/retry".to_owned(),
            token: treasurer.clone(),
            base: json!({}),
        },
        Endpoint {
            method: post,
            path: "/api/v1/admin/stripe/events/evt_none/dismiss".to_owned(),
            token: treasurer,
            base: json!({"reason": "a test"}),
        },
    ]
}

/// Checks one answer; `Err` says what is wrong with it.
async fn judge(response: reqwest::Response) -> Result<StatusCode, String> {
    let status = response.status();
    if status.is_server_error() {
        return Err(format!("answered {status}: {}", response.text().await.unwrap_or_default()));
    }
    if status.is_success() {
        return Ok(status);
    }
    let content_type =
        response.headers().get("content-type").and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    if content_type != "application/problem+json" {
        return Err(format!("answered {status} as {content_type:?}"));
    }
    let problem: Value = response.json().await.map_err(|error| format!("an unreadable problem: {error}"))?;
    if problem["status"] != json!(status.as_u16()) || !problem["detail"].is_string() {
        return Err(format!("a problem without its status or detail: {problem}"));
    }
    let names_a_field = problem["errors"].as_object().is_some_and(|errors| {
        !errors.is_empty() && errors.iter().all(|(field, message)| !field.is_empty() && message.is_string())
    });
    let about_the_body = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    if about_the_body && !names_a_field {
        return Err(format!("a {status} that names no field: {problem}"));
    }
    Ok(status)
}

async fn every_json_endpoint_refuses_generated_bodies_cleanly(engine: Engine) {
    let options = Options {
        vars: vec![
            ("APPEAL_CHECKOUT_LIMIT_IP", "100000/1m".to_owned()),
            ("APPEAL_CHECKOUT_LIMIT_EMAIL", "100000/1m".to_owned()),
        ],
        ..Options::default()
    };
    let app = spawn_app_with(engine, options).await;
    let endpoints = set_up(&app).await;
    let (raws, bodies) = (raw_values(), raw_bodies());
    let mut runner = TestRunner::new_with_rng(
        config(1),
        TestRng::from_seed(Default::default(), &seed().to_le_bytes().repeat(4)),
    );
    let strategy = case(endpoints.len(), raws.len(), bodies.len());
    let mut before = fingerprint(&app).await;
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for number in 0..cases(250) {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let endpoint = &endpoints[case.endpoint];
        let body = body_of(&case, &endpoint.base, &raws, &bodies);
        let mut request =
            app.client.request(endpoint.method.clone(), app.url(&endpoint.path)).body(body.clone());
        if !case.content_type.is_empty() {
            request = request.header("content-type", case.content_type);
        }
        if let Some(token) = &endpoint.token {
            request = request.bearer_auth(token);
        }
        let shown = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
        let response = request.send().await.unwrap_or_else(|error| {
            panic!(
                "case {number}: {} {} got no answer ({error}); body {shown}",
                endpoint.method, endpoint.path
            )
        });
        let status = judge(response).await.unwrap_or_else(|error| {
            panic!("case {number}: {} {}: {error}; body {shown}", endpoint.method, endpoint.path)
        });
        *answered.entry(status.as_u16()).or_default() += 1;
        let after = fingerprint(&app).await;
        if status.is_success() {
            before = after;
        } else {
            assert_eq!(
                before, after,
                "case {number}: a refused {} {} wrote something; body {shown}",
                endpoint.method, endpoint.path
            );
        }
    }
    queries_and_deposit_files_are_refused_cleanly(&app, &mut runner, &mut answered).await;
    eprintln!("answers by status: {answered:?}");
    let refused: usize = answered.iter().filter(|(status, _)| **status >= 400).map(|(_, count)| count).sum();
    assert!(refused > cases(250) as usize / 2, "most generated bodies are refused: {answered:?}");
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

/// Query strings of the lists and the export, and CSV deposit files with their query.
async fn queries_and_deposit_files_are_refused_cleanly(
    app: &TestApp,
    runner: &mut TestRunner,
    answered: &mut std::collections::BTreeMap<u16, usize>,
) {
    let names = [
        "campaign",
        "limit",
        "before",
        "status",
        "format",
        "from",
        "to",
        "branch",
        "payout",
        "basis",
        "all",
        "preview",
        "reference",
        "deposited_on",
        "declared_count",
        "declared_total",
        "x",
    ];
    let values = [
        "",
        "-1",
        "0",
        "1",
        "500",
        "501",
        "99999999999999999999",
        "abc",
        "%ff",
        "%00",
        "2026-11-01",
        "2026-13-01",
        "+262142-12-31",
        "-1999-12-31",
        "true",
        "yes",
        "office",
        "montreal",
        "nowhere",
        "payout",
        "received",
        "csv",
        "beancount",
        "ledger",
        "active",
        "past_due",
        "15.00",
        "1e400",
        "a%26b%3Dc",
    ];
    let paths = [
        "/api/v1/admin/donations",
        "/api/v1/admin/subscriptions",
        "/api/v1/admin/stripe/flags",
        "/api/v1/admin/exports/ledger",
        "/api/v1/admin/campaigns/office/batches/import",
    ];
    let query = prop::collection::vec(
        (prop::sample::select(names.to_vec()), prop::sample::select(values.to_vec())),
        0..5,
    );
    let csv = prop_oneof![
        any::<String>(),
        "(amount|method|received_on|anonymous|x)(,(amount|method|branch|donor_email)){0,3}\n([0-9.,\" a-z@\n-]{0,60})",
    ];
    let strategy = (prop::sample::select(paths.to_vec()), query, csv);
    let mut before = fingerprint(app).await;
    for number in 0..cases(60) {
        let (path, pairs, csv) = strategy.new_tree(runner).expect("a case").current();
        let query: Vec<String> = pairs.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let url = app.url(&format!("{path}?{}", query.join("&")));
        let request = if path.ends_with("/import") {
            app.client.post(&url).header("content-type", "text/csv").body(csv.clone())
        } else {
            app.client.get(&url)
        };
        let response = request
            .bearer_auth(&app.treasurer_token)
            .send()
            .await
            .unwrap_or_else(|error| panic!("query case {number}: {url} got no answer ({error})"));
        let status = judge(response)
            .await
            .unwrap_or_else(|error| panic!("query case {number}: {url}: {error}; CSV {csv:?}"));
        *answered.entry(status.as_u16()).or_default() += 1;
        let after = fingerprint(app).await;
        if status.is_success() {
            before = after;
        } else {
            assert_eq!(before, after, "query case {number}: a refused {url} wrote something");
        }
    }
}
