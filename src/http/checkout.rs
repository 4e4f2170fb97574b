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

/// The currencies the donation form offers (the campaign's first, then those it lists that
/// have a kept rate today), with what the page's script needs to write the form in the one
/// chosen: symbol (its code when the campaign's currency writes the same), digits, fixed fee,
/// charge step, the preset amounts converted, and the minimum as the page says it.
pub(super) async fn form_currencies(
    state: &AppState,
    campaign: &crate::ledger::Campaign,
    presets_minor: &[i64],
    language: &crate::web::i18n::Language,
    chosen: Option<&str>,
) -> Result<(Vec<serde_json::Value>, String), Problem> {
    let all = crate::web::i18n::currencies_for_scripts();
    let symbol_of =
        |code: &str| all.get(code).and_then(|entry| entry["symbol"].as_str()).unwrap_or(code).to_owned();
    let own_symbol = symbol_of(campaign.currency.code());
    let mut choices = Vec::new();
    let mut data = serde_json::Map::new();
    for currency in std::iter::once(campaign.currency).chain(campaign.checkout_currencies.iter().copied()) {
        let (settings, presets) = if currency == campaign.currency {
            (campaign.checkout, presets_minor.to_vec())
        } else {
            match crate::actions::checkout_settings_in(&state.store, campaign, currency).await? {
                Some((settings, rate)) => {
                    let presets = presets_minor
                        .iter()
                        .map(|preset| {
                            crate::actions::preset_in(campaign, *preset, currency, rate, settings.min_minor)
                        })
                        .collect();
                    (settings, presets)
                }
                None => continue,
            }
        };
        let symbol = symbol_of(currency.code());
        let symbol = if currency != campaign.currency && symbol == own_symbol {
            currency.code().to_owned()
        } else {
            symbol
        };
        data.insert(
            currency.code().to_owned(),
            serde_json::json!({
                "symbol": symbol,
                "digits": currency.digits(),
                "fixed": settings.fee_fixed_minor,
                "step": crate::payments::amounts::charge_step_minor(currency),
                "presets": presets.iter().map(|minor| currency.format_minor(*minor)).collect::<Vec<_>>(),
                "minimum": language.fill("form.minimum", &[("min", &language.money(settings.min_minor, currency))]),
            }),
        );
        let selected =
            chosen.map_or(currency == campaign.currency, |code| code.eq_ignore_ascii_case(currency.code()));
        choices.push(serde_json::json!({"code": currency.code(), "selected": selected}));
    }
    Ok((choices, serde_json::Value::Object(data).to_string()))
}

/// A preset button's value as posted, in the currency the gift is given in: the page's script
/// writes the chosen currency's presets (`presets_in` says so); without it, a preset of the
/// campaign's currency is taken as the same button in the chosen one.
pub(super) async fn preset_amount(
    state: &AppState,
    campaign: &crate::ledger::Campaign,
    presets_minor: &[i64],
    preset: &str,
    currency: Option<&str>,
    presets_in: Option<&str>,
) -> Result<String, Problem> {
    let chosen = currency.and_then(|code| crate::ledger::Currency::from_code(code).ok());
    let Some(chosen) = chosen.filter(|chosen| *chosen != campaign.currency) else {
        return Ok(preset.to_owned());
    };
    if presets_in.is_some_and(|code| code.eq_ignore_ascii_case(chosen.code())) {
        return Ok(preset.to_owned());
    }
    let index = presets_minor.iter().position(|minor| {
        campaign.currency.format_minor(*minor) == preset
            || (*minor / 10_i64.pow(campaign.currency.digits())).to_string() == preset
    });
    match (index, crate::actions::checkout_settings_in(&state.store, campaign, chosen).await?) {
        (Some(index), Some((settings, rate))) => Ok(chosen.format_minor(crate::actions::preset_in(
            campaign,
            presets_minor[index],
            chosen,
            rate,
            settings.min_minor,
        ))),
        _ => Ok(preset.to_owned()),
    }
}
