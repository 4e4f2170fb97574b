//! Server-rendered pages: campaign list, campaign page and donation form, thank-you page,
//! the embeddable bar and script, and the static files (donor self-service: `manage`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::defence::{Rejection, captcha_widget};
use super::error::Problem;
use super::manage;
use super::page_cache::{PageKey, kept_page, page_version};
use super::progress_view::progress_view;
use crate::actions::{self, ActionError};
use crate::ledger::attribution::ref_from_link;
use crate::ledger::checkout::CheckoutInput;
use crate::ledger::progress::{BranchTotals, CampaignTotals};
use crate::ledger::validation::AmountText;
use crate::ledger::{Campaign, CampaignStatus};
use crate::web::i18n::{Language, catalog, currencies_for_scripts};
use crate::web::{self, templates};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/c/{slug}", get(campaign_page))
        .route("/c/{slug}/give", axum::routing::post(give))
        .route("/c/{slug}/thanks", get(thanks_page))
        .route("/c/{slug}/badge.svg", get(super::badge::badge))
        .route("/c/{slug}/card.png", get(super::card::card))
        .route("/c/{slug}/branches", get(super::branch_pages::branches))
        .route("/c/{slug}/b/{branch}", get(super::branch_pages::branch_page))
        .route("/c/{slug}/qr.svg", get(super::links::qr_svg))
        .route("/c/{slug}/qr.png", get(super::links::qr_png))
        .route("/embed/{slug}", get(embed_page))
        .route("/embed.js", get(serve_embed_script))
        .route("/manage", get(manage::manage_form).post(manage::manage_request))
        .route("/manage/{token}", get(manage::manage_open).post(manage::manage_use))
        .route("/manage/{token}/receipts", post(manage::manage_receipt))
        .route("/manage/{token}/statements/{id}", get(manage::manage_statement))
        .route("/static/{*path}", get(static_file))
}

const LANGUAGE_COOKIE: &str = "appeal_lang";

/// The visitor's language: `?lang=`, then the cookie, then `Accept-Language`.
#[derive(Debug)]
pub struct Lang {
    pub language: &'static Language,
    /// Chosen explicitly now: remembered in a cookie.
    chosen: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "lang")
                .map(|(_, value)| value.into_owned())
        });
        let cookie = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(&format!("{LANGUAGE_COOKIE}=")).map(str::to_owned));
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
        let catalog = catalog();
        let chosen = query.as_deref().and_then(|code| catalog.get(code)).is_some();
        Ok(Lang { language: catalog.negotiate(query.as_deref(), cookie.as_deref(), accept), chosen })
    }
}

impl Lang {
    pub(super) fn from_code(code: Option<&str>) -> Self {
        let catalog = catalog();
        match code.and_then(|code| catalog.get(code)) {
            Some(language) => Lang { language, chosen: true },
            None => Lang { language: catalog.fallback(), chosen: false },
        }
    }

    /// A rendered page, with the language cookie when the visitor just chose it.
    pub(super) fn page(&self, status: StatusCode, html: String) -> Response {
        let mut response = (status, Html(html)).into_response();
        if self.chosen
            && let Ok(cookie) = HeaderValue::from_str(&format!(
                "{LANGUAGE_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                self.language.code
            ))
        {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// What every page template gets.
#[derive(Debug, Serialize)]
pub(super) struct PageInfo {
    lang: String,
    /// `ltr`, or `rtl` (Urdu): the page's writing direction.
    dir: &'static str,
    /// The other languages the page is offered in.
    languages: Vec<LanguageLink>,
    title: String,
    path: String,
    organization: String,
    pub campaign_url: String,
    /// `serve --demo` on an install not ready for real gifts: what is left, in the page's
    /// language.
    setup: Vec<String>,
}

/// A link to the same page in another language, named in that language.
#[derive(Debug, Serialize)]
pub(super) struct LanguageLink {
    code: String,
    name: String,
    dir: &'static str,
}

pub(super) fn page_info(state: &AppState, language: &Language, title: &str, path: &str) -> PageInfo {
    PageInfo {
        lang: language.code.clone(),
        dir: language.direction,
        languages: catalog()
            .languages()
            .iter()
            .filter(|other| other.code != language.code)
            .map(|other| LanguageLink {
                code: other.code.clone(),
                name: other.name.clone(),
                dir: other.direction,
            })
            .collect(),
        title: title.to_owned(),
        path: path.to_owned(),
        organization: state.site.organization.clone(),
        campaign_url: String::new(),
        setup: if state.demo {
            state.setup_warnings.iter().map(|warning| language.t(warning.i18n_key()).to_owned()).collect()
        } else {
            Vec::new()
        },
    }
}

pub(super) fn render(
    lang: &Lang,
    status: StatusCode,
    template: &str,
    context: serde_json::Value,
) -> Response {
    match templates::render(template, context) {
        Ok(html) => lang.page(status, html),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

async fn index(State(state): State<AppState>, lang: Lang) -> Response {
    let language = lang.language;
    // Kept for `FRESH_FOR` under one version: it lists every active campaign.
    let key = PageKey { kind: "home", slug: String::new(), lang: language.code.clone() };
    kept_page(&state, &lang, key, Some(String::new()), None, async {
        let campaigns =
            state.store.list_campaigns(false).await.map_err(|error| Problem::from(error).into_response())?;
        let now = Utc::now();
        let mut cards = Vec::new();
        for campaign in campaigns.iter().filter(|campaign| campaign.status == CampaignStatus::Active) {
            if let Ok(Some((campaign, totals, branches))) =
                state.store.campaign_progress(campaign.slug.as_str()).await
            {
                cards.push(json!({
                    "slug": campaign.slug.as_str(),
                    "title": campaign.title.get(&language.code),
                    "progress": progress_view(language, &campaign, &totals, &branches, now),
                }));
            }
        }
        let page = page_info(&state, language, &state.site.organization, "/");
        templates::render("index.html", json!({"page": page, "t": language.strings(), "campaigns": cards}))
            .map_err(|error| Problem::internal(&error).into_response())
    })
    .await
}

/// What the donation form shows: the choices, and what was typed when it comes back with errors.
#[derive(Debug, Default, Deserialize)]
pub(super) struct GiveForm {
    lang: Option<String>,
    preset: Option<String>,
    custom_amount: Option<String>,
    interval: Option<String>,
    currency: Option<String>,
    /// The currency the page's script wrote the preset buttons in.
    presets_in: Option<String>,
    cover_fees: Option<String>,
    branch: Option<String>,
    name: Option<String>,
    email: Option<String>,
    anonymous: Option<String>,
    message: Option<String>,
    website: Option<String>,
    #[serde(rename = "cf-turnstile-response")]
    turnstile: Option<String>,
    #[serde(rename = "h-captcha-response")]
    hcaptcha: Option<String>,
    /// The push the supporter came from, carried from the link into the form.
    #[serde(rename = "ref")]
    source_ref: Option<String>,
}

/// The form as a ready-made link fills it in: its amount as one of the buttons when it is
/// one, else as the other amount; its interval; its branch.
fn prefilled(link: &super::links::ReadyLink, campaign: &Campaign) -> GiveForm {
    let currency = campaign.currency;
    let unit = if currency.digits() == 0 { 100 } else { 1 };
    let (preset, custom_amount) = match link.amount_minor {
        None => (None, None),
        Some(minor) => {
            match PRESETS.iter().find(|preset| **preset * unit * 10_i64.pow(currency.digits()) == minor) {
                Some(preset) => (Some((preset * unit).to_string()), None),
                None => (Some("other".to_owned()), Some(currency.format_minor(minor))),
            }
        }
    };
    GiveForm {
        preset,
        custom_amount,
        interval: link.interval.map(str::to_owned),
        branch: link.branch.clone(),
        // Not its `ref`: the page is kept in memory without it, and `stamp_ref` writes it in.
        ..GiveForm::default()
    }
}

/// The gift amounts offered as buttons, in major units.
const PRESETS: [i64; 4] = [25, 50, 100, 250];

/// The preset buttons' amounts in minor units of `currency` (hundreds of units in a currency
/// without decimals).
fn presets_minor(currency: crate::ledger::Currency) -> Vec<i64> {
    let unit = if currency.digits() == 0 { 100 } else { 1 };
    PRESETS.iter().map(|preset| preset * unit * 10_i64.pow(currency.digits())).collect()
}

pub(super) struct CampaignPage<'a> {
    pub lang: &'a Lang,
    pub campaign: Campaign,
    pub totals: CampaignTotals,
    pub branches: Vec<BranchTotals>,
    pub form: GiveForm,
    pub errors: BTreeMap<String, String>,
    pub notice: Option<String>,
    pub thanks: bool,
    /// The thanks page's monthly ask (`thanks`).
    pub ask: Option<serde_json::Value>,
    /// A branch's page (`/c/{slug}/b/{branch}`): that branch's bar on top, chosen in the form.
    pub focus: Option<String>,
    pub status: StatusCode,
}

impl GiveForm {
    /// The form with a branch chosen.
    pub(super) fn for_branch(branch: &str) -> Self {
        GiveForm { branch: Some(branch.to_owned()), ..GiveForm::default() }
    }
}

async fn render_campaign(state: &AppState, view: CampaignPage<'_>) -> Response {
    let (lang, status) = (view.lang, view.status);
    match campaign_html(state, view).await {
        Ok(html) => lang.page(status, html),
        Err(refused) => refused,
    }
}

/// A campaign's page as HTML, or the answer that replaces it.
pub(super) async fn campaign_html(state: &AppState, view: CampaignPage<'_>) -> Result<String, Response> {
    let language = view.lang.language;
    let campaign = &view.campaign;
    let now = Utc::now();
    let currency = campaign.currency;
    let unit = if currency.digits() == 0 { 100 } else { 1 };
    let submitted = view.form.preset.clone();
    let presets: Vec<serde_json::Value> = PRESETS
        .iter()
        .map(|preset| {
            let value = (preset * unit).to_string();
            let checked = submitted.as_deref().map_or(*preset == 50, |chosen| chosen == value);
            json!({"value": value, "label": language.money(preset * unit * 10_i64.pow(currency.digits()), currency), "checked": checked})
        })
        .collect();
    let interval = view.form.interval.clone().unwrap_or_else(|| "once".to_owned());
    let intervals: Vec<serde_json::Value> = [
        ("once", "form.once"),
        ("month", "form.month"),
        ("year", "form.year"),
    ]
    .iter()
    .map(|(value, key)| json!({"value": value, "label": language.t(key), "checked": interval == *value}))
    .collect();
    let settings = campaign.checkout;
    let open = campaign.status == CampaignStatus::Active
        && campaign.starts_at.is_none_or(|starts| starts <= now)
        && campaign.ends_at.is_none_or(|ends| ends > now);
    // Other currencies, only where the form is shown; without them (or a rate), the campaign's.
    let (currencies, currency_data) = if view.thanks || campaign.checkout_currencies.is_empty() {
        (Vec::new(), String::new())
    } else {
        let presets = presets_minor(currency);
        super::checkout::form_currencies(state, campaign, &presets, language, view.form.currency.as_deref())
            .await
            .unwrap_or_default()
    };
    let captcha = state.defence.captcha().map(|captcha| {
        let (class, script) = captcha_widget(captcha);
        json!({"class": class, "script": script, "site_key": captcha.site_key})
    });
    let form = json!({
        "enabled": state.payments.is_some(),
        "closed": !open,
        "presets": presets,
        "custom_checked": submitted.as_deref() == Some("other"),
        "custom_amount": view.form.custom_amount.clone().unwrap_or_default(),
        "intervals": intervals,
        "cover_fees": view.form.cover_fees.is_some(),
        "cover_fees_label": language.fill(
            "form.cover_fees_plain",
            &[
                ("percent", &language.percent(settings.fee_percent_bp as f64 / 100.0)),
                ("fixed", &language.money(settings.fee_fixed_minor, currency)),
            ],
        ),
        "fee_percent_bp": settings.fee_percent_bp,
        "fee_fixed_minor": settings.fee_fixed_minor,
        "charge_step": crate::payments::amounts::charge_step_minor(currency),
        // Other currencies a one-off gift may be given in: a choice only when there are some.
        "currencies": if currencies.len() > 1 { currencies } else { Vec::new() },
        "currency_data": currency_data,
        "digits": currency.digits(),
        "minimum": language.fill("form.minimum", &[("min", &language.money(settings.min_minor, currency))]),
        "branches": view.branches.iter().map(|row| json!({
            "slug": row.branch.slug.as_str(),
            "name": row.branch.name,
            "selected": view.form.branch.as_deref() == Some(row.branch.slug.as_str()),
        })).collect::<Vec<_>>(),
        "name": view.form.name.clone().unwrap_or_default(),
        "email": view.form.email.clone().unwrap_or_default(),
        "anonymous": view.form.anonymous.is_some(),
        "message": view.form.message.clone().unwrap_or_default(),
        "source_ref": view.form.source_ref.clone().unwrap_or_default(),
        "errors": view.errors,
        "captcha": captcha,
        "money_format": "",
    });
    let wall: Vec<serde_json::Value> =
        match state.store.donor_wall(campaign.id, 12, state.site.hold_messages).await {
            Ok(gifts) => gifts
                .into_iter()
                .map(|gift| {
                    json!({
                        "name": gift.name.unwrap_or_else(|| language.t("wall.anonymous").to_owned()),
                        "message": gift.message,
                        "amount": language.money(gift.amount_minor, currency),
                    })
                })
                .collect(),
            Err(error) => return Err(Problem::from(error).into_response()),
        };
    let title = campaign.title.get(&language.code).to_owned();
    let description: Vec<&str> = campaign
        .description
        .get(&language.code)
        .split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .collect();
    let path = match &view.focus {
        Some(branch) => format!("/c/{}/b/{branch}", campaign.slug),
        None => format!("/c/{}", campaign.slug),
    };
    let mut page = page_info(state, language, &title, &path);
    // The address shared (Open Graph, the badge's link): the page in this language.
    page.campaign_url = format!("{}/c/{}?lang={}", state.public_url, campaign.slug, language.code);
    let progress = progress_view(language, campaign, &view.totals, &view.branches, now);
    // A branch's page: its own bar, the progress view's for that branch.
    let focus = view.focus.as_deref().and_then(|slug| progress.branches.iter().find(|row| row.slug == slug));
    let context = json!({
        "page": page,
        "t": language.strings(),
        "campaign": {"slug": campaign.slug.as_str(), "title": title, "description": description,
                     "card_url": format!("{}/c/{}/card.png?lang={}", state.public_url, campaign.slug, language.code)},
        "progress": progress,
        "focus": focus,
        "form": form,
        "wall": wall,
        "notice": view.notice,
        "thanks": view.thanks,
        "ask": view.ask,
    });
    templates::render("campaign.html", context).map_err(|error| Problem::internal(&error).into_response())
}

pub(super) async fn load_public(
    state: &AppState,
    slug: &str,
) -> Result<Option<(Campaign, CampaignTotals, Vec<BranchTotals>)>, Problem> {
    Ok(state.store.campaign_progress(slug).await?.filter(|(campaign, _, _)| campaign.status.is_public()))
}

pub(super) fn not_found_page(state: &AppState, lang: &Lang) -> Response {
    let language = lang.language;
    let page = page_info(state, language, language.t("error.not_found"), "/");
    render(
        lang,
        StatusCode::NOT_FOUND,
        "message.html",
        json!({"page": page, "t": language.strings(), "heading": language.t("error.not_found"), "message": "",
               "link": {"href": format!("/?lang={}", language.code), "label": language.t("site.campaigns")}}),
    )
}

#[derive(Debug, Deserialize)]
struct CampaignQuery {
    cancelled: Option<String>,
    /// A ready-made link's parts (see `links`).
    #[serde(flatten)]
    link: super::links::LinkQuery,
}

async fn campaign_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
    axum::extract::Query(query): axum::extract::Query<CampaignQuery>,
) -> Response {
    let cancelled = query.cancelled.is_some();
    let link = query.link;
    let filled_in = link.amount.is_some() || link.interval.is_some() || link.branch.is_some();
    let source_ref = link.source_ref();
    // The plain page, from memory while its figures stand (a ready-made link's is drawn for it).
    let key = PageKey { kind: "c", slug: slug.clone(), lang: lang.language.code.clone() };
    let version = if cancelled || filled_in { None } else { page_version(&state, &slug).await };
    kept_page(&state, &lang, key, version, source_ref.as_deref(), async {
        let Ok(Some((campaign, totals, branches))) = load_public(&state, &slug).await else {
            return Err(not_found_page(&state, &lang));
        };
        let notice = cancelled.then(|| lang.language.t("cancelled.body").to_owned());
        let form = prefilled(&super::links::ReadyLink::read(&link, &campaign, &branches), &campaign);
        let view = CampaignPage {
            lang: &lang,
            campaign,
            totals,
            branches,
            form,
            errors: BTreeMap::new(),
            notice,
            thanks: false,
            ask: None,
            focus: None,
            status: StatusCode::OK,
        };
        campaign_html(&state, view).await
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ThanksQuery {
    session_id: Option<String>,
}

async fn thanks_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
    axum::extract::Query(query): axum::extract::Query<ThanksQuery>,
) -> Response {
    let Ok(Some((campaign, totals, branches))) = load_public(&state, &slug).await else {
        return not_found_page(&state, &lang);
    };
    let ask =
        super::thanks::monthly_ask(&state, &campaign, &branches, query.session_id.as_deref(), lang.language)
            .await;
    let view = CampaignPage {
        lang: &lang,
        campaign,
        totals,
        branches,
        form: GiveForm::default(),
        errors: BTreeMap::new(),
        notice: None,
        thanks: true,
        ask,
        focus: None,
        status: StatusCode::OK,
    };
    // Drawn for its visitor (its ask follows their gift): never kept by a cache.
    let mut response = render_campaign(&state, view).await;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The donation form's POST: starts a Stripe Checkout and redirects there, or shows the
/// form again with every bad field named.
async fn give(
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

async fn embed_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
    axum::extract::Query(link): axum::extract::Query<super::links::LinkQuery>,
) -> Response {
    let key = PageKey { kind: "embed", slug: slug.clone(), lang: lang.language.code.clone() };
    let version = page_version(&state, &slug).await;
    let source_ref = link.source_ref();
    kept_page(&state, &lang, key, version, source_ref.as_deref(), async {
        let Ok(Some((campaign, totals, branches))) = load_public(&state, &slug).await else {
            return Err(not_found_page(&state, &lang));
        };
        let language = lang.language;
        let title = campaign.title.get(&language.code).to_owned();
        let mut page = page_info(&state, language, &title, &format!("/embed/{slug}"));
        page.campaign_url = format!("{}/c/{}?lang={}", state.public_url, campaign.slug, language.code);
        let context = json!({
            "page": page,
            "t": language.strings(),
            "progress": progress_view(language, &campaign, &totals, &branches, Utc::now()),
        });
        templates::render("embed.html", context).map_err(|error| Problem::internal(&error).into_response())
    })
    .await
}

/// `/embed.js`: format.js and the widget, wrapped so nothing leaks into the host page.
/// Built once at start-up, for this server's public address.
pub fn embed_script(public_url: &str) -> String {
    let languages: serde_json::Map<String, serde_json::Value> = catalog()
        .languages()
        .iter()
        .map(|language| (language.code.clone(), language.for_scripts()))
        .collect();
    let text = |path: &str| {
        web::file(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    };
    format!(
        "(function () {{\n\"use strict\";\nvar ORIGIN = {origin};\nvar LANGUAGES = {languages};\nvar CURRENCIES = {currencies};\n{format}\n{element}\n}})();\n",
        origin = serde_json::Value::from(public_url),
        languages = serde_json::Value::Object(languages),
        currencies = currencies_for_scripts(),
        format = text("static/format.js"),
        element = text("static/embed-element.js"),
    )
}

async fn serve_embed_script(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        ],
        state.embed_script.as_str().to_owned(),
    )
        .into_response()
}

async fn static_file(Path(path): Path<String>) -> Response {
    let Some(bytes) = web::file(&format!("static/{path}")) else {
        return Problem::not_found("file").into_response();
    };
    let content_type = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        bytes.into_owned(),
    )
        .into_response()
}
