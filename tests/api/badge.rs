//! A campaign's live badge (`/c/{slug}/badge.svg`) and the tags that make a shared link show
//! the campaign (Open Graph, Twitter cards).

use reqwest::StatusCode;

use crate::helpers::{Engine, on_both_engines, spawn_app};

on_both_engines!(
    a_badge_shows_live_progress_in_the_pages_language_and_links_share_the_campaign,
    the_branch_leaderboard_ranks_every_branch_and_may_be_framed,
);

/// The badge read by Python's own XML parser: its root, accessible name and two texts.
fn parsed(svg: &str) -> Vec<String> {
    use std::io::Write;
    const READ: &str = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
print(root.get("role"))
print(root.get("aria-label"))
print(root.find(ns + "title").text)
for text in root.iter(ns + "text"):
    print(text.text)
for rect in root.iter(ns + "rect"):
    if rect.get("x"):
        print(rect.get("fill"))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", READ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(svg.as_bytes()).expect("written");
    let output = child.wait_with_output().expect("python3 ends");
    assert!(output.status.success(), "not a well-formed SVG: {svg}");
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

async fn a_badge_shows_live_progress_in_the_pages_language_and_links_share_the_campaign(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "90000.00", None).await;

    let response = app.get("/c/office/badge.svg?lang=en").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let read = parsed(&response.text().await.expect("SVG"));
    assert_eq!(read[0], "img");
    assert_eq!(read[1], "New office: $90,000 of $100,000 · 90%");
    assert_eq!(read[2], read[1], "the title says what the label says");
    assert_eq!((read[3].as_str(), read[4].as_str()), ("raised", "$90,000 of $100,000 · 90%"));
    assert_eq!(read[5], "#1f5fa8");

    let french = parsed(&app.get("/c/office/badge.svg?lang=fr").await.text().await.expect("SVG"));
    assert_eq!(french[3], "amassés");
    assert!(french[4].contains(" sur ") && french[4].contains("90"), "{french:?}");

    // Live: the goal reached turns it green.
    app.give("office", "10000.00", None).await;
    let reached = parsed(&app.get("/c/office/badge.svg?lang=en").await.text().await.expect("SVG"));
    assert_eq!((reached[4].as_str(), reached[5].as_str()), ("$100,000 of $100,000 · 100%", "#2e7d32"));

    let missing = app.get("/c/nowhere/badge.svg").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(parsed(&missing.text().await.expect("SVG"))[0], "img");

    // A shared link shows the campaign and its progress.
    let page = app.get("/c/office?lang=en").await.text().await.expect("HTML");
    for tag in [
        r#"<meta property="og:title" content="New office">"#,
        // The address as HTML writes it (the slashes escaped), which every reader decodes.
        r#"<meta property="og:url" content="https:&#x2f;&#x2f;give.example.org&#x2f;c&#x2f;office?lang=en">"#,
        r#"<meta name="twitter:card" content="summary">"#,
    ] {
        assert!(page.contains(tag), "{tag} in the page: {}", &page[..page.find("</head>").unwrap_or(0)]);
    }
    assert!(
        page.contains(
            r#"<meta property="og:description" content="$100,000 raised of $100,000 · 100% of the goal">"#
        ),
        "{page}"
    );
}

async fn the_branch_leaderboard_ranks_every_branch_and_may_be_framed(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "10.00", Some("quebec")).await;
    app.give("office", "30.00", Some("montreal")).await;
    app.give("office", "5.00", Some("gatineau")).await;
    app.give("office", "10.00", Some("gatineau")).await;

    let response = app.get("/c/office/branches?lang=fr").await;
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()["content-security-policy"].to_str().expect("ASCII").to_owned();
    assert!(policy.contains("frame-ancestors *"), "a branch's site may frame it: {policy}");
    let page = response.text().await.expect("HTML");
    let order: Vec<&str> = page
        .match_indices("data-branch=\"")
        .map(|(at, _)| page[at + 13..].split('"').next().unwrap_or(""))
        .collect();
    assert_eq!(order, ["montreal", "gatineau", "quebec"], "most raised first, then by name");
    assert!(page.contains("Objectifs des sections") && page.contains("amassés sur 40"), "{page}");

    let campaign_page = app.get("/c/office").await;
    let policy = campaign_page.headers()["content-security-policy"].to_str().expect("ASCII").to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "the form is never framed: {policy}");
    assert_eq!(app.get("/c/nowhere/branches").await.status(), StatusCode::NOT_FOUND);
}
