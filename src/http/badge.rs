//! `/c/{slug}/badge.svg`: a small live badge of a campaign's progress, shields-style, for a
//! branch's website or a README: "raised | $90,000 of $100,000 · 90 %", in the page's
//! language, drawn again only when the campaign's figures change.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::page_cache::PageKey;
use super::pages::Lang;
use crate::ledger::progress::Progress;

/// How long a cache may keep a badge: as long as the progress document itself.
const MAX_AGE: &str = "public, max-age=5";

/// Average advance of a character of 11 px Verdana/DejaVu Sans, in pixels: the badge's
/// segments are sized from it (as shields.io does, without measuring each glyph).
const CHAR_WIDTH: f64 = 6.8;
const PADDING: f64 = 10.0;

pub(super) async fn badge(State(state): State<AppState>, Path(slug): Path<String>, lang: Lang) -> Response {
    let language = lang.language.drawable();
    let key = PageKey { kind: "badge", slug: slug.clone(), lang: language.code.clone() };
    let version = match state.store.progress_document(&slug).await {
        Ok(Some(document)) if document.public => Some(document.etag.clone()),
        _ => None,
    };
    if let Some(version) = &version
        && let Some(svg) = state.pages.get(&key, version)
    {
        return svg_response(StatusCode::OK, svg.to_string());
    }
    let loaded = state.store.campaign_progress(&slug).await;
    let Ok(Some((campaign, totals, branches))) =
        loaded.map(|found| found.filter(|(campaign, _, _)| campaign.status.is_public()))
    else {
        let svg = draw(
            language.t("badge.label"),
            language.t("error.not_found"),
            "#9f9f9f",
            language.t("error.not_found"),
        );
        return svg_response(StatusCode::NOT_FOUND, svg);
    };
    let progress = Progress::new(&campaign, &totals, &branches);
    let raised = language.money(totals.counted_minor(&campaign), campaign.currency);
    let raised_minor = totals.counted_minor(&campaign);
    let goal = language.money(campaign.goal_in_force(raised_minor), campaign.currency);
    let value = language.fill(
        "badge.value",
        &[("raised", &raised), ("goal", &goal), ("percent", &language.percent(progress.percent))],
    );
    let colour = if progress.percent >= 100.0 { "#2e7d32" } else { "#1f5fa8" };
    let title = format!("{}: {value}", campaign.title.get(&language.code));
    let svg = draw(language.t("badge.label"), &value, colour, &title);
    if let Some(version) = &version {
        state.pages.put(key, version, svg.as_str().into());
    }
    svg_response(StatusCode::OK, svg)
}

fn svg_response(status: StatusCode, svg: String) -> Response {
    let mut response = (status, svg).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    // Embedded anywhere: an image, not a page.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

/// A two-part badge: `label` on grey, `value` on `colour`; `title` for screen readers.
fn draw(label: &str, value: &str, colour: &str, title: &str) -> String {
    let width = |text: &str| {
        (f64::from(u32::try_from(text.chars().count()).unwrap_or(u32::MAX)) * CHAR_WIDTH + PADDING).round()
    };
    let (left, right) = (width(label), width(value));
    let total = left + right;
    let (label, value, title) = (escape(label), escape(value), escape(title));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" aria-label=\"{title}\">\
<title>{title}</title>\
<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
<clipPath id=\"r\"><rect width=\"{total}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>\
<g clip-path=\"url(#r)\"><rect width=\"{left}\" height=\"20\" fill=\"#555\"/><rect x=\"{left}\" width=\"{right}\" height=\"20\" fill=\"{colour}\"/><rect width=\"{total}\" height=\"20\" fill=\"url(#s)\"/></g>\
<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\">\
<text x=\"{lx}\" y=\"14\">{label}</text><text x=\"{rx}\" y=\"14\">{value}</text></g></svg>",
        lx = left / 2.0,
        rx = left + right / 2.0,
    )
}

/// Text as SVG (XML) holds it.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_badge_is_two_segments_sized_by_their_text() {
        let svg = draw("raised", "$90 of $100 · 90 %", "#1f5fa8", "Office <new>: $90");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("<title>Office &lt;new&gt;: $90</title>"));
        // "raised": 6 characters → 51 px; the value 18 → 132 px.
        assert!(svg.contains("width=\"183\""), "{svg}");
        assert!(svg.contains("<rect x=\"51\" width=\"132\""), "{svg}");
    }
}
