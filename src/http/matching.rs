//! `POST|GET /api/v1/admin/campaigns/{slug}/matches`: match offers. A matcher's payment is
//! recorded as an offline donation naming the offer (`"match": id`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::extract::{ApiJson, ApiPath};
use super::openapi::CampaignSlug;
use crate::access::Role;
use crate::actions;
use crate::ledger::Campaign;
use crate::ledger::matching::{MatchOffer, MatchOfferInput, Qualifier};
use crate::ledger::progress::timestamp;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_match_offer, list_match_offers))
}

/// A match offer and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatchOfferBody {
    pub id: i64,
    pub campaign: String,
    /// `null`: anonymous.
    pub matcher: Option<String>,
    pub ratio: String,
    pub cap: String,
    /// Matched so far, refunds deducted.
    pub matched: String,
    /// Paid by the matcher (offline donations naming this offer).
    pub paid: String,
    /// Matched and not paid yet.
    pub pledged: String,
    /// Left under the cap for gifts still to come (none once the window closed).
    pub remaining: String,
    pub starts_at: String,
    pub ends_at: String,
    pub qualifies: Vec<Qualifier>,
}

impl MatchOfferBody {
    pub fn new(campaign: &Campaign, offer: &MatchOffer) -> Self {
        let currency = campaign.currency;
        MatchOfferBody {
            id: offer.id,
            campaign: campaign.slug.to_string(),
            matcher: offer.matcher.clone(),
            ratio: offer.ratio.normalize().to_string(),
            cap: currency.format_minor(offer.cap_minor),
            matched: currency.format_minor(offer.matched_minor),
            paid: currency.format_minor(offer.paid_minor),
            pledged: currency.format_minor(offer.outstanding_minor()),
            remaining: currency.format_minor(offer.remaining_minor(Utc::now())),
            starts_at: timestamp(offer.starts_at),
            ends_at: timestamp(offer.ends_at),
            qualifies: offer.qualifies.qualifiers(),
        }
    }
}

/// Records a match offer: a matcher adds `ratio` times each qualifying gift made between
/// `starts_at` and `ends_at`, up to `cap`. Each gift's match is computed when it is recorded
/// and reduced by its refunds; the progress document shows them in `matching`.
#[utoipa::path(post, path = "/api/v1/admin/campaigns/{slug}/matches", tag = "campaign admin",
    params(CampaignSlug), request_body = MatchOfferInput,
    responses((status = 201, description = "Recorded", body = MatchOfferBody)))]
async fn create_match_offer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(input): ApiJson<MatchOfferInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let (campaign, offer) = actions::create_match_offer(&state.store, &slug, input, actor).await?;
    Ok((StatusCode::CREATED, axum::Json(MatchOfferBody::new(&campaign, &offer))).into_response())
}

/// The campaign's match offers, oldest first, with what each matched and was paid.
#[utoipa::path(get, path = "/api/v1/admin/campaigns/{slug}/matches", tag = "campaign admin",
    params(CampaignSlug), responses((status = 200, description = "The offers", body = Vec<MatchOfferBody>)))]
async fn list_match_offers(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let (campaign, offers) = actions::match_offers(&state.store, &slug).await?;
    let bodies: Vec<MatchOfferBody> =
        offers.iter().map(|offer| MatchOfferBody::new(&campaign, offer)).collect();
    Ok(axum::Json(bodies).into_response())
}
