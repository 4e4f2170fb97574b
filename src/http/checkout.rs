//! `POST /api/v1/campaigns/{slug}/checkout`: a supporter's gift to a Stripe Checkout Session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiPath};
use crate::actions;
use crate::ledger::checkout::CheckoutInput;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_checkout))
}

/// A Checkout Session started: send the supporter to `url`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckoutStarted {
    /// Stripe's Checkout Session (`cs_…`).
    pub id: String,
    /// Stripe's payment page.
    pub url: String,
}

/// Starts a gift: checks it against the campaign and the card-testing defence, records the
/// intent, and opens a Stripe Checkout Session (one-off, or monthly or yearly with `interval`).
#[utoipa::path(post, path = "/api/v1/campaigns/{slug}/checkout", tag = "giving",
    params(super::openapi::CampaignSlug),
    request_body = CheckoutInput,
    responses(
        (status = 201, description = "The Checkout Session", body = CheckoutStarted),
        (status = 429, description = "Too many attempts from this address or e-mail",
            body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused or could not be reached",
            body = Problem, content_type = "application/problem+json")))]
async fn start_checkout(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> ApiResult<Response> {
    let ip = state.defence.client_ip(&headers, peer);
    state
        .defence
        .check_checkout(ip, input.email.as_deref(), input.website.as_deref(), input.captcha_token.as_deref())
        .await?;
    let started =
        actions::start_checkout(&state.store, state.payments.as_ref(), &slug, input, &state.public_url)
            .await?;
    let body = CheckoutStarted { id: started.session_id, url: started.url };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}
