//! `POST /api/v1/campaigns/{slug}/checkout`: a supporter's gift to a Stripe Checkout Session.

use axum::Router;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::AppState;
use super::error::ApiResult;
use super::extract::ApiJson;
use crate::actions;
use crate::ledger::checkout::CheckoutInput;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/campaigns/{slug}/checkout", post(start_checkout))
}

async fn start_checkout(
    State(state): State<AppState>,
    Path(slug): Path<String>,
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
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": started.session_id, "url": started.url })))
        .into_response())
}
