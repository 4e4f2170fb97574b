//! `POST /api/v1/campaigns/{slug}/checkout`: a supporter's gift to a Stripe Checkout Session.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    ApiJson(input): ApiJson<CheckoutInput>,
) -> ApiResult<Response> {
    let started =
        actions::start_checkout(&state.store, state.payments.as_ref(), &slug, input, &state.public_url)
            .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": started.session_id, "url": started.url })))
        .into_response())
}
