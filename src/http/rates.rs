//! Exchange rates over the API: list, keep one, and the rate for a pair on a day.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiQuery};
use crate::access::Role;
use crate::actions::{self, RateQuery};
use crate::ledger::rates::{RateBody, RateInput};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(lookup))
}

/// Rates kept, newest day first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RateList {
    rates: Vec<RateBody>,
}

/// The rates kept (at most 1,000, newest day first), of one pair or all, over days or all.
#[utoipa::path(get, path = "/api/v1/admin/rates", operation_id = "list_rates", tag = "rates", params(RateQuery),
    responses((status = 200, description = "The rates", body = RateList)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RateQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let rates = actions::list_rates(&state.store, &query, actor).await?;
    Ok(axum::Json(RateList { rates: rates.iter().map(RateBody::new).collect() }).into_response())
}

/// Keeps a rate (`1 base = rate quote` on `date`, from `source`); one of the same pair, day
/// and source is replaced. Treasurers of the whole organization.
#[utoipa::path(post, path = "/api/v1/admin/rates", operation_id = "add_rate", tag = "rates", request_body = RateInput,
    responses((status = 201, description = "Kept", body = RateBody)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<RateInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let rate = actions::add_rate(&state.store, input, actor).await?;
    Ok((StatusCode::CREATED, axum::Json(RateBody::new(&rate))).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LookupParams {
    /// The currency the money is in (`SEK`).
    #[serde(default)]
    #[param(required = true)]
    from: Option<String>,
    /// The currency it is wanted in (`GBP`).
    #[serde(default)]
    #[param(required = true)]
    to: Option<String>,
    /// The day, `YYYY-MM-DD`.
    #[serde(default)]
    #[param(required = true, format = Date)]
    date: Option<String>,
}

/// The rate that turns `from` into `to` on `date`: the latest of that day or the seven days
/// before it, straight, inverted, or across the euro (as the ECB publishes its rates); its
/// `date` is the day it is of. None is an error naming the pair and the day.
#[utoipa::path(get, path = "/api/v1/admin/rates/lookup", operation_id = "lookup_rate", tag = "rates", params(LookupParams),
    responses((status = 200, description = "The rate", body = RateBody),
        (status = 422, description = "No rate for that pair near that day", body = Problem, content_type = "application/problem+json")))]
async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LookupParams>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let rate = actions::rate_for(
        &state.store,
        params.from.as_deref(),
        params.to.as_deref(),
        params.date.as_deref(),
        actor,
    )
    .await?;
    Ok(axum::Json(RateBody::new(&rate)).into_response())
}
