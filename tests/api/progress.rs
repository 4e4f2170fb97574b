//! Progress figures: exact to the cent, kept in step with the ledger, cacheable.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Engine, on_both_engines, problem, spawn_app};
use crate::supporters::EventReader;

on_both_engines!(
    offline_money_shows_as_exact_progress,
    a_reversal_lowers_raised_branch_and_counts,
    concurrent_offline_donations_all_land,
    refused_writes_among_concurrent_ones_undo_only_themselves,
    progress_has_an_etag_and_a_short_cache_life,
    a_restart_keeps_everything,
    a_repeated_idempotency_key_records_once,
    the_ledger_refuses_updates_and_deletes,
    a_donation_that_would_overflow_a_total_is_refused_whole,
    the_overflow_guard_counts_each_shard_once,
    a_campaign_closes_when_it_ends_and_open_pages_hear_it,
);

async fn offline_money_shows_as_exact_progress(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "40000.00", Some("montreal")).await;
    app.give("office", "25000.00", Some("quebec")).await;
    app.give("office", "15000.00", Some("quebec")).await;
    app.give("office", "10000.00", None).await;

    let progress = app.progress("office").await;
    assert_eq!(
        progress,
        json!({
            "campaign": "office",
            "currency": "CAD",
            "goal": "100000.00",
            "raised": "90000.00",
            "percent": 90.0,
            "donations": 4,
            "donors": 4,
            "goals": [{"amount": "100000.00", "reached_at": null}],
            "donor_goal": null,
            "matching": null,
            "recurring": {"active": 0, "monthly": "0.00"},
            "by_source": {"online": "0.00", "offline": "90000.00"},
            "branches": [
                {"slug": "montreal", "name": "Montréal", "goal": "40000.00", "raised": "40000.00"},
                {"slug": "quebec", "name": "Québec", "goal": "25000.00", "raised": "40000.00"},
                {"slug": "gatineau", "name": "Gatineau", "goal": null, "raised": "0.00"}
            ],
            "status": "active",
            "starts_at": null,
            "ends_at": null,
            "updated_at": progress["updated_at"],
        })
    );
    assert!(progress["updated_at"].as_str().is_some_and(|at| at.ends_with('Z')));
}

async fn a_reversal_lowers_raised_branch_and_counts(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let kept = app.give("office", "60000.00", Some("montreal")).await;
    let bounced = app.give("office", "30000.00", Some("quebec")).await;
    assert_eq!(kept["amount"], "60000.00");

    let path = format!("/api/v1/admin/donations/{}/reversals", bounced["id"]);
    let partial = app
        .post_as(
            &app.treasurer_token,
            &path,
            &json!({"amount": "10000.00", "reason": "part of the cheque bounced"}),
        )
        .await;
    assert_eq!(partial.status(), StatusCode::CREATED);
    let partial: serde_json::Value = partial.json().await.expect("JSON");
    assert_eq!(
        (partial["kind"].as_str(), partial["amount"].as_str()),
        (Some("adjustment"), Some("-10000.00"))
    );
    assert_eq!(partial["reverses"], bounced["id"]);
    assert_eq!(partial["branch"], "quebec");

    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), progress["percent"].as_f64()), (Some("80000.00"), Some(80.0)));
    assert_eq!((progress["donations"].as_i64(), progress["donors"].as_i64()), (Some(2), Some(2)));
    assert_eq!(progress["branches"][1]["raised"], "20000.00");

    // The rest, by default: the donation and its donor no longer count.
    let rest = app
        .post_as(&app.treasurer_token, &path, &json!({"reason": "the rest bounced too", "kind": "refund"}))
        .await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    let progress = app.progress("office").await;
    assert_eq!(progress["raised"], "60000.00");
    assert_eq!(progress["by_source"]["offline"], "60000.00");
    assert_eq!((progress["donations"].as_i64(), progress["donors"].as_i64()), (Some(1), Some(1)));
    assert_eq!(progress["branches"][1]["raised"], "0.00");

    // Nothing is left to reverse.
    let again = app.post_as(&app.treasurer_token, &path, &json!({"reason": "twice"})).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.progress("office").await["raised"], "60000.00");

    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

async fn concurrent_offline_donations_all_land(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // The page is being read: its progress document is in memory, and the burst's commits
    // rebuild it (a few times, not once each) before they answer.
    assert_eq!(app.progress("office").await["raised"], "0.00");
    let path = "/api/v1/admin/campaigns/office/donations";
    let mut tasks = Vec::new();
    for index in 0..200 {
        let client = app.client.clone();
        let url = app.url(path);
        let token = app.treasurer_token.clone();
        let branch = ["montreal", "quebec", "gatineau", ""][index % 4];
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"amount": "1.00", "method": "cash", "received_on": "2026-11-01",
                              "donor_email": format!("donor{}@example.org", index % 50), "branch": branch}))
                .send()
                .await
                .expect("the server answers")
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("the task ends"), StatusCode::CREATED);
    }
    let progress = app.progress("office").await;
    assert_eq!(progress["raised"], "200.00");
    // Four gifts from each of 50 donors, landing at once: each donor counts once.
    assert_eq!((progress["donations"].as_i64(), progress["donors"].as_i64()), (Some(200), Some(50)));
    let branch_raised: Vec<&str> = progress["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .map(|b| b["raised"].as_str().expect("raised"))
        .collect();
    assert_eq!(branch_raised, ["50.00", "50.00", "50.00"]);
    // The totals were spread over shard rows (each transaction adds to one), not one row.
    use sqlx::{Connection, Row};
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let campaign_shards: i64 = sqlx::query("SELECT COUNT(*) AS n FROM campaign_total_shards")
        .fetch_one(&mut connection)
        .await
        .expect("count")
        .get("n");
    assert!(campaign_shards > 1, "the campaign's totals sit on {campaign_shards} shard row(s)");
    let branch_shards: i64 = sqlx::query("SELECT COUNT(*) AS n FROM branch_total_shards")
        .fetch_one(&mut connection)
        .await
        .expect("count")
        .get("n");
    assert!(branch_shards > 3, "the three branches' totals sit on {branch_shards} shard row(s)");

    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok: every kept total agrees with the ledger");
}

/// Writers that land at once share commits on SQLite (a group behind the write gate, each in
/// its own savepoint): one refused inside its transaction must undo only itself, and every
/// writer told "created" must be in the books.
async fn refused_writes_among_concurrent_ones_undo_only_themselves(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let send = |reference: String| {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/admin/campaigns/office/donations"),
            app.treasurer_token.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"amount": "2.00", "method": "cheque", "received_on": "2026-11-01",
                              "reference": reference, "branch": "quebec"}))
                .send()
                .await
                .expect("the server answers")
                .status()
        })
    };
    let mut tasks = Vec::new();
    for index in 0..120_usize {
        // Every third gift is a cheque sent twice: the second of each pair looks like the
        // first, and is refused under the campaign's lock, inside its transaction.
        if index % 3 == 0 {
            tasks.push(send(format!("cheque-{}", index / 3)));
            tasks.push(send(format!("cheque-{}", index / 3)));
        } else {
            tasks.push(send(format!("cheque-{}", 1000 + index)));
        }
    }
    let mut statuses = std::collections::BTreeMap::new();
    for task in tasks {
        *statuses.entry(task.await.expect("the task ends").as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses, std::collections::BTreeMap::from([(201, 120), (409, 40)]));
    let progress = app.progress("office").await;
    assert_eq!((progress["raised"].as_str(), progress["donations"].as_i64()), (Some("240.00"), Some(120)));
    assert_eq!(progress["branches"][1]["raised"], "240.00");
    let entries: serde_json::Value =
        app.json_as(&app.viewer_token, "/api/v1/admin/donations?limit=500").await;
    assert_eq!(entries["entries"].as_array().map(Vec::len), Some(120));
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

async fn progress_has_an_etag_and_a_short_cache_life(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let first = app.get("/api/v1/campaigns/office/progress").await;
    assert_eq!(first.headers()["cache-control"], "public, max-age=5");
    assert_eq!(first.headers()["access-control-allow-origin"], "*");
    let etag = first.headers()["etag"].to_str().expect("ASCII").to_owned();
    // The first read built the document from the database; the next is answered from memory
    // ahead of the router. Both must give the same answer with the same headers.
    let again = app.get("/api/v1/campaigns/office/progress").await;
    let headers = |response: &reqwest::Response| {
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str() != "date")
            .map(|(name, value)| format!("{name}: {}", value.to_str().expect("ASCII")))
            .collect();
        headers.sort();
        headers
    };
    assert_eq!(headers(&first), headers(&again));
    assert_eq!(first.text().await.expect("body"), again.text().await.expect("body"));

    let unchanged = app
        .client
        .get(app.url("/api/v1/campaigns/office/progress"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("answer");
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"].to_str().expect("ASCII"), etag);

    app.give("office", "5.00", None).await;
    let changed = app
        .client
        .get(app.url("/api/v1/campaigns/office/progress"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("answer");
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().expect("ASCII"), etag);
}

async fn a_restart_keeps_everything(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "123.45", Some("gatineau")).await;
    let before = app.progress("office").await;
    app.restart().await;
    assert_eq!(app.progress("office").await, before);
    assert_eq!(before["raised"], "123.45");
    // Tokens survive too.
    let listed = app.get_as(&app.viewer_token, "/api/v1/admin/donations").await;
    assert_eq!(listed.status(), StatusCode::OK);
    app.shutdown().await;
}

async fn a_repeated_idempotency_key_records_once(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let send = || {
        app.client
            .post(app.url("/api/v1/admin/campaigns/office/donations"))
            .bearer_auth(&app.treasurer_token)
            .header("idempotency-key", "deposit-2026-11-01-7")
            .json(&json!({"amount": "75.00", "method": "etransfer", "received_on": "2026-11-01"}))
            .send()
    };
    let first = send().await.expect("answer");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.expect("JSON");
    let second = send().await.expect("answer");
    assert_eq!(second.status(), StatusCode::OK);
    let second: serde_json::Value = second.json().await.expect("JSON");
    assert_eq!(first["id"], second["id"]);
    assert_eq!(app.progress("office").await["raised"], "75.00");
}

async fn the_ledger_refuses_updates_and_deletes(engine: Engine) {
    use sqlx::Connection;
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "10.00", None).await;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let update = sqlx::query("UPDATE ledger_entries SET amount_minor = 1").execute(&mut connection).await;
    assert!(update.is_err_and(|error| error.to_string().contains("append-only")));
    let delete = sqlx::query("DELETE FROM ledger_entries").execute(&mut connection).await;
    assert!(delete.is_err_and(|error| error.to_string().contains("append-only")));
    assert_eq!(app.progress("office").await["raised"], "10.00");
}

async fn a_donation_that_would_overflow_a_total_is_refused_whole(engine: Engine) {
    use sqlx::Connection;
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // No real campaign gets near 2^63 cents; put one there directly to test the guard, over
    // two rows (the base row and a shard) that each fit: the guard checks their sum.
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    sqlx::query("UPDATE campaign_totals SET gross_minor = 4611686018427387900")
        .execute(&mut connection)
        .await
        .expect("update");
    sqlx::query(
        "INSERT INTO campaign_total_shards (campaign_id, shard, gross_minor, updated_at) \
         SELECT campaign_id, 7, 4611686018427387900, updated_at FROM campaign_totals",
    )
    .execute(&mut connection)
    .await
    .expect("insert");
    let response = app
        .post_as(
            &app.treasurer_token,
            "/api/v1/admin/campaigns/office/donations",
            &json!({"amount": "1.00", "method": "cash", "received_on": "2026-11-01"}),
        )
        .await;
    let body = crate::helpers::problem(response, StatusCode::CONFLICT).await;
    assert_eq!(body["errors"]["amount"], "would overflow the campaign's total");
    let entries: serde_json::Value = app.json_as(&app.viewer_token, "/api/v1/admin/donations").await;
    assert_eq!(entries["entries"], json!([]));
    assert_eq!(app.progress("office").await["raised"], "92233720368547758.00");
}

/// The guard sums each of a campaign's rows once: with all 32 shards near a 32nd of the
/// largest total (32 of them fit, 33 would not), a gift still goes in, whichever shard it
/// moves.
async fn the_overflow_guard_counts_each_shard_once(engine: Engine) {
    use sqlx::Connection;
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    for shard in 0..32 {
        sqlx::query(
            "INSERT INTO campaign_total_shards (campaign_id, shard, gross_minor, updated_at) \
             SELECT campaign_id, $1, 279496122328932601, updated_at FROM campaign_totals",
        )
        .bind(shard)
        .execute(&mut connection)
        .await
        .expect("insert");
    }
    app.give("office", "1.00", None).await;
    assert_eq!(app.progress("office").await["raised"], "89438759145258433.32");
}

/// At `ends_at` the campaign closes by itself: the open streams send the closed document (the
/// page's form and the widget's button go), checkouts say it has ended, and the audit log
/// keeps who closed it. A later end reopens it.
async fn a_campaign_closes_when_it_ends_and_open_pages_hear_it(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let ends = chrono::Utc::now() + chrono::Duration::seconds(3);
    let ends_at = ends.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let changed =
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &json!({"ends_at": ends_at})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let page = app.get("/c/office").await.text().await.expect("the page");
    assert!(page.contains("action=\"/c/office/give\""), "the form is there before the end");

    let stream = app.get("/api/v1/campaigns/office/progress/stream").await;
    let mut events = EventReader::new(stream);
    assert_eq!(events.next_progress().await["status"], "active");
    let closed = events.next_progress().await;
    assert_eq!(closed["status"], "closed", "{closed}");
    assert!(chrono::Utc::now() >= ends, "closed before its end");
    assert_eq!(app.progress("office").await["status"], "closed");

    let page = app.get("/c/office").await.text().await.expect("the page");
    assert!(!page.contains("action=\"/c/office/give\""), "no form once closed");
    assert!(page.contains("This campaign is not taking donations."));
    let checkout = app
        .client
        .post(app.url("/api/v1/campaigns/office/checkout"))
        .json(&json!({"amount": "25"}))
        .send()
        .await;
    let checkout = checkout.expect("answer");
    assert_eq!(problem(checkout, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["campaign"], "has ended");
    let audit = crate::lifecycle::audit_csv(&app).await;
    let line =
        audit.lines().find(|line| line.contains("campaign.ended")).expect("the closing is in the audit log");
    assert!(line.contains("appeal") && line.contains("campaign:office"), "{line}");

    // A later end and the status set back reopen it, and it stays open.
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let reopened = app
        .patch_as(
            &app.admin_token,
            "/api/v1/admin/campaigns/office",
            &json!({"ends_at": later, "status": "active"}),
        )
        .await;
    assert_eq!(reopened.status(), StatusCode::OK);
    assert_eq!(events.next_progress().await["status"], "active");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(app.progress("office").await["status"], "active");
}
