//! What Stripe reported that needs a treasurer's look, over the API: events that failed to
//! apply (retry, dismiss) and flags (an over-reversed gift, money that cannot be counted).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::{Id, StripeId};
use crate::access::Role;
use crate::actions::{self, FlagResolutionInput};
use crate::ledger::progress::timestamp;
use crate::store::{FailedEvent, Flag, FlagFilter, SupporterEmailRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_flags))
        .routes(routes!(resolve_flag))
        .routes(routes!(list_failed_events))
        .routes(routes!(retry_event))
        .routes(routes!(dismiss_event))
        .routes(routes!(list_supporter_emails))
}

/// An email appeal wrote to a supporter: about their subscription, their annual statement, or
/// (until it is sent) a gift's receipt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SupporterEmailBody {
    pub id: i64,
    /// `payment_failed`, `payment_reminder`, `payment_recovered`, `renewal_notice`,
    /// `annual_statement`, or `receipt` (a gift's receipt, listed until it is sent).
    pub kind: String,
    pub to: String,
    pub subscription: String,
    pub campaign: Option<String>,
    /// Empty until it is written, when it is sent.
    pub subject: String,
    /// `pending`, `sent`, or `cancelled` (no longer applied before it went: the payment went
    /// through first, or the subscription or gift is gone).
    pub state: &'static str,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl SupporterEmailBody {
    pub fn new(email: &SupporterEmailRecord) -> Self {
        let state = match (email.sent_at, email.cancelled_at) {
            (Some(_), _) => "sent",
            (None, Some(_)) => "cancelled",
            (None, None) => "pending",
        };
        SupporterEmailBody {
            id: email.id,
            kind: email.kind.clone(),
            to: email.to.clone(),
            subscription: email.subscription_id.clone(),
            campaign: email.campaign.clone(),
            subject: email.subject.clone(),
            state,
            created_at: timestamp(email.created_at),
            sent_at: email.sent_at.map(timestamp),
            attempts: email.attempts,
            last_error: email.last_error.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SupporterEmailList {
    pub emails: Vec<SupporterEmailBody>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SupporterEmailQuery {
    /// Only those about this subscription (`sub_...`).
    #[serde(default)]
    pub subscription: Option<String>,
}

/// The emails written to supporters (about their subscriptions: a failed payment and the card
/// link, a payment recovered; their statements; and the gifts' receipts waiting to be sent),
/// newest first, at most 500: to whom, when, and whether they went.
/// Treasurers of the whole organization only (they hold donors' addresses).
#[utoipa::path(get, path = "/api/v1/admin/emails", tag = "stripe review", params(SupporterEmailQuery),
    responses((status = 200, description = "The emails", body = SupporterEmailList)))]
async fn list_supporter_emails(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SupporterEmailQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    if actor.branch.is_some() {
        return Err(Problem::forbidden("Supporters' emails concern every branch."));
    }
    let emails = state.store.supporter_emails(query.subscription.as_deref(), 500).await?;
    Ok(axum::Json(SupporterEmailList { emails: emails.iter().map(SupporterEmailBody::new).collect() })
        .into_response())
}

/// What Stripe reported that the ledger could not take as it stands, for a treasurer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlagBody {
    pub id: i64,
    /// `over_reversed` (more reversed than was given) or `uncounted` (money that cannot be counted).
    pub kind: &'static str,
    pub campaign: String,
    pub branch: Option<String>,
    pub entry: Option<i64>,
    pub charge: Option<String>,
    pub detail: String,
    /// What Stripe reported, as it reported it.
    #[schema(value_type = Object)]
    pub reported: serde_json::Value,
    /// The kind of money held until it is resolved.
    pub holds: Option<&'static str>,
    pub raised_at: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

impl FlagBody {
    pub fn new(flag: &Flag) -> Self {
        FlagBody {
            id: flag.id,
            kind: flag.kind.as_str(),
            campaign: flag.campaign_slug.to_string(),
            branch: flag.branch_slug.as_ref().map(ToString::to_string),
            entry: flag.entry_id,
            charge: flag.stripe_charge.clone(),
            detail: flag.detail.clone(),
            reported: flag.reported.clone(),
            holds: flag.held.as_ref().map(|held| held.kind.as_str()),
            raised_at: timestamp(flag.raised_at),
            resolved_at: flag.resolved_at.map(timestamp),
            resolved_by: flag.resolved_by.clone(),
            resolution: flag.resolution.clone(),
        }
    }
}

/// A Stripe event that failed to apply, or was put aside.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FailedEventBody {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub failed_at: Option<String>,
}

impl FailedEventBody {
    pub fn new(event: &FailedEvent) -> Self {
        FailedEventBody {
            id: event.id.clone(),
            kind: event.kind.clone(),
            created: chrono::DateTime::<chrono::Utc>::from_timestamp(event.created, 0).map(timestamp),
            status: event.status.clone(),
            attempts: event.attempts,
            last_error: event.last_error.clone(),
            failed_at: event.failed_at.map(timestamp),
        }
    }
}

/// Flags.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FlagList {
    flags: Vec<FlagBody>,
}

/// A flag resolved, with the entry its resolution recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ResolvedFlag {
    #[serde(flatten)]
    flag: FlagBody,
    recorded_entry: Option<i64>,
}

/// Failed events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FailedEventList {
    events: Vec<FailedEventBody>,
}

/// What became of an event a treasurer acted on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EventDecision {
    event: String,
    /// After a retry: `applied`, `duplicate`, `ignored`, `deferred` or `quarantined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    /// After a dismissal: `dismissed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FlagsQuery {
    /// Resolved flags too.
    #[serde(default)]
    all: bool,
}

/// Open flags (`all=true`: resolved ones too), of the caller's branch for a branch treasurer.
#[utoipa::path(get, path = "/api/v1/admin/stripe/flags", tag = "stripe review", params(FlagsQuery),
    responses((status = 200, description = "The flags", body = FlagList)))]
async fn list_flags(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FlagsQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let filter = FlagFilter { all: query.all, ..FlagFilter::default() };
    let flags = state.store.flags(&actor.scope(), &filter).await?.iter().map(FlagBody::new).collect();
    Ok(axum::Json(FlagList { flags }).into_response())
}

/// Resolves a flag, recording what uncounted money counts for when `amount` is given.
#[utoipa::path(post, path = "/api/v1/admin/stripe/flags/{id}/resolve", tag = "stripe review", params(Id),
    request_body = FlagResolutionInput,
    responses((status = 200, description = "Resolved", body = ResolvedFlag),
        (status = 502, description = "Stripe could not be asked what it holds", body = Problem, content_type = "application/problem+json")))]
async fn resolve_flag(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<FlagResolutionInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let resolved = actions::resolve_flag(&state.store, state.payments.as_ref(), id, input, actor).await?;
    let body = ResolvedFlag {
        flag: FlagBody::new(&resolved.flag),
        recorded_entry: resolved.entry.as_ref().map(|entry| entry.id),
    };
    Ok(axum::Json(body).into_response())
}

/// Stripe events that failed to apply or were quarantined (whole-organization callers only).
#[utoipa::path(get, path = "/api/v1/admin/stripe/events", tag = "stripe review",
    responses((status = 200, description = "The events", body = FailedEventList)))]
async fn list_failed_events(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    if actor.branch.is_some() {
        return Err(Problem::forbidden("Stripe's events concern every branch."));
    }
    let events = state.store.failed_events(&actor.scope()).await?.iter().map(FailedEventBody::new).collect();
    Ok(axum::Json(FailedEventList { events }).into_response())
}

/// Applies a failed event again, fetching it from Stripe.
#[utoipa::path(post, path = "/api/v1/admin/stripe/events/{id}/retry", tag = "stripe review", params(StripeId),
    responses((status = 200, description = "What became of it", body = EventDecision),
        (status = 502, description = "Stripe refused or could not be reached", body = Problem, content_type = "application/problem+json")))]
async fn retry_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let outcome = actions::retry_stripe_event(&state.store, state.payments.as_ref(), &id, actor).await?;
    Ok(axum::Json(EventDecision { event: id, outcome: Some(outcome.as_str()), status: None }).into_response())
}

/// Why an event is put aside for good.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DismissInput {
    #[serde(default)]
    reason: Option<String>,
}

/// Puts a failed event aside for good, with a reason (kept in the audit log).
#[utoipa::path(post, path = "/api/v1/admin/stripe/events/{id}/dismiss", tag = "stripe review", params(StripeId),
    request_body = DismissInput, responses((status = 200, description = "Dismissed", body = EventDecision)))]
async fn dismiss_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<DismissInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    actions::dismiss_stripe_event(&state.store, &id, input.reason, actor).await?;
    Ok(axum::Json(EventDecision { event: id, outcome: None, status: Some("dismissed") }).into_response())
}
