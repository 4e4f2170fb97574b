//! Outgoing webhook endpoints: registered, changed, removed and replayed by admins, through
//! the API, the dashboard and the CLI alike.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ActionError, audit, require_whole_organization};
use crate::access::Actor;
use crate::ledger::FieldErrors;
use crate::ledger::campaign::parse_instant;
use crate::ledger::outgoing::{EventKind, check_endpoint_url, check_event_kinds};
use crate::ledger::progress::timestamp;
use crate::ledger::validation::parse_day;
use crate::store::{Store, StoredAttempt, StoredDelivery, StoredEndpoint};
use crate::webhooks::signature::new_secret;

/// A new endpoint, or a change to one (fields left out stay as they are).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"url": "https://members.example.org/hooks/appeal",
    "events": ["donation.recorded", "donation.reversed"]})))]
pub struct EndpointInput {
    /// https (http only to localhost).
    #[serde(default)]
    pub url: Option<String>,
    /// `donation.recorded`, `donation.reversed`, `subscription.started`, `subscription.updated`,
    /// `subscription.ended`, `campaign.goal_reached`, `payout.reconciled`, `batch.posted`.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// What to send again: one delivery, or every event written in a time range.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"delivery": 42}), json!({"from": "2026-11-01", "to": "2026-11-02T12:00:00Z"})))]
pub struct ReplayInput {
    #[serde(default)]
    pub delivery: Option<i64>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

/// An endpoint's deliveries, newest first, each with its attempts.
#[derive(Debug)]
pub struct DeliveryLog {
    pub deliveries: Vec<(StoredDelivery, Vec<StoredAttempt>)>,
    /// The `before` of the next page, when there is one.
    pub next_before: Option<i64>,
}

/// Deliveries per page of the log.
pub const LOG_PAGE: i64 = 50;

fn checked(
    input: &EndpointInput,
    creating: bool,
) -> Result<(Option<String>, Option<Vec<EventKind>>), FieldErrors> {
    let mut errors = FieldErrors::new();
    let url = match (&input.url, creating) {
        (Some(url), _) => errors.check("url", check_endpoint_url(url)),
        (None, true) => {
            errors.add("url", "is required");
            None
        }
        (None, false) => None,
    };
    let events = match (&input.events, creating) {
        (Some(names), _) => match check_event_kinds(names) {
            Ok(kinds) => Some(kinds),
            Err((field, message)) => {
                errors.add(field, message);
                None
            }
        },
        (None, true) => {
            errors.add("events", "is required: the event types to send, such as [\"donation.recorded\"]");
            None
        }
        (None, false) => None,
    };
    errors.into_result(|| (url, events))
}

/// Outgoing webhooks carry every branch's money.
const WHAT: &str = "Outgoing webhooks";

/// An endpoint as the API and the audit log show it (never its secret).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EndpointBody {
    pub id: i64,
    pub url: String,
    /// The event types it is sent.
    pub events: Vec<&'static str>,
    pub enabled: bool,
    /// Why it was disabled, when it was.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub last_success_at: Option<String>,
}

impl EndpointBody {
    pub fn new(endpoint: &StoredEndpoint) -> Self {
        EndpointBody {
            id: endpoint.id,
            url: endpoint.url.clone(),
            events: endpoint.events.iter().map(|kind| kind.as_str()).collect(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            created_at: timestamp(endpoint.created_at),
            created_by: endpoint.created_by.clone(),
            last_success_at: endpoint.last_success_at.map(timestamp),
        }
    }
}

/// An endpoint as the audit log keeps it.
fn endpoint_body(endpoint: &StoredEndpoint) -> serde_json::Value {
    serde_json::to_value(EndpointBody::new(endpoint)).unwrap_or_default()
}

/// Every endpoint.
pub async fn list_webhooks(store: &Store, actor: &Actor) -> Result<Vec<StoredEndpoint>, ActionError> {
    require_whole_organization(actor, WHAT)?;
    Ok(store.webhook_endpoints().await?)
}

/// One endpoint.
pub async fn webhook(store: &Store, id: i64, actor: &Actor) -> Result<StoredEndpoint, ActionError> {
    require_whole_organization(actor, WHAT)?;
    store.webhook_endpoint(id).await?.ok_or(ActionError::NotFound("webhook endpoint"))
}

/// Registers an endpoint with a new secret, which the answer shows this once.
pub async fn add_webhook(
    store: &Store,
    input: &EndpointInput,
    actor: &Actor,
) -> Result<StoredEndpoint, ActionError> {
    if input.enabled == Some(false) {
        return Err(FieldErrors::single("enabled", "a new endpoint is enabled; disable it once added").into());
    }
    let (Some(url), Some(events)) = checked(input, true)? else {
        return Err(FieldErrors::single("url", "is required").into());
    };
    let endpoint = store.create_webhook_endpoint(&url, &events, &new_secret(), &actor.label).await?;
    let target = format!("webhook:{}", endpoint.id);
    audit(store, actor, "webhook.create", &target, None, Some(endpoint_body(&endpoint))).await;
    Ok(endpoint)
}

pub async fn update_webhook(
    store: &Store,
    id: i64,
    input: &EndpointInput,
    actor: &Actor,
) -> Result<StoredEndpoint, ActionError> {
    let before = webhook(store, id, actor).await?;
    let (url, events) = checked(input, false)?;
    let endpoint = store
        .update_webhook_endpoint(id, url.as_deref(), events.as_deref(), input.enabled)
        .await?
        .ok_or(ActionError::NotFound("webhook endpoint"))?;
    let target = format!("webhook:{id}");
    audit(
        store,
        actor,
        "webhook.update",
        &target,
        Some(endpoint_body(&before)),
        Some(endpoint_body(&endpoint)),
    )
    .await;
    Ok(endpoint)
}

pub async fn remove_webhook(store: &Store, id: i64, actor: &Actor) -> Result<(), ActionError> {
    let endpoint = webhook(store, id, actor).await?;
    store.delete_webhook_endpoint(id).await?;
    audit(store, actor, "webhook.delete", &format!("webhook:{id}"), Some(endpoint_body(&endpoint)), None)
        .await;
    Ok(())
}

/// Queues deliveries again; returns how many.
pub async fn replay_webhook(
    store: &Store,
    id: i64,
    input: &ReplayInput,
    actor: &Actor,
) -> Result<u64, ActionError> {
    webhook(store, id, actor).await?;
    let queued = match (input.delivery, &input.from, &input.to) {
        (Some(delivery), None, None) => {
            if !store.replay_webhook_delivery(id, delivery).await? {
                return Err(FieldErrors::single("delivery", "is not a delivery of this endpoint").into());
            }
            1
        }
        (None, Some(from), to) => {
            let mut errors = FieldErrors::new();
            let from = errors.check("from", instant(from));
            let to = match to {
                Some(to) => errors.check("to", instant(to)),
                None => Some(Utc::now()),
            };
            let (Some(from), Some(to)) = (from, to) else {
                return Err(errors.into());
            };
            if from >= to {
                return Err(FieldErrors::single("to", "must be after from").into());
            }
            store.replay_webhook_range(id, from, to).await?
        }
        _ => {
            return Err(FieldErrors::single(
                "delivery",
                "give either a delivery id, or a time range as from (and to, by default now)",
            )
            .into());
        }
    };
    let after =
        serde_json::json!({"delivery": input.delivery, "from": input.from, "to": input.to, "queued": queued});
    audit(store, actor, "webhook.replay", &format!("webhook:{id}"), None, Some(after)).await;
    Ok(queued)
}

/// An endpoint's deliveries with their attempts, newest first.
pub async fn webhook_log(
    store: &Store,
    id: i64,
    before: Option<i64>,
    actor: &Actor,
) -> Result<DeliveryLog, ActionError> {
    webhook(store, id, actor).await?;
    let deliveries = store.webhook_deliveries(id, before, LOG_PAGE + 1).await?;
    let more = i64::try_from(deliveries.len()).unwrap_or(i64::MAX) > LOG_PAGE;
    let deliveries: Vec<StoredDelivery> =
        deliveries.into_iter().take(usize::try_from(LOG_PAGE).unwrap_or(50)).collect();
    let ids: Vec<i64> = deliveries.iter().map(|delivery| delivery.id).collect();
    let mut attempts = store.webhook_attempts(&ids).await?;
    let next_before = if more { deliveries.last().map(|delivery| delivery.id) } else { None };
    let deliveries = deliveries
        .into_iter()
        .map(|delivery| {
            let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut attempts)
                .into_iter()
                .partition(|attempt| attempt.delivery_id == delivery.id);
            attempts = rest;
            (delivery, own)
        })
        .collect();
    Ok(DeliveryLog { deliveries, next_before })
}

/// An instant as the API takes it: RFC 3339, or a day (its start, UTC).
fn instant(text: &str) -> Result<DateTime<Utc>, &'static str> {
    parse_instant(text)
        .ok()
        .or_else(|| parse_day(text.trim()).and_then(|day| day.and_hms_opt(0, 0, 0)).map(|at| at.and_utc()))
        .ok_or("must be an instant such as 2026-12-06T10:00:00Z, or a day such as 2026-12-06")
}
