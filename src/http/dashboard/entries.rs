//! Entries in the dashboard: the table the campaign page and the search page share (with what
//! is left of each gift and what reversed it), and the search page itself, paged like the API.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{frame, page};
use crate::actions::{self, ActionError};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::entry::Entry;
use crate::ledger::search::EntrySearchInput;
use crate::ledger::{EntryKind, Source};

/// Rows of the entries table: each entry with its dispute, what is left of a gift, and the
/// entries that reversed it (or the one it reverses, and why).
pub(super) async fn entry_rows(state: &AppState, entries: &[Entry]) -> Result<Vec<Value>, Problem> {
    let disputes = state.store.disputes_of_donations(entries).await?;
    let reversals = state.store.reversal_state(entries).await?;
    Ok(entries
        .iter()
        .map(|entry| {
            let currency = entry.currency;
            let dispute = disputes
                .get(&entry.id)
                .map(|dispute| json!({"label": super::campaign::dispute_label(dispute), "open": dispute.is_open()}));
            let (left, reversed_by) = reversals.get(&entry.id).cloned().unwrap_or((entry.amount_minor, Vec::new()));
            let gift = entry.kind == EntryKind::Donation;
            let open = gift && left > 0;
            json!({
                "dispute": dispute,
                "id": entry.id,
                "date": entry.received_on.format("%Y-%m-%d").to_string(),
                "kind": entry.kind.as_str(),
                "source": entry.source.as_str(),
                "method": entry.method,
                "branch": entry.branch_slug.as_ref().map(|slug| slug.as_str()),
                "donor": entry.donor.name,
                "amount": currency.format_minor(entry.amount_minor),
                "fee": currency.format_minor(entry.fee_minor),
                "left": currency.format_minor(left.max(0)),
                "amount_shown": super::shown_minor(entry.amount_minor, currency),
                "fee_shown": super::shown_minor(entry.fee_minor, currency),
                "left_shown": super::shown_minor(left.max(0), currency),
                "currency": currency.code(),
                "reference": entry.reference,
                "reason": entry.reason,
                "batch": entry.batch_id,
                "reverses": entry.reverses_entry_id,
                "reversed_by": reversed_by,
                "refundable": open && entry.source == Source::Online,
                "reversible": open && entry.source == Source::Offline,
            })
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct WallForm {
    csrf: Option<String>,
    campaign: Option<String>,
    name: Option<String>,
    message: Option<String>,
}

/// Shows or hides a gift's name or message on the public wall.
pub(super) async fn decide_wall(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    let submitted: WallForm = super::form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), crate::access::Role::Treasurer) {
        return refused;
    }
    let input = actions::WallDecisionInput { name: submitted.name, message: submitted.message };
    let slug = submitted.campaign.unwrap_or_default();
    let decided = actions::decide_wall(&state.store, id, input, &signed_in.actor).await;
    state.pages.clear();
    match decided {
        Ok(()) => super::notice::redirect_with_notice(
            &state,
            &signed_in,
            &format!("/admin/c/{slug}#wall-title"),
            &format!("The wall is changed for entry {id}."),
        ),
        Err(error) => Problem::from(error).into_response(),
    }
}

/// The search form as typed: every field text, so that a wrong one is named and kept.
#[derive(Debug, Default, Deserialize)]
struct SearchForm {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    method: Option<String>,
    branch: Option<String>,
    kind: Option<String>,
    batch: Option<String>,
    before: Option<String>,
}

/// What each search field is called on the page.
fn label(field: &str) -> &str {
    match field {
        "q" => "Search",
        "from" => "From",
        "to" => "To",
        "method" => "Method",
        "branch" => "Branch",
        "kind" => "Kind",
        "batch" => "Deposit",
        "before" => "Older than",
        "limit" => "Per page",
        other => other,
    }
}

/// A campaign's entries: searched by donor, reference, amount or number, filtered by dates,
/// method, branch, kind and deposit, 50 a page with a link to the older ones.
pub(super) async fn entries(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let typed: SearchForm = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let mut errors: Vec<Value> = Vec::new();
    let number = |field: &str, text: &Option<String>, errors: &mut Vec<Value>| match text
        .as_deref()
        .map(str::trim)
    {
        Some(text) if !text.is_empty() => text.trim_start_matches('#').parse::<i64>().ok().or_else(|| {
            errors.push(json!({"field": field, "label": label(field), "message": "must be a number"}));
            None
        }),
        _ => None,
    };
    let input = EntrySearchInput {
        campaign: Some(slug.clone()),
        q: typed.q.clone(),
        from: typed.from.clone(),
        to: typed.to.clone(),
        method: typed.method.clone(),
        branch: typed.branch.clone(),
        kind: typed.kind.clone(),
        batch: number("batch", &typed.batch, &mut errors),
        limit: None,
        before: number("before", &typed.before, &mut errors),
    };
    let found = if errors.is_empty() {
        Some(actions::find_entries(&state.store, &signed_in.actor, &input).await)
    } else {
        None
    };
    let (page_of, status) =
        match found {
            Some(Ok(found)) => (Some(found), StatusCode::OK),
            Some(Err(ActionError::Invalid(invalid))) => {
                errors.extend(invalid.iter().map(
                    |(field, message)| json!({"field": field, "label": label(field), "message": message}),
                ));
                (None, StatusCode::UNPROCESSABLE_ENTITY)
            }
            Some(Err(other)) => return Problem::from(other).into_response(),
            None => (None, StatusCode::UNPROCESSABLE_ENTITY),
        };
    let campaign = match &page_of {
        Some(found) => found.campaign.clone(),
        None => state.store.campaign_by_slug(&slug).await.ok().flatten(),
    };
    let Some(campaign) = campaign else {
        return Problem::not_found("campaign").into_response();
    };
    let branches = state.store.branches(campaign.id).await.unwrap_or_default();
    let rows = match &page_of {
        Some(found) => match entry_rows(&state, &found.entries).await {
            Ok(rows) => rows,
            Err(problem) => return problem.into_response(),
        },
        None => Vec::new(),
    };
    // The older page keeps the search: every field as typed, and where to start.
    let older = page_of.as_ref().and_then(|found| found.next_before).map(|before| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("q", &typed.q),
            ("from", &typed.from),
            ("to", &typed.to),
            ("method", &typed.method),
            ("branch", &typed.branch),
            ("kind", &typed.kind),
            ("batch", &typed.batch),
        ] {
            if let Some(value) = value.as_deref().filter(|value| !value.trim().is_empty()) {
                query.append_pair(name, value);
            }
        }
        query.append_pair("before", &before.to_string());
        format!("/admin/c/{slug}/entries?{}", query.finish())
    });
    let title = format!("Entries · {}", campaign.title.get("en"));
    let context = json!({
        "frame": frame(&state, &signed_in, &title),
        "campaign": {"slug": campaign.slug.as_str(), "title": campaign.title.get("en"),
                     "branches": branches.iter().map(|branch| json!({"slug": branch.slug.as_str(), "name": branch.name})).collect::<Vec<_>>()},
        "typed": {"q": typed.q, "from": typed.from, "to": typed.to, "method": typed.method, "branch": typed.branch,
                  "kind": typed.kind, "batch": typed.batch},
        "errors": errors,
        "entries": rows,
        // The entries table's confirmations: none refused here (their refusals show on the
        // campaign's page).
        "beside": {},
        "open": {},
        "older": older,
        "paged": typed.before.as_deref().is_some_and(|before| !before.trim().is_empty()),
        "kinds": ["donation", "refund", "adjustment", "dispute", "dispute_won", "refund_failed"],
        "methods": ["cash", "cheque", "etransfer", "bank_transfer", "other", "stripe"],
    });
    page(status, "admin_entries.html", context)
}
