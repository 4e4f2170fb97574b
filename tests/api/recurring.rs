//! Recurring health: a scripted year of subscriptions through the fake Stripe (started,
//! renewed, failed, recovered, cancelled by their donor and by a treasurer, ended by Stripe
//! after failed payments), and every figure the report gives for it, as JSON and as CSV.

use chrono::{Datelike, Months, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(a_scripted_year_of_subscriptions_gives_every_figure, wrong_questions_name_their_field,);

/// The first day of the month `n` months after the first of the twelve scripted ones (which
/// end with last month, so that everything Stripe reports is in the past, as it always is).
fn month(n: u32) -> NaiveDate {
    let today = Utc::now().date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("a day");
    this_month
        .checked_sub_months(Months::new(12))
        .expect("a month")
        .checked_add_months(Months::new(n))
        .expect("a month")
}

fn label(n: u32) -> String {
    month(n).format("%Y-%m").to_string()
}

/// Sets the fake's clock to the 15th of scripted month `n`, at noon (UTC, the tests' zone).
fn on(app: &TestApp, n: u32) {
    let at = month(n).with_day(15).expect("a day").and_hms_opt(12, 0, 0).expect("noon").and_utc();
    app.stripe.set_clock(at.timestamp());
}

async fn subscribe(app: &TestApp, amount: &str, interval: &str, name: &str) -> String {
    let session = app
        .checkout(
            "office",
            &json!({"amount": amount, "interval": interval, "email": format!("{name}@example.org"), "name": name}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    app.stripe.session(&session)["subscription"].as_str().expect("a subscription").to_owned()
}

async fn a_scripted_year_of_subscriptions_gives_every_figure(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;

    on(&app, 0);
    let a = subscribe(&app, "10.00", "month", "ana").await;
    let b = subscribe(&app, "20.00", "month", "ben").await;
    on(&app, 1);
    let c = subscribe(&app, "120.00", "year", "chloe").await;
    app.deliver_all(&app.stripe.renew(&a)).await;
    on(&app, 2);
    app.deliver_all(&app.stripe.fail_renewal(&b)).await;
    on(&app, 3);
    app.deliver_all(&app.stripe.retry_failed(&b, true)).await;
    let d = subscribe(&app, "5.00", "month", "dev").await;
    on(&app, 4);
    // Chloé cancels in the Billing Portal.
    app.deliver_all(&app.stripe.end_subscription(&c, "cancellation_requested")).await;
    on(&app, 5);
    app.deliver_all(&app.stripe.fail_renewal(&d)).await;
    on(&app, 6);
    // Stripe gives up on Dev's card after its last try.
    app.deliver_all(&app.stripe.retry_failed(&d, false)).await;
    app.deliver_all(&app.stripe.end_subscription(&d, "payment_failed")).await;
    on(&app, 7);
    let _e = subscribe(&app, "30.00", "month", "eve").await;
    let f = subscribe(&app, "15.00", "month", "fred").await;
    on(&app, 8);
    // A treasurer stops Ana's gift now, through the API.
    let cancelled = app
        .post_as(
            &app.admin_token,
            &format!("/api/v1/admin/subscriptions/{a}/cancel"),
            &json!({"at_period_end": false}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    on(&app, 9);
    app.deliver_all(&app.stripe.fail_renewal(&f)).await;
    on(&app, 10);
    app.deliver_all(&app.stripe.retry_failed(&f, true)).await;
    on(&app, 11);
    let _g = subscribe(&app, "50.00", "month", "gus").await;

    let query = format!("/api/v1/admin/recurring?from={}&to={}", label(0), label(11));
    let report: Value = app.json_as(&app.admin_token, &query).await;
    assert_eq!(report["currency"], "CAD");
    assert_eq!(report["campaign"], Value::Null);
    // active, past due, a month, new, recovered, cancelled, failed, net: month by month.
    let expected: Vec<Value> = [
        (2, 0, "30.00", 2, 0, 0, 0, 2),
        (3, 0, "40.00", 1, 0, 0, 0, 1),
        (3, 1, "40.00", 0, 0, 0, 0, 0),
        (4, 0, "45.00", 1, 1, 0, 0, 1),
        (3, 0, "35.00", 0, 0, 1, 0, -1),
        (3, 1, "35.00", 0, 0, 0, 0, 0),
        (2, 0, "30.00", 0, 0, 0, 1, -1),
        (4, 0, "75.00", 2, 0, 0, 0, 2),
        (3, 0, "65.00", 0, 0, 1, 0, -1),
        (3, 1, "65.00", 0, 0, 0, 0, 0),
        (3, 0, "65.00", 0, 1, 0, 0, 0),
        (4, 0, "115.00", 1, 0, 0, 0, 1),
    ]
    .iter()
    .zip(0..)
    .map(|(&(active, past_due, monthly, new, recovered, cancelled, failed, net), n)| {
        json!({"month": label(n), "active": active, "past_due": past_due, "monthly": monthly, "new": new,
               "recovered": recovered, "cancelled": cancelled, "failed": failed, "net": net})
    })
    .collect();
    assert_eq!(report["months"], Value::Array(expected));

    let cohorts: Vec<(String, i64, Vec<i64>)> = report["cohorts"]
        .as_array()
        .expect("cohorts")
        .iter()
        .map(|cohort| {
            let active =
                cohort["active"].as_array().expect("active").iter().filter_map(Value::as_i64).collect();
            (
                cohort["month"].as_str().expect("month").to_owned(),
                cohort["started"].as_i64().expect("n"),
                active,
            )
        })
        .collect();
    assert_eq!(
        cohorts,
        vec![
            (label(0), 2, vec![2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]),
            (label(1), 1, vec![1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            (label(3), 1, vec![1, 1, 1, 0, 0, 0, 0, 0, 0]),
            (label(7), 2, vec![2, 2, 2, 2, 2]),
            (label(11), 1, vec![1]),
        ]
    );

    // Three ended over 40 at risk (33 active at the months' starts, 7 started): 0.075 a month.
    let projection = &report["projection"];
    assert_eq!(projection["monthly_churn"], "0.0750");
    let ahead = projection["months"].as_array().expect("months");
    assert_eq!(ahead.len(), 12);
    assert_eq!(ahead[0], json!({"month": label(12), "active": 4, "monthly": "106.38"}));
    assert_eq!(ahead[1], json!({"month": label(13), "active": 3, "monthly": "98.40"}));

    // One campaign's figures are the same here (it is the only one), and so is the CSV.
    let one: Value = app.json_as(&app.admin_token, &format!("{query}&campaign=office")).await;
    assert_eq!(one["campaign"], "office");
    assert_eq!(one["months"], report["months"]);
    let csv = app.get_as(&app.admin_token, &format!("{query}&format=csv")).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().expect("text").starts_with("text/csv"));
    let csv = csv.text().await.expect("the CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "month,active,past_due,monthly,new,recovered,cancelled,failed,net");
    assert_eq!(lines[4], format!("{},4,0,45.00,1,1,0,0,1", label(3)));
    assert_eq!(lines.len(), 13);
    let cohorts_csv = app.get_as(&app.admin_token, &format!("{query}&format=csv&table=cohorts")).await;
    let cohorts_csv = cohorts_csv.text().await.expect("the CSV");
    // Each cohort's row as long as the first's, those that started later left empty at the end.
    assert!(cohorts_csv.contains(&format!("\r\n{},1,1,1,1,0,0,0,0,0,0,0,0,\r\n", label(1))), "{cohorts_csv}");

    // The books still balance, and each subscription's history ends where it stands...
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    // ...which `appeal check` would say if it did not; and the history is never rewritten.
    app.execute_sql(&format!("UPDATE subscriptions SET status = 'past_due' WHERE id = '{f}'")).await;
    let check = app.cli(&["check"]);
    let said = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(
        !check.status.success()
            && said.contains(&format!("subscription {f} (past_due; its history ends active)")),
        "{said}"
    );
    app.execute_sql(&format!("UPDATE subscriptions SET status = 'active' WHERE id = '{f}'")).await;
    for tampering in ["UPDATE subscription_changes SET status = 'active'", "DELETE FROM subscription_changes"]
    {
        use sqlx::Connection;
        let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
        let refused = sqlx::query(sqlx::AssertSqlSafe(tampering.to_owned())).execute(&mut connection).await;
        assert!(refused.is_err_and(|error| error.to_string().contains("append-only")), "{tampering}");
    }

    // The dashboard's page draws it.
    crate::people::add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = crate::people::Visitor::new(&app);
    treasurer.sign_in("tre@example.org", crate::people::PASSWORD).await;
    let (status, page, _) =
        treasurer.get(&format!("/admin/recurring?from={}&to={}", label(0), label(11))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg") && page.contains("$115") && page.contains("Cohorts"), "{page}");
}

async fn wrong_questions_name_their_field(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    for (query, field) in [
        ("from=2026-13", "from"),
        ("to=soon", "to"),
        ("from=2026-05&to=2026-04", "from"),
        ("from=2000-01&to=2026-04", "to"),
        ("currency=XYZ", "currency"),
        ("campaign=office&currency=EUR", "currency"),
        ("format=pdf", "format"),
        ("format=csv&table=donors", "table"),
    ] {
        let response = app.get_as(&app.admin_token, &format!("/api/v1/admin/recurring?{query}")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let problem: Value = response.json().await.expect("a problem");
        assert!(problem["errors"][field].is_string(), "{query}: {problem}");
    }
    let missing = app.get_as(&app.admin_token, "/api/v1/admin/recurring?campaign=nowhere").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Nothing yet: every month is zero, and the projection too.
    let empty: Value = app.json_as(&app.admin_token, "/api/v1/admin/recurring").await;
    assert_eq!(empty["months"].as_array().expect("months").len(), 12);
    assert_eq!(empty["projection"]["monthly_churn"], "0.0000");
}
