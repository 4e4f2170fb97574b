//! Public reads: campaigns and their progress, and the health probes. CORS is open for GET.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::broadcast;

use super::AppState;
use super::error::{ApiResult, Problem};
use crate::ledger::campaign::Localized;
use crate::ledger::progress::timestamp;
use crate::ledger::{Branch, Campaign};
use crate::live::TooManyStreams;
use crate::store::ProgressDocument;

/// When a client refused for want of room among the live streams should try again.
const STREAMS_FULL_RETRY_SECONDS: u64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/campaigns", get(list_campaigns))
        .route("/api/v1/campaigns/{slug}", get(get_campaign))
        .route("/api/v1/campaigns/{slug}/progress", get(get_progress))
        .route("/api/v1/campaigns/{slug}/progress/stream", get(stream_progress))
}

pub fn health_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// A campaign as the API shows it.
#[derive(Debug, Serialize)]
pub struct CampaignBody {
    pub slug: String,
    pub currency: &'static str,
    pub goal: String,
    pub title: Localized,
    pub description: Localized,
    pub status: &'static str,
    /// A closed campaign kept out of lists.
    pub archived: bool,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub count_net_of_fees: bool,
    pub checkout: CheckoutBody,
    pub branches: Vec<BranchBody>,
    pub progress_url: String,
}

/// What the donation form needs: the accepted range and the fee formula.
#[derive(Debug, Serialize)]
pub struct CheckoutBody {
    pub min: String,
    pub max: String,
    pub fee_percent: String,
    pub fee_fixed: String,
}

#[derive(Debug, Serialize)]
pub struct BranchBody {
    pub slug: String,
    pub name: String,
    pub goal: Option<String>,
}

impl CampaignBody {
    pub fn new(campaign: &Campaign, branches: &[Branch]) -> Self {
        let currency = campaign.currency;
        CampaignBody {
            slug: campaign.slug.to_string(),
            currency: currency.code(),
            goal: currency.format_minor(campaign.goal_minor),
            title: campaign.title.clone(),
            description: campaign.description.clone(),
            status: campaign.status.as_str(),
            archived: campaign.archived,
            starts_at: campaign.starts_at.map(timestamp),
            ends_at: campaign.ends_at.map(timestamp),
            count_net_of_fees: campaign.count_net_of_fees,
            checkout: CheckoutBody {
                min: currency.format_minor(campaign.checkout.min_minor),
                max: currency.format_minor(campaign.checkout.max_minor.unwrap_or(currency.max_minor())),
                fee_percent: rust_decimal::Decimal::new(campaign.checkout.fee_percent_bp, 2)
                    .normalize()
                    .to_string(),
                fee_fixed: currency.format_minor(campaign.checkout.fee_fixed_minor),
            },
            branches: branches
                .iter()
                .map(|branch| BranchBody {
                    slug: branch.slug.to_string(),
                    name: branch.name.clone(),
                    goal: branch.goal_minor.map(|goal| currency.format_minor(goal)),
                })
                .collect(),
            progress_url: format!("/api/v1/campaigns/{}/progress", campaign.slug),
        }
    }
}

#[tracing::instrument(skip_all)]
async fn list_campaigns(State(state): State<AppState>) -> ApiResult<Response> {
    let campaigns = state.store.list_campaigns(false).await?;
    let mut bodies = Vec::with_capacity(campaigns.len());
    // Archived campaigns answer by their address, but are no longer listed.
    for campaign in campaigns.iter().filter(|campaign| !campaign.archived) {
        let branches = state.store.branches(campaign.id).await?;
        bodies.push(CampaignBody::new(campaign, &branches));
    }
    Ok(axum::Json(json!({ "campaigns": bodies })).into_response())
}

#[tracing::instrument(skip_all, fields(slug))]
async fn get_campaign(State(state): State<AppState>, Path(slug): Path<String>) -> ApiResult<Response> {
    let campaign = state
        .store
        .campaign_by_slug(&slug)
        .await?
        .filter(|campaign| campaign.status.is_public())
        .ok_or_else(|| Problem::not_found("campaign"))?;
    let branches = state.store.branches(campaign.id).await?;
    Ok(axum::Json(CampaignBody::new(&campaign, &branches)).into_response())
}

/// How long browsers and caches may reuse a progress document: short, so bars stay live.
const PROGRESS_CACHE_CONTROL: &str = "public, max-age=5";

#[tracing::instrument(skip_all, fields(slug))]
async fn get_progress(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    // The request itself, not a copy of its headers: only If-None-Match is read.
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let document = public_document(&state, &slug).await?;
    Ok(progress_response(&document, request.headers().get(header::IF_NONE_MATCH)))
}

/// The answer to a progress read: the document, or 304 when the client holds it already.
pub(super) fn progress_response(
    document: &ProgressDocument,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let fresh = if_none_match
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| etag_matches(value, &document.etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document.body.clone())
            .into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PROGRESS_CACHE_CONTROL));
    response_headers.insert(header::ETAG, document.etag_header.clone());
    response
}

async fn public_document(state: &AppState, slug: &str) -> ApiResult<Arc<ProgressDocument>> {
    state
        .store
        .progress_document(slug)
        .await?
        .filter(|document| document.public)
        .ok_or_else(|| Problem::not_found("campaign"))
}

/// How often a quiet stream sends a comment line, so proxies keep it open.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// `GET /api/v1/campaigns/{slug}/progress/stream`: one `progress` event with the document
/// on connect and after every change. A reconnecting client gets the current figures at
/// once, whatever it missed.
#[tracing::instrument(skip_all, fields(slug))]
async fn stream_progress(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let document = public_document(&state, &slug).await?;
    let ip = state.defence.client_ip(&headers, peer);
    let permit = state.live.admit(state.defence.limit_key(ip)).map_err(|refused| match refused {
        TooManyStreams::FromThisAddress => {
            tracing::warn!(%ip, "too many progress streams from one address");
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-streams",
                "Too many live streams",
                "This address has too many live progress streams open; close some and retry.",
            )
        }
        TooManyStreams::Full => {
            tracing::warn!("every live stream this server may hold is open");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "streams-full",
                "Live updates are full",
                "This server holds as many live progress streams as it may; retry shortly.",
            )
            .retry_after(STREAMS_FULL_RETRY_SECONDS)
        }
    })?;
    let updates = state.live.subscribe(document.campaign_id);
    let first = progress_event(&document);
    let stream = futures_util::stream::unfold(
        (Some(first), updates, permit, document.etag.clone()),
        |(first, mut updates, permit, mut last_etag)| async move {
            if let Some(event) = first {
                return Some((Ok::<_, Infallible>(event), (None, updates, permit, last_etag)));
            }
            loop {
                match updates.recv().await {
                    // Set back to draft: the campaign is no longer public, the stream ends
                    // without a word of its figures.
                    Ok(document) if !document.public => return None,
                    Ok(document) if document.etag == last_etag => {}
                    Ok(document) => {
                        last_etag = document.etag.clone();
                        let event = progress_event(&document);
                        return Some((Ok(event), (None, updates, permit, last_etag)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT));
    let mut response = sse.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn progress_event(document: &ProgressDocument) -> Event {
    Event::default()
        .event("progress")
        .id(document.etag.trim_matches('"'))
        .retry(Duration::from_secs(3))
        .data(String::from_utf8_lossy(&document.body))
}

/// `If-None-Match` may list several tags, weak ones (`W/"…"`), or `*`.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Prometheus text: refused checkouts by reason, checkouts started, open live streams.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let counters = &state.defence.counters;
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    let body = format!(
        "# HELP appeal_checkouts_started_total Checkouts that passed the card-testing defence.\n\
         # TYPE appeal_checkouts_started_total counter\n\
         appeal_checkouts_started_total {}\n\
         # HELP appeal_checkouts_refused_total Checkout attempts refused, by reason.\n\
         # TYPE appeal_checkouts_refused_total counter\n\
         appeal_checkouts_refused_total{{reason=\"rate_limited\"}} {}\n\
         appeal_checkouts_refused_total{{reason=\"honeypot\"}} {}\n\
         appeal_checkouts_refused_total{{reason=\"captcha\"}} {}\n\
         # HELP appeal_live_streams Open live progress streams.\n\
         # TYPE appeal_live_streams gauge\n\
         appeal_live_streams {}\n",
        load(&counters.checkouts_started),
        load(&counters.rate_limited),
        load(&counters.honeypot),
        load(&counters.captcha),
        state.live.open_streams(),
    );
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], body)
}

async fn readyz(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Problem::draining());
    }
    state.store.ping().await.map_err(|error| Problem::unavailable(&error))?;
    Ok(axum::Json(json!({ "status": "ready" })))
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
