//! The donation form's POST (`/c/{slug}/give`): the checks a person's form meets (rate
//! limits, the honeypot, a captcha), then a Stripe Checkout, or the form again with every bad
//! field named.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::defence::Rejection;
use super::error::Problem;
use super::pages::{
    CampaignPage, GiveForm, Lang, load_public, not_found_page, presets_minor, render_campaign,
};
use crate::actions::{self, ActionError};
use crate::ledger::attribution::ref_from_link;
use crate::ledger::checkout::CheckoutInput;
use crate::ledger::validation::AmountText;

/// The donation form's POST: starts a Stripe Checkout and redirects there, or shows the
/// form again with every bad field named.
pub(super) async fn give(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: GiveForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let lang = Lang::from_code(form.lang.as_deref());
    let language = lang.language;
    let Ok(Some((campaign, totals, branches))) = load_public(&state, &slug).await else {
        return not_found_page(&state, &lang);
    };
    let ip = state.defence.client_ip(&headers, peer);
    let captcha_token = form.turnstile.as_deref().or(form.hcaptcha.as_deref());
    let checked =
        state.defence.check_checkout(ip, form.email.as_deref(), form.website.as_deref(), captcha_token).await;
    let mut errors = BTreeMap::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let mut retry_after = None;
    match checked {
        Ok(()) => {
            let amount = match form.preset.as_deref() {
                Some("other") | None => form.custom_amount.as_deref().map(|text| language.read_amount(text)),
                Some(preset) => Some(
                    super::checkout::preset_amount(
                        &state,
                        &campaign,
                        &presets_minor(campaign.currency),
                        preset,
                        form.currency.as_deref(),
                        form.presets_in.as_deref(),
                    )
                    .await
                    .unwrap_or_else(|_| preset.to_owned()),
                ),
            };
            let input = CheckoutInput {
                amount: amount.map(AmountText),
                interval: form.interval.clone(),
                email: form.email.clone(),
                name: form.name.clone(),
                anonymous: Some(form.anonymous.is_some()),
                message: form.message.clone(),
                branch: form.branch.clone(),
                cover_fees: Some(form.cover_fees.is_some()),
                locale: Some(language.code.clone()),
                currency: form.currency.clone(),
                website: None,
                captcha_token: None,
                // A hidden field: made to fit like a link's, never an error on the form.
                source_ref: ref_from_link(form.source_ref.as_deref(), None, None),
            };
            match actions::start_checkout(
                &state.store,
                state.payments.as_ref(),
                &slug,
                input,
                &state.public_url,
            )
            .await
            {
                Ok(started) => return Redirect::to(&started.url).into_response(),
                Err(ActionError::Invalid(field_errors)) => {
                    for (field, message) in field_errors.iter() {
                        errors.insert(field.to_owned(), message.to_owned());
                    }
                }
                Err(ActionError::PaymentsNotConfigured) => {
                    errors.insert("amount".to_owned(), language.t("form.not_configured").to_owned());
                    status = StatusCode::SERVICE_UNAVAILABLE;
                }
                Err(error) => {
                    let problem = Problem::from(error);
                    errors.insert("amount".to_owned(), problem_detail(&problem));
                    status = StatusCode::BAD_GATEWAY;
                }
            }
        }
        Err(Rejection::RateLimited { retry_after_seconds }) => {
            errors.insert("amount".to_owned(), language.t("error.rate_limited").to_owned());
            status = StatusCode::TOO_MANY_REQUESTS;
            retry_after = Some(retry_after_seconds);
        }
        Err(Rejection::Honeypot) => {
            errors.insert("website".to_owned(), language.t("form.website").to_owned());
        }
        Err(Rejection::Captcha) => {
            errors.insert("captcha".to_owned(), language.t("error.captcha").to_owned());
        }
    }
    let view = CampaignPage {
        lang: &lang,
        campaign,
        totals,
        branches,
        form,
        errors,
        notice: None,
        thanks: false,
        ask: None,
        focus: None,
        status,
    };
    let mut response = render_campaign(&state, view).await;
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn problem_detail(problem: &Problem) -> String {
    serde_json::to_value(problem)
        .ok()
        .and_then(|value| value.get("detail").and_then(|detail| detail.as_str().map(str::to_owned)))
        .unwrap_or_default()
}
