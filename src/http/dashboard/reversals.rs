//! Taking money back from a campaign's dashboard page: reversing an offline gift or a whole
//! deposit, refunding an online gift through Stripe, cancelling a subscription.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::campaign::{Refused, form_key, redirect_with, render_action_error, typed_fields};
use super::{form, shown_minor};
use crate::access::Role;
use crate::actions::{self, ActionError};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::ledger::entry::ReversalInput;
use crate::ledger::validation::AmountText;

#[derive(Debug, Default, Deserialize)]
struct EntryActionForm {
    csrf: Option<String>,
    /// The form's one-time token: sent twice, the form acts once.
    form_token: Option<String>,
    amount: Option<String>,
    reason: Option<String>,
    /// A reversal's kind: adjustment or refund.
    kind: Option<String>,
    campaign: Option<String>,
}

pub(super) async fn reverse(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let submitted: EntryActionForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let input = ReversalInput {
        amount: submitted.amount.filter(|amount| !amount.trim().is_empty()).map(AmountText),
        reason: submitted.reason,
        kind: submitted.kind.filter(|kind| !kind.trim().is_empty()),
        received_on: None,
    };
    match actions::reverse_entry(&state.store, id, input, &signed_in.actor, form_key(submitted.form_token))
        .await
    {
        Ok(outcome) => redirect_with(
            &state,
            &signed_in,
            &slug,
            &format!("Entry {id} reversed by entry {}.", outcome.entry().id),
        ),
        Err(error) => {
            render_action_error(
                &state,
                &signed_in,
                &slug,
                error,
                Refused::Reverse(id, typed_fields(&body, &["amount", "reason", "kind"])),
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct DepositReversalForm {
    csrf: Option<String>,
    /// The form's one-time token: sent twice, the form acts once.
    form_token: Option<String>,
    campaign: Option<String>,
    reason: Option<String>,
    kind: Option<String>,
}

/// "Reverse this deposit": what is left of each of its entries, with one reason.
pub(super) async fn reverse_deposit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let submitted: DepositReversalForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let input =
        actions::BatchReversalInput { reason: submitted.reason, kind: submitted.kind, received_on: None };
    match actions::reverse_batch(&state.store, id, input, &signed_in.actor, form_key(submitted.form_token))
        .await
    {
        Ok(reversed) => {
            let total: i64 = reversed.reversals.iter().map(|entry| entry.amount_minor).sum();
            let notice = format!(
                "Deposit {id} reversed: {} entries, {}.",
                reversed.reversals.len(),
                shown_minor(total, reversed.currency),
            );
            redirect_with(&state, &signed_in, &slug, &notice)
        }
        Err(error) => {
            render_action_error(
                &state,
                &signed_in,
                &slug,
                error,
                Refused::ReverseDeposit(id, typed_fields(&body, &["reason", "kind"])),
            )
            .await
        }
    }
}

pub(super) async fn refund(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let submitted: EntryActionForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let typed = typed_fields(&body, &["amount", "reason"]);
    // The dashboard asks why every time, as it does for a reversal.
    if submitted.reason.as_deref().is_none_or(|reason| reason.trim().is_empty()) {
        let missing = crate::ledger::FieldErrors::single(
            "reason",
            "is required, so the ledger says why the money went back",
        );
        let refused = Refused::Refund(id, typed);
        return render_action_error(&state, &signed_in, &slug, ActionError::Invalid(missing), refused).await;
    }
    let input = actions::RefundInput {
        amount: submitted.amount.filter(|amount| !amount.trim().is_empty()).map(AmountText),
        reason: submitted.reason,
    };
    match actions::refund_donation(
        &state.store,
        state.payments.as_ref(),
        id,
        input,
        &signed_in.actor,
        form_key(submitted.form_token),
    )
    .await
    {
        Ok(refund) => {
            let currency = refund.entry.currency;
            let (charged_minor, charged_currency) = refund.charged;
            let charged = if charged_currency == currency {
                String::new()
            } else {
                format!(" ({}, as the donor paid)", shown_minor(charged_minor, charged_currency))
            };
            redirect_with(
                &state,
                &signed_in,
                &slug,
                &format!(
                    "Asked Stripe to refund {}{charged} of entry {id}; the ledger moves when Stripe confirms.",
                    shown_minor(refund.amount_minor, currency)
                ),
            )
        }
        Err(error) => render_action_error(&state, &signed_in, &slug, error, Refused::Refund(id, typed)).await,
    }
}

#[derive(Debug, Default, Deserialize)]
struct CancelForm {
    csrf: Option<String>,
    /// The form's one-time token: sent twice, the form acts once.
    form_token: Option<String>,
    campaign: Option<String>,
    when: Option<String>,
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: CancelForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let at_period_end = submitted.when.as_deref() != Some("now");
    match actions::cancel_subscription(
        &state.store,
        state.payments.as_ref(),
        &id,
        at_period_end,
        &signed_in.actor,
        form_key(submitted.form_token),
    )
    .await
    {
        Ok(_) => {
            let notice = if at_period_end {
                format!("Subscription {id} ends at the end of its period; nothing was refunded.")
            } else {
                format!("Subscription {id} cancelled now; nothing was refunded.")
            };
            redirect_with(&state, &signed_in, &slug, &notice)
        }
        Err(error) => render_action_error(&state, &signed_in, &slug, error, Refused::Other).await,
    }
}
