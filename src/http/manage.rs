//! Donor self-service: `/manage` asks for a one-time, 30-minute link by e-mail, and the link
//! opens Stripe's Billing Portal for the donor's subscriptions.

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
        match worker.store.customer_for_email(&email).await {
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
            Ok(None) => tracing::info!("self-service link asked for an address without a subscription"),
            Err(error) => tracing::error!(%error, "cannot look up subscriptions for a self-service link"),
        }
    });
    manage_page(&state, &lang, StatusCode::OK, "sent", json!({}))
}

pub(super) async fn manage_open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    lang: Lang,
) -> Response {
    match state.store.manage_token_is_valid(&hash_token(&token)).await {
        Ok(true) => manage_page(&state, &lang, StatusCode::OK, "open", json!({"token": token})),
        Ok(false) => manage_page(&state, &lang, StatusCode::GONE, "expired", json!({})),
        Err(error) => Problem::from(error).into_response(),
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
