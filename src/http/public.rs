//! Public reads: campaigns and their progress, and the health probes. CORS is open for GET.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::{ApiResult, Problem};
use crate::access::hex;
use crate::ledger::campaign::Localized;
use crate::ledger::progress::{Progress, timestamp};
use crate::ledger::{Branch, Campaign};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/campaigns", get(list_campaigns))
        .route("/api/v1/campaigns/{slug}", get(get_campaign))
        .route("/api/v1/campaigns/{slug}/progress", get(get_progress))
}

pub fn health_router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
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
    for campaign in &campaigns {
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
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (campaign, totals, branches) = state
        .store
        .campaign_progress(&slug)
        .await?
        .filter(|(campaign, _, _)| campaign.status.is_public())
        .ok_or_else(|| Problem::not_found("campaign"))?;
    let body = serde_json::to_vec(&Progress::new(&campaign, &totals, &branches))
        .map_err(|error| Problem::internal(&error))?;
    let etag = format!("\"{}\"", &hex(&Sha256::digest(&body))[..32]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| etag_matches(value, &etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PROGRESS_CACHE_CONTROL));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    Ok(response)
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

async fn readyz(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
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
