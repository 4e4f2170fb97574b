//! `POST /api/v1/campaigns/{slug}/checkout`: a supporter's gift to a Stripe Checkout Session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiPath};
use crate::actions;
use crate::ledger::checkout::CheckoutInput;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_checkout))
}

/// A Checkout Session started: send the supporter to `url`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckoutStarted {
    /// Stripe's Checkout Session (`cs_…`).
    pub id: String,
    /// Stripe's payment page.
    pub url: String,
}

/// Starts a gift: checks it against the campaign and the card-testing defence, records the
/// intent, and opens a Stripe Checkout Session (one-off, or monthly or yearly with `interval`).
#[utoipa::path(post, path = "/api/v1/campaigns/{slug}/checkout", tag = "giving",
    params(super::openapi::CampaignSlug),
    request_body = CheckoutInput,
    responses(
        (status = 201, description = "The Checkout Session", body = CheckoutStarted),
        (status = 429, description = "Too many attempts from this address or e-mail",
            body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused or could not be reached",
            body = Problem, content_type = "application/problem+json")))]
async fn start_checkout(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> ApiResult<Response> {
    let ip = state.defence.client_ip(&headers, peer);
    state
        .defence
        .check_checkout(ip, input.email.as_deref(), input.website.as_deref(), input.captcha_token.as_deref())
        .await?;
    let started =
        actions::start_checkout(&state.store, state.payments.as_ref(), &slug, input, &state.public_url)
            .await?;
    let body = CheckoutStarted { id: started.session_id, url: started.url };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// The currencies the donation form offers (the campaign's first, then the others it lists),
/// with what the page's script needs to show the fee and total in the one chosen: symbol,
/// digits, fixed fee and charge step, each other currency's converted at the kept rate.
pub(super) async fn form_currencies(
    state: &AppState,
    campaign: &crate::ledger::Campaign,
    chosen: Option<&str>,
) -> Result<(Vec<serde_json::Value>, String), Problem> {
    let all = crate::web::i18n::currencies_for_scripts();
    let mut choices = Vec::new();
    let mut data = serde_json::Map::new();
    for currency in std::iter::once(campaign.currency).chain(campaign.checkout_currencies.iter().copied()) {
        let settings = if currency == campaign.currency {
            campaign.checkout
        } else {
            crate::actions::checkout_settings_in(&state.store, campaign, currency).await?
        };
        let mut entry = all.get(currency.code()).cloned().unwrap_or_else(|| serde_json::json!({}));
        entry["fixed"] = serde_json::json!(settings.fee_fixed_minor);
        entry["step"] = serde_json::json!(crate::payments::amounts::charge_step_minor(currency));
        data.insert(currency.code().to_owned(), entry);
        let selected =
            chosen.map_or(currency == campaign.currency, |code| code.eq_ignore_ascii_case(currency.code()));
        choices.push(serde_json::json!({"code": currency.code(), "selected": selected}));
    }
    Ok((choices, serde_json::Value::Object(data).to_string()))
}
