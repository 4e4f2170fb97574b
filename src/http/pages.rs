//! Server-rendered pages: campaign list, campaign page and donation form, thank-you page,
//! the embeddable bar and script, and the static files (donor self-service: `manage`).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::defence::captcha_widget;
use super::error::Problem;
use super::manage;
use super::page_cache::{PageKey, kept_page, page_version};
use super::progress_view::progress_view;
use crate::ledger::progress::{BranchTotals, CampaignTotals};
use crate::ledger::{Campaign, CampaignStatus};
use crate::web::i18n::{Language, catalog};
use crate::web::{self, templates};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/c/{slug}", get(campaign_page))
        .route("/c/{slug}/give", axum::routing::post(super::give::give))
        .route("/c/{slug}/thanks", get(thanks_page))
        .route("/c/{slug}/badge.svg", get(super::badge::badge))
        .route("/c/{slug}/card.png", get(super::card::card))
        .route("/c/{slug}/branches", get(super::branch_pages::branches))
        .route("/c/{slug}/b/{branch}", get(super::branch_pages::branch_page))
        .route("/c/{slug}/qr.svg", get(super::links::qr_svg))
        .route("/c/{slug}/qr.png", get(super::links::qr_png))
        .route("/embed/{slug}", get(super::embeds::embed_page))
        .route("/embed.js", get(super::embeds::serve_embed_script))
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
    pub(super) lang: Option<String>,
    pub(super) preset: Option<String>,
    pub(super) custom_amount: Option<String>,
    pub(super) interval: Option<String>,
    pub(super) currency: Option<String>,
    /// The currency the page's script wrote the preset buttons in.
    pub(super) presets_in: Option<String>,
    pub(super) cover_fees: Option<String>,
    pub(super) branch: Option<String>,
    pub(super) name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) anonymous: Option<String>,
    pub(super) message: Option<String>,
    pub(super) website: Option<String>,
    #[serde(rename = "cf-turnstile-response")]
    pub(super) turnstile: Option<String>,
    #[serde(rename = "h-captcha-response")]
    pub(super) hcaptcha: Option<String>,
    /// The push the supporter came from, carried from the link into the form.
    #[serde(rename = "ref")]
    pub(super) source_ref: Option<String>,
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
pub(super) fn presets_minor(currency: crate::ledger::Currency) -> Vec<i64> {
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

pub(super) async fn render_campaign(state: &AppState, view: CampaignPage<'_>) -> Response {
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
