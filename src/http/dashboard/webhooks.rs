//! Outgoing webhooks in the dashboard, for admins: register an endpoint (its secret shown
//! once), enable, disable or remove one, read its delivery log and send deliveries again.
//! Every change goes through the same actions as the API and the CLI.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::fields::{Place, first as one, labelled, posted as fields, words};
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{frame, minute, page, refuse_unless_admin};
use crate::access::Role;
use crate::actions::{self, ActionError, EndpointInput, ReplayInput};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::outgoing::EventKind;

const ADMINS_ONLY: &str = "Webhooks are managed by admins.";

/// Where a refused form's message goes.
fn place(field: &str) -> Place {
    match field {
        "url" => Place::at("URL", "webhook-url"),
        field if field.starts_with("events") => Place::at("Events", "webhook-events"),
        "from" => Place::at("From", "replay-from"),
        "to" => Place::at("To", "replay-to"),
        "form" => Place::form(),
        _ => Place { label: words(field), input: None },
    }
}

/// What the list page shows once: a secret made now, or a refusal with what was typed.
#[derive(Debug, Default)]
struct Once {
    created: Option<Value>,
    errors: BTreeMap<String, String>,
    typed: Value,
}

async fn render_list(
    state: &AppState,
    signed_in: &SignedIn,
    notice: Option<String>,
    once: Once,
    status: StatusCode,
) -> Response {
    let endpoints = match actions::list_webhooks(&state.store, &signed_in.actor).await {
        Ok(endpoints) => endpoints,
        Err(error) => return Problem::from(error).into_response(),
    };
    let endpoints: Vec<Value> = endpoints
        .iter()
        .map(|endpoint| {
            json!({
                "id": endpoint.id,
                "url": endpoint.url,
                "events": endpoint.events.iter().map(|kind| kind.as_str()).collect::<Vec<_>>(),
                "enabled": endpoint.enabled,
                "disabled_reason": endpoint.disabled_reason,
                "last_success": endpoint.last_success_at.map(|at| minute(state, at)),
            })
        })
        .collect();
    let typed_events: Vec<String> = once.typed["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|event| event.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let kinds: Vec<Value> = EventKind::ALL
        .iter()
        .map(|kind| json!({"name": kind.as_str(), "checked": typed_events.iter().any(|typed| typed == kind.as_str())}))
        .collect();
    let refusal = labelled(&once.errors, place);
    let context = json!({
        "frame": frame(state, signed_in, "Webhooks"),
        "notice": notice,
        "endpoints": endpoints,
        "kinds": kinds,
        "created": once.created,
        "errors": refusal["summary"],
        "beside": refusal["beside"],
        "typed": once.typed,
    });
    page(status, "admin_webhooks.html", context)
}

pub(super) async fn list(State(state): State<AppState>, signed_in: SignedIn, headers: HeaderMap) -> Response {
    if let Some(refused) = refuse_unless_admin(&signed_in, ADMINS_ONLY) {
        return refused;
    }
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response = render_list(&state, &signed_in, notice, Once::default(), StatusCode::OK).await;
    spent(&state, shown, response)
}

pub(super) async fn add(State(state): State<AppState>, signed_in: SignedIn, body: Bytes) -> Response {
    let fields = fields(&body);
    if let Some(refused) = signed_in.refuse_form(one(&fields, "csrf"), Role::Admin) {
        return refused;
    }
    let url = one(&fields, "url").unwrap_or_default().to_owned();
    let events = fields.get("events").cloned().unwrap_or_default();
    let input = EndpointInput { url: Some(url.clone()), events: Some(events.clone()), enabled: None };
    match actions::add_webhook(&state.store, &input, &signed_in.actor).await {
        Ok(endpoint) => {
            let created = json!({"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret});
            render_list(
                &state,
                &signed_in,
                None,
                Once { created: Some(created), ..Once::default() },
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            let typed = json!({"url": url, "events": events});
            refused(&state, &signed_in, error, typed).await
        }
    }
}

async fn refused(state: &AppState, signed_in: &SignedIn, error: ActionError, typed: Value) -> Response {
    match super::fields::refusal(error) {
        Ok((status, errors)) => {
            render_list(state, signed_in, None, Once { errors, typed, ..Once::default() }, status).await
        }
        Err(problem) => problem.into_response(),
    }
}

/// Enable, disable or remove one endpoint.
pub(super) async fn change(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((id, what)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let fields = fields(&body);
    if let Some(refused) = signed_in.refuse_form(one(&fields, "csrf"), Role::Admin) {
        return refused;
    }
    let done = match what.as_str() {
        "enable" | "disable" => {
            let input = EndpointInput { enabled: Some(what == "enable"), ..EndpointInput::default() };
            actions::update_webhook(&state.store, id, &input, &signed_in.actor).await.map(|endpoint| {
                let state = if endpoint.enabled { "enabled" } else { "disabled" };
                format!("The endpoint {} is {state}.", endpoint.url)
            })
        }
        "remove" => actions::remove_webhook(&state.store, id, &signed_in.actor)
            .await
            .map(|()| "The endpoint is removed with its delivery log.".to_owned()),
        _ => return Problem::not_found("action").into_response(),
    };
    match done {
        Ok(notice) => redirect_with_notice(&state, &signed_in, "/admin/webhooks", &notice),
        Err(error) => refused(&state, &signed_in, error, Value::Null).await,
    }
}

async fn render_log(
    state: &AppState,
    signed_in: &SignedIn,
    id: i64,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let endpoint = match actions::webhook(&state.store, id, &signed_in.actor).await {
        Ok(endpoint) => endpoint,
        Err(error) => return Problem::from(error).into_response(),
    };
    let log = match actions::webhook_log(&state.store, id, None, &signed_in.actor).await {
        Ok(log) => log,
        Err(error) => return Problem::from(error).into_response(),
    };
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
                "created": minute(state, delivery.created_at),
                "next": delivery.next_attempt_at.filter(|_| delivery.state == "pending").map(|at| minute(state, at)),
                "log": attempts.iter().rev().map(|attempt| json!({
                    "at": minute(state, attempt.attempted_at),
                    "status": attempt.status,
                    "latency_ms": attempt.latency_ms,
                    "answer": attempt.answer.as_deref().map(excerpt),
                    "replay": attempt.replay,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let refusal = labelled(&errors, place);
    let context = json!({
        "frame": frame(state, signed_in, "Webhook deliveries"),
        "notice": notice,
        "endpoint": {
            "id": endpoint.id,
            "url": endpoint.url,
            "enabled": endpoint.enabled,
            "disabled_reason": endpoint.disabled_reason,
            "events": endpoint.events.iter().map(|kind| kind.as_str()).collect::<Vec<_>>(),
        },
        "deliveries": deliveries,
        "more": log.next_before.is_some(),
        "errors": refusal["summary"],
        "beside": refusal["beside"],
    });
    page(status, "admin_webhook.html", context)
}

/// The start of an answer, as the page shows it (the API gives what the log kept).
fn excerpt(answer: &str) -> String {
    const SHOWN: usize = 120;
    match answer.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &answer[..cut]),
        None => answer.to_owned(),
    }
}

pub(super) async fn deliveries(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse_unless_admin(&signed_in, ADMINS_ONLY) {
        return refused;
    }
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response = render_log(&state, &signed_in, id, notice, BTreeMap::new(), StatusCode::OK).await;
    spent(&state, shown, response)
}

/// Sends one delivery again, or every event of a time range.
pub(super) async fn replay(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let fields = fields(&body);
    if let Some(refused) = signed_in.refuse_form(one(&fields, "csrf"), Role::Admin) {
        return refused;
    }
    let text =
        |name: &str| one(&fields, name).map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned);
    let input = match text("delivery") {
        Some(delivery) => match delivery.parse() {
            Ok(delivery) => ReplayInput { delivery: Some(delivery), ..ReplayInput::default() },
            Err(_) => return Problem::not_found("delivery").into_response(),
        },
        None => ReplayInput { delivery: None, from: Some(text("from").unwrap_or_default()), to: text("to") },
    };
    match actions::replay_webhook(&state.store, id, &input, &signed_in.actor).await {
        Ok(queued) => {
            let enabled = state
                .store
                .webhook_endpoint(id)
                .await
                .ok()
                .flatten()
                .is_some_and(|endpoint| endpoint.enabled);
            let when = if enabled { "in a moment" } else { "once the endpoint is enabled again" };
            let notice = match queued {
                1 => format!("1 delivery will be sent again {when}."),
                queued => format!("{queued} deliveries will be sent again {when}."),
            };
            redirect_with_notice(&state, &signed_in, &format!("/admin/webhooks/{id}"), &notice)
        }
        Err(error) => match super::fields::refusal(error) {
            Ok((status, errors)) => render_log(&state, &signed_in, id, None, errors, status).await,
            Err(problem) => problem.into_response(),
        },
    }
}
