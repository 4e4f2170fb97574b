//! Donors on the dashboard: `/admin/donors` searches people by name or email, and
//! `/admin/donors/{key}` shows one person whole (every gift and subscription across
//! campaigns, totals per year, the records merged into them), with the forms to merge
//! another record of theirs and to undo a merge (treasurers of the whole organization), and
//! to forget them (admins).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{first, posted};
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{frame, page};
use crate::access::Role;
use crate::actions::{self, ActionError, DonorSummary};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::EntryKind;
use crate::web::i18n::{Language, catalog};

#[derive(Debug, Default, Deserialize)]
pub(super) struct DonorQuery {
    q: Option<String>,
}

/// A donor key as a path segment (`email%3Aana%40example.org`).
fn segment(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes()).collect()
}

fn href(key: &str) -> String {
    format!("/admin/donors/{}", segment(key))
}

fn totals(language: &Language, totals: &BTreeMap<String, i64>) -> String {
    language.money_sums(totals.iter().map(|(code, minor)| (code.as_str(), *minor)))
}

fn summary_json(language: &Language, person: &DonorSummary) -> Value {
    json!({
        "key": person.key,
        "path": segment(&person.key),
        "name": person.name,
        "email": person.email,
        "records": person.keys.len(),
        "gifts": person.gifts,
        "total": totals(language, &person.totals),
        "last_on": person.last_on.map(|day| day.to_string()),
    })
}

pub(super) async fn donors(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<DonorQuery>,
    headers: HeaderMap,
) -> Response {
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let words = query.q.clone().unwrap_or_default();
    let found = match actions::search_donors(&state.store, &words, &signed_in.actor).await {
        Ok(found) => found,
        Err(error) => return Problem::from(error).into_response(),
    };
    let language = catalog().fallback();
    let people: Vec<Value> = found.iter().map(|person| summary_json(language, person)).collect();
    let context = json!({
        "frame": frame(&state, &signed_in, "Donors"),
        "q": words,
        "searched": !words.trim().is_empty(),
        "people": people,
        "limit": actions::DONOR_SEARCH_LIMIT,
        "notice": notice,
    });
    spent(&state, shown, page(StatusCode::OK, "admin_donors.html", context))
}

async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    key: &str,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    typed: Value,
    status: StatusCode,
) -> Response {
    let record = match actions::donor_record(&state.store, key, &signed_in.actor).await {
        Ok(record) => record,
        Err(error) => return Problem::from(error).into_response(),
    };
    let language = catalog().fallback();
    let mut years: BTreeMap<i32, (Vec<Value>, BTreeMap<String, i64>)> = BTreeMap::new();
    for entry in &record.entries {
        let day = entry.day_in(&state.timezone);
        let (lines, sums) = years.entry(chrono::Datelike::year(&day)).or_default();
        *sums.entry(entry.currency.code().to_owned()).or_default() += entry.amount_minor;
        lines.push(json!({
            "id": entry.id,
            "date": day.to_string(),
            "campaign": entry.campaign_slug.as_str(),
            "kind": entry.kind.as_str(),
            "gift": entry.kind == EntryKind::Donation,
            "method": entry.method,
            "recurring": entry.recurring,
            "record": entry.donor_key,
            "amount": language.money_exact(entry.amount_minor, entry.currency),
        }));
    }
    let years: Vec<Value> = years
        .iter()
        .rev()
        .map(|(year, (lines, sums))| json!({"year": year, "lines": lines, "total": totals(language, sums)}))
        .collect();
    let subscriptions: Vec<Value> = record
        .subscriptions
        .iter()
        .map(|(subscription, slug)| {
            json!({
                "id": subscription.id,
                "campaign": slug.as_str(),
                "status": subscription.status,
                "amount": language.money_exact(subscription.amount_minor, subscription.currency),
                "interval": subscription.interval.as_str(),
            })
        })
        .collect();
    let merges: Vec<Value> = record
        .merges
        .iter()
        .map(|merge| {
            json!({"id": merge.id, "from": merge.from_key, "reason": merge.reason, "at": merge.at.to_rfc3339(), "by": merge.by})
        })
        .collect();
    let forgetting = errors.contains_key("confirm") || errors.contains_key("donor");
    let errors: Vec<Value> =
        errors.iter().map(|(field, message)| json!({"field": field, "message": message})).collect();
    let confirm_with = confirm_with(&record.summary);
    let context = json!({
        "forgetting": forgetting,
        "forgotten": record.forgotten,
        "confirm_with": confirm_with,
        "frame": frame(state, signed_in, "Donor"),
        "person": summary_json(language, &record.summary),
        "keys": record.summary.keys,
        "years": years,
        "subscriptions": subscriptions,
        "merges": merges,
        "notice": notice,
        "errors": errors,
        "typed": typed,
    });
    page(status, "admin_donor.html", context)
}

pub(super) async fn donor(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response = render(&state, &signed_in, &key, notice, BTreeMap::new(), json!({}), StatusCode::OK).await;
    spent(&state, shown, response)
}

/// Merges another record of this person (named by email, name or record) into them.
pub(super) async fn merge(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let fields = posted(&body);
    if let Some(refused) = signed_in.refuse_form(first(&fields, "csrf"), Role::Treasurer) {
        return refused;
    }
    let other = first(&fields, "other").unwrap_or_default().to_owned();
    let reason = first(&fields, "reason").map(str::to_owned);
    match actions::merge_donors(&state.store, &key, &other, reason.as_deref(), &signed_in.actor).await {
        Ok(id) => {
            let notice =
                format!("Merged {other} into this donor (merge {id}); undo it below if it was a mistake.");
            redirect_with_notice(&state, &signed_in, &href(&key), &notice)
        }
        Err(error) => match super::fields::refusal(error) {
            Ok((status, errors)) => {
                let typed = json!({"other": other, "reason": reason});
                render(&state, &signed_in, &key, None, errors, typed, status).await
            }
            Err(problem) => problem.into_response(),
        },
    }
}

/// Undoes a merge by a newer record; back to the person it had been merged into.
pub(super) async fn undo(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let fields = posted(&body);
    if let Some(refused) = signed_in.refuse_form(first(&fields, "csrf"), Role::Treasurer) {
        return refused;
    }
    match actions::undo_merge(&state.store, id, &signed_in.actor).await {
        Ok(into) => {
            let notice = format!("Merge {id} is undone: those gifts are a record of their own again.");
            redirect_with_notice(&state, &signed_in, &href(&into), &notice)
        }
        Err(ActionError::NotFound(what)) => Problem::not_found(what).into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}

/// What an admin types to confirm forgetting a person: their email, else name, else record.
fn confirm_with(summary: &DonorSummary) -> String {
    summary.email.clone().or_else(|| summary.name.clone()).unwrap_or_else(|| summary.key.clone())
}

/// Forgets this person (admins): their name, email, address and messages erased everywhere,
/// their amounts kept under a record that names no one. Confirmed by typing their email (or
/// name) again.
pub(super) async fn forget(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let fields = posted(&body);
    if let Some(refused) = signed_in.refuse_form(first(&fields, "csrf"), Role::Admin) {
        return refused;
    }
    let confirm = first(&fields, "confirm").unwrap_or_default().trim().to_owned();
    let record = match actions::donor_record(&state.store, &key, &signed_in.actor).await {
        Ok(record) => record,
        Err(error) => return Problem::from(error).into_response(),
    };
    let expected = confirm_with(&record.summary);
    if !confirm.eq_ignore_ascii_case(expected.trim()) {
        let errors = BTreeMap::from([(
            "confirm".to_owned(),
            format!("must be {expected}, typed again: forgetting cannot be undone"),
        )]);
        return render(
            &state,
            &signed_in,
            &key,
            None,
            errors,
            json!({"confirm": confirm}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match actions::forget_donor(&state.store, actions::PersonNamed::Record(&key), &signed_in.actor).await {
        Ok(forgotten) => {
            state.pages.clear();
            let notice = format!(
                "Forgotten: their name, email and messages are erased from {} ledger entr{} and everywhere else appeal \
                 kept them; the amounts stay in the ledger under {}. Erase the customer in Stripe too.",
                forgotten.entries,
                if forgotten.entries == 1 { "y" } else { "ies" },
                forgotten.records.first().map_or("no record", String::as_str),
            );
            redirect_with_notice(&state, &signed_in, "/admin/donors", &notice)
        }
        Err(error) => match super::fields::refusal(error) {
            Ok((status, errors)) => render(&state, &signed_in, &key, None, errors, json!({}), status).await,
            Err(problem) => problem.into_response(),
        },
    }
}
