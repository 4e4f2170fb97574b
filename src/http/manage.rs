//! Donor self-service: `/manage` asks for a 30-minute link by e-mail; the link opens the
//! donor's own page: every gift tied to that address (online and offline, one-off and
//! recurring) per year and in all, each gift's receipt sent again on request, the annual
//! statements to download, and (once) Stripe's Billing Portal for their subscriptions.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::defence::Rejection;
use super::error::Problem;
use super::pages::{Lang, page_info, render};
use crate::access::hash_token;
use crate::actions::ActionError;
use crate::ledger::validation::parse_email;
use crate::web::i18n::catalog;

fn manage_page(
    state: &AppState,
    lang: &Lang,
    status: StatusCode,
    state_name: &str,
    extra: serde_json::Value,
) -> Response {
    let language = lang.language;
    let page = page_info(state, language, language.t("manage.title"), "/manage");
    let mut context = json!({"page": page, "t": language.strings(), "state": state_name});
    if let (Some(context), Some(extra)) = (context.as_object_mut(), extra.as_object()) {
        context.extend(extra.clone());
    }
    render(lang, status, "manage.html", context)
}

pub(super) async fn manage_form(State(state): State<AppState>, lang: Lang) -> Response {
    manage_page(&state, &lang, StatusCode::OK, "ask", json!({}))
}

#[derive(Debug, Default, Deserialize)]
struct ManageForm {
    lang: Option<String>,
    email: Option<String>,
}

/// How long a self-service link works.
const MANAGE_LINK_MINUTES: i64 = 30;

/// Sends a one-time link if the address has a subscription; answers the same either way,
/// and sends in the background so that the time taken tells nothing either.
pub(super) async fn manage_request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: ManageForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let lang = Lang::from_code(form.lang.as_deref());
    let language = lang.language;
    let email = match form.email.as_deref().map(parse_email) {
        Some(Ok(email)) => email,
        _ => {
            let error = language.fill("manage.email", &[]) + " — " + "name@example.org";
            return manage_page(
                &state,
                &lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                "ask",
                json!({"error": error}),
            );
        }
    };
    let ip = state.defence.client_ip(&headers, peer);
    if let Err(Rejection::RateLimited { retry_after_seconds }) = state.defence.check_manage(ip, &email) {
        let mut response = manage_page(
            &state,
            &lang,
            StatusCode::TOO_MANY_REQUESTS,
            "ask",
            json!({"error": language.t("error.rate_limited")}),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        return response;
    }
    let worker = state.clone();
    let code = language.code.clone();
    tokio::spawn(async move {
        let language = catalog().get(&code).unwrap_or_else(|| catalog().fallback());
        // A subscriber's link also opens their Billing Portal; a donor without one sees
        // their gifts and statements (no Stripe customer: an empty one).
        let customer = match worker.store.customer_for_email(&email).await {
            Ok(Some(customer)) => Ok(Some(customer)),
            Ok(None) => worker.store.donor_has_gifts(&email).await.map(|found| found.then(String::new)),
            Err(error) => Err(error),
        };
        match customer {
            Ok(Some(customer)) => {
                let expires = Utc::now() + chrono::Duration::minutes(MANAGE_LINK_MINUTES);
                let stored =
                    worker.store.issue_manage_token(&email, &customer, &language.code, expires).await;
                match stored {
                    Ok(token) => {
                        if let Err(error) = worker.mailer.send_manage_link(&email, language, &token).await {
                            tracing::error!(%error, "the self-service link could not be sent");
                        }
                    }
                    Err(error) => tracing::error!(%error, "the self-service link could not be stored"),
                }
            }
            Ok(None) => tracing::info!("self-service link asked for an address without gifts"),
            Err(error) => tracing::error!(%error, "cannot look up gifts for a self-service link"),
        }
    });
    manage_page(&state, &lang, StatusCode::OK, "sent", json!({}))
}

pub(super) async fn manage_open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    lang: Lang,
) -> Response {
    donor_page(&state, &lang, &token, StatusCode::OK, None).await
}

/// The donor's own page, while the link works (it is not used up by looking: a mail scanner
/// may open it first).
async fn donor_page(
    state: &AppState,
    lang: &Lang,
    token: &str,
    status: StatusCode,
    notice: Option<String>,
) -> Response {
    let (email, customer, _) = match state.store.manage_token(&hash_token(token)).await {
        Ok(Some(found)) => found,
        Ok(None) => return manage_page(state, lang, StatusCode::GONE, "expired", json!({})),
        Err(error) => return Problem::from(error).into_response(),
    };
    let view = match donor_view(state, lang.language, &email).await {
        Ok(view) => view,
        Err(error) => return Problem::from(error).into_response(),
    };
    let mut extra =
        json!({"token": token, "email": email, "subscriber": !customer.is_empty(), "notice": notice});
    if let (Some(extra), Some(view)) = (extra.as_object_mut(), view.as_object()) {
        extra.extend(view.clone());
    }
    manage_page(state, lang, status, "open", extra)
}

/// Every gift of `email` by year (newest first) with the year's total and the total in all,
/// and the statements issued to them still in force.
async fn donor_view(
    state: &AppState,
    language: &crate::web::i18n::Language,
    email: &str,
) -> Result<serde_json::Value, crate::store::StoreError> {
    use std::collections::BTreeMap;
    // Their records, merged ones included.
    let merges = crate::ledger::donors::Merges::new(&state.store.donor_merges().await?);
    let keys = match state.store.donor_key_of_email(email).await? {
        Some(key) => merges.members(&key),
        None => Vec::new(),
    };
    let entries = state.store.entries_of_donors(&keys).await?;
    let mut titles: BTreeMap<i64, String> = BTreeMap::new();
    for campaign in state.store.list_campaigns(true).await? {
        titles.insert(campaign.id, campaign.title.get(&language.code).to_owned());
    }
    let mut years: BTreeMap<i32, (Vec<serde_json::Value>, BTreeMap<&'static str, i64>)> = BTreeMap::new();
    let mut total: BTreeMap<&'static str, i64> = BTreeMap::new();
    for entry in &entries {
        let day = entry.day_in(&state.timezone);
        let (lines, sums) = years.entry(chrono::Datelike::year(&day)).or_default();
        *sums.entry(entry.currency.code()).or_default() += entry.amount_minor;
        *total.entry(entry.currency.code()).or_default() += entry.amount_minor;
        let gift = entry.kind == crate::ledger::EntryKind::Donation;
        let kind = match (gift, entry.recurring) {
            (false, _) if entry.amount_minor > 0 => "statement.kind.restored",
            (false, _) => "statement.kind.deducted",
            (true, true) => "statement.kind.installment",
            (true, false) => "statement.kind.gift",
        };
        lines.push(json!({
            "id": entry.id,
            "date": language.date(day),
            "campaign": titles.get(&entry.campaign_id).cloned().unwrap_or_else(|| entry.campaign_slug.to_string()),
            "kind": language.t(kind),
            "amount": language.money_exact(entry.amount_minor, entry.currency),
            "receipt": gift,
        }));
    }
    let years: Vec<serde_json::Value> = years
        .iter()
        .rev()
        .map(|(year, (lines, sums))| {
            json!({"year": year.to_string(), "lines": lines, "total": language.money_sums(sums.iter().map(|(code, minor)| (*code, *minor)))})
        })
        .collect();
    let statements: Vec<serde_json::Value> = state
        .store
        .statements_of(&keys)
        .await?
        .iter()
        .filter(|statement| statement.replaced_by.is_none() && statement.campaign_id.is_none())
        .map(|statement| {
            let number = crate::ledger::statements::number_text(statement.year, statement.number);
            json!({"id": statement.id, "year": statement.year.to_string(), "number": number})
        })
        .collect();
    Ok(
        json!({"years": years, "total": language.money_sums(total.iter().map(|(code, minor)| (*code, *minor))), "statements": statements}),
    )
}

/// Whether `key` is one of the records of the donor with `email` (merged ones included).
async fn is_theirs(state: &AppState, email: &str, key: &str) -> bool {
    let Ok(Some(theirs)) = state.store.donor_key_of_email(email).await else { return false };
    let Ok(records) = state.store.donor_merges().await else { return false };
    let merges = crate::ledger::donors::Merges::new(&records);
    merges.canonical(key) == merges.canonical(&theirs)
}

#[derive(Debug, Default, Deserialize)]
struct ReceiptForm {
    lang: Option<String>,
    entry: Option<i64>,
}

/// Queues a gift's receipt again, to the address the link was sent to.
pub(super) async fn manage_receipt(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form: ReceiptForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let lang = Lang::from_code(form.lang.as_deref());
    let language = lang.language;
    let email = match state.store.manage_token(&hash_token(&token)).await {
        Ok(Some((email, _, _))) => email,
        Ok(None) => return manage_page(&state, &lang, StatusCode::GONE, "expired", json!({})),
        Err(error) => return Problem::from(error).into_response(),
    };
    let entry = match form.entry {
        Some(id) => state.store.entry(id).await,
        None => Ok(None),
    };
    let entry = match entry {
        Ok(Some(entry))
            if entry.kind == crate::ledger::EntryKind::Donation
                && is_theirs(&state, &email, &entry.donor_key).await =>
        {
            entry
        }
        Ok(_) => {
            let notice = language.t("manage.receipt.unknown").to_owned();
            return donor_page(&state, &lang, &token, StatusCode::NOT_FOUND, Some(notice)).await;
        }
        Err(error) => return Problem::from(error).into_response(),
    };
    let ip = state.defence.client_ip(&headers, peer);
    if let Err(Rejection::RateLimited { retry_after_seconds }) = state.defence.check_manage(ip, &email) {
        let notice = language.t("error.rate_limited").to_owned();
        let mut response =
            donor_page(&state, &lang, &token, StatusCode::TOO_MANY_REQUESTS, Some(notice)).await;
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        return response;
    }
    // Queued for the background sender, which writes it in the page's language.
    if let Err(error) = state.store.queue_receipt(&entry, &email, &language.code).await {
        return Problem::from(error).into_response();
    }
    let notice = language.fill("manage.receipt.sent", &[("email", &email)]);
    donor_page(&state, &lang, &token, StatusCode::OK, Some(notice)).await
}

/// One of the donor's annual statements, as PDF.
pub(super) async fn manage_statement(
    State(state): State<AppState>,
    Path((token, id)): Path<(String, i64)>,
    lang: Lang,
) -> Response {
    let email = match state.store.manage_token(&hash_token(&token)).await {
        Ok(Some((email, _, _))) => email,
        Ok(None) => return manage_page(&state, &lang, StatusCode::GONE, "expired", json!({})),
        Err(error) => return Problem::from(error).into_response(),
    };
    let statement = match state.store.statement(id).await {
        Ok(Some(statement)) if is_theirs(&state, &email, &statement.donor_key).await => statement,
        Ok(_) => return Problem::not_found("statement").into_response(),
        Err(error) => return Problem::from(error).into_response(),
    };
    match crate::export::statement::issued_pdf(
        &statement,
        &state.site.organization,
        &state.site.organization_details,
    ) {
        Ok(bytes) => {
            let name = format!(
                "statement-{}.pdf",
                crate::ledger::statements::number_text(statement.year, statement.number)
            );
            crate::http::exports::file(bytes, "application/pdf", "attachment", &name)
        }
        Err(error) => Problem::internal(&error).into_response(),
    }
}

/// Uses the link (once) and sends the donor to Stripe's Billing Portal.
pub(super) async fn manage_use(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form: ManageForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let lang = Lang::from_code(form.lang.as_deref());
    let Some(payments) = &state.payments else {
        return Problem::from(ActionError::PaymentsNotConfigured).into_response();
    };
    // A donor without a subscription has no Billing Portal (and keeps their link).
    if matches!(state.store.manage_token(&hash_token(&token)).await, Ok(Some((_, customer, _))) if customer.is_empty())
    {
        return donor_page(&state, &lang, &token, StatusCode::OK, None).await;
    }
    let (customer, locale) = match state.store.use_manage_token(&hash_token(&token)).await {
        Ok(Some(found)) => found,
        Ok(None) => return manage_page(&state, &lang, StatusCode::GONE, "expired", json!({})),
        Err(error) => return Problem::from(error).into_response(),
    };
    let language = catalog().get(&locale).unwrap_or_else(|| catalog().fallback());
    let return_url = format!("{}/manage?lang={}", state.public_url, language.code);
    match payments.api.billing_portal_session(&customer, &return_url, &language.stripe_locale).await {
        Ok(session) => Redirect::to(&session.url).into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}
