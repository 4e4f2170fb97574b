//! `GET /api/v1/admin/campaigns/{slug}/sources`: what each `ref` (a link's, a form's, a
//! treasurer's) brought to a campaign.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::extract::ApiPath;
use super::openapi::CampaignSlug;
use crate::access::Role;
use crate::actions;
use crate::ledger::Campaign;
use crate::ledger::attribution::SourceFigures;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(campaign_sources))
}

/// What one source brought.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceBody {
    /// The `ref`; `null` for gifts that came with none.
    #[serde(rename = "ref")]
    pub source_ref: Option<String>,
    /// Checkouts started online with it.
    pub checkouts: i64,
    /// Of those, paid.
    pub checkouts_paid: i64,
    /// Paid per started, in percent ("37.5"); `null` without checkouts.
    pub conversion: Option<String>,
    /// Gifts in the ledger, online and offline (each installment of a subscription counts).
    pub gifts: i64,
    /// Money raised, reversals deducted, counted as the campaign counts it.
    pub raised: String,
    pub donors: i64,
    /// Recurring gifts it started.
    pub subscriptions: i64,
}

/// A campaign's sources, the most money first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourcesBody {
    pub campaign: String,
    pub currency: &'static str,
    pub sources: Vec<SourceBody>,
}

impl SourcesBody {
    pub fn new(campaign: &Campaign, sources: &[SourceFigures]) -> Self {
        let currency = campaign.currency;
        SourcesBody {
            campaign: campaign.slug.to_string(),
            currency: currency.code(),
            sources: sources
                .iter()
                .map(|figures| SourceBody {
                    source_ref: figures.source_ref.clone(),
                    checkouts: figures.checkouts,
                    checkouts_paid: figures.checkouts_paid,
                    conversion: figures.conversion(),
                    gifts: figures.gifts,
                    raised: currency.format_minor(figures.raised_minor),
                    donors: figures.donors,
                    subscriptions: figures.subscriptions,
                })
                .collect(),
        }
    }
}

/// What each `ref` brought to a campaign: checkouts started and paid, gifts, money, donors,
/// recurring gifts started (a branch treasurer sees their branch's).
#[utoipa::path(get, path = "/api/v1/admin/campaigns/{slug}/sources", tag = "campaign admin", params(CampaignSlug),
    responses((status = 200, description = "The campaign's sources", body = SourcesBody)))]
async fn campaign_sources(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let (campaign, sources) = actions::campaign_sources(&state.store, &slug, actor).await?;
    Ok(axum::Json(SourcesBody::new(&campaign, &sources)).into_response())
}
