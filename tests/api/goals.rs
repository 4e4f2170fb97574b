//! Stretch goals and a donor goal: a ladder set on create and PATCH (and `--goal` repeated on
//! the command line); one gift passing two goals at once; reached goals kept with when they
//! were reached, and announced once each.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};
use crate::receiver::Receiver;

on_both_engines!(one_gift_passes_two_stretch_goals_and_each_is_kept_and_announced_once);

fn ladder(progress: &Value) -> Vec<(String, bool)> {
    progress["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .map(|goal| (goal["amount"].as_str().expect("an amount").to_owned(), goal["reached_at"].is_string()))
        .collect()
}

/// The progress document once the background job has recorded `reached` goals.
async fn progress_with_reached(app: &TestApp, reached: usize) -> Value {
    for _ in 0..100 {
        let progress = app.progress("spring").await;
        if ladder(&progress).iter().filter(|(_, done)| *done).count() >= reached {
            return progress;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{reached} goals were never recorded as reached: {}", app.progress("spring").await)
}

async fn one_gift_passes_two_stretch_goals_and_each_is_kept_and_announced_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/webhooks",
            &json!({"url": receiver.url, "events": ["campaign.goal_reached"]}),
        )
        .await;
    assert_eq!(endpoint.status(), StatusCode::CREATED);

    let base = json!({"slug": "spring", "currency": "CAD", "title": {"en": "Spring"}, "status": "active"});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (key, value) in extra.as_object().expect("an object") {
            body[key] = value.clone();
        }
        body
    };
    // Wrong ladders are refused, naming the goal at fault.
    for (extra, field) in [
        (json!({"goals": ["100.00", "90.00"]}), "goals[1]"),
        (json!({"goals": []}), "goals"),
        (json!({"goals": ["100.00", "1e3"]}), "goals[1]"),
        (json!({"goal": "50.00", "goals": ["100.00", "120.00"]}), "goal"),
        (json!({"goals": ["100.00"], "donor_goal": 0}), "donor_goal"),
    ] {
        let refused = app.post_as(&app.admin_token, "/api/v1/admin/campaigns", &with(extra.clone())).await;
        let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(body["errors"][field].is_string(), "{extra} names {field}: {body}");
    }
    let created = app
        .post_as(
            &app.admin_token,
            "/api/v1/admin/campaigns",
            &with(json!({"goals": ["100.00", "120.00", "150.00"], "donor_goal": 3})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let campaign: Value = created.json().await.expect("JSON");
    assert_eq!(campaign["goal"], "100.00");
    assert_eq!(campaign["goals"], json!(["100.00", "120.00", "150.00"]));
    assert_eq!(campaign["donor_goal"], 3);
    let progress = app.progress("spring").await;
    assert_eq!((progress["goal"].clone(), progress["donor_goal"].clone()), (json!("100.00"), json!(3)));
    assert_eq!(ladder(&progress).iter().filter(|(_, done)| *done).count(), 0);

    // One gift of 130.00 passes 100 and 120 at once: 150 is the goal in force at once, and
    // both reached goals are recorded, with when, and announced once each.
    app.give("spring", "130.00", None).await;
    let now = app.progress("spring").await;
    assert_eq!(now["goal"], "150.00");
    let progress = progress_with_reached(&app, 2).await;
    assert_eq!(
        ladder(&progress),
        vec![("100.00".to_owned(), true), ("120.00".to_owned(), true), ("150.00".to_owned(), false)]
    );
    assert_eq!(progress["percent"], 86.7, "130 of 150");
    let announced = receiver.wait_for(2).await;
    assert!(announced.iter().all(|request| request.kind() == "campaign.goal_reached"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 2, "once each");
    let last = announced[1].json();
    assert_eq!(last["data"]["goal"], "150.00");
    assert!(last["data"]["goals"][1]["reached_at"].is_string(), "{last}");

    // A reversal below a reached goal does not bring it back.
    let entries = app.json_as(&app.viewer_token, "/api/v1/admin/donations?campaign=spring").await;
    let gift = entries["entries"][0]["id"].as_i64().expect("an entry");
    let reversed = app
        .post_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/donations/{gift}/reversals"),
            &json!({"amount": "50.00", "reason": "cheque bounced"}),
        )
        .await;
    assert_eq!(reversed.status(), StatusCode::CREATED);
    let after = app.progress("spring").await;
    assert_eq!((after["raised"].clone(), after["goal"].clone()), (json!("80.00"), json!("150.00")));

    // PATCH: the first goal alone must stay below the next; a new ladder keeps what was reached.
    let path = "/api/v1/admin/campaigns/spring";
    let refused = app.patch_as(&app.admin_token, path, &json!({"goal": "130.00"})).await;
    assert!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["goal"].is_string());
    let longer = app
        .patch_as(&app.admin_token, path, &json!({"goals": ["100.00", "120.00", "150.00", "200.00"]}))
        .await;
    assert_eq!(longer.status(), StatusCode::OK);
    let progress = app.progress("spring").await;
    assert_eq!(
        ladder(&progress),
        vec![
            ("100.00".to_owned(), true),
            ("120.00".to_owned(), true),
            ("150.00".to_owned(), false),
            ("200.00".to_owned(), false)
        ]
    );
    // The page lists the ladder, reached goals marked.
    let page = app.get("/c/spring").await.text().await.expect("HTML");
    assert!(page.contains("<ol class=\"goals\">") && page.contains("$120 · reached"), "{page}");
    assert!(page.contains("Goal: 3 donors"), "{page}");

    // `null` drops the stretch goals; the command line takes a ladder with --goal repeated.
    let single = app.patch_as(&app.admin_token, path, &json!({"goals": null, "donor_goal": null})).await;
    let single: Value = single.json().await.expect("JSON");
    assert_eq!((single["goals"].clone(), single["donor_goal"].clone()), (json!(["100.00"]), Value::Null));
    let made = app.cli(&[
        "campaign",
        "create",
        "--slug",
        "autumn",
        "--title",
        "Autumn",
        "--currency",
        "CAD",
        "--goal",
        "1000",
        "--goal",
        "1500",
        "--donor-goal",
        "40",
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let autumn = app.json_as(&app.admin_token, "/api/v1/admin/campaigns").await;
    let autumn =
        autumn["campaigns"].as_array().expect("campaigns").iter().find(|c| c["slug"] == "autumn").cloned();
    let autumn = autumn.expect("autumn");
    assert_eq!(
        (autumn["goals"].clone(), autumn["donor_goal"].clone()),
        (json!(["1000.00", "1500.00"]), json!(40))
    );
}
