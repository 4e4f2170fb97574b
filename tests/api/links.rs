//! Ready-made links (`/c/{slug}?amount=&interval=&branch=&lang=`) and their QR codes, read
//! back by zbarimg (Debian's zbar-tools).

use reqwest::StatusCode;

use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};
use crate::people::{PASSWORD, Visitor, add_user};

on_both_engines!(
    a_ready_made_link_fills_the_form_and_its_qr_code_reads_back_exactly,
    the_link_builder_makes_a_branchs_link_and_its_qr_code,
    a_branchs_page_chooses_the_branch_shows_its_bar_and_may_be_framed,
);

/// The text zbarimg reads from a PNG.
fn decoded(png: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("qr.png");
    std::fs::write(&path, png).expect("written");
    let output = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&path)
        .output()
        .expect("zbarimg runs (Debian's zbar-tools; .ci/run installs it)");
    assert!(output.status.success(), "zbarimg read no code: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

async fn qr(app: &TestApp, query: &str) -> String {
    let response = app.get(&format!("/c/office/qr.png?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    decoded(&response.bytes().await.expect("PNG"))
}

async fn a_ready_made_link_fills_the_form_and_its_qr_code_reads_back_exactly(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;

    let page = app.get("/c/office?amount=25&interval=month&branch=montreal&lang=fr").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("HTML");
    assert!(page.contains(r#"<html lang="fr" dir="ltr">"#));
    assert!(page.contains(r#"name="preset" value="25" checked"#), "the 25 button");
    assert!(page.contains(r#"name="interval" value="month" checked"#), "monthly");
    assert!(page.contains(r#"value="montreal" selected"#), "the branch");
    let other = app.get("/c/office?amount=37.50").await.text().await.expect("HTML");
    assert!(
        other.contains(r#"value="other" checked"#) && other.contains(r#"value="37.50""#),
        "another amount"
    );
    // What does not fit is left out, never an error page.
    let odd = app.get("/c/office?amount=abc&interval=weekly&branch=nowhere&ref=x").await;
    assert_eq!(odd.status(), StatusCode::OK);
    let odd = odd.text().await.expect("HTML");
    assert!(
        odd.contains(r#"name="preset" value="50" checked"#)
            && odd.contains(r#"name="interval" value="once" checked"#)
    );

    assert_eq!(
        qr(&app, "amount=25&interval=month&branch=montreal&lang=fr").await,
        "https://give.example.org/c/office?amount=25.00&interval=month&branch=montreal&lang=fr"
    );
    assert_eq!(
        qr(&app, "amount=-3&interval=weekly&branch=nowhere&lang=en").await,
        "https://give.example.org/c/office?lang=en"
    );

    let svg = app.get("/c/office/qr.svg?amount=50").await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let svg = svg.text().await.expect("SVG");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ")
            && svg.contains("<path d=\"M")
    );
    assert_eq!(app.get("/c/nowhere/qr.png").await.status(), StatusCode::NOT_FOUND);
}

async fn the_link_builder_makes_a_branchs_link_and_its_qr_code(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    add_user(&app, "tre@example.org", "treasurer", None);
    add_user(&app, "quebec@example.org", "treasurer", Some("quebec"));
    let mut treasurer = Visitor::new(&app);
    treasurer.sign_in("tre@example.org", PASSWORD).await;
    let (status, page, _) =
        treasurer.get("/admin/c/office/links?branch=montreal&amount=25&interval=month&lang=fr").await;
    assert_eq!(status, StatusCode::OK);
    // HTML writes the link's slashes and ampersands as entities.
    let link = "https:&#x2f;&#x2f;give.example.org&#x2f;c&#x2f;office?amount=25.00&amp;interval=month&amp;branch=montreal&amp;lang=fr";
    assert!(page.contains(&format!("<code>{link}</code>")), "{page}");
    assert!(
        page.contains(
            "src=\"/c/office/qr.svg?amount=25.00&amp;interval=month&amp;branch=montreal&amp;lang=fr\""
        ),
        "{page}"
    );
    assert_eq!(
        qr(&app, "amount=25.00&interval=month&branch=montreal&lang=fr").await,
        "https://give.example.org/c/office?amount=25.00&interval=month&branch=montreal&lang=fr"
    );
    let (_, page, _) = treasurer.get("/admin/c/office/links?amount=lots").await;
    assert!(page.contains("id=\"link-amount-error\""), "an amount left out is said: {page}");

    // A branch treasurer's links are for their branch.
    let mut branch = Visitor::new(&app);
    branch.sign_in("quebec@example.org", PASSWORD).await;
    let (status, page, _) = branch.get("/admin/c/office/links?branch=montreal").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("branch=quebec") && !page.contains("branch=montreal"), "{page}");
}

/// `/c/{slug}/b/{branch}`: the campaign's page for one branch, from memory like the others.
async fn a_branchs_page_chooses_the_branch_shows_its_bar_and_may_be_framed(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "10000.00", Some("montreal")).await;
    for _ in 0..2 {
        let response = app.get("/c/office/b/montreal?lang=fr&ref=leaflet").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("x-frame-options").is_none(), "it may be framed");
        let policy = response.headers()["content-security-policy"].to_str().expect("ASCII").to_owned();
        assert!(policy.contains("frame-ancestors *"), "{policy}");
        let page = response.text().await.expect("HTML");
        assert!(
            page.contains(r#"<div class="branch-focus" data-branch="montreal">"#),
            "the branch's bar on top"
        );
        assert!(page.contains("<h3>Montréal</h3>"));
        assert!(
            page.contains(r#"aria-label="Montréal" aria-valuetext="25"#),
            "a quarter of its 40,000 goal: {page}"
        );
        assert!(page.contains(r#"<option value="montreal" selected>"#), "the branch chosen in the form");
        assert!(page.contains(r#"target="_top""#), "the form opens Stripe in the whole window");
        assert!(page.contains(r#"name="ref" value="leaflet""#));
    }
    let plain = app.get("/c/office/b/montreal").await.text().await.expect("HTML");
    assert!(plain.contains(r#"name="ref" value="""#), "no ref kept from another visit");
    assert_eq!(app.get("/c/office/b/nowhere").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/c/nowhere/b/montreal").await.status(), StatusCode::NOT_FOUND);
    // The campaign's own page is still not framed.
    assert_eq!(app.get("/c/office").await.headers()["x-frame-options"], "DENY");
}
