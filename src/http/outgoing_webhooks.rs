//! Admin endpoints for outgoing webhooks: register, list, change, remove, the delivery log
//! and replays. (Stripe's incoming webhooks are in `webhook`.)

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::extract::{ApiJson, ApiQuery};
use crate::access::Role;
use crate::actions::{self, DeliveryLog, EndpointInput, ReplayInput, endpoint_body};
use crate::ledger::progress::timestamp;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/webhooks", get(list).post(create))
        .route("/api/v1/admin/webhooks/{id}", get(show).patch(update).delete(remove))
        .route("/api/v1/admin/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/v1/admin/webhooks/{id}/replay", post(replay))
}

/// An endpoint's deliveries, each with its attempts, as the API shows them.
pub fn log_body(log: &DeliveryLog) -> Value {
    let deliveries: Vec<Value> = log
        .deliveries
        .iter()
        .map(|(delivery, attempts)| {
            json!({
                "id": delivery.id,
                "event": delivery.event_id,
                "type": delivery.event_type,
                "state": delivery.state,
                "attempts": delivery.attempts,
                "created_at": timestamp(delivery.created_at),
                "next_attempt_at": delivery.next_attempt_at.filter(|_| delivery.state == "pending").map(timestamp),
                "delivered_at": delivery.delivered_at.map(timestamp),
                "log": attempts.iter().map(|attempt| json!({
                    "at": timestamp(attempt.attempted_at),
                    "status": attempt.status,
                    "latency_ms": attempt.latency_ms,
                    "answer": attempt.answer,
                    "replay": attempt.replay,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "deliveries": deliveries, "next_before": log.next_before })
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoints = actions::list_webhooks(&state.store, actor).await?;
    let bodies: Vec<Value> = endpoints.iter().map(endpoint_body).collect();
    Ok(axum::Json(json!({ "webhooks": bodies })).into_response())
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<EndpointInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoint = actions::add_webhook(&state.store, &input, actor).await?;
    let mut body = endpoint_body(&endpoint);
    body["secret"] = Value::String(endpoint.secret.clone());
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn show(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoint = actions::webhook(&state.store, id, actor).await?;
    Ok(axum::Json(endpoint_body(&endpoint)).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<EndpointInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoint = actions::update_webhook(&state.store, id, &input, actor).await?;
    Ok(axum::Json(endpoint_body(&endpoint)).into_response())
}

async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    actions::remove_webhook(&state.store, id, actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    #[serde(default)]
    before: Option<i64>,
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let log = actions::webhook_log(&state.store, id, query.before, actor).await?;
    Ok(axum::Json(log_body(&log)).into_response())
}

/// Queues deliveries again: 202, since they are sent by the sender shortly.
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ReplayInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let queued = actions::replay_webhook(&state.store, id, &input, actor).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "queued": queued }))).into_response())
}
