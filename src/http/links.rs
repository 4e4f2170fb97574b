//! Ready-made links and their QR codes. `/c/{slug}?amount=25&interval=month&branch=montreal&lang=fr`
//! opens the campaign's form filled in (a value that does not fit is left out, never an
//! error); `/c/{slug}/qr.svg` and `/c/{slug}/qr.png`, given the same parameters, draw that
//! link as a QR code for a leaflet or a slide.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qrcodegen::{QrCode, QrCodeEcc};
use serde::Deserialize;

use super::AppState;
use super::error::Problem;
use super::pages::Lang;
use crate::ledger::attribution::ref_from_link;
use crate::ledger::progress::BranchTotals;
use crate::ledger::{Campaign, Money};

/// What a ready-made link may say, each part as it came.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LinkQuery {
    pub amount: Option<String>,
    pub interval: Option<String>,
    pub branch: Option<String>,
    pub lang: Option<String>,
    /// The push the link belongs to; `utm_campaign` or `utm_source` stand in for it.
    #[serde(rename = "ref")]
    pub source_ref: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_source: Option<String>,
}

/// The parts of a ready-made link that fit the campaign.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadyLink {
    /// The amount in minor units.
    pub amount_minor: Option<i64>,
    pub interval: Option<&'static str>,
    pub branch: Option<String>,
    pub source_ref: Option<String>,
}

impl LinkQuery {
    /// The push the link belongs to: `ref`, else `utm_campaign`, else `utm_source`, made to fit.
    pub fn source_ref(&self) -> Option<String> {
        ref_from_link(self.source_ref.as_deref(), self.utm_campaign.as_deref(), self.utm_source.as_deref())
    }
}

impl ReadyLink {
    /// Keeps what fits: an amount the campaign's currency can hold (positive), an interval
    /// appeal knows, a branch of the campaign.
    pub fn read(query: &LinkQuery, campaign: &Campaign, branches: &[BranchTotals]) -> Self {
        let amount_minor = query
            .amount
            .as_deref()
            .and_then(|text| Money::parse_positive(text.trim(), campaign.currency).ok())
            .map(Money::minor);
        let interval = query.interval.as_deref().and_then(|text| {
            ["once", "month", "year"].into_iter().find(|known| known.eq_ignore_ascii_case(text.trim()))
        });
        let branch = query.branch.as_deref().map(str::trim).and_then(|slug| {
            branches
                .iter()
                .find(|row| row.branch.slug.as_str() == slug)
                .map(|row| row.branch.slug.to_string())
        });
        ReadyLink { amount_minor, interval, branch, source_ref: query.source_ref() }
    }

    pub fn is_empty(&self) -> bool {
        *self == ReadyLink::default()
    }

    /// The link itself, on this server, in `lang`.
    pub fn url(&self, public_url: &str, campaign: &Campaign, lang: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(minor) = self.amount_minor {
            query.append_pair("amount", &campaign.currency.format_minor(minor));
        }
        if let Some(interval) = self.interval {
            query.append_pair("interval", interval);
        }
        if let Some(branch) = &self.branch {
            query.append_pair("branch", branch);
        }
        if let Some(source_ref) = &self.source_ref {
            query.append_pair("ref", source_ref);
        }
        query.append_pair("lang", lang);
        format!("{public_url}/c/{}?{}", campaign.slug, query.finish())
    }
}

/// Modules of quiet border around a code, as the standard asks, and pixels per module in
/// the PNG.
const BORDER: i32 = 4;
const PNG_SCALE: u32 = 8;

pub(super) async fn qr_svg(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
    axum::extract::Query(query): axum::extract::Query<LinkQuery>,
) -> Response {
    match link_code(&state, &slug, &lang, &query).await {
        Ok(code) => image(svg(&code).into_bytes(), "image/svg+xml; charset=utf-8"),
        Err(refused) => refused,
    }
}

pub(super) async fn qr_png(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
    axum::extract::Query(query): axum::extract::Query<LinkQuery>,
) -> Response {
    match link_code(&state, &slug, &lang, &query).await {
        Ok(code) => match png(&code) {
            Ok(bytes) => image(bytes, "image/png"),
            Err(error) => Problem::internal(&error).into_response(),
        },
        Err(refused) => refused,
    }
}

/// The QR code of the campaign's ready-made link.
async fn link_code(state: &AppState, slug: &str, lang: &Lang, query: &LinkQuery) -> Result<QrCode, Response> {
    let found =
        state.store.campaign_progress(slug).await.map_err(|error| Problem::from(error).into_response())?;
    let Some((campaign, _, branches)) = found.filter(|(campaign, _, _)| campaign.status.is_public()) else {
        return Err(Problem::not_found("campaign").into_response());
    };
    let link =
        ReadyLink::read(query, &campaign, &branches).url(&state.public_url, &campaign, &lang.language.code);
    QrCode::encode_text(&link, QrCodeEcc::Medium)
        .map_err(|_| Problem::internal(&"the link is too long for a QR code").into_response())
}

fn image(bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The link depends only on the address: a day in caches.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}

/// The code as SVG: one path of unit squares, crisp at any size.
fn svg(code: &QrCode) -> String {
    let size = code.size() + BORDER * 2;
    let mut path = String::new();
    for y in 0..code.size() {
        for x in 0..code.size() {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + BORDER, y + BORDER));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{px}\" height=\"{px}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\"><rect width=\"100%\" height=\"100%\" \
         fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        px = size * 8,
    )
}

/// The code as a greyscale PNG, `PNG_SCALE` pixels a module.
fn png(code: &QrCode) -> Result<Vec<u8>, png::EncodingError> {
    let modules = u32::try_from(code.size() + BORDER * 2).unwrap_or(0);
    let side = modules * PNG_SCALE;
    let mut pixels = Vec::with_capacity(usize::try_from(side * side).unwrap_or(0));
    for row in 0..side {
        for column in 0..side {
            let (x, y) = (column / PNG_SCALE, row / PNG_SCALE);
            let dark = i32::try_from(x)
                .ok()
                .zip(i32::try_from(y).ok())
                .is_some_and(|(x, y)| code.get_module(x - BORDER, y - BORDER));
            pixels.push(if dark { 0 } else { 255 });
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(bytes)
}
