//! Moving in: offline history from a spreadsheet, booked whole or not at all.

use serde_json::Value;

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(a_spreadsheet_is_booked_whole_once_and_its_errors_name_the_row);

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
    let progress = app.progress("office").await;
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
