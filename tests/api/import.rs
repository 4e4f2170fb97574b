//! Moving in: offline history from a spreadsheet, booked whole or not at all.

use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(
    a_spreadsheet_is_booked_whole_once_and_its_errors_name_the_row,
    a_stripe_accounts_history_is_booked_once_beside_its_webhooks,
);

/// The campaign's progress once the server has heard of what the command line (another
/// process) committed: on PostgreSQL its notice arrives a moment after the command returns.
async fn progress_after_cli(app: &TestApp, raised: &str) -> Value {
    for _ in 0..100 {
        let progress = app.progress("office").await;
        if progress["raised"] == raised {
            return progress;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.progress("office").await
}

fn run(app: &TestApp, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let file = file.to_str().expect("a UTF-8 path");
    let mut args = vec![
        "import",
        "csv",
        "--campaign",
        "office",
        "--file",
        file,
        "--map",
        "date=Date,name=Donor,email=E-mail,amount=Amount,method=Paid by,reference=Receipt",
        "--date-format",
        "%d/%m/%Y",
    ];
    args.extend(extra);
    app.cli(&args)
}

async fn a_spreadsheet_is_booked_whole_once_and_its_errors_name_the_row(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let dir = tempfile::tempdir().expect("a folder");
    let good = dir.path().join("donations-2025.csv");
    std::fs::write(
        &good,
        "Date,Donor,E-mail,Amount,Paid by,Receipt,Notes\n\
         14/03/2025,Ana Tremblay,ana@example.org,25.00,cheque,R-101,first gift\n\
         02/04/2025,Ben Roy,,100,cash,R-102,\n\
         30/11/2025,\"Côté, Marie\",marie@example.org,12.50,etransfer,R-103,\"said \"\"merci\"\"\"\n",
    )
    .expect("written");

    let dry = run(&app, &good, &["--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(out.contains("preview: 3 entries") && out.contains("2025-11-30"), "{out}");
    assert_eq!(app.progress("office").await["raised"], "0.00", "a dry run books nothing");

    let booked = run(&app, &good, &[]);
    assert!(booked.status.success(), "{}", String::from_utf8_lossy(&booked.stderr));
    assert!(String::from_utf8_lossy(&booked.stdout).contains("posted batch"), "{:?}", booked);
    let progress = progress_after_cli(&app, "137.50").await;
    assert_eq!((progress["raised"].as_str(), progress["donations"].as_i64()), (Some("137.50"), Some(3)));
    let entries: Value = app.json_as(&app.treasurer_token, "/api/v1/admin/donations?campaign=office").await;
    let marie = entries["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|entry| entry["reference"] == "R-103")
        .cloned()
        .expect("Marie's gift");
    assert_eq!(
        (&marie["donor_name"], &marie["received_on"], &marie["method"], &marie["amount"]),
        (
            &Value::from("Côté, Marie"),
            &Value::from("2025-11-30"),
            &Value::from("etransfer"),
            &Value::from("12.50")
        )
    );

    // The same file again is refused: it looks like the import already booked.
    let again = run(&app, &good, &[]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("Import of donations-2025.csv"), "{err}");
    assert_eq!(app.progress("office").await["raised"], "137.50");

    // One wrong row and nothing is booked; every error names its line.
    let bad = dir.path().join("more.csv");
    std::fs::write(
        &bad,
        "Date,Donor,E-mail,Amount,Paid by,Receipt\n\
         01/05/2025,Ana,,10.00,cash,R-201\n\
         02/05/2025,Ben,,ten,cash,R-202\n\
         31/02/2025,Cy,,5.00,cash,R-203\n\
         ,Di,,5.00,cash,R-204\n",
    )
    .expect("written");
    let refused = run(&app, &bad, &[]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    for line in
        ["error: rows[3].amount", "error: rows[4].received_on", "error: rows[5].received_on is required"]
    {
        assert!(err.contains(line), "{line} in {err}");
    }
    assert!(!err.contains("rows[2]"), "{err}");
    assert_eq!(app.progress("office").await["raised"], "137.50", "nothing of it booked");

    // A map naming a column the file lacks, or no amount, is refused before any row.
    let wrong = app.cli(&[
        "import",
        "csv",
        "--campaign",
        "office",
        "--file",
        bad.to_str().expect("path"),
        "--map",
        "date=Datum,sum=Amount",
    ]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("error: map") && err.contains("\"sum\" is not a field"), "{err}");
    let wrong = app.cli(&[
        "import",
        "csv",
        "--campaign",
        "office",
        "--file",
        bad.to_str().expect("path"),
        "--map",
        "date=Datum,amount=Amount",
        "--method",
        "cash",
    ]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("the column \"Datum\""), "{err}");
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

fn import_stripe(app: &TestApp, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", "stripe", "--campaign", "office", "--since", "2020-01-01"];
    args.extend(extra);
    let output = app.cli(&args);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn a_stripe_accounts_history_is_booked_once_beside_its_webhooks(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // What the account took before appeal: gifts to the fund, a shop sale, a failed card,
    // a gift partly refunded, a monthly gift with two paid invoices, a magazine subscription.
    let office = json!({"fund": "office"});
    let gift = app.stripe.outside_charge(5000, "Ana Tremblay", "ana@example.org", "Donation", office.clone());
    app.stripe.outside_charge(2000, "Shop", "shop@example.org", "T-shirt", json!({"product": "tshirt"}));
    app.stripe.outside_failed_charge(3000);
    let refunded = app.stripe.outside_charge(10000, "Ben Roy", "ben@example.org", "Donation", office.clone());
    let refund_events = app.stripe.refund(&refunded, 2500);
    let monthly = app.stripe.outside_subscription(1500, "Monthly solidarity", office.clone(), 2);
    app.stripe.outside_subscription(900, "Magazine", json!({"product": "magazine"}), 1);
    // And a gift made through appeal, booked by its webhook.
    let session = app.checkout("office", &json!({"amount": "30.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    assert_eq!(app.progress("office").await["raised"], "30.00");

    let dry = import_stripe(&app, &["--metadata", "fund=office", "--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(out.contains(&format!("gift {gift} of 50.00 CAD")) && out.contains("would be booked"), "{out}");
    assert!(out.contains("4 gifts would be booked"), "{out}");
    assert_eq!(app.progress("office").await["raised"], "30.00", "a dry run books nothing");

    let run = import_stripe(&app, &["--metadata", "fund=office"]);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("4 gifts booked") && out.contains("1 refunds and disputes booked"), "{out}");
    assert!(out.contains(&format!("subscription {monthly}")), "{out}");
    // 30 + 50 + 100 - 25 + 2 × 15.
    let progress = progress_after_cli(&app, "185.00").await;
    assert_eq!(
        (progress["raised"].as_str(), progress["donations"].as_i64()),
        (Some("185.00"), Some(5)),
        "{progress}"
    );
    assert_eq!(progress["recurring"]["active"], 1);
    let entries: Value =
        app.json_as(&app.treasurer_token, "/api/v1/admin/donations?campaign=office&q=ana@example.org").await;
    let ana = &entries["entries"][0];
    assert_eq!(
        (&ana["donor_name"], &ana["amount"], &ana["source"]),
        (&json!("Ana Tremblay"), &json!("50.00"), &json!("online"))
    );
    assert_ne!(ana["fee"], "0.00", "the fee comes from the balance transaction");

    // Again, and with the refund's own event arriving: nothing is booked twice.
    let again = import_stripe(&app, &["--metadata", "fund=office"]);
    let out = String::from_utf8_lossy(&again.stdout);
    assert!(out.contains("0 gifts booked, 4 in the ledger already, 0 refunds"), "{out}");
    app.deliver_all(&refund_events).await;
    assert_eq!(app.progress("office").await["raised"], "185.00");
    // Without a filter the shop's sale would come in; the appeal checkout is known already.
    let all = import_stripe(&app, &["--dry-run"]);
    let out = String::from_utf8_lossy(&all.stdout);
    assert!(out.contains("of 20.00 CAD") && out.contains("would be booked"), "{out}");
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    // Wrong arguments are named.
    let wrong =
        app.cli(&["import", "stripe", "--campaign", "nowhere", "--since", "last year", "--metadata", "fund"]);
    assert_eq!(wrong.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wrong.stderr);
    for field in ["error: campaign", "error: since", "error: metadata"] {
        assert!(err.contains(field), "{field} in {err}");
    }
}
