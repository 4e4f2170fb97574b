//! A campaign's live badge (`/c/{slug}/badge.svg`) and the tags that make a shared link show
//! the campaign (Open Graph, Twitter cards).

use reqwest::StatusCode;

use crate::helpers::{Engine, on_both_engines, spawn_app};

on_both_engines!(
    a_badge_shows_live_progress_in_the_pages_language_and_links_share_the_campaign,
    the_branch_leaderboard_ranks_every_branch_and_may_be_framed,
    a_share_card_draws_the_title_and_the_bar_in_the_pages_language,
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
        r#"<meta name="twitter:card" content="summary_large_image">"#,
        r#"<meta property="og:image" content="https:&#x2f;&#x2f;give.example.org&#x2f;c&#x2f;office&#x2f;card.png?lang=en">"#,
        r#"<meta property="og:image:width" content="1200">"#,
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

/// A share card decoded: its size and its pixels, RGBA.
fn decoded(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Rgba, "RGBA");
    (info.width, info.height, pixels)
}

/// How many pixels of the bar's row (across its middle) are its filled colour, #b3261e.
fn filled_pixels(width: u32, pixels: &[u8]) -> usize {
    let row = 462; // the bar: y 440 to 484
    (80..1120)
        .filter(|&x| {
            let at = ((row * width + x) * 4) as usize;
            pixels[at..at + 3] == [0xb3, 0x26, 0x1e]
        })
        .count()
}

/// Pixels darker than the background in a band of rows (the text drawn there).
fn ink_in_rows(width: u32, pixels: &[u8], rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..width).map(move |x| ((y * width + x) * 4) as usize))
        .filter(|&at| pixels[at] < 0x80 && pixels[at + 1] < 0x80 && pixels[at + 2] < 0x80)
        .count()
}

async fn a_share_card_draws_the_title_and_the_bar_in_the_pages_language(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_campaign("office").await;
    app.give("office", "45000.00", None).await;

    let response = app.get("/c/office/card.png?lang=en").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let english = response.bytes().await.expect("PNG").to_vec();
    let (width, height, pixels) = decoded(&english);
    assert_eq!((width, height), (1200, 630));
    // 45 % of the 1040-pixel bar (antialiasing may take a pixel at its rounded end).
    let filled = filled_pixels(width, &pixels);
    assert!((466..=469).contains(&filled), "{filled} of 1040 pixels filled for 45 %");
    // The title (rows 150–215), the figures above the bar and those below it are drawn.
    for (rows, what) in [(150..215, "the title"), (330..410, "the money raised"), (510..550, "the percent")] {
        assert!(ink_in_rows(width, &pixels, rows) > 500, "{what} is drawn");
    }

    // The same figures: the same picture, kept. Another language: another picture.
    let again = app.get("/c/office/card.png?lang=en").await.bytes().await.expect("PNG");
    assert_eq!(again.to_vec(), english);
    let french = app.get("/c/office/card.png?lang=fr").await.bytes().await.expect("PNG").to_vec();
    assert_ne!(french, english, "the French card says it in French");
    assert_eq!(filled_pixels(1200, &decoded(&french).2), filled);

    // A gift past the goal: drawn again, the bar full and no further.
    app.give("office", "60000.00", None).await;
    let full = app.get("/c/office/card.png?lang=en").await.bytes().await.expect("PNG").to_vec();
    let (_, _, pixels) = decoded(&full);
    let filled = filled_pixels(1200, &pixels);
    assert!(filled >= 1038, "{filled} of 1040 pixels filled past the goal");
    let outside = ((462 * 1200 + 1125) * 4) as usize;
    assert_ne!(pixels[outside..outside + 3], [0xb3, 0x26, 0x1e], "nothing past the bar");

    assert_eq!(app.get("/c/nowhere/card.png").await.status(), StatusCode::NOT_FOUND);
    std::fs::create_dir_all("target/screenshots").expect("a folder");
    std::fs::write(format!("target/screenshots/{engine:?}-card-en.png").to_lowercase(), &english)
        .expect("kept");
    std::fs::write(format!("target/screenshots/{engine:?}-card-fr.png").to_lowercase(), &french)
        .expect("kept");
}
