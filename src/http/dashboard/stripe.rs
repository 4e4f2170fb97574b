//! The dashboard's Stripe pages: payouts reconciled against the ledger, and what Stripe
//! reported that needs a treasurer (failed events, flags) with the forms that settle it.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::field_errors;
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{form, frame, minute, page, shown_decimal};
use crate::access::Role;
use crate::actions::{self, FlagResolutionInput};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::http::stripe_review::{FailedEventBody, FlagBody, SupporterEmailBody};
use crate::ledger::validation::AmountText;
use crate::store::{FlagFilter, SubscriptionFilter};

/// Every payout reconciled against the ledger, the unexplained lines first to the eye.
pub(super) async fn payouts(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    let mut reports = Vec::new();
    let listed = match state.store.payouts().await {
        Ok(listed) => listed,
        Err(error) => return Problem::from(error).into_response(),
    };
    for payout in listed {
        match state.store.payout_report(&signed_in.actor.scope(), &payout.id).await {
            Ok(Some(report)) => reports.push(shown_payout(json!(crate::http::admin::payout_body(&report)))),
            Ok(None) => {}
            Err(error) => return Problem::from(error).into_response(),
        }
    }
    page(
        StatusCode::OK,
        "admin_payouts.html",
        json!({"frame": frame(&state, &signed_in, "Payouts"), "payouts": reports}),
    )
}

/// A payout's figures as the dashboard writes money ("$1,234.50"), from the API's body.
fn shown_payout(mut body: Value) -> Value {
    let Some(currency) =
        body["currency"].as_str().and_then(|code| crate::ledger::Currency::from_code(code).ok())
    else {
        return body;
    };
    let show = |value: &mut Value| {
        if let Some(text) = value.as_str() {
            *value = Value::String(shown_decimal(text, currency));
        }
    };
    for key in ["amount", "entries_total", "difference"] {
        show(&mut body[key]);
    }
    for list in ["missing_entries", "different_amounts", "lines"] {
        if let Some(lines) = body[list].as_array_mut() {
            for line in lines {
                show(&mut line["stripe_net"]);
                show(&mut line["entry_net"]);
            }
        }
    }
    body
}

/// What Stripe reported that needs a look: failing and quarantined events (for people who
/// keep the whole organization) and open flags (of the person's branch, for a branch
/// treasurer), each with what can be done about it.
pub(super) async fn review(
    State(state): State<AppState>,
    signed_in: SignedIn,
    headers: HeaderMap,
) -> Response {
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response = render_review(&state, &signed_in, notice, BTreeMap::new(), StatusCode::OK).await;
    spent(&state, shown, response)
}

async fn render_review(
    state: &AppState,
    signed_in: &SignedIn,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let scope = signed_in.actor.scope();
    let events: Vec<FailedEventBody> = match state.store.failed_events(&scope).await {
        Ok(events) => events.iter().map(FailedEventBody::new).collect(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let flags: Vec<FlagBody> = match state.store.flags(&scope, &FlagFilter::default()).await {
        Ok(flags) => flags.iter().map(FlagBody::new).collect(),
        Err(error) => return Problem::from(error).into_response(),
    };
    // Past-due subscriptions and the emails their donors were sent, for treasurers of the whole
    // organization (the addresses are donors').
    let (mut past_due, mut emails) = (Vec::new(), Vec::new());
    if scope.is_whole_organization() && signed_in.actor.role.allows(Role::Treasurer) {
        let filter = SubscriptionFilter { campaign_id: None, status: Some("past_due".to_owned()) };
        match state.store.list_subscriptions(&scope, &filter).await {
            Ok(listed) => {
                past_due = listed
                    .iter()
                    .map(|(subscription, slug)| {
                        json!({
                            "id": subscription.id,
                            "campaign": slug.as_str(),
                            "donor": subscription.donor_email.clone().or_else(|| subscription.donor_name.clone()),
                            "amount": format!("{} {}/{}", subscription.currency.format_minor(subscription.amount_minor),
                                              subscription.currency, subscription.interval.as_str()),
                        })
                    })
                    .collect();
            }
            Err(error) => return Problem::from(error).into_response(),
        }
        match state.store.supporter_emails(None, 50).await {
            Ok(listed) => {
                emails = listed
                    .iter()
                    .map(|email| {
                        let body = SupporterEmailBody::new(email);
                        json!({"created": minute(state, email.created_at), "kind": body.kind, "to": body.to,
                               "subscription": body.subscription, "campaign": body.campaign, "state": body.state, "last_error": body.last_error})
                    })
                    .collect();
            }
            Err(error) => return Problem::from(error).into_response(),
        }
    }
    let context = json!({
        "frame": frame(state, signed_in, "Needs a look"),
        "events": events,
        "flags": flags,
        "past_due": past_due,
        "emails": emails,
        "whole_organization": scope.is_whole_organization(),
        "notice": notice,
        "errors": errors,
    });
    page(status, "admin_stripe.html", context)
}

/// Back to the page, which says once what was done.
fn back_with(state: &AppState, signed_in: &SignedIn, notice: &str) -> Response {
    redirect_with_notice(state, signed_in, "/admin/stripe", notice)
}

/// An action's refusal, beside its form (keyed by the form's id), or a problem.
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    form_id: String,
    error: actions::ActionError,
) -> Response {
    match field_errors(error) {
        Ok(errors) => {
            let errors = errors
                .into_iter()
                .map(|(field, message)| (form_id.clone(), format!("{field} {message}")))
                .collect();
            render_review(state, signed_in, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(problem) => problem.into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ReviewForm {
    csrf: Option<String>,
    reason: Option<String>,
    amount: Option<String>,
    fee: Option<String>,
}

fn filled(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
}

pub(super) async fn retry_event(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: ReviewForm = form(&body);
    if let Some(refusal) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refusal;
    }
    match actions::retry_stripe_event(&state.store, state.payments.as_ref(), &id, &signed_in.actor).await {
        Ok(outcome) => {
            back_with(&state, &signed_in, &format!("Event {id} applied again: {}.", outcome.as_str()))
        }
        Err(error) => refused(&state, &signed_in, format!("event-{id}"), error).await,
    }
}

pub(super) async fn dismiss_event(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: ReviewForm = form(&body);
    if let Some(refusal) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refusal;
    }
    match actions::dismiss_stripe_event(&state.store, &id, filled(submitted.reason), &signed_in.actor).await {
        Ok(()) => back_with(&state, &signed_in, &format!("Event {id} dismissed.")),
        Err(error) => refused(&state, &signed_in, format!("event-{id}"), error).await,
    }
}

pub(super) async fn resolve_flag(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let submitted: ReviewForm = form(&body);
    if let Some(refusal) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refusal;
    }
    let input = FlagResolutionInput {
        reason: filled(submitted.reason),
        amount: filled(submitted.amount).map(AmountText),
        fee: filled(submitted.fee).map(AmountText),
    };
    match actions::resolve_flag(&state.store, state.payments.as_ref(), id, input, &signed_in.actor).await {
        Ok(resolved) => back_with(
            &state,
            &signed_in,
            &match resolved.entry {
                Some(entry) => format!("Flag {id} resolved: recorded entry {}.", entry.id),
                None => format!("Flag {id} resolved."),
            },
        ),
        Err(error) => refused(&state, &signed_in, format!("flag-{id}"), error).await,
    }
}
