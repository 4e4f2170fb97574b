//! Exchange rates, kept and sourced: imported from an ECB reference-rate file (a real
//! excerpt, `tests/fixtures/ecb`), given by treasurers, listed, and looked up for a pair on a
//! day (a day without rates takes the week before's; none is an error naming the pair and day);
//! offline gifts in another currency, counted at their rate and kept with what was given.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, on_both_engines, problem, spawn_app};

on_both_engines!(
    rates_are_imported_from_the_ecb_given_by_treasurers_and_looked_up,
    a_gift_in_another_currency_counts_at_its_rate_and_keeps_what_was_given,
    a_supporter_gives_once_in_another_currency_the_campaign_offers,
);

const ECB_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ecb/eurofxref-hist-2025-04.csv");

async fn lookup(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let response = app.get_as(&app.viewer_token, &format!("/api/v1/admin/rates/lookup?{query}")).await;
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

async fn rates_are_imported_from_the_ecb_given_by_treasurers_and_looked_up(engine: Engine) {
    let app = spawn_app(engine).await;

    let imported = app.cli(&["rates", "import", "--ecb", ECB_FILE]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let said = String::from_utf8_lossy(&imported.stdout);
    assert!(said.contains("ECB rates of 5 day(s), 2025-04-17 to 2025-04-25"), "{said}");
    let again = app.cli(&["rates", "import", "--ecb", ECB_FILE]);
    assert!(String::from_utf8_lossy(&again.stdout).contains(": 0 new or changed"), "kept once");

    // Easter Sunday had no rates: Thursday's. SEK to GBP goes across the euro.
    let (status, rate) = lookup(&app, "from=SEK&to=GBP&date=2025-04-20").await;
    assert_eq!(status, StatusCode::OK, "{rate}");
    assert_eq!(
        rate,
        json!({"base": "SEK", "quote": "GBP", "date": "2025-04-17", "rate": "0.077869566006", "source": "ECB"})
    );
    // CAD to EUR inverts EUR to CAD (1.5891 on the 22nd).
    let (_, rate) = lookup(&app, "from=cad&to=EUR&date=2025-04-22").await;
    assert_eq!((rate["rate"].as_str(), rate["date"].as_str()), (Some("0.629287017809"), Some("2025-04-22")));
    // None near that day: an error naming the pair and the day, never 1.
    let (status, refused) = lookup(&app, "from=PKR&to=CAD&date=2025-04-22").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = refused["errors"]["date"].as_str().expect("the day is named");
    assert!(detail.contains("no PKR to CAD rate") && detail.contains("2025-04-22"), "{refused}");
    let (_, later) = lookup(&app, "from=USD&to=EUR&date=2025-05-05").await;
    assert!(
        later["errors"]["date"].as_str().is_some_and(|text| text.contains("7 days before 2025-05-05")),
        "{later}"
    );

    // A treasurer's rate from their bank, then corrected (replaced, and audited).
    let mine = json!({"base": "PKR", "quote": "CAD", "date": "2025-04-21", "rate": "0.0049", "source": "Meezan Bank statement"});
    let kept = app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &mine).await;
    assert_eq!(kept.status(), StatusCode::CREATED);
    let mut corrected = mine.clone();
    corrected["rate"] = json!("0.00491");
    assert_eq!(
        app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &corrected).await.status(),
        StatusCode::CREATED
    );
    let (_, rate) = lookup(&app, "from=PKR&to=CAD&date=2025-04-22").await;
    assert_eq!(
        rate,
        json!({"base": "PKR", "quote": "CAD", "date": "2025-04-21", "rate": "0.00491", "source": "Meezan Bank statement"})
    );
    let (_, back) = lookup(&app, "from=CAD&to=PKR&date=2025-04-21").await;
    assert_eq!(back["rate"], "203.665987780041");

    // Bad input names each field; a viewer may look, not keep.
    let bad = json!({"base": "EUR", "quote": "XXX", "date": "2025-02-30", "rate": "1e3", "source": ""});
    let refused = app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = refused.json().await.expect("JSON");
    for field in ["quote", "date", "rate", "source"] {
        assert!(refused["errors"][field].is_string(), "{field}: {refused}");
    }
    assert_eq!(
        app.post_as(&app.viewer_token, "/api/v1/admin/rates", &mine).await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, _) = lookup(&app, "from=SEK&date=2025-04-20").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Listed newest first, one pair or all.
    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/rates?base=EUR&quote=GBP").await;
    let days: Vec<&str> =
        listed["rates"].as_array().expect("rates").iter().filter_map(|rate| rate["date"].as_str()).collect();
    assert_eq!(days, ["2025-04-25", "2025-04-24", "2025-04-23", "2025-04-22", "2025-04-17"]);
    assert_eq!(listed["rates"][4]["rate"], "0.85873");
    let wrong = app.get_as(&app.viewer_token, "/api/v1/admin/rates?base=euro").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The command line says the same.
    let looked = app.cli(&["rates", "lookup", "--from", "SEK", "--to", "GBP", "--date", "2025-04-20"]);
    assert_eq!(
        String::from_utf8_lossy(&looked.stdout).trim(),
        "2025-04-17  1 SEK = 0.077869566006 GBP  (ECB)"
    );
    let listed = app.cli(&["rates", "list", "--base", "PKR"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout)
            .contains("2025-04-21  1 PKR = 0.00491 CAD  (Meezan Bank statement)")
    );
    let refused = app.cli(&[
        "rates",
        "add",
        "--base",
        "EUR",
        "--quote",
        "CAD",
        "--date",
        "2025-04-22",
        "--rate",
        "0",
        "--source",
        "x",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rate"), "{refused:?}");
    let broken = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(broken.path(), "Date,USD\n2025-04-22,one\n").expect("written");
    let refused = app.cli(&["rates", "import", "--ecb", broken.path().to_str().expect("a path")]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("line 2: USD"), "{refused:?}");

    // Audited: the import once per run, each rate a treasurer kept.
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'rate%' ORDER BY id")
            .fetch_all(&mut connection)
            .await
            .expect("the audit log");
    assert_eq!(actions, ["rates.imported", "rates.imported", "rate.kept", "rate.kept"]);
}

async fn gift(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let response = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &body).await;
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

async fn a_gift_in_another_currency_counts_at_its_rate_and_keeps_what_was_given(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    assert!(app.cli(&["rates", "import", "--ecb", ECB_FILE]).status.success());

    // 100 EUR received on Easter Sunday 2025: Thursday's ECB rate, 1 EUR = 1.5773 CAD.
    let euros = json!({"amount": "100.00", "currency": "EUR", "method": "bank_transfer", "received_on": "2025-04-20",
                       "donor_name": "Section de Lyon"});
    let (status, entry) = gift(&app, euros).await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let figures = |entry: &Value| {
        ["amount", "currency", "presented_amount", "presented_currency", "rate", "rate_date", "rate_source"]
            .map(|field| entry[field].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(figures(&entry), ["157.73", "CAD", "100.00", "EUR", "1.5773", "2025-04-17", "ECB"]);
    // 1,000 SEK across the euro (1.5891 CAD and 10.9153 SEK to the euro on 22 April).
    let (_, entry) = gift(
        &app,
        json!({"amount": "1000", "currency": "sek", "method": "cheque", "received_on": "2025-04-22"}),
    )
    .await;
    assert_eq!(figures(&entry), ["145.58", "CAD", "1000.00", "SEK", "0.145584638077", "2025-04-22", "ECB"]);
    // 5,000 PKR at the rate the bank gave.
    let rupees = json!({"amount": "5000", "currency": "PKR", "rate": "0.0049", "method": "bank_transfer", "received_on": "2025-04-22"});
    let (_, entry) = gift(&app, rupees).await;
    assert_eq!(figures(&entry), ["24.50", "CAD", "5000.00", "PKR", "0.0049", "2025-04-22", "given"]);

    // Refused, naming the field: no rate near the day (never 1), a rate without a currency, an
    // unknown currency, a currency in a deposit's row.
    let (status, refused) =
        gift(&app, json!({"amount": "50", "currency": "PKR", "method": "cash", "received_on": "2025-04-22"}))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let said = refused["errors"]["currency"].as_str().unwrap_or_default();
    assert!(said.contains("no PKR to CAD rate for 2025-04-22"), "{refused}");
    let (_, refused) =
        gift(&app, json!({"amount": "50", "rate": "1.2", "method": "cash", "received_on": "2025-04-22"}))
            .await;
    assert!(refused["errors"]["rate"].is_string(), "{refused}");
    let (_, refused) =
        gift(&app, json!({"amount": "50", "currency": "XYZ", "method": "cash", "received_on": "2025-04-22"}))
            .await;
    assert!(
        refused["errors"]["currency"].as_str().is_some_and(|text| text.contains("ISO 4217")),
        "{refused}"
    );
    let deposit = json!({"reference": "Deposit", "deposited_on": "2025-04-22", "declared_count": 1, "declared_total": "10.00",
                         "entries": [{"amount": "10.00", "currency": "EUR", "method": "cash"}]});
    let refused = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &deposit).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = refused.json().await.expect("JSON");
    assert!(refused["errors"]["entries[0].currency"].is_string(), "{refused}");

    // The same wire seen twice is caught by what was given, whatever rate counted it.
    let wire = json!({"amount": "200", "currency": "EUR", "method": "bank_transfer", "received_on": "2025-04-23",
                      "reference": "WIRE-7"});
    assert_eq!(gift(&app, wire.clone()).await.0, StatusCode::CREATED);
    let mut again = wire.clone();
    again["rate"] = json!("1.6");
    let (status, refused) = gift(&app, again).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    // What counts is in the campaign's currency; the export keeps what was given and the rate.
    let progress: Value = app.get("/api/v1/campaigns/office/progress").await.json().await.expect("JSON");
    assert_eq!(progress["raised"], "643.59", "157.73 + 145.58 + 24.50 + 315.78");
    let export =
        app.get_as(&app.treasurer_token, "/api/v1/admin/exports/ledger?format=csv&campaign=office").await;
    let export = export.text().await.expect("CSV");
    let header: Vec<&str> = export.lines().next().expect("a header").split(',').collect();
    let at = |name: &str| header.iter().position(|column| *column == name).expect(name);
    let lyon = export.lines().find(|line| line.contains("Section de Lyon")).expect("the gift");
    let fields: Vec<&str> = lyon.split(',').collect();
    assert_eq!(
        [
            fields[at("gross")],
            fields[at("presented_amount")],
            fields[at("presented_currency")],
            fields[at("rate")],
            fields[at("rate_date")],
            fields[at("rate_source")]
        ],
        ["157.73", "100.00", "EUR", "1.5773", "2025-04-17", "ECB"]
    );
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    // The journals say what was given and the rate, its day and source, and pass the tools.
    let folder = tempfile::tempdir().expect("a folder");
    for (format, file, checker) in
        [("beancount", "ledger.beancount", "bean-check"), ("ledger", "ledger.journal", "hledger")]
    {
        let (status, _, journal) =
            crate::exports::export(&app, &app.treasurer_token, &format!("format={format}")).await;
        assert_eq!(status, StatusCode::OK);
        for line in ["given", "100.00 EUR", "rate", "1.5773", "rate-date", "2025-04-17", "rate-source", "ECB"]
        {
            assert!(journal.contains(line), "{format} says {line}: {journal}");
        }
        let path = folder.path().join(file);
        std::fs::write(&path, &journal).expect("written");
        if let Some(tool) = crate::exports::tool(checker) {
            let path = path.to_str().expect("a path");
            if checker == "hledger" {
                crate::exports::run(&tool, &["-f", path, "check"]);
            } else {
                crate::exports::run(&tool, &[path]);
            }
        }
    }

    // So does the dashboard's form, naming a field it refuses beside it.
    crate::people::add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = crate::people::Visitor::new(&app);
    treasurer.sign_in("tre@example.org", crate::people::PASSWORD).await;
    let (_, page, _) = treasurer.get("/admin/c/office").await;
    assert!(page.contains("Currency, when not CAD"), "{page}");
    let post = |page: &str, currency: &'static str| {
        vec![
            ("csrf", crate::people::Visitor::csrf_in(page)),
            ("form_token", crate::hardening::form_token(page, "record")),
            ("amount", "20".to_owned()),
            ("currency", currency.to_owned()),
            ("method", "cash".to_owned()),
            ("received_on", "2025-04-24".to_owned()),
            // A browser sends the rate's field empty when no one typed in it.
            ("rate", String::new()),
        ]
    };
    let fields = post(&page, "GBP");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(treasurer.post("/admin/c/office/donations", &fields).await.0, StatusCode::SEE_OTHER);
    let (_, page, _) = treasurer.get("/admin/c/office").await;
    let fields = post(&page, "PKR");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (status, refused, _) = treasurer.post("/admin/c/office/donations", &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains("id=\"rec-currency-error\"")
            && refused.contains("no PKR to CAD rate for 2025-04-24"),
        "{refused}"
    );
    // The rates page: a rate kept from its form, and the rate for a day looked up.
    let (_, page, _) = treasurer.get("/admin/rates").await;
    assert!(
        page.contains("<td>1 EUR in CAD</td><td class=\"num\">1.5769</td><td>ECB</td>"),
        "the rates kept"
    );
    let keep = [
        ("csrf", crate::people::Visitor::csrf_in(&page)),
        ("base", "PKR".to_owned()),
        ("quote", "CAD".to_owned()),
        ("date", "2025-04-24".to_owned()),
        ("rate", "0.0049".to_owned()),
        ("source", "Meezan Bank statement".to_owned()),
    ];
    let keep: Vec<(&str, &str)> = keep.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(treasurer.post("/admin/rates", &keep).await.0, StatusCode::SEE_OTHER);
    let (_, page, _) = treasurer.get("/admin/rates?from=PKR&to=CAD&date=2025-04-25").await;
    assert!(
        page.contains("Kept: 1 PKR = 0.0049 CAD on 2025-04-24, from Meezan Bank statement."),
        "the notice"
    );
    assert!(
        page.contains("1 PKR = 0.0049 CAD (the rate of 2025-04-24, Meezan Bank statement)"),
        "the look-up"
    );
    let mut refused = keep.clone();
    refused[4] = ("rate", "-1");
    let (status, page, _) = treasurer.post("/admin/rates", &refused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"rate-rate-error\""), "the refusal beside its field");

    let listed = app.json_as(&app.viewer_token, "/api/v1/admin/donations?campaign=office&limit=1").await;
    // 20 GBP at 1.5769 / 0.855 (the 24th's CAD and GBP to the euro).
    assert_eq!(listed["entries"][0]["presented_amount"], "20.00");
    assert_eq!(listed["entries"][0]["amount"], "36.89");

    // The command line takes the same, and says what it counted.
    let added = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "office",
        "--amount",
        "10",
        "--currency",
        "EUR",
        "--method",
        "cash",
        "--received-on",
        "2025-04-22",
    ]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let said = String::from_utf8_lossy(&added.stdout);
    assert!(
        said.contains("15.89 CAD")
            && said.contains("given as 10.00 EUR, at 1 EUR = 1.5891 CAD (ECB of 2025-04-22)"),
        "{said}"
    );
}

async fn a_supporter_gives_once_in_another_currency_the_campaign_offers(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    // The account settles in CAD; Stripe converts a EUR charge at its own rate.
    app.stripe.settle_in("cad");
    app.stripe.set_rate("eur", "1.47");
    let offered = json!({"checkout_currencies": ["EUR", "gbp"]});
    let changed = app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &offered).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let campaign: Value = app.get("/api/v1/campaigns/office").await.json().await.expect("JSON");
    assert_eq!(campaign["checkout"]["currencies"], json!(["EUR", "GBP"]));
    // Its own currency is not another one; an unknown code is named by its place.
    let bad = json!({"checkout_currencies": ["CAD", "XYZ", "EUR", "EUR"]});
    let refused = problem(
        app.patch_as(&app.admin_token, "/api/v1/admin/campaigns/office", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    for field in ["checkout_currencies[0]", "checkout_currencies[1]", "checkout_currencies[3]"] {
        assert!(refused["errors"][field].is_string(), "{field}: {refused}");
    }

    // The limits in EUR are the campaign's, converted at the kept rate (2.00 CAD is 1.33 EUR).
    let rate = json!({"base": "EUR", "quote": "CAD", "date": chrono::Utc::now().date_naive().to_string(), "rate": "1.50", "source": "Desjardins"});
    assert_eq!(
        app.post_as(&app.treasurer_token, "/api/v1/admin/rates", &rate).await.status(),
        StatusCode::CREATED
    );
    let cases = [
        (json!({"amount": "1.00", "currency": "EUR"}), "amount", "must be at least 1.33"),
        (json!({"amount": "20.00", "currency": "JPY"}), "currency", "must be one of CAD, EUR, GBP"),
        (
            json!({"amount": "20.00", "currency": "EUR", "interval": "month"}),
            "interval",
            "a monthly or yearly gift is in CAD, the campaign's currency",
        ),
    ];
    app.checkouts_refused("office", cases).await;

    // Checkout in EUR; the ledger counts what Stripe settles in CAD, and keeps the EUR.
    let session = app
        .checkout("office", &json!({"amount": "20.00", "currency": "eur", "email": "ana@example.org"}))
        .await;
    assert_eq!(app.stripe.session(&session)["currency"], "eur");
    assert_eq!(app.stripe.session(&session)["amount_total"], 2000);
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    assert_eq!(app.progress("office").await["raised"], "29.40");
    let entries: Value = app.json_as(&app.treasurer_token, "/api/v1/admin/donations?campaign=office").await;
    let entry = &entries["entries"][0];
    assert_eq!(
        (entry["amount"].as_str(), entry["currency"].as_str()),
        (Some("29.40"), Some("CAD")),
        "{entry}"
    );
    assert_eq!(
        (entry["presented_amount"].as_str(), entry["presented_currency"].as_str()),
        (Some("20.00"), Some("EUR")),
        "{entry}"
    );
    let checked = app.cli(&["check"]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));

    // Without a script, the 50 button with EUR chosen gives that button in EUR: 50 CAD at the
    // kept rate (1 EUR = 1.50 CAD) is 33.33, made a friendly 35.00.
    let posted = app
        .form_post(
            "/c/office/give",
            &[("lang", "en"), ("preset", "50"), ("interval", "once"), ("currency", "EUR")],
        )
        .await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let location = posted.headers()["location"].to_str().expect("a location").to_owned();
    let session = location.rsplit('/').next().expect("a session id");
    assert_eq!(
        (
            app.stripe.session(session)["amount_total"].as_i64(),
            app.stripe.session(session)["currency"].as_str()
        ),
        (Some(3500), Some("eur"))
    );
    // A currency without a kept rate near today is not offered, nor taken.
    let gbp = app
        .client
        .post(app.url("/api/v1/campaigns/office/checkout"))
        .json(&json!({"amount": "20.00", "currency": "GBP"}))
        .send()
        .await
        .expect("answer");
    let gbp = problem(gbp, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        gbp["errors"]["currency"].as_str().is_some_and(|text| text.contains("no CAD to GBP rate")),
        "{gbp}"
    );

    // The form offers the currencies that have a rate, the campaign's first.
    let page = app.get("/c/office").await.text().await.expect("a page");
    assert!(
        page.contains(
            "<option value=\"CAD\" selected>CAD</option><option value=\"EUR\">EUR</option>\n      </select>"
        ),
        "the form's choice"
    );
    assert!(
        page.contains(
            "&quot;presets&quot;:[&quot;15.00&quot;,&quot;35.00&quot;,&quot;70.00&quot;,&quot;170.00&quot;]"
        ),
        "the buttons in EUR"
    );
}
