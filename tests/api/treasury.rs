//! The treasury for daily use: deposits and gifts that cannot be entered twice by mistake,
//! and a deposit reversed whole.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::hardening::form_token;
use crate::helpers::{Engine, Options, TestApp, on_both_engines, problem, spawn_app, spawn_app_with};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    a_deposit_posted_twice_is_refused_unless_confirmed,
    a_gift_with_the_same_reference_amount_and_date_asks_first,
    a_deposit_is_reversed_whole_with_one_reason,
    any_entry_is_found_by_search_and_paging,
    a_partial_reversal_shows_its_reason_in_the_dashboard_and_exports,
    sign_ins_are_audited_and_an_office_is_not_locked_out,
    admins_are_told_what_a_first_install_has_left_to_set,
    a_browser_gets_pages_and_a_program_gets_problems_on_the_same_url,
    admins_create_edit_and_delete_campaigns_in_the_dashboard,
    admins_invite_disable_and_reset_people_and_manage_tokens,
    staff_control_what_the_public_wall_shows,
    messages_wait_for_approval_when_held,
    a_branch_treasurer_sees_their_branch_first_and_is_told_so,
    a_form_sent_after_the_session_ended_is_kept_and_completed,
    refused_forms_speak_in_labels_beside_their_fields,
    subscription_buttons_say_what_they_do,
    a_closed_campaign_is_archived_out_of_the_lists,
    a_refund_says_why_at_stripe_and_in_the_ledger,
    look_alikes_sent_at_once_land_once,
);

fn deposit(reference: &str, deposited_on: &str, total: &str) -> Value {
    json!({
        "reference": reference, "deposited_on": deposited_on, "declared_count": 1,
        "declared_total": total, "entries": [{"amount": total, "method": "cheque"}]
    })
}

/// A treasurer signed in to the dashboard, and the page of the campaign "office".
async fn treasurer_on_the_office_page(app: &TestApp) -> (Visitor<'_>, String) {
    add_user(app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    (visitor, page)
}

async fn ledger_size(app: &TestApp) -> usize {
    let listed = app.json_as(&app.admin_token, "/api/v1/admin/donations?campaign=office&limit=500").await;
    listed["entries"].as_array().map_or(0, Vec::len)
}

async fn a_deposit_posted_twice_is_refused_unless_confirmed(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let path = "/api/v1/admin/campaigns/office/batches";
    let first = app.post_as(&app.treasurer_token, path, &deposit("Slip 9", "2026-11-02", "15.00")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("JSON");
    let first_id = first["batch"].as_i64().or_else(|| first["id"].as_i64()).expect("a batch id");

    // The same slip again, and another slip with the same date and total.
    for body in [deposit(" slip 9 ", "2026-11-05", "20.00"), deposit("Slip 10", "2026-11-02", "15.00")] {
        let refused =
            problem(app.post_as(&app.treasurer_token, path, &body).await, StatusCode::CONFLICT).await;
        let message = refused["errors"]["reference"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains(&format!("deposit #{first_id}")) && message.contains("allow_duplicate"),
            "{refused}"
        );
    }
    assert_eq!(ledger_size(&app).await, 1, "nothing more was posted");

    let mut confirmed = deposit("Slip 10", "2026-11-02", "15.00");
    confirmed["allow_duplicate"] = json!(true);
    assert_eq!(app.post_as(&app.treasurer_token, path, &confirmed).await.status(), StatusCode::CREATED);

    // The CSV import and the command line ask the same.
    let csv = |query: &str| {
        app.client
            .post(app.url(&format!(
                "{path}/import?reference=Slip%2010&deposited_on=2026-11-09&declared_count=1&declared_total=7{query}"
            )))
            .bearer_auth(&app.treasurer_token)
            .header("content-type", "text/csv")
            .body("amount,method\n7,cash\n")
            .send()
    };
    problem(csv("").await.expect("answer"), StatusCode::CONFLICT).await;
    assert_eq!(csv("&allow_duplicate=true").await.expect("answer").status(), StatusCode::CREATED);
    let file = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(file.path(), "amount,method\n15,cheque\n").expect("written");
    let file = file.path().to_str().expect("UTF-8").to_owned();
    let args = [
        "batch",
        "import",
        "--campaign",
        "office",
        "--file",
        &file,
        "--reference",
        "Slip 9",
        "--deposited-on",
        "2026-11-10",
        "--count",
        "1",
        "--total",
        "15",
    ];
    let refused = app.cli(&args);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("deposit #{first_id}")));
    let mut allowed = args.to_vec();
    allowed.push("--allow-duplicate");
    let posted = app.cli(&allowed);
    assert!(posted.status.success(), "{}", String::from_utf8_lossy(&posted.stderr));

    // The dashboard shows the earlier deposit and asks to confirm.
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    let fields = |token: String, confirm: bool| {
        let mut fields = vec![
            ("csrf", Visitor::csrf_in(&page)),
            ("form_token", token),
            ("action", "post".to_owned()),
            ("reference", "Slip 9".to_owned()),
            ("deposited_on", "2026-11-11".to_owned()),
            ("declared_count", "1".to_owned()),
            ("declared_total", "3".to_owned()),
            ("csv", "amount,method\n3,cash".to_owned()),
        ];
        if confirm {
            fields.push(("allow_duplicate", "1".to_owned()));
        }
        fields
    };
    let asked = fields(form_token(&page, "deposit"), false);
    let asked: Vec<(&str, &str)> = asked.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (status, shown, _) = visitor.post("/admin/c/office/batches", &asked).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        shown.contains(&format!("deposit #{first_id}")) && shown.contains(r#"name="allow_duplicate""#),
        "a confirm step"
    );
    assert!(shown.contains("Slip 9") && shown.contains("amount,method"), "what was typed is kept");
    let before = ledger_size(&app).await;
    let token = form_token(&shown, "deposit");
    let confirmed = fields(token, true);
    let confirmed: Vec<(&str, &str)> =
        confirmed.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(visitor.post("/admin/c/office/batches", &confirmed).await.0, StatusCode::SEE_OTHER);
    assert_eq!(ledger_size(&app).await, before + 1);
}

async fn a_gift_with_the_same_reference_amount_and_date_asks_first(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let path = "/api/v1/admin/campaigns/office/donations";
    let gift = json!({"amount": "20.00", "method": "cheque", "received_on": "2026-11-01", "reference": "Cheque 118"});
    let first = app.post_as(&app.treasurer_token, path, &gift).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("JSON");
    let refused = problem(app.post_as(&app.treasurer_token, path, &gift).await, StatusCode::CONFLICT).await;
    let message = refused["errors"]["reference"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("entry #{}", first["id"])), "{refused}");
    let mut confirmed = gift.clone();
    confirmed["allow_duplicate"] = json!(true);
    assert_eq!(app.post_as(&app.treasurer_token, path, &confirmed).await.status(), StatusCode::CREATED);
    // Without a reference, two equal gifts on one day are usual: both are taken.
    let cash = json!({"amount": "20.00", "method": "cash", "received_on": "2026-11-01"});
    for _ in 0..2 {
        assert_eq!(app.post_as(&app.treasurer_token, path, &cash).await.status(), StatusCode::CREATED);
    }
    let refused = app.cli(&[
        "donation",
        "add",
        "--campaign",
        "office",
        "--amount",
        "20",
        "--method",
        "cheque",
        "--received-on",
        "2026-11-01",
        "--reference",
        "Cheque 118",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stderr));
    assert_eq!(ledger_size(&app).await, 4);
}

async fn a_deposit_is_reversed_whole_with_one_reason(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let body = json!({
        "reference": "Slip 12", "deposited_on": "2026-11-02", "declared_count": 3, "declared_total": "60.00",
        "entries": [
            {"amount": "10.00", "method": "cheque"},
            {"amount": "20.00", "method": "cheque", "branch": "montreal"},
            {"amount": "30.00", "method": "cash"}
        ]
    });
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &body).await;
    let posted: Value = posted.json().await.expect("JSON");
    let batch = posted["batch"].as_i64().or_else(|| posted["id"].as_i64()).expect("a batch id");
    let first = posted["entries"][0]["id"].as_i64().expect("an entry");
    let partial = app
        .post_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/donations/{first}/reversals"),
            &json!({"reason": "short", "amount": "4.00"}),
        )
        .await;
    assert_eq!(partial.status(), StatusCode::CREATED);
    assert_eq!(app.progress("office").await["raised"], "56.00");

    let path = format!("/api/v1/admin/batches/{batch}/reversals");
    let missing =
        problem(app.post_as(&app.treasurer_token, &path, &json!({})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert!(missing["errors"]["reason"].is_string(), "{missing}");
    problem(app.post_as(&app.viewer_token, &path, &json!({"reason": "x"})).await, StatusCode::FORBIDDEN)
        .await;

    let reversed = app.post_as(&app.treasurer_token, &path, &json!({"reason": "the deposit bounced"})).await;
    assert_eq!(reversed.status(), StatusCode::CREATED);
    let reversed: Value = reversed.json().await.expect("JSON");
    let amounts: Vec<&str> = reversed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["amount"].as_str())
        .collect();
    assert_eq!(amounts, ["-6.00", "-20.00", "-30.00"], "what was left of each");
    assert!(
        reversed["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|entry| entry["reason"] == "the deposit bounced")
    );
    assert_eq!(app.progress("office").await["raised"], "0.00");
    let again = problem(
        app.post_as(&app.treasurer_token, &path, &json!({"reason": "again"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(again["errors"]["batch"].as_str().is_some_and(|message| message.contains("already")), "{again}");
    problem(
        app.post_as(&app.treasurer_token, "/api/v1/admin/batches/999/reversals", &json!({"reason": "x"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The dashboard lists deposits, and reverses one with a reason.
    let second = app
        .post_as(
            &app.treasurer_token,
            "/api/v1/admin/campaigns/office/batches",
            &deposit("Slip 13", "2026-11-03", "25.00"),
        )
        .await;
    let second = second.json::<Value>().await.expect("JSON")["batch"].as_i64().expect("a batch id");
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(
        page.contains("Slip 12") && page.contains("Slip 13") && page.contains("Reverse this deposit"),
        "deposits are listed"
    );
    let fields = [
        ("csrf", Visitor::csrf_in(&page)),
        ("form_token", form_token(&page, &format!("reverse-deposit-{second}"))),
        ("campaign", "office".to_owned()),
        ("reason", "entered in the wrong campaign".to_owned()),
        ("kind", "adjustment".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(
        visitor.post(&format!("/admin/batches/{second}/reverse"), &fields).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.progress("office").await["raised"], "0.00");
    let check = app.cli(&["check"]);
    assert!(check.status.success());
}

async fn any_entry_is_found_by_search_and_paging(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let path = "/api/v1/admin/campaigns/office/donations";
    let special = json!({
        "amount": "123.45", "method": "cheque", "received_on": "2026-10-03", "donor_name": "Zoë Tremblay",
        "donor_email": "zoe@example.org", "reference": "Cheque 4471", "branch": "quebec"
    });
    let special =
        app.post_as(&app.treasurer_token, path, &special).await.json::<Value>().await.expect("JSON");
    let special_id = special["id"].as_i64().expect("an id");
    for n in 0..60 {
        let gift = json!({
            "amount": format!("{}.00", 10 + n), "method": if n % 2 == 0 { "cash" } else { "etransfer" },
            "received_on": format!("2026-11-{:02}", 1 + n % 28), "donor_name": format!("Donor {n}"),
            "reference": format!("R-{n}"), "branch": "montreal"
        });
        assert_eq!(app.post_as(&app.treasurer_token, path, &gift).await.status(), StatusCode::CREATED);
    }
    let ids = |entries: &[Value]| entries.iter().filter_map(|entry| entry["id"].as_i64()).collect::<Vec<_>>();
    for query in [
        "q=tremblay",
        "q=ZOE%40EXAMPLE",
        "q=4471",
        "q=123.45",
        "from=2026-10-01&to=2026-10-05",
        "method=cheque",
        "branch=quebec",
    ] {
        assert_eq!(ids(&find(&app, &app.treasurer_token, query).await), [special_id], "{query}");
    }
    assert_eq!(
        ids(&find(&app, &app.treasurer_token, "q=%23{}".replace("{}", &special_id.to_string()).leak()).await),
        [special_id],
        "by entry number"
    );
    assert_eq!(find(&app, &app.treasurer_token, "kind=donation&limit=500").await.len(), 61);
    assert_eq!(find(&app, &app.treasurer_token, "method=cash&limit=500").await.len(), 30);

    // Page back to the oldest entry, 25 at a time, as the dashboard and `next_before` do.
    let mut before: Option<i64> = None;
    let mut seen = Vec::new();
    loop {
        let query = match before {
            Some(id) => format!("/api/v1/admin/donations?campaign=office&limit=25&before={id}"),
            None => "/api/v1/admin/donations?campaign=office&limit=25".to_owned(),
        };
        let page = app.json_as(&app.treasurer_token, &query).await;
        seen.extend(ids(page["entries"].as_array().expect("entries")));
        match page["next_before"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 61);
    assert_eq!(seen.last(), Some(&special_id));

    // A viewer cannot find donors by name, which they may not see; a reference they can.
    assert_eq!(find(&app, &app.viewer_token, "q=tremblay").await.len(), 0);
    let by_reference = find(&app, &app.viewer_token, "q=4471").await;
    assert_eq!(by_reference[0]["donor_name"], Value::Null);

    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("kind=gift", "kind"),
        ("limit=0", "limit"),
        ("campaign=nowhere", "campaign"),
    ] {
        let response = app.get_as(&app.treasurer_token, &format!("/api/v1/admin/donations?{query}")).await;
        let refused = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(refused["errors"][field].is_string(), "{query}: {refused}");
    }

    let listed = app.cli(&["donation", "list", "--campaign", "office", "--q", "tremblay"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("123.45") && listed.contains("Zoë Tremblay") && listed.contains("Cheque 4471"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 2, "a header and one entry: {listed}");

    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (status, page, _) = visitor.get("/admin/c/office/entries?q=tremblay").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Cheque 4471") && !page.contains("Donor 7"), "the search narrows the list");
    let (_, first, _) = visitor.get("/admin/c/office/entries").await;
    let first = first.replace("&#x2f;", "/").replace("&amp;", "&");
    let older = first
        .split("href=\"")
        .find(|rest| rest.starts_with("/admin/c/office/entries?") && rest.contains("before="))
        .expect("an older page");
    let older = older.split('"').next().expect("a link").replace("&amp;", "&");
    let (status, second, _) = visitor.get(&older).await;
    assert_eq!(status, StatusCode::OK);
    assert!(second.contains("Donor 0") || second.contains("R-0"), "the older page");
    let (status, refused, _) = visitor.get("/admin/c/office/entries?from=2026-13-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains("From") && refused.contains("2026-13-01"),
        "the message names the field by its label and keeps what was typed"
    );
}

async fn find(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let listed = app.json_as(token, &format!("/api/v1/admin/donations?campaign=office&{query}")).await;
    listed["entries"].as_array().cloned().unwrap_or_default()
}

async fn a_partial_reversal_shows_its_reason_in_the_dashboard_and_exports(engine: Engine) {
    use crate::exports::{export, run, tool};
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let mut body = deposit("Slip 21", "2026-11-02", "50.00");
    body["entries"][0]["donor_name"] = json!("Ana");
    let posted = app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &body).await;
    let gift = posted.json::<Value>().await.expect("JSON")["entries"][0]["id"].as_i64().expect("an entry");
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let reverse = |page: &str, amount: &str| {
        vec![
            ("csrf", Visitor::csrf_in(page)),
            ("form_token", form_token(page, &format!("reverse-{gift}"))),
            ("campaign", "office".to_owned()),
            ("amount", amount.to_owned()),
            ("reason", "cheque bounced".to_owned()),
            ("kind", "refund".to_owned()),
        ]
    };
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(
        page.contains(&format!(
            r#"id="reverse-amount-{gift}" name="amount" inputmode="decimal" value="50.00""#
        )),
        "the amount is all that is left"
    );
    let fields = reverse(&page, "20.00");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(
        visitor.post(&format!("/admin/entries/{gift}/reverse"), &fields).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, page, _) = visitor.get("/admin/c/office").await;
    let reversal = gift + 1;
    assert!(page.contains(&format!("reverses #{gift}: cheque bounced")), "the reversal says what and why");
    assert!(
        page.contains(&format!("Already reversed in part by #{reversal}"))
            && page.contains(r#"value="30.00""#),
        "30.00 is left"
    );
    let fields = reverse(&page, "30.00");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(
        visitor.post(&format!("/admin/entries/{gift}/reverse"), &fields).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(
        page.contains(&format!("reversed by #{reversal}, #{}", reversal + 1)),
        "no buttons on a fully reversed gift"
    );

    let (_, _, csv) = export(&app, &app.treasurer_token, "format=csv&campaign=office").await;
    let mut lines = csv.lines();
    assert!(
        lines.next().expect("a header").ends_with(",reason,batch_reference,ref,rate,rate_date,rate_source")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows[0].starts_with(&format!("{gift},")) && rows[0].ends_with(",,Slip 21,,,,"), "{csv}");
    assert!(
        rows[1].contains(&format!(",{gift},")) && rows[1].ends_with(",cheque bounced,Slip 21,,,,"),
        "{csv}"
    );

    let folder = tempfile::tempdir().expect("a folder");
    let (_, _, beancount) = export(&app, &app.treasurer_token, "format=beancount&campaign=office").await;
    for needed in [
        format!("reverses: \"{gift}\""),
        "reason: \"cheque bounced\"".to_owned(),
        "deposit: \"Slip 21\"".to_owned(),
    ] {
        assert!(beancount.contains(&needed), "{needed} in {beancount}");
    }
    let file = folder.path().join("office.beancount");
    std::fs::write(&file, &beancount).expect("written");
    if let Some(bean_check) = tool("bean-check") {
        run(&bean_check, &[&file.display().to_string()]);
    }
    let (_, _, journal) = export(&app, &app.treasurer_token, "format=ledger&campaign=office").await;
    assert!(
        journal.contains("; reason: cheque bounced") && journal.contains("; deposit: Slip 21"),
        "{journal}"
    );
    let file = folder.path().join("office.journal");
    std::fs::write(&file, &journal).expect("written");
    if let Some(hledger) = tool("hledger") {
        run(&hledger, &["-f", &file.display().to_string(), "check", "accounts", "commodities"]);
    }
}

async fn sign_ins_are_audited_and_an_office_is_not_locked_out(engine: Engine) {
    let app = spawn_app(engine).await;
    add_user(&app, "tre@example.org", "treasurer", None);
    add_user(&app, "admin@example.org", "admin", None);
    // A whole office behind one address signs in all day.
    for _ in 0..20 {
        assert_eq!(Visitor::new(&app).sign_in("tre@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        Visitor::new(&app).sign_in("tre@example.org", "wrong password").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(Visitor::new(&app).sign_in("tre@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    // Someone guesses at an account.
    for _ in 0..5 {
        assert_eq!(Visitor::new(&app).sign_in("ghost@example.org", "guess").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(Visitor::new(&app).sign_in("ghost@example.org", "guess").await, StatusCode::TOO_MANY_REQUESTS);

    let mut admin = Visitor::new(&app);
    assert_eq!(admin.sign_in("admin@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    let (_, failed, _) = admin.get("/admin/audit?action=user.sign_in_failed").await;
    assert!(
        failed.contains("user:ghost@example.org")
            && failed.contains("visitor")
            && failed.contains("127.0.0.1")
    );
    assert_eq!(
        failed.matches("<td>user.sign_in_failed</td>").count(),
        6,
        "five guesses and one wrong password"
    );
    let (_, throttled, _) = admin.get("/admin/audit?action=user.sign_in_throttled").await;
    assert!(throttled.contains("user:ghost@example.org"), "the throttled attempt is recorded");
    let (_, hidden, _) = admin.get("/admin/audit?sign_ins=hidden").await;
    assert!(
        !hidden.contains("<td>user.sign_in") && hidden.contains("<td>user.add</td>"),
        "sign-ins set apart"
    );
    let (_, only, _) = admin.get("/admin/audit?sign_ins=only").await;
    assert!(only.contains("<td>user.sign_in</td>") && !only.contains("<td>user.add</td>"));
    let (_, person, _) = admin.get("/admin/audit?person=tre%40example&sign_ins=hidden").await;
    assert!(
        person.contains("user:tre@example.org") && !person.contains("user:admin@example.org"),
        "one person's lines"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, dated, _) = admin.get(&format!("/admin/audit?from={today}&to={today}")).await;
    assert!(
        dated.contains("<td>user.add</td>") && dated.contains(" UTC</td>"),
        "times in the organization's zone"
    );
    let (_, long_ago, _) = admin.get("/admin/audit?from=2000-01-01&to=2000-01-02").await;
    assert!(!long_ago.contains("<td>user.add</td>"));
    let (status, refused, _) = admin.get("/admin/audit?from=2026-13-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("<strong>From</strong>") && refused.contains("2026-13-01"));
    let (_, csv, _) = admin.get("/admin/audit?format=csv&action=user.sign_in_failed").await;
    assert_eq!(csv.lines().count(), 7, "a header and six lines: {csv}");
}

async fn admins_are_told_what_a_first_install_has_left_to_set(engine: Engine) {
    let unset = vec![("APPEAL_MAIL_FROM", String::new()), ("SMTP_URL", String::new())];
    let options = Options { vars: unset.clone(), demo: true, ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    // `serve --demo` says so to anyone who opens it, in their language.
    let home = app.get("/?lang=en").await.text().await.expect("a page");
    assert!(
        home.contains("A demonstration: this site does not take real gifts yet.")
            && home.contains("No mail server is set (SMTP_URL)")
            && home.contains("placeholder sender (APPEAL_MAIL_FROM)"),
        "{home}"
    );
    let page = app.get("/c/office?lang=fr").await.text().await.expect("a page");
    assert!(page.contains("Une démonstration") && page.contains("(SMTP_URL)"), "{page}");
    let quiet = spawn_app_with(engine, Options { vars: unset, ..Options::default() }).await;
    let home = quiet.get("/").await.text().await.expect("a page");
    assert!(!home.contains("demonstration"), "only the demo says it to the public");

    add_user(&app, "admin@example.org", "admin", None);
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (_, home, _) = admin.get("/admin").await;
    assert!(home.contains("Before going live") && home.contains("APPEAL_MAIL_FROM"), "{home}");
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    assert!(!treasurer.get("/admin").await.1.contains("Before going live"), "for admins, who can act on it");
}

async fn a_browser_gets_pages_and_a_program_gets_problems_on_the_same_url(engine: Engine) {
    let app = spawn_app_with(engine, Options { without_stripe: true, ..Options::default() }).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let ask = |path: &str, accept: &str, language: &str| {
        app.client
            .get(app.url(path))
            .header("accept", accept)
            .header("accept-language", language)
            .header("cookie", visitor.cookie_header())
    };
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (path, status, english) in [
        ("/admin/c/nowhere", StatusCode::NOT_FOUND, "There is nothing here"),
        ("/admin/audit", StatusCode::FORBIDDEN, "You may not do that"),
        ("/admin/c/office/entries?kind=gift", StatusCode::UNPROCESSABLE_ENTITY, "Entries"),
    ] {
        let page = ask(path, browser, "en").send().await.expect("answer");
        assert_eq!(page.status(), status, "{path}");
        assert!(page.headers()["content-type"].to_str().expect("ASCII").starts_with("text/html"), "{path}");
        let html = page.text().await.expect("text");
        assert!(html.contains(english), "{path}: {html}");
        let program = ask(path, "application/json", "en").send().await.expect("answer");
        assert_eq!(program.status(), status);
        if status != StatusCode::UNPROCESSABLE_ENTITY {
            problem(program, status).await;
        }
    }
    let french = ask("/admin/c/nowhere", browser, "fr-CA,fr;q=0.9").send().await.expect("answer");
    let html = french.text().await.expect("text");
    assert!(
        html.contains("Il n’y a rien ici")
            && html.contains("Retour au tableau de bord")
            && html.contains(r#"href="&#x2f;admin""#),
        "{html}"
    );

    // A public write the server cannot do (no Stripe here), and a look-alike deposit.
    let checkout = app
        .client
        .post(app.url("/api/v1/campaigns/office/checkout"))
        .header("accept", browser)
        .json(&json!({"amount": "25"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(checkout.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = checkout.text().await.expect("text");
    assert!(
        html.contains("Something went wrong on our side") && html.contains("Back to the campaigns"),
        "{html}"
    );
    let french = app
        .client
        .post(app.url("/api/v1/campaigns/office/checkout"))
        .header("accept", browser)
        .header("accept-language", "fr")
        .json(&json!({"amount": "25"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(french.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = french.text().await.expect("text");
    assert!(
        html.contains("Un problème est survenu de notre côté")
            && html.contains("Rien n’a été perdu")
            && html.contains("Retour aux campagnes"),
        "{html}"
    );
    assert!(
        !html.contains("Stripe is not configured") && !html.contains("online giving"),
        "no English: {html}"
    );
    let path = "/api/v1/admin/campaigns/office/batches";
    assert_eq!(
        app.post_as(&app.treasurer_token, path, &deposit("Slip 1", "2026-11-02", "5.00")).await.status(),
        StatusCode::CREATED
    );
    let again = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.treasurer_token)
        .header("accept", browser)
        .json(&deposit("Slip 1", "2026-11-02", "5.00"))
        .send()
        .await
        .expect("answer");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let html = again.text().await.expect("text");
    assert!(
        html.contains("That conflicts with what is already recorded")
            && html.contains("<strong>reference</strong>"),
        "{html}"
    );
    let program = app.post_as(&app.treasurer_token, path, &deposit("Slip 1", "2026-11-02", "5.00")).await;
    problem(program, StatusCode::CONFLICT).await;
}

async fn admins_create_edit_and_delete_campaigns_in_the_dashboard(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "admin@example.org", "admin", None);
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (status, page, _) = admin.get("/admin/campaigns/new").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = Visitor::csrf_in(&page);
    let fields = |goal: &str, branches: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("title_en", "Winter drive".to_owned()),
            ("title_fr", "Campagne d'hiver".to_owned()),
            ("slug", "winter".to_owned()),
            ("description_en", "Heating for the hall.".to_owned()),
            ("goal", goal.to_owned()),
            ("currency", "CAD".to_owned()),
            ("starts_at", "2026-11-01T09:00".to_owned()),
            ("ends_at", "".to_owned()),
            ("status", "active".to_owned()),
            ("branches", branches.to_owned()),
            ("checkout_min", "5.00".to_owned()),
            ("fee_percent", "2.9".to_owned()),
            ("fee_fixed", "0.30".to_owned()),
        ]
    };
    let refused = fields("lots", "north\nsouth:South");
    let refused: Vec<(&str, &str)> = refused.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (status, page, _) = admin.post("/admin/campaigns", &refused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Branches, line 1") && page.contains("must be written slug:name"),
        "labels, not keys: {page}"
    );
    assert!(
        page.contains(r#"value="Winter drive""#) && page.contains("north\nsouth:South"),
        "what was typed is kept"
    );
    let good = fields("25000", "north:North:10000\nsouth:South");
    let good: Vec<(&str, &str)> = good.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (status, _, headers) = admin.post("/admin/campaigns", &good).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/admin/c/winter");
    let (_, page, _) = admin.get("/admin/c/winter").await;
    assert!(page.contains("Created the campaign") && page.contains("Edit the campaign"));
    let created = app.json_as(&app.admin_token, "/api/v1/admin/campaigns").await;
    let winter = created["campaigns"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["slug"] == "winter"))
        .cloned()
        .expect("created");
    assert_eq!(
        (winter["goal"].as_str(), winter["starts_at"].as_str()),
        (Some("25000.00"), Some("2026-11-01T09:00:00Z")),
        "{winter}"
    );

    let (status, page, _) = admin.get("/admin/c/winter/edit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("north:North:10000.00") && page.contains(r#"value="2026-11-01T09:00""#),
        "the form holds the campaign"
    );
    let mut edit = fields("30000", "north:North:10000\nsouth:South:5000");
    edit.push(("ends_at", "2026-12-31T23:59".to_owned()));
    edit.retain(|(name, value)| *name != "ends_at" || !value.is_empty());
    let edit: Vec<(&str, &str)> = edit.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(admin.post("/admin/c/winter/edit", &edit).await.0, StatusCode::SEE_OTHER);
    let progress = app.progress("winter").await;
    assert_eq!(progress["goal"], "30000.00");

    // Stretch goals and a donor goal, typed on the same form; a wrong one is named beside it.
    let mut ladder = fields("30000", "north:North:10000\nsouth:South:5000");
    ladder.retain(|(name, _)| *name != "ends_at");
    ladder.push(("stretch_goals", "35000, 40000".to_owned()));
    ladder.push(("donor_goal", "300".to_owned()));
    let ladder_form: Vec<(&str, &str)> = ladder.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(admin.post("/admin/c/winter/edit", &ladder_form).await.0, StatusCode::SEE_OTHER);
    let progress = app.progress("winter").await;
    assert_eq!(progress["goals"].as_array().map(Vec::len), Some(3), "{progress}");
    assert_eq!(progress["donor_goal"], 300);
    let (_, page, _) = admin.get("/admin/c/winter/edit").await;
    assert!(page.contains(r#"value="35000.00, 40000.00""#), "the form holds the ladder");
    ladder.retain(|(name, _)| *name != "stretch_goals");
    ladder.push(("stretch_goals", "20000".to_owned()));
    let ladder_form: Vec<(&str, &str)> = ladder.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (status, page, _) = admin.post("/admin/c/winter/edit", &ladder_form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(r#"id="campaign-stretch_goals-error""#) && page.contains("above the goal before it"),
        "{page}"
    );

    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    assert_eq!(treasurer.get("/admin/campaigns/new").await.0, StatusCode::FORBIDDEN);
    assert_eq!(treasurer.post("/admin/c/winter/edit", &edit).await.0, StatusCode::FORBIDDEN);

    // A campaign that took money is closed, not deleted; an empty one goes.
    app.give("office", "10.00", None).await;
    let (_, page, _) = admin.get("/admin/c/office/edit").await;
    let csrf = Visitor::csrf_in(&page);
    let (status, page, _) =
        admin.post("/admin/c/office/delete", &[("csrf", csrf.as_str()), ("confirm", "office")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("holds ledger entries"), "{page}");
    let (status, _, _) =
        admin.post("/admin/c/winter/delete", &[("csrf", csrf.as_str()), ("confirm", "wrong")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, headers) =
        admin.post("/admin/c/winter/delete", &[("csrf", csrf.as_str()), ("confirm", "winter")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/admin");
    assert!(admin.get("/admin").await.1.contains("Deleted the campaign winter"));
    assert_eq!(app.get("/api/v1/campaigns/winter/progress").await.status(), StatusCode::NOT_FOUND);

    // The command line: change a campaign, and remove the demo with its example gifts.
    let updated =
        app.cli(&["campaign", "update", "--slug", "office", "--goal", "150000", "--status", "closed"]);
    assert!(updated.status.success(), "{}", String::from_utf8_lossy(&updated.stderr));
    assert_eq!(app.progress("office").await["goal"], "150000.00");
    let store = appeal::store::Store::connect(&app.db.url).await.expect("the store");
    assert!(appeal::demo::seed(&store).await.expect("seeded"));
    store.close().await;
    let deleted = app.cli(&["campaign", "delete", "--slug", "demo"]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    let kept = app.cli(&["campaign", "delete", "--slug", "office"]);
    assert_eq!(kept.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&kept.stderr).contains("holds ledger entries"));
    let check = app.cli(&["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

/// The link a page shows once: `/admin/welcome/<token>`.
fn welcome_link(page: &str) -> String {
    let page = page.replace("&#x2f;", "/");
    let at = page.find("/admin/welcome/").expect("a link");
    page[at..].split('<').next().expect("a link").to_owned()
}

async fn admins_invite_disable_and_reset_people_and_manage_tokens(engine: Engine) {
    let app = spawn_app(engine).await;
    add_user(&app, "admin@example.org", "admin", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (status, page, _) = admin.get("/admin/people").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("admin@example.org (you)"));
    let csrf = Visitor::csrf_in(&page);

    // A bad address is named by the form's label, beside the field, and kept.
    let bad = [("csrf", csrf.as_str()), ("email", "not-an-address"), ("role", "treasurer")];
    let (status, page, _) = admin.post("/admin/people/invite", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(r##"<a href="#invite-email"><strong>E-mail</strong></a>"##)
            && page.contains(r#"<span class="field-error" id="invite-email-error">E-mail "#)
            && page.contains(r#"value="not-an-address""#),
        "{page}"
    );

    // An invitation: a link shown once and e-mailed, that sets a password once.
    let invite = [
        ("csrf", csrf.as_str()),
        ("email", "new@example.org"),
        ("role", "treasurer"),
        ("branch", "montreal"),
    ];
    let (status, page, _) = admin.post("/admin/people/invite", &invite).await;
    assert_eq!(status, StatusCode::OK);
    let link = welcome_link(&page);
    let mail = app.smtp.wait_for(1).await;
    let body = crate::fake_smtp::body_text(&mail[0]);
    assert!(mail[0].contains("To: new@example.org") && body.contains(&link), "{link} in {body}");
    assert_eq!(
        Visitor::new(&app).sign_in("new@example.org", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "no password yet"
    );
    let mut newcomer = Visitor::new(&app);
    let (status, page, _) = newcomer.get(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Choose your password") && page.contains("new@example.org"));
    let (status, page, _) =
        newcomer.post(&link, &[("password", PASSWORD), ("confirm", "something else")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The confirmation differs"));
    let (status, page, _) = newcomer.post(&link, &[("password", PASSWORD), ("confirm", PASSWORD)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your password is set"));
    assert_eq!(newcomer.sign_in("new@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    assert_eq!(Visitor::new(&app).get(&link).await.0, StatusCode::NOT_FOUND, "a link works once");

    // Disable and enable; an admin cannot lock themselves out.
    let (_, page, _) = admin.get("/admin/people").await;
    let id_of = |page: &str, email: &str| {
        let row = page.split("<tr><td>").skip(1).find(|row| row.contains(email)).expect("a row").to_owned();
        let row = row.replace("&#x2f;", "/");
        let at = row.find("/admin/people/").expect("a form") + "/admin/people/".len();
        row[at..].split('/').next().expect("an id").to_owned()
    };
    let newcomer_id = id_of(&page, "new@example.org");
    let admin_id = id_of(&page.replace("(you)", ""), "admin@example.org");
    let (status, _, _) =
        admin.post(&format!("/admin/people/{newcomer_id}/disable"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(newcomer.get("/admin").await.0, StatusCode::SEE_OTHER, "their session ended");
    assert_eq!(Visitor::new(&app).sign_in("new@example.org", PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert!(admin.get("/admin/people").await.1.contains("is disabled; their sessions have ended"));
    assert_eq!(
        admin.post(&format!("/admin/people/{newcomer_id}/enable"), &[("csrf", csrf.as_str())]).await.0,
        StatusCode::SEE_OTHER
    );
    let (status, _, _) =
        admin.post(&format!("/admin/people/{admin_id}/disable"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A password reset: the old password works until the link is used.
    let (status, page, _) =
        admin.post(&format!("/admin/people/{newcomer_id}/reset"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::OK);
    let reset = welcome_link(&page);
    let mut before = Visitor::new(&app);
    assert_eq!(before.sign_in("new@example.org", PASSWORD).await, StatusCode::SEE_OTHER);
    let fresh = "an entirely new passphrase";
    assert_eq!(
        Visitor::new(&app).post(&reset, &[("password", fresh), ("confirm", fresh)]).await.0,
        StatusCode::OK
    );
    assert_eq!(before.get("/admin").await.0, StatusCode::SEE_OTHER, "sessions end with a new password");
    assert_eq!(Visitor::new(&app).sign_in("new@example.org", PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(Visitor::new(&app).sign_in("new@example.org", fresh).await, StatusCode::SEE_OTHER);

    // Tokens: made and shown once, revoked by name.
    let token_form =
        [("csrf", csrf.as_str()), ("name", "website"), ("role", "viewer"), ("expires_in", "90d")];
    let (status, page, _) = admin.post("/admin/tokens", &token_form).await;
    assert_eq!(status, StatusCode::OK);
    let token =
        page.split("<code>").nth(1).and_then(|rest| rest.split('<').next()).expect("the token").to_owned();
    assert_eq!(app.get_as(&token, "/api/v1/admin/campaigns").await.status(), StatusCode::OK);
    let (status, _, _) =
        admin.post("/admin/tokens/revoke", &[("csrf", csrf.as_str()), ("name", "website")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.get_as(&token, "/api/v1/admin/campaigns").await.status(), StatusCode::UNAUTHORIZED);
    let (_, page, _) = admin.get("/admin/people").await;
    assert!(page.contains("revoked") && !page.contains(&token), "a token is never shown again");

    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("new@example.org", fresh).await;
    assert_eq!(treasurer.get("/admin/people").await.0, StatusCode::FORBIDDEN);
    let (_, audit, _) = admin.get("/admin/audit?format=csv").await;
    for action in [
        "user.invite_link",
        "user.reset_link",
        "user.password",
        "user.disable",
        "user.enable",
        "token.create",
        "token.revoke",
    ] {
        assert!(audit.contains(&format!("\"{action}\"")), "{action} is audited");
    }
}

async fn wall_of(app: &TestApp) -> String {
    app.get("/c/office?lang=en").await.text().await.expect("text")
}

async fn staff_control_what_the_public_wall_shows(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let session = app
        .checkout(
            "office",
            &json!({"amount": "30.00", "name": "Ana Gift", "anonymous": false, "message": "Courage to all"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let page = wall_of(&app).await;
    assert!(page.contains("Ana Gift") && page.contains("Courage to all"));
    let entry = find(&app, &app.treasurer_token, "q=30.00").await[0]["id"].as_i64().expect("the gift");
    let path = format!("/api/v1/admin/donations/{entry}/wall");
    assert_eq!(
        app.post_as(&app.treasurer_token, &path, &json!({"message": "hidden"})).await.status(),
        StatusCode::NO_CONTENT
    );
    let page = wall_of(&app).await;
    assert!(
        page.contains("Ana Gift") && !page.contains("Courage to all"),
        "the message is hidden, the name kept"
    );
    assert_eq!(
        app.post_as(&app.treasurer_token, &path, &json!({"name": "hidden"})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!wall_of(&app).await.contains("Ana Gift"));
    let refused = problem(
        app.post_as(&app.treasurer_token, &path, &json!({"message": "maybe"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused["errors"]["message"].is_string());
    problem(app.post_as(&app.viewer_token, &path, &json!({"message": "shown"})).await, StatusCode::FORBIDDEN)
        .await;
    add_user(&app, "admin@example.org", "admin", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (_, audit, _) = admin.get("/admin/audit?action=donation.wall").await;
    assert_eq!(audit.matches("<td>donation.wall</td>").count(), 2, "audited");
    assert_eq!(app.progress("office").await["raised"], "30.00", "the ledger is as it was");
}

async fn messages_wait_for_approval_when_held(engine: Engine) {
    let options = Options { vars: vec![("APPEAL_HOLD_MESSAGES", "true".to_owned())], ..Options::default() };
    let app = spawn_app_with(engine, options).await;
    app.create_campaign("office").await;
    let session = app
        .checkout(
            "office",
            &json!({"amount": "30.00", "name": "Ben Held", "anonymous": false, "message": "Hold me"}),
        )
        .await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let page = wall_of(&app).await;
    assert!(page.contains("Ben Held") && !page.contains("Hold me"), "the message waits");
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    let (_, page, _) = treasurer.get("/admin/c/office").await;
    assert!(page.contains("Hold me") && page.contains("waiting") && page.contains("Show the message"));
    let entry = find(&app, &app.treasurer_token, "q=30.00").await[0]["id"].as_i64().expect("the gift");
    let fields = [
        ("csrf", Visitor::csrf_in(&page)),
        ("campaign", "office".to_owned()),
        ("message", "shown".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    assert_eq!(
        treasurer.post(&format!("/admin/entries/{entry}/wall"), &fields).await.0,
        StatusCode::SEE_OTHER
    );
    assert!(wall_of(&app).await.contains("Hold me"), "shown once approved");
}

async fn a_branch_treasurer_sees_their_branch_first_and_is_told_so(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "75.00", Some("quebec")).await;
    app.give("office", "20.00", Some("montreal")).await;
    add_user(&app, "qc@example.org", "treasurer", Some("quebec"));
    add_user(&app, "viewer@example.org", "viewer", None);
    let mut branch = Visitor::new(&app);
    branch.sign_in("qc@example.org", PASSWORD).await;
    let (_, page, _) = branch.get("/admin/c/office").await;
    let own = page.find("Your branch").expect("their branch is shown");
    let all = page.find(r#"aria-label="Figures""#).expect("the campaign's figures");
    assert!(own < all, "their branch comes first");
    assert!(
        page.contains("You record for the branch Québec") && page.contains("<strong>$75</strong>"),
        "{page}"
    );
    assert!(!page.contains(r#"id="rec-branch""#), "no branch to choose: it is theirs");
    let mut viewer = Visitor::new(&app);
    viewer.sign_in("viewer@example.org", PASSWORD).await;
    let (_, page, _) = viewer.get("/admin/c/office").await;
    for form in ["/donations\"", "/batches\"", "Reverse…", "Refund…", "Edit the campaign"] {
        assert!(!page.contains(form), "a viewer is offered no form they cannot use: {form}");
    }
}

async fn a_form_sent_after_the_session_ended_is_kept_and_completed(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let (mut visitor, page) = treasurer_on_the_office_page(&app).await;
    let csrf = Visitor::csrf_in(&page);
    let token = form_token(&page, "record");
    // The session ends (expired, or signed out in another tab) while the form is open.
    let mut other_tab = Visitor::new(&app);
    other_tab.sign_in("tre@example.org", PASSWORD).await;
    visitor.post("/admin/logout", &[("csrf", csrf.as_str())]).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("form_token", token.as_str()),
        ("amount", "42.00"),
        ("method", "cheque"),
        ("received_on", "2026-11-01"),
        ("donor_name", "Kept Kim"),
        ("reference", "Cheque 9"),
    ];
    let (status, login, _) = visitor.post("/admin/c/office/donations", &fields).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(login.contains("what you were sending is kept") && login.contains("resume_body"), "{login}");
    assert_eq!(ledger_size(&app).await, 0, "nothing was written");

    // Signing in again from that page shows what was being sent, and sends it on a click.
    let login_csrf = Visitor::csrf_in(&login);
    let hidden = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let at = login.find(&marker).expect("a kept field") + marker.len();
        login[at..]
            .split('"')
            .next()
            .expect("a value")
            .replace("&amp;", "&")
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
    };
    let (action, body) = (hidden("resume_action"), hidden("resume_body"));
    let (status, resumed, _) = visitor
        .post(
            "/admin/login",
            &[
                ("csrf", &login_csrf),
                ("email", "tre@example.org"),
                ("password", PASSWORD),
                ("resume_action", &action),
                ("resume_body", &body),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        resumed.contains("Kept Kim") && resumed.contains("42.00") && resumed.contains("Send it now"),
        "{resumed}"
    );
    let new_csrf = Visitor::csrf_in(&resumed);
    let mut again: Vec<(&str, &str)> = fields.iter().filter(|(name, _)| *name != "csrf").copied().collect();
    again.push(("csrf", &new_csrf));
    let (status, _, _) = visitor.post("/admin/c/office/donations", &again).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(ledger_size(&app).await, 1, "recorded once");
    assert_eq!(visitor.post("/admin/c/office/donations", &again).await.0, StatusCode::SEE_OTHER);
    assert_eq!(ledger_size(&app).await, 1, "the form's one-time token still holds");

    // A form from an older session sent while a newer one is open: shown again, kept.
    let (_, page, _) = other_tab.get("/admin/c/office").await;
    let stale = [
        ("csrf", "an-old-session-token"),
        ("form_token", "stale-record"),
        ("amount", "7.00"),
        ("method", "cash"),
        ("received_on", "2026-11-01"),
    ];
    let (status, shown, headers) = other_tab.post("/admin/c/office/donations", &stale).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        shown.contains("Send it now") && shown.contains("7.00") && shown.contains(&Visitor::csrf_in(&page)),
        "{shown}"
    );
    assert!(!headers.contains_key("x-appeal-stale-form"), "the internal marker never leaves");
    assert_eq!(ledger_size(&app).await, 1, "nothing written until sent again");
}

async fn refused_forms_speak_in_labels_beside_their_fields(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let (mut visitor, page) = treasurer_on_the_office_page(&app).await;
    let csrf = Visitor::csrf_in(&page);

    // A gift: each message under the field's label, linked to it and beside it; typed kept.
    let gift =
        [("csrf", csrf.as_str()), ("amount", "-4"), ("method", "cheque"), ("received_on", "2026-13-01")];
    let (status, page, _) = visitor.post("/admin/c/office/donations", &gift).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for shown in [
        r##"<a href="#rec-amount"><strong>Amount</strong></a> must not be negative"##,
        r##"<a href="#rec-date"><strong>Received on</strong></a>"##,
        r#"aria-describedby="rec-amount-error""#,
        r#"<span class="field-error" id="rec-amount-error">Amount must not be negative"#,
        r#"<span class="field-error" id="rec-date-error">Received on "#,
        r#"id="rec-amount" name="amount" inputmode="decimal" value="-4""#,
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(!page.contains("received_on</strong>") && !page.contains("<strong>amount"), "no program keys");

    // A deposit: a bad line of the pasted rows is named by its line, beside the rows.
    let deposit = [
        ("csrf", csrf.as_str()),
        ("reference", "Slip 9"),
        ("deposited_on", "2026-11-02"),
        ("declared_count", "2"),
        ("declared_total", "20.00"),
        ("csv", "amount,method\n10.00,cash\nten,cheque\n"),
        ("action", "preview"),
    ];
    let (status, page, _) = visitor.post("/admin/c/office/batches", &deposit).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r##"<a href="#batch-csv"><strong>Line 3, Amount</strong></a>"##), "{page}");
    assert!(page.contains(r#"<span class="field-error" id="batch-csv-error">Line 3, Amount "#), "{page}");
    assert!(!page.contains("rows[3]"), "no program keys");
    assert!(page.contains("ten,cheque"), "the rows are kept");

    // A reversal without a reason: its confirmation opens again with what was typed.
    let recorded = app
        .post_as(
            &app.treasurer_token,
            "/api/v1/admin/campaigns/office/donations",
            &json!({"amount": "30.00", "method": "cash", "received_on": "2026-11-03"}),
        )
        .await;
    let id = recorded.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id");
    let reverse = [
        ("csrf", csrf.as_str()),
        ("campaign", "office"),
        ("amount", "12.50"),
        ("reason", " "),
        ("kind", "refund"),
    ];
    let (status, page, _) = visitor.post(&format!("/admin/entries/{id}/reverse"), &reverse).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for shown in [
        format!(r##"<a href="#reverse-reason-{id}"><strong>Reason</strong></a>"##),
        format!(r#"<span class="field-error" id="reverse-reason-{id}-error">Reason "#),
        format!(r#"id="reverse-amount-{id}" name="amount" inputmode="decimal" value="12.50""#),
        r#"<option value="refund" selected>"#.to_owned(),
    ] {
        assert!(page.contains(&shown), "{shown} in {page}");
    }
    let before = page.split(&format!(r#"action="/admin/entries/{id}/reverse""#)).next().expect("a page");
    let confirmation = before.rsplit("<details").next().expect("a confirmation");
    assert!(confirmation.starts_with(" open><summary>Reverse…</summary>"), "opened again: {confirmation}");
    assert_eq!(ledger_size(&app).await, 1, "nothing written");
}

async fn subscription_buttons_say_what_they_do(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "10.00", "interval": "month"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let subscription = app.stripe.session(&session)["subscription"].as_str().expect("one").to_owned();
    add_user(&app, "tre@example.org", "treasurer", None);
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("tre@example.org", PASSWORD).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(
        page.contains("Cancel at period end") && page.contains("Cancel now (nothing is refunded)"),
        "{page}"
    );
    assert!(page.contains("<summary>Cancel…</summary>"), "asked in a confirmation first");
    let fields = [
        ("csrf", Visitor::csrf_in(&page)),
        ("form_token", form_token(&page, &format!("cancel-{subscription}"))),
        ("campaign", "office".to_owned()),
        ("when", "period_end".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let path = format!("/admin/subscriptions/{subscription}/cancel");
    assert_eq!(visitor.post(&path, &fields).await.0, StatusCode::SEE_OTHER);
    app.deliver_all(&app.stripe.take_pending()).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(page.contains("ends at the end of its period; nothing was refunded"), "{page}");
    assert!(
        !page.contains("Cancel at period end") && page.contains("Cancel now (nothing is refunded)"),
        "only what is left to do"
    );
    assert!(app.stripe.requests_to("POST", "/v1/refunds").is_empty(), "nothing was refunded");
}

async fn a_closed_campaign_is_archived_out_of_the_lists(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.create_campaign("winter").await;
    app.give("office", "10.00", None).await;
    let path = "/api/v1/admin/campaigns/office";
    let open = problem(
        app.patch_as(&app.admin_token, path, &json!({"archived": true})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(open["errors"]["archived"].as_str().is_some_and(|message| message.contains("closed")), "{open}");
    let archived = app.patch_as(&app.admin_token, path, &json!({"status": "closed", "archived": true})).await;
    assert_eq!(archived.status(), StatusCode::OK);
    assert_eq!(archived.json::<Value>().await.expect("JSON")["archived"], true);

    // Out of the lists; its address, figures and ledger stay.
    let listed = app.get("/api/v1/campaigns").await.json::<Value>().await.expect("JSON");
    let slugs: Vec<&str> =
        listed["campaigns"].as_array().expect("a list").iter().filter_map(|c| c["slug"].as_str()).collect();
    assert_eq!(slugs, ["winter"]);
    assert_eq!(app.get("/api/v1/campaigns/office").await.status(), StatusCode::OK);
    assert_eq!(app.progress("office").await["raised"], "10.00");
    add_user(&app, "admin@example.org", "admin", None);
    let mut admin = Visitor::new(&app);
    admin.sign_in("admin@example.org", PASSWORD).await;
    let (_, home, _) = admin.get("/admin").await;
    let (main, shelf) =
        home.split_once(r#"<h2 id="archived-title">Archived</h2>"#).expect("an archive shelf");
    assert!(
        !main.contains(r#"href="/admin/c/office""#) && main.contains(r#"href="/admin/c/winter""#),
        "{home}"
    );
    assert!(shelf.contains(r#"<a href="/admin/c/office">"#) && shelf.contains("$10 of"), "{home}");

    // Reopened, it is listed again; the CLI archives too, and says so in its list.
    let reopened = app.patch_as(&app.admin_token, path, &json!({"status": "active"})).await;
    assert_eq!(reopened.json::<Value>().await.expect("JSON")["archived"], false);
    let updated =
        app.cli(&["campaign", "update", "--slug", "office", "--status", "closed", "--archived", "true"]);
    assert!(updated.status.success(), "{}", String::from_utf8_lossy(&updated.stderr));
    let list = String::from_utf8_lossy(&app.cli(&["campaign", "list"]).stdout).into_owned();
    assert!(list.lines().any(|line| line.starts_with("office") && line.contains("archived")), "{list}");
}

async fn a_refund_says_why_at_stripe_and_in_the_ledger(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let session = app.checkout("office", &json!({"amount": "100.00"})).await;
    app.deliver_all(&app.stripe.pay_session(&session)).await;
    let charge = app.stripe.charge_of_session(&session);
    let listed = app.json_as(&app.treasurer_token, "/api/v1/admin/donations").await;
    let gift = listed["entries"][0]["id"].as_i64().expect("the gift");
    let (mut visitor, page) = treasurer_on_the_office_page(&app).await;
    let csrf = Visitor::csrf_in(&page);
    let path = format!("/admin/entries/{gift}/refund");

    // The dashboard asks why; without a reason nothing goes to Stripe.
    let no_reason = [("csrf", csrf.as_str()), ("campaign", "office"), ("amount", "30.00"), ("reason", "")];
    let (status, page, _) = visitor.post(&path, &no_reason).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(&format!(
            r#"<span class="field-error" id="refund-reason-{gift}-error">Reason is required"#
        )) && page.contains(&format!(
            r#"id="refund-amount-{gift}" name="amount" inputmode="decimal" value="30.00""#
        )),
        "{page}"
    );
    assert!(app.stripe.requests_to("POST", "/v1/refunds").is_empty());

    let with_reason =
        [("csrf", csrf.as_str()), ("campaign", "office"), ("amount", "30.00"), ("reason", "gave twice")];
    assert_eq!(visitor.post(&path, &with_reason).await.0, StatusCode::SEE_OTHER);
    let asked = app.stripe.requests_to("POST", "/v1/refunds");
    assert_eq!(asked[0].param("metadata[appeal_reason]"), Some("gave twice"), "kept at Stripe too");
    app.deliver_all(&app.stripe.take_pending()).await;

    // A refund made in Stripe's dashboard carries Stripe's own reason into the ledger.
    app.deliver_all(&app.stripe.refund_for(&charge, 1000, Some("requested_by_customer"))).await;
    let (_, page, _) = visitor.get("/admin/c/office").await;
    assert!(page.contains(&format!("reverses #{gift}: gave twice")), "{page}");
    assert!(page.contains(&format!("reverses #{gift}: requested by customer")), "{page}");
    let csv =
        app.get_as(&app.treasurer_token, "/api/v1/admin/exports/ledger").await.text().await.expect("CSV");
    assert!(csv.lines().any(|line| line.contains(",refund,") && line.contains(",gave twice,")), "{csv}");

    // The API and the CLI take a reason as well (optional there).
    let by_api = app
        .post_as(
            &app.treasurer_token,
            &format!("/api/v1/admin/donations/{gift}/refund"),
            &json!({"amount": "5.00", "reason": "event cancelled"}),
        )
        .await;
    assert_eq!(by_api.status(), StatusCode::ACCEPTED);
    let by_cli = app.cli(&[
        "donation",
        "refund",
        "--entry",
        &gift.to_string(),
        "--amount",
        "1.00",
        "--reason",
        "typo",
    ]);
    assert!(by_cli.status.success(), "{}", String::from_utf8_lossy(&by_cli.stderr));
    let reasons: Vec<String> = app
        .stripe
        .requests_to("POST", "/v1/refunds")
        .iter()
        .filter_map(|request| request.param("metadata[appeal_reason]").map(str::to_owned))
        .collect();
    assert_eq!(reasons, ["gave twice", "event cancelled", "typo"]);
}

async fn look_alikes_sent_at_once_land_once(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    let statuses = |answers: Vec<reqwest::Response>| {
        let mut statuses: Vec<u16> = answers.iter().map(|answer| answer.status().as_u16()).collect();
        statuses.sort_unstable();
        statuses
    };
    let slip = deposit("Slip 5", "2026-11-02", "5.00");
    let deposits =
        (0..3).map(|_| app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/batches", &slip));
    assert_eq!(statuses(futures_util::future::join_all(deposits).await), [201, 409, 409]);
    let gift =
        json!({"amount": "9.00", "method": "cheque", "received_on": "2026-11-02", "reference": "cheque 9"});
    let gifts =
        (0..3).map(|_| app.post_as(&app.treasurer_token, "/api/v1/admin/campaigns/office/donations", &gift));
    assert_eq!(statuses(futures_util::future::join_all(gifts).await), [201, 409, 409]);
    assert_eq!(ledger_size(&app).await, 2);
}
