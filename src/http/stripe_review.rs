//! What Stripe reported that needs a treasurer's look, over the API: events that failed to
//! apply (retry, dismiss) and flags (an over-reversed gift, money that cannot be counted).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiQuery};
use crate::access::Role;
use crate::actions::{self, FlagResolutionInput};
use crate::ledger::progress::timestamp;
use crate::store::{FailedEvent, Flag, FlagFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/stripe/flags", get(list_flags))
        .route("/api/v1/admin/stripe/flags/{id}/resolve", post(resolve_flag))
        .route("/api/v1/admin/stripe/events", get(list_failed_events))
        .route("/api/v1/admin/stripe/events/{id}/retry", post(retry_event))
        .route("/api/v1/admin/stripe/events/{id}/dismiss", post(dismiss_event))
}

/// A flag as JSON, for the API and the dashboard.
pub fn flag_body(flag: &Flag) -> Value {
    json!({
        "id": flag.id,
        "kind": flag.kind.as_str(),
        "campaign": flag.campaign_slug.as_str(),
        "branch": flag.branch_slug.as_ref().map(|slug| slug.as_str()),
        "entry": flag.entry_id,
        "charge": flag.stripe_charge,
        "detail": flag.detail,
        "reported": flag.reported,
        "holds": flag.held.as_ref().map(|held| held.kind.as_str()),
        "raised_at": timestamp(flag.raised_at),
        "resolved_at": flag.resolved_at.map(timestamp),
        "resolved_by": flag.resolved_by,
        "resolution": flag.resolution,
    })
}

/// A failed event as JSON, for the API and the dashboard.
pub fn failed_event_body(event: &FailedEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.kind,
        "created": chrono::DateTime::<chrono::Utc>::from_timestamp(event.created, 0).map(timestamp),
        "status": event.status,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "failed_at": event.failed_at.map(timestamp),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagsQuery {
    /// Resolved flags too.
    #[serde(default)]
    all: bool,
}

async fn list_flags(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FlagsQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let filter = FlagFilter { all: query.all, ..FlagFilter::default() };
    let flags: Vec<Value> = state.store.flags(&actor.scope(), &filter).await?.iter().map(flag_body).collect();
    Ok(axum::Json(json!({ "flags": flags })).into_response())
}

async fn resolve_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<FlagResolutionInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let resolved =
        actions::resolve_flag(&state.store, state.payments.as_ref(), Some(&state.mailer), id, input, actor)
            .await?;
    let mut body = flag_body(&resolved.flag);
    body["recorded_entry"] = json!(resolved.entry.as_ref().map(|entry| entry.id));
    Ok(axum::Json(body).into_response())
}

async fn list_failed_events(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    if actor.branch.is_some() {
        return Err(Problem::forbidden("Stripe's events concern every branch."));
    }
    let events: Vec<Value> =
        state.store.failed_events(&actor.scope()).await?.iter().map(failed_event_body).collect();
    Ok(axum::Json(json!({ "events": events })).into_response())
}

async fn retry_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let outcome =
        actions::retry_stripe_event(&state.store, state.payments.as_ref(), Some(&state.mailer), &id, actor)
            .await?;
    Ok(axum::Json(json!({ "event": id, "outcome": outcome.as_str() })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DismissInput {
    #[serde(default)]
    reason: Option<String>,
}

async fn dismiss_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<DismissInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    actions::dismiss_stripe_event(&state.store, &id, input.reason, actor).await?;
    Ok(axum::Json(json!({ "event": id, "status": "dismissed" })).into_response())
}
