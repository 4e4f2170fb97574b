//! `/c/{slug}/card.png`: the picture a social network shows beside a shared campaign page
//! (`og:image`, 1200×630): the campaign's title, its bar and "raised of goal", in the page's
//! language. Drawn on the server from an SVG with the bundled DejaVu Sans (no browser, no
//! system font), on a blocking thread, and kept per language while the campaign's figures
//! stand, as the pages are.

use std::sync::{Arc, LazyLock};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use resvg::{tiny_skia, usvg};

use super::AppState;
use super::error::Problem;
use super::page_cache::{PageKey, page_version};
use super::pages::Lang;
use super::progress_view::progress_view;
use crate::web::{FONT_BOLD, FONT_REGULAR};

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 630;
/// The bar, where a test reads its filled fraction back from the pixels.
pub const BAR_X: f64 = 80.0;
pub const BAR_Y: f64 = 440.0;
pub const BAR_WIDTH: f64 = 1040.0;
pub const BAR_HEIGHT: f64 = 44.0;
/// The page's accent (app.css), the bar's filled part.
pub const ACCENT: &str = "#b3261e";
/// Social networks fetch it once per share; the server keeps it anyway.
const MAX_AGE: &str = "public, max-age=60";

/// The fonts, loaded once: only the bundled ones, so the card looks the same on every host.
static OPTIONS: LazyLock<usvg::Options<'static>> = LazyLock::new(|| {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(FONT_REGULAR.to_vec());
    fonts.load_font_data(FONT_BOLD.to_vec());
    fonts.set_sans_serif_family("DejaVu Sans");
    usvg::Options {
        fontdb: Arc::new(fonts),
        font_family: "DejaVu Sans".to_owned(),
        ..usvg::Options::default()
    }
});

/// What the card says, already in the page's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub organization: String,
    pub title: String,
    pub raised: String,
    pub raised_of: String,
    /// Of the goal in force, may pass 100 (the bar stops full).
    pub percent: f64,
    /// "90 % of the goal · 123 donors".
    pub figures: String,
    /// "12 days left", or nothing.
    pub time_left: Option<String>,
    /// Where to give: the site's host ("give.example.org").
    pub site: String,
}

pub(super) async fn card(State(state): State<AppState>, Path(slug): Path<String>, lang: Lang) -> Response {
    let language = lang.language.drawable();
    let key = PageKey { kind: "card", slug: slug.clone(), lang: language.code.clone() };
    let version = page_version(&state, &slug).await;
    if let Some(version) = &version
        && let Some(png) = state.images.get(&key, version)
    {
        return png_response(png);
    }
    let loaded = state.store.campaign_progress(&slug).await;
    let (campaign, totals, branches) = match loaded {
        Ok(Some(found)) if found.0.status.is_public() => found,
        Ok(_) => return Problem::not_found("campaign").into_response(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let progress = progress_view(language, &campaign, &totals, &branches, Utc::now());
    let card = Card {
        organization: state.site.organization.clone(),
        title: campaign.title.get(&language.code).to_owned(),
        raised: progress.raised.clone(),
        raised_of: progress.raised_of.clone(),
        percent: progress.bar_value,
        figures: format!("{} · {}", progress.percent_text, progress.donors_text),
        time_left: progress.time_left.clone(),
        site: url::Url::parse(&state.public_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default(),
    };
    let drawn = tokio::task::spawn_blocking(move || draw_png(&svg(&card))).await;
    match drawn {
        Ok(Ok(png)) => {
            let png: Arc<[u8]> = png.into();
            if let Some(version) = &version {
                state.images.put(key, version, png.clone());
            }
            png_response(png)
        }
        Ok(Err(error)) => Problem::internal(&error).into_response(),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

fn png_response(png: Arc<[u8]>) -> Response {
    let mut response = (StatusCode::OK, png.to_vec()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    response
}

/// The card as SVG, 1200×630.
pub fn svg(card: &Card) -> String {
    const INK: &str = "#1c1b1f";
    const MUTED: &str = "#55545c";
    let (title_size, title_lines) = fit_title(&card.title);
    let mut title = String::new();
    for (index, line) in title_lines.iter().enumerate() {
        let y = 200.0 + f64::from(u32::try_from(index).unwrap_or(0)) * title_size * 1.2;
        title.push_str(&format!(
            "<text x=\"{BAR_X}\" y=\"{y}\" font-size=\"{title_size}\" font-weight=\"bold\" fill=\"{INK}\">{}</text>",
            escape(line)
        ));
    }
    // "$90,000 raised of $100,000" on one line, smaller when the figures are long.
    let (raised_size, of_size) = {
        let width = text_width(&card.raised, 88.0, true) + text_width(&card.raised_of, 40.0, false) + 20.0;
        let scale = (BAR_WIDTH / width).min(1.0);
        (88.0 * scale, 40.0 * scale)
    };
    let filled = (BAR_WIDTH * card.percent.clamp(0.0, 100.0) / 100.0).round();
    let bar = if filled > 0.0 {
        format!(
            "<rect x=\"{BAR_X}\" y=\"{BAR_Y}\" width=\"{filled}\" height=\"{BAR_HEIGHT}\" rx=\"{r}\" fill=\"{ACCENT}\"/>",
            r = (BAR_HEIGHT / 2.0).min(filled / 2.0)
        )
    } else {
        String::new()
    };
    let time_left = card.time_left.as_deref().map_or_else(String::new, |left| {
        format!(
            "<text x=\"{right}\" y=\"545\" font-size=\"34\" fill=\"{MUTED}\" text-anchor=\"end\">{}</text>",
            escape(left),
            right = BAR_X + BAR_WIDTH
        )
    });
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
font-family=\"DejaVu Sans\">\
<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#f6f5f8\"/>\
<rect width=\"{WIDTH}\" height=\"14\" fill=\"{ACCENT}\"/>\
<text x=\"{BAR_X}\" y=\"100\" font-size=\"34\" font-weight=\"bold\" fill=\"{MUTED}\">{organization}</text>\
{title}\
<text x=\"{BAR_X}\" y=\"398\" fill=\"{INK}\"><tspan font-size=\"{raised_size:.1}\" font-weight=\"bold\">{raised}</tspan>\
<tspan font-size=\"{of_size:.1}\" fill=\"{MUTED}\" dx=\"20\">{raised_of}</tspan></text>\
<rect x=\"{BAR_X}\" y=\"{BAR_Y}\" width=\"{BAR_WIDTH}\" height=\"{BAR_HEIGHT}\" rx=\"{radius}\" fill=\"#ebe9ef\"/>\
{bar}\
<text x=\"{BAR_X}\" y=\"545\" font-size=\"34\" fill=\"{INK}\">{figures}</text>\
{time_left}\
<text x=\"{BAR_X}\" y=\"598\" font-size=\"26\" fill=\"{MUTED}\">{site}</text></svg>",
        organization = escape(&card.organization),
        raised = escape(&card.raised),
        raised_of = escape(&card.raised_of),
        figures = escape(&card.figures),
        site = escape(&card.site),
        radius = BAR_HEIGHT / 2.0,
    )
}

/// The SVG drawn to a PNG.
pub fn draw_png(svg: &str) -> Result<Vec<u8>, String> {
    let tree = usvg::Tree::from_str(svg, &OPTIONS).map_err(|error| format!("the card's SVG: {error}"))?;
    let mut pixmap = tiny_skia::Pixmap::new(WIDTH, HEIGHT).ok_or("a 1200×630 picture")?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|error| format!("the card's PNG: {error}"))
}

/// The title's size and lines: two lines at most, smaller for a long title, cut with "…"
/// past what the smallest size holds.
fn fit_title(title: &str) -> (f64, Vec<String>) {
    for size in [64.0, 54.0] {
        let lines = wrap(title, size);
        if lines.len() <= 2 {
            return (size, lines);
        }
    }
    let size = 46.0;
    let mut lines = wrap(title, size);
    if lines.len() > 2 {
        lines.truncate(2);
        let mut last = lines.pop().unwrap_or_default();
        while !last.is_empty() && text_width(&format!("{last}…"), size, true) > BAR_WIDTH {
            last.pop();
        }
        lines.push(format!("{}…", last.trim_end()));
    }
    (size, lines)
}

/// Words into lines no wider than the bar, at `size` in bold.
fn wrap(text: &str, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if !line.is_empty() && text_width(&candidate, size, true) > BAR_WIDTH {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A text's width estimated from DejaVu Sans's average advances (narrow letters count less,
/// capitals and digits more): close enough to keep a line inside the card.
fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | '\'' | ' ' | '\u{a0}' | '\u{202f}' | '!' | '|' => 0.32,
            'f' | 't' | 'r' | 'I' => 0.42,
            'm' | 'w' | 'M' | 'W' => 0.92,
            c if c.is_uppercase() || c.is_ascii_digit() || c == '$' || c == '€' => 0.70,
            _ => 0.61,
        })
        .sum();
    ems * size * if bold { 1.08 } else { 1.0 }
}

/// Text as SVG (XML) holds it.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(title: &str, percent: f64) -> Card {
        Card {
            organization: "Solidarity Press".into(),
            title: title.into(),
            raised: "$90,000".into(),
            raised_of: "raised of $100,000".into(),
            percent,
            figures: "90% of the goal · 3 donors".into(),
            time_left: Some("12 days left".into()),
            site: "give.example.org".into(),
        }
    }

    #[test]
    fn a_long_title_takes_two_lines_and_is_cut_past_them() {
        let (size, lines) = fit_title("New office");
        assert_eq!((size, lines), (64.0, vec!["New office".to_owned()]));
        let long = "A very long campaign title that goes on and on about the new office and the press and \
                    everything else the branches asked for this winter";
        let (size, lines) = fit_title(long);
        assert_eq!(size, 46.0);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'), "{lines:?}");
        assert!(lines.iter().all(|line| text_width(line, size, true) <= BAR_WIDTH));
    }

    #[test]
    fn the_card_escapes_its_text_and_fills_the_bar_to_the_percent() {
        let drawn = svg(&example("Rent & <repairs>", 90.0));
        assert!(drawn.contains("Rent &amp; &lt;repairs&gt;"));
        assert!(drawn.contains("width=\"936\""), "90 % of 1040 px: {drawn}");
        let over = svg(&example("Office", 150.0));
        assert!(over.contains("width=\"1040\" height=\"44\" rx=\"22\" fill=\"#b3261e\""), "full, not past");
        let none = svg(&example("Office", 0.0));
        assert_eq!(none.matches("#b3261e").count(), 1, "only the top band: {none}");
        draw_png(&drawn).expect("drawn");
    }
}
