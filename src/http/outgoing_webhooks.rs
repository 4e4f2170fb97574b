//! Admin endpoints for outgoing webhooks: register, list, change, remove, the delivery log
//! and replays. (Stripe's incoming webhooks are in `webhook`.)

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::Id;
use crate::access::Role;
use crate::actions::{self, DeliveryLog, EndpointBody, EndpointInput, ReplayInput};
use crate::ledger::progress::timestamp;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(deliveries))
        .routes(routes!(replay))
}

/// Endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EndpointList {
    webhooks: Vec<EndpointBody>,
}

/// An endpoint just registered, with its signing secret (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedEndpoint {
    #[serde(flatten)]
    endpoint: EndpointBody,
    /// `whsec_…`: the key of the `webhook-signature` HMAC (Standard Webhooks).
    secret: String,
}

/// One attempt to deliver.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AttemptBody {
    at: String,
    /// The receiver's HTTP status; `null` when it could not be reached or did not answer.
    status: Option<i64>,
    latency_ms: i64,
    /// The first KiB of the answer.
    answer: Option<String>,
    replay: bool,
}

/// An event's delivery to an endpoint, with its attempts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DeliveryBody {
    id: i64,
    /// The event's id (`evt_…`), the `webhook-id` header.
    event: String,
    #[serde(rename = "type")]
    kind: String,
    /// `pending`, `delivered` or `failed`.
    state: String,
    attempts: i64,
    created_at: String,
    next_attempt_at: Option<String>,
    delivered_at: Option<String>,
    log: Vec<AttemptBody>,
}

/// A page of an endpoint's delivery log, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryLogBody {
    deliveries: Vec<DeliveryBody>,
    /// The `before` of the next page, when there is one.
    next_before: Option<i64>,
}

impl DeliveryLogBody {
    pub fn new(log: &DeliveryLog) -> Self {
        let deliveries = log
            .deliveries
            .iter()
            .map(|(delivery, attempts)| DeliveryBody {
                id: delivery.id,
                event: delivery.event_id.clone(),
                kind: delivery.event_type.clone(),
                state: delivery.state.clone(),
                attempts: delivery.attempts,
                created_at: timestamp(delivery.created_at),
                next_attempt_at: delivery
                    .next_attempt_at
                    .filter(|_| delivery.state == "pending")
                    .map(timestamp),
                delivered_at: delivery.delivered_at.map(timestamp),
                log: attempts
                    .iter()
                    .map(|attempt| AttemptBody {
                        at: timestamp(attempt.attempted_at),
                        status: attempt.status,
                        latency_ms: attempt.latency_ms,
                        answer: attempt.answer.clone(),
                        replay: attempt.replay,
                    })
                    .collect(),
            })
            .collect();
        DeliveryLogBody { deliveries, next_before: log.next_before }
    }
}

/// How many deliveries a replay queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Queued {
    queued: u64,
}

/// Every registered endpoint (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "The endpoints", body = EndpointList)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoints = actions::list_webhooks(&state.store, actor).await?;
    let webhooks = endpoints.iter().map(EndpointBody::new).collect();
    Ok(axum::Json(EndpointList { webhooks }).into_response())
}

/// Registers an endpoint (`url` and `events` required); its secret is shown this once.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = EndpointInput,
    responses((status = 201, description = "Registered", body = CreatedEndpoint)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<EndpointInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoint = actions::add_webhook(&state.store, &input, actor).await?;
    let body = CreatedEndpoint { endpoint: EndpointBody::new(&endpoint), secret: endpoint.secret.clone() };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}", operation_id = "show_webhook", tag = "webhooks", params(Id),
    responses((status = 200, description = "The endpoint", body = EndpointBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoint = actions::webhook(&state.store, id, actor).await?;
    Ok(axum::Json(EndpointBody::new(&endpoint)).into_response())
}

/// Changes an endpoint's address, events, or whether it is enabled.
#[utoipa::path(patch, path = "/api/v1/admin/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", params(Id),
    request_body = EndpointInput, responses((status = 200, description = "Changed", body = EndpointBody)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<EndpointInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let endpoint = actions::update_webhook(&state.store, id, &input, actor).await?;
    Ok(axum::Json(EndpointBody::new(&endpoint)).into_response())
}

/// Removes an endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", operation_id = "remove_webhook", tag = "webhooks", params(Id),
    responses((status = 204, description = "Removed")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    actions::remove_webhook(&state.store, id, actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// Deliveries older than this one (the `next_before` of the page before).
    #[serde(default)]
    before: Option<i64>,
}

/// An endpoint's delivery log: every delivery with each attempt's status, latency and answer.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}/deliveries", operation_id = "webhook_deliveries", tag = "webhooks", params(Id, LogQuery),
    responses((status = 200, description = "A page of the log", body = DeliveryLogBody)))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let log = actions::webhook_log(&state.store, id, query.before, actor).await?;
    Ok(axum::Json(DeliveryLogBody::new(&log)).into_response())
}

/// Sends again one delivery (`delivery`) or every event of a time range (`from`, `to`).
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/replay", operation_id = "replay_webhook", tag = "webhooks", params(Id),
    request_body = ReplayInput,
    responses((status = 202, description = "Queued; the sender sends them shortly", body = Queued)))]
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ReplayInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let queued = actions::replay_webhook(&state.store, id, &input, actor).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Queued { queued })).into_response())
}
