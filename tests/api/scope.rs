//! One access scope: walking every admin endpoint and dashboard page as a viewer and as the
//! treasurer of another branch, no donor's name or e-mail, and no entry of another branch,
//! appears anywhere in the bytes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(viewers_and_other_branches_see_nothing_they_should_not);

/// What only Québec's treasurers (and the organization's) may see.
const QUEBEC_SECRETS: [&str; 7] = [
    "Quinn Quebecois",
    "quinn@quebec.example",
    "QREF-SECRET",
    "Quentin Online",
    "qonline@quebec.example",
    "Quincy Sub",
    "qsub@quebec.example",
];
/// Montréal's donor, whom a viewer may not see either.
const MONTREAL_DONORS: [&str; 2] = ["Marie Montreal", "marie@montreal.example"];

async fn history(app: &TestApp) -> (String, String) {
    app.create_campaign("office").await;
    let quebec = json!({"amount": "40.00", "method": "cheque", "received_on": "2026-11-01", "branch": "quebec",
                        "donor_name": "Quinn Quebecois", "donor_email": "quinn@quebec.example", "reference": "QREF-SECRET"});
    let montreal = json!({"amount": "25.00", "method": "cash", "received_on": "2026-11-01", "branch": "montreal",
                          "donor_name": "Marie Montreal", "donor_email": "marie@montreal.example"});
    for body in [quebec, montreal] {
        let response =
            app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let online = app
        .checkout(
            "office",
            &json!({"amount": "60.00", "branch": "quebec", "name": "Quentin Online", "email": "qonline@quebec.example"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&online)).await;
    let charge = app.stripe.charge_of_session(&online);
    let monthly = app
        .checkout(
            "office",
            &json!({"amount": "10.00", "interval": "month", "branch": "quebec", "name": "Quincy Sub",
                    "email": "qsub@quebec.example"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&monthly)).await;
    // A refund and a dispute of the same gift: a flag on a Québec gift.
    app.deliver_all(&app.stripe.refund(&charge, 6000)).await;
    app.deliver_all(&app.stripe.dispute(&charge).1).await;
    let (payout, paid) = app.stripe.payout(&[app.stripe.balance_transaction_of(&charge)]);
    app.deliver_all(&paid).await;
    (payout, charge)
}

fn pages(payout: &str) -> Vec<String> {
    [
        "/api/v1/admin/campaigns",
        "/api/v1/admin/donations",
        "/api/v1/admin/donations?campaign=office",
        "/api/v1/admin/subscriptions",
        "/api/v1/admin/subscriptions?campaign=office",
        "/api/v1/admin/payouts",
        "/api/v1/admin/stripe/flags?all=true",
        "/api/v1/admin/stripe/events",
        "/api/v1/admin/exports/ledger",
        "/api/v1/admin/exports/ledger?campaign=office&format=beancount",
        "/api/v1/admin/exports/ledger?format=ledger",
        "/admin",
        "/admin/c/office",
        "/admin/payouts",
        "/admin/stripe",
        "/admin/export?format=csv",
        "/admin/export?campaign=office&format=ledger",
        "/admin/audit",
        "/admin/password",
    ]
    .iter()
    .map(|path| (*path).to_owned())
    .chain([
        format!("/api/v1/admin/payouts/{payout}"),
        format!("/api/v1/admin/exports/ledger?payout={payout}"),
    ])
    .collect()
}

/// Every page as one person sees it, and the statuses they got.
async fn walk(app: &TestApp, email: &str, payout: &str) -> Vec<(String, StatusCode, String)> {
    let mut visitor = Visitor::new(app);
    assert_eq!(visitor.sign_in(email, PASSWORD).await, StatusCode::SEE_OTHER);
    let mut seen = Vec::new();
    for path in pages(payout) {
        let (status, body, _) = visitor.get(&path).await;
        assert!(!status.is_server_error(), "{path}: {status}");
        seen.push((path, status, body));
    }
    seen
}

fn assert_absent(seen: &[(String, StatusCode, String)], secrets: &[&str], who: &str) {
    for (path, _, body) in seen {
        for secret in secrets {
            assert!(!body.contains(secret), "{who} sees {secret:?} on {path}");
        }
    }
}

async fn viewers_and_other_branches_see_nothing_they_should_not(engine: Engine) {
    let app = spawn_app(engine).await;
    let (payout, charge) = history(&app).await;
    add_user(&app, "view@example.org", "viewer", None);
    add_user(&app, "mtl@example.org", "treasurer", Some("montreal"));
    add_user(&app, "all@example.org", "treasurer", None);

    // The organization's treasurer sees it all: the walk is worth something.
    let everything = walk(&app, "all@example.org", &payout).await;
    for secret in QUEBEC_SECRETS.iter().chain(&MONTREAL_DONORS).chain([&charge.as_str()]) {
        assert!(everything.iter().any(|(_, _, body)| body.contains(secret)), "{secret} is shown somewhere");
    }

    let viewer = walk(&app, "view@example.org", &payout).await;
    let mut donors: Vec<&str> = QUEBEC_SECRETS.iter().filter(|s| !s.starts_with("QREF")).copied().collect();
    donors.extend(MONTREAL_DONORS);
    assert_absent(&viewer, &donors, "a viewer");

    let montreal = walk(&app, "mtl@example.org", &payout).await;
    let mut quebec: Vec<&str> = QUEBEC_SECRETS.to_vec();
    quebec.push(&charge);
    assert_absent(&montreal, &quebec, "Montréal's treasurer");
    // Their own branch is there.
    let listed = &montreal.iter().find(|(path, ..)| path == "/api/v1/admin/donations").expect("listed").2;
    let listed: Value = serde_json::from_str(listed).expect("JSON");
    assert_eq!(listed["entries"][0]["donor_name"], "Marie Montreal");
}
