//! `POST /api/v1/stripe/webhook`: Stripe's events, signature checked on the raw body,
//! answered 2xx only once their effects are committed.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, Problem};
use crate::payments::objects::Event;
use crate::payments::process::{EventSource, process_event};
use crate::payments::signature::verify;

/// Stripe's events can be large (an invoice with many lines).
const MAX_EVENT_BYTES: usize = 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_event)).layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
}

/// What became of a Stripe event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventReceived {
    pub received: bool,
    #[schema(value_type = String, examples("applied", "duplicate", "ignored", "deferred", "quarantined"))]
    pub outcome: &'static str,
}

/// Stripe's events (Stripe calls this): the signature is checked on the raw body, and the
/// answer is 2xx only once the event's effects are committed, so Stripe retries otherwise.
#[utoipa::path(post, path = "/api/v1/stripe/webhook", tag = "giving",
    request_body(content = Object, description = "A Stripe event object, as Stripe signs it", content_type = "application/json"),
    responses((status = 200, description = "Recorded (or already recorded)", body = EventReceived)))]
#[tracing::instrument(skip_all, fields(event_id, event_type))]
async fn receive_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let Some(payments) = &state.payments else {
        return Err(not_configured("STRIPE_SECRET_KEY is not configured."));
    };
    if payments.webhook_secrets.is_empty() {
        return Err(not_configured("STRIPE_WEBHOOK_SECRET is not configured."));
    }
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok());
    verify(signature, &body, &payments.webhook_secrets, chrono::Utc::now().timestamp()).map_err(|error| {
        tracing::warn!(%error, "refused a webhook delivery");
        Problem::bad_request("bad-signature", "Bad signature", format!("{error}."))
    })?;
    let event: Event = serde_json::from_slice(&body).map_err(|error| {
        Problem::bad_request(
            "malformed-event",
            "Malformed event",
            format!("The event cannot be read: {error}."),
        )
    })?;
    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    span.record("event_type", event.kind.as_str());
    let raw = String::from_utf8_lossy(&body);
    let outcome = process_event(&state.store, &payments.api, &event, &raw, EventSource::Webhook).await?;
    let outcome_name = outcome.as_str();
    tracing::info!(outcome = outcome_name, "Stripe event");
    Ok((StatusCode::OK, axum::Json(EventReceived { received: true, outcome: outcome_name })).into_response())
}

fn not_configured(detail: &str) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "webhooks-not-configured",
        "Webhooks are not set up",
        detail,
    )
}
