//! Public reads: campaigns and their progress, and the health probes. CORS is open for GET.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

use axum::extract::ConnectInfo;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::broadcast;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, Problem};
use super::extract::ApiPath;
use crate::ledger::campaign::Localized;
use crate::ledger::progress::timestamp;
use crate::ledger::{Branch, Campaign};
use crate::live::TooManyStreams;
use crate::store::ProgressDocument;

/// When a client refused for want of room among the live streams should try again.
const STREAMS_FULL_RETRY_SECONDS: u64 = 30;

pub fn router() -> OpenApiRouter<AppState> {
    // Any origin gets the same answer, so nothing varies by it (`Vary` would only make
    // every progress answer longer).
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .vary(Vec::<axum::http::HeaderName>::new());
    OpenApiRouter::new()
        .routes(routes!(list_campaigns))
        .routes(routes!(get_campaign))
        .routes(routes!(get_progress))
        .routes(routes!(stream_progress))
        .layer(cors)
}

pub fn health_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

/// A list of campaigns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignList {
    pub campaigns: Vec<CampaignBody>,
}

/// What a probe answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeBody {
    /// `ok` (alive) or `ready` (able to serve).
    pub status: &'static str,
}

/// A campaign as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignBody {
    pub slug: String,
    pub currency: &'static str,
    /// The first goal.
    pub goal: String,
    /// Every goal, lowest first (stretch goals after `goal`); the progress document says which
    /// is in force and when each was reached.
    pub goals: Vec<String>,
    pub donor_goal: Option<i64>,
    pub title: Localized,
    pub description: Localized,
    pub status: &'static str,
    /// A closed campaign kept out of lists.
    pub archived: bool,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub count_net_of_fees: bool,
    /// Whether matched money counts in `raised` once paid or as soon as pledged.
    pub count_matches: crate::ledger::matching::MatchCounting,
    pub checkout: CheckoutBody,
    pub branches: Vec<BranchBody>,
    pub progress_url: String,
}

/// What the donation form needs: the accepted range and the fee formula.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckoutBody {
    pub min: String,
    pub max: String,
    pub fee_percent: String,
    pub fee_fixed: String,
    /// What the thanks page of a one-off gift asks monthly: `"25%"` of the gift or `"10.00"`.
    pub monthly_ask: Option<String>,
    /// Other currencies a one-off gift may be given in (`checkout`'s `currency`). `min`, `max`
    /// and `fee_fixed` are the campaign currency's; in another currency they are converted at
    /// the latest kept rate (of today or the 7 days before), the minimum rounded up to an
    /// amount Stripe can charge, and a currency without such a rate is not taken.
    pub currencies: Vec<&'static str>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
            goals: campaign.ladder().iter().map(|rung| currency.format_minor(rung.amount_minor)).collect(),
            donor_goal: campaign.donor_goal,
            title: campaign.title.clone(),
            description: campaign.description.clone(),
            status: campaign.status.as_str(),
            archived: campaign.archived,
            starts_at: campaign.starts_at.map(timestamp),
            ends_at: campaign.ends_at.map(timestamp),
            count_net_of_fees: campaign.count_net_of_fees,
            count_matches: campaign.count_matches,
            checkout: CheckoutBody {
                min: currency.format_minor(campaign.checkout.min_minor),
                max: currency.format_minor(campaign.checkout.max_minor.unwrap_or(currency.max_minor())),
                fee_percent: rust_decimal::Decimal::new(campaign.checkout.fee_percent_bp, 2)
                    .normalize()
                    .to_string(),
                fee_fixed: currency.format_minor(campaign.checkout.fee_fixed_minor),
                monthly_ask: campaign.checkout.monthly_ask.map(|ask| ask.text(currency)),
                currencies: campaign.checkout_currencies.iter().map(|other| other.code()).collect(),
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

/// The campaigns open to the public (not drafts, not archived).
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, description = "The public campaigns", body = CampaignList)))]
#[tracing::instrument(skip_all)]
async fn list_campaigns(State(state): State<AppState>) -> ApiResult<Response> {
    let campaigns = state.store.list_campaigns(false).await?;
    let mut bodies = Vec::with_capacity(campaigns.len());
    // Archived campaigns answer by their address, but are no longer listed.
    for campaign in campaigns.iter().filter(|campaign| !campaign.archived) {
        let branches = state.store.branches(campaign.id).await?;
        bodies.push(CampaignBody::new(campaign, &branches));
    }
    Ok(axum::Json(CampaignList { campaigns: bodies }).into_response())
}

/// A public campaign: its texts, goal, branches and what the donation form accepts.
#[utoipa::path(get, path = "/api/v1/campaigns/{slug}", tag = "campaigns", params(super::openapi::CampaignSlug),
    responses((status = 200, description = "The campaign", body = CampaignBody)))]
#[tracing::instrument(skip_all, fields(slug))]
async fn get_campaign(State(state): State<AppState>, ApiPath(slug): ApiPath<String>) -> ApiResult<Response> {
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

/// The progress bar's figures, served from memory; `ETag` and `If-None-Match` make a poll cheap.
#[utoipa::path(get, path = "/api/v1/campaigns/{slug}/progress", tag = "campaigns",
    params(super::openapi::CampaignSlug,
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a document held already")),
    responses(
        (status = 200, description = "The progress document", body = crate::ledger::progress::Progress,
            headers(("ETag" = String, description = "The document's version"),
                    ("Cache-Control" = String, description = "public, max-age=5"))),
        (status = 304, description = "The client holds this version already")))]
#[tracing::instrument(skip_all, fields(slug))]
async fn get_progress(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
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
    tagged_json(&document.body, &document.etag, &document.etag_header, if_none_match)
}

/// A JSON document with its ETag, or 304 when the client holds it already.
pub(super) fn tagged_json(
    body: &axum::body::Bytes,
    etag: &str,
    etag_header: &HeaderValue,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let fresh =
        if_none_match.and_then(|value| value.to_str().ok()).is_some_and(|value| etag_matches(value, etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.clone()).into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PROGRESS_CACHE_CONTROL));
    response_headers.insert(header::ETAG, etag_header.clone());
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
pub(super) const HEARTBEAT: Duration = Duration::from_secs(15);

/// `GET /api/v1/campaigns/{slug}/progress/stream`: one `progress` event with the document
/// on connect and after every change. A reconnecting client gets the current figures at
/// once, whatever it missed.
#[utoipa::path(get, path = "/api/v1/campaigns/{slug}/progress/stream", tag = "campaigns",
    params(super::openapi::CampaignSlug),
    responses(
        (status = 200, description = "Server-sent events: `progress`, whose data is the progress document, on connect and after every change; a comment line every 15 s",
            content_type = "text/event-stream", body = String),
        (status = 429, description = "This address holds too many open streams", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(slug))]
async fn stream_progress(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let document = public_document(&state, &slug).await?;
    let permit = admit_stream(&state, &headers, peer)?;
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

/// Admits one more live stream from the caller, or answers 429 (this address holds its share)
/// or 503 (the instance holds as many as it may).
pub(super) fn admit_stream(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> ApiResult<crate::live::StreamPermit> {
    let ip = state.defence.client_ip(headers, peer);
    state.live.admit(state.defence.limit_key(ip)).map_err(|refused| match refused {
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
    })
}

fn progress_event(document: &ProgressDocument) -> Event {
    tagged_event(&document.etag, &document.body)
}

/// A `progress` event of a stream: the document, its ETag as the event's id.
pub(super) fn tagged_event(etag: &str, body: &[u8]) -> Event {
    Event::default()
        .event("progress")
        .id(etag.trim_matches('"'))
        .retry(Duration::from_secs(3))
        .data(String::from_utf8_lossy(body))
}

/// `If-None-Match` may list several tags, weak ones (`W/"…"`), or `*`.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = ProbeBody)))]
async fn healthz() -> impl IntoResponse {
    axum::Json(ProbeBody { status: "ok" })
}

/// Prometheus text: refused checkouts by reason, checkouts started, open live streams.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String)))]
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

/// Readiness: the database answers and the instance is not draining.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready to serve", body = ProbeBody)))]
async fn readyz(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Problem::draining());
    }
    state.store.ping().await.map_err(|error| Problem::unavailable(&error))?;
    Ok(axum::Json(ProbeBody { status: "ready" }))
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
