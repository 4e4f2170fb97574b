//! The treasurers' dashboard (`/admin`): sign-in, the campaigns, exports and the audit log;
//! a campaign's page and its forms are in `campaign`, payouts and Stripe's reports in
//! `stripe`. Server-rendered forms, each carrying the session's CSRF token; no script at all.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{SignedIn, cookie};
use super::error::Problem;
use crate::access::{
    Role, check_new_password, hash_password, hash_token, hex, verify_password, verify_sign_in,
};
use crate::actions;
use crate::ledger::progress::Progress;
use crate::web::templates;

mod audit;
mod campaign;
mod campaigns;
mod donors;
mod entries;
mod fields;
mod links;
mod matches;
mod notice;
mod people;
mod rates;
mod recurring;
mod resume;
mod reversals;
mod sources;
mod statements;
mod stripe;
mod webhooks;

use campaign::{campaign, record_batch, record_donation};
use reversals::{cancel, refund, reverse, reverse_deposit};
use stripe::{dismiss_event, payouts, resolve_flag, retry_event, review};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/password", get(password_form).post(change_password))
        .route("/admin", get(home))
        .route("/admin/c/{slug}", get(campaign))
        .route("/admin/campaigns/new", get(campaigns::new_campaign))
        .route("/admin/campaigns", post(campaigns::create_campaign))
        .route("/admin/c/{slug}/edit", get(campaigns::edit_campaign).post(campaigns::update_campaign))
        .route("/admin/c/{slug}/delete", post(campaigns::delete_campaign))
        .route("/admin/c/{slug}/donations", post(record_donation))
        .route("/admin/c/{slug}/entries", get(entries::entries))
        .route("/admin/c/{slug}/links", get(links::links))
        .route("/admin/c/{slug}/sources", get(sources::sources))
        .route("/admin/c/{slug}/matches", get(matches::matches).post(matches::add))
        .route("/admin/c/{slug}/matches/payments", post(matches::payment))
        .route("/admin/entries/{id}/wall", post(entries::decide_wall))
        .route("/admin/c/{slug}/batches", post(record_batch))
        .route("/admin/entries/{id}/reverse", post(reverse))
        .route("/admin/batches/{id}/reverse", post(reverse_deposit))
        .route("/admin/entries/{id}/refund", post(refund))
        .route("/admin/subscriptions/{id}/cancel", post(cancel))
        .route("/admin/export", get(export))
        .route("/admin/audit", get(audit::audit))
        .route("/admin/people", get(people::people))
        .route("/admin/people/invite", post(people::invite))
        .route("/admin/people/{id}/{what}", post(people::change_person))
        .route("/admin/tokens", post(people::create_token))
        .route("/admin/tokens/revoke", post(people::revoke_token))
        .route("/admin/welcome/{token}", get(people::welcome).post(people::set_password))
        .route("/admin/payouts", get(payouts))
        .route("/admin/rates", get(rates::rates).post(rates::add))
        .route("/admin/recurring", get(recurring::recurring))
        .route("/admin/donors", get(donors::donors))
        .route("/admin/donors/{key}", get(donors::donor))
        .route("/admin/donors/{key}/merge", post(donors::merge))
        .route("/admin/donors/{key}/forget", post(donors::forget))
        .route("/admin/donors/merges/{id}/undo", post(donors::undo))
        .route("/admin/statements", get(statements::statements))
        .route("/admin/statements/preview", get(statements::preview))
        .route("/admin/statements/{id}/pdf", get(statements::statement_pdf))
        .route("/admin/stripe", get(review))
        .route("/admin/stripe/events/{id}/retry", post(retry_event))
        .route("/admin/stripe/events/{id}/dismiss", post(dismiss_event))
        .route("/admin/stripe/flags/{id}/resolve", post(resolve_flag))
        .route("/admin/webhooks", get(webhooks::list).post(webhooks::add))
        .route("/admin/webhooks/{id}", get(webhooks::deliveries))
        .route("/admin/webhooks/{id}/replay", post(webhooks::replay))
        .route("/admin/webhooks/{id}/{what}", post(webhooks::change))
        .layer(axum::middleware::from_fn_with_state(state, resume::keep_forms_across_sign_in))
}

/// How long a session lasts from sign-in.
const SESSION_HOURS: i64 = 12;
const LOGIN_CSRF_COOKIE: &str = "appeal_login_csrf";

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system provides randomness");
    hex(&buffer)
}

/// An instant to the minute in the organization's time zone, as the dashboard's tables show it.
pub(super) fn minute(state: &AppState, at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&state.timezone).format("%Y-%m-%d %H:%M").to_string()
}

/// A page for admins only: anyone else is answered 403 with `message`.
pub(super) fn refuse_unless_admin(signed_in: &SignedIn, message: &str) -> Option<Response> {
    (!signed_in.actor.role.allows(Role::Admin)).then(|| Problem::forbidden(message).into_response())
}

pub(super) fn page(status: StatusCode, template: &str, context: Value) -> Response {
    match templates::render(template, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex")
}

pub(super) fn form<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> T {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// The login form's double-submit CSRF token, from its cookie.
struct LoginCsrf(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for LoginCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(LoginCsrf(cookie(parts, LOGIN_CSRF_COOKIE)))
    }
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    login_page_keeping(state, status, error, None)
}

/// The sign-in page, keeping a form that was being sent when the session ended.
fn login_page_keeping(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    resume: Option<&resume::Resume>,
) -> Response {
    let csrf = random_hex(16);
    let kept = resume.map(|resume| json!({"action": resume.action, "body": resume.body}));
    let mut response = page(
        status,
        "admin_login.html",
        json!({"organization": state.site.organization, "csrf": csrf, "error": error, "resume": kept}),
    );
    response.headers_mut().append(header::SET_COOKIE, cookie_header(state, LOGIN_CSRF_COOKIE, &csrf, 3600));
    response
}

async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, None)
}

#[derive(Debug, Default, Deserialize)]
struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    /// A form kept from before the session ended: where it went, and what it held.
    resume_action: Option<String>,
    resume_body: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    LoginCsrf(expected): LoginCsrf,
    body: Bytes,
) -> Response {
    let submitted: LoginForm = form(&body);
    let resume = match (&submitted.resume_action, &submitted.resume_body) {
        (Some(action), Some(kept)) => resume::Resume::new(action, kept),
        _ => None,
    };
    if expected.is_none() || submitted.csrf != expected {
        return login_page_keeping(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form expired; please sign in again."),
            resume.as_ref(),
        );
    }
    let email = submitted.email.unwrap_or_default().trim().to_owned();
    let password = submitted.password.unwrap_or_default();
    let ip = state.defence.client_ip(&headers, peer);
    let limit_key = state.defence.limit_key(ip);
    // Who tried, as typed (bounded): the account may not exist.
    let tried = format!("user:{}", email.chars().take(254).collect::<String>());
    let mut visitor = crate::access::Actor::person("(signing in)", Role::Viewer, None);
    visitor.label = "visitor".to_owned();
    visitor.address = Some(ip.to_string());
    if let Err(wait) = state.logins.attempt(limit_key, &email) {
        tracing::warn!(%ip, "sign-in throttled");
        if state.logins.report_throttled(limit_key) {
            actions::audit(&state.store, &visitor, "user.sign_in_throttled", &tried, None, None).await;
        }
        let mut response = login_page_keeping(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many attempts; wait a few minutes."),
            resume.as_ref(),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let user = match state.store.user_by_email(&email).await {
        Ok(user) => user,
        Err(error) => return Problem::from(error).into_response(),
    };
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let verified = match state.password_work(move || verify_sign_in(&password, stored_hash.as_deref())).await
    {
        Ok(verified) => verified,
        Err(problem) => return problem.into_response(),
    };
    let Some(user) = user.filter(|_| verified) else {
        tracing::warn!(%ip, "sign-in failed");
        actions::audit(&state.store, &visitor, "user.sign_in_failed", &tried, None, None).await;
        return login_page_keeping(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Wrong email or password."),
            resume.as_ref(),
        );
    };
    // Said only to whoever knows the password.
    if user.disabled_at.is_some() {
        tracing::warn!(%ip, "sign-in to a disabled account");
        let why = json!({"reason": "the account is disabled"});
        actions::audit(&state.store, &visitor, "user.sign_in_failed", &tried, None, Some(why)).await;
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("This account is disabled; ask an administrator to enable it."),
        );
    }
    state.logins.succeeded(limit_key, &email);
    let token = random_hex(32);
    let csrf = random_hex(16);
    let expires = Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    if let Err(error) = state.store.insert_session(&hash_token(&token), user.id, &csrf, expires).await {
        return Problem::from(error).into_response();
    }
    let mut actor = crate::access::Actor::person(
        &user.email,
        Role::parse(&user.role).unwrap_or(Role::Viewer),
        user.branch,
    );
    actor.address = Some(ip.to_string());
    actions::audit(&state.store, &actor, "user.sign_in", &format!("user:{}", user.email), None, None).await;
    let mut response = match &resume {
        Some(resume) => resume::continue_page(&state, &csrf, resume),
        None => Redirect::to("/admin").into_response(),
    };
    let response_headers = response.headers_mut();
    response_headers.append(
        header::SET_COOKIE,
        cookie_header(&state, state.session_cookie(), &token, SESSION_HOURS * 3600),
    );
    response_headers.append(header::SET_COOKIE, cookie_header(&state, LOGIN_CSRF_COOKIE, "", 0));
    response
}

#[derive(Debug, Default, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(State(state): State<AppState>, signed_in: SignedIn, body: Bytes) -> Response {
    let submitted: CsrfForm = form(&body);
    if let Some(refused) = signed_in.refuse_bad_csrf(submitted.csrf.as_deref()) {
        return refused;
    }
    if let Err(error) = state.store.delete_session(&signed_in.token_hash).await {
        return Problem::from(error).into_response();
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie_header(&state, state.session_cookie(), "", 0));
    response
}

/// Money as the public pages write it (in English, the dashboard's language): "$90,000",
/// "$25.50", "-$4"; the currency's symbol once, thousands grouped.
pub(super) fn shown_minor(minor: i64, currency: crate::ledger::Currency) -> String {
    crate::web::i18n::catalog().fallback().money(minor, currency)
}

/// The same for an amount already written as a decimal ("90000.00").
pub(super) fn shown_decimal(text: &str, currency: crate::ledger::Currency) -> String {
    crate::web::i18n::catalog().fallback().money_of_decimal(text, currency)
}

/// What every dashboard page shows around its content.
pub(super) fn frame(state: &AppState, signed_in: &SignedIn, title: &str) -> Value {
    json!({
        "organization": state.site.organization,
        "title": title,
        "email": signed_in.email,
        "role": signed_in.actor.role.as_str(),
        "branch": signed_in.actor.branch,
        "csrf": signed_in.csrf_token,
        // Each form on the page sends this with its own name as its one-time token.
        "form_nonce": random_hex(12),
        "is_admin": signed_in.actor.role.allows(Role::Admin),
        "is_treasurer": signed_in.actor.role.allows(Role::Treasurer),
    })
}

async fn password_form(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    page(
        StatusCode::OK,
        "admin_password.html",
        json!({"frame": frame(&state, &signed_in, "Change my password")}),
    )
}

#[derive(Debug, Default, Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    current: Option<String>,
    new: Option<String>,
    confirm: Option<String>,
}

async fn change_password(State(state): State<AppState>, signed_in: SignedIn, body: Bytes) -> Response {
    let submitted: PasswordForm = form(&body);
    if let Some(refused) = signed_in.refuse_bad_csrf(submitted.csrf.as_deref()) {
        return refused;
    }
    let user = match state.store.user_by_email(&signed_in.email).await {
        Ok(Some(user)) => user,
        Ok(None) => return Redirect::to("/admin/login").into_response(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let new = submitted.new.unwrap_or_default();
    let current = submitted.current.unwrap_or_default();
    let stored_hash = user.password_hash.clone();
    let verified = match state.password_work(move || verify_password(&current, &stored_hash)).await {
        Ok(verified) => verified,
        Err(problem) => return problem.into_response(),
    };
    let error = if !verified {
        Some("The current password is wrong.".to_owned())
    } else if Some(&new) != submitted.confirm.as_ref() {
        Some("The new password and its confirmation differ.".to_owned())
    } else {
        check_new_password(&new).err().map(|message| format!("The new password {message}."))
    };
    let frame = frame(&state, &signed_in, "Change my password");
    if let Some(error) = error {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin_password.html",
            json!({"frame": frame, "error": error}),
        );
    }
    let new_hash = match state.password_work(move || hash_password(&new)).await {
        Ok(hash) => hash,
        Err(problem) => return problem.into_response(),
    };
    let stored = state.store.set_password(user.id, &new_hash).await;
    let others = state.store.delete_other_sessions(user.id, &signed_in.token_hash).await;
    if let Err(error) = stored.and(others) {
        return Problem::from(error).into_response();
    }
    actions::audit(
        &state.store,
        &signed_in.actor,
        "user.password",
        &format!("user:{}", user.email),
        None,
        None,
    )
    .await;
    page(StatusCode::OK, "admin_password.html", json!({"frame": frame, "done": true}))
}

async fn home(State(state): State<AppState>, signed_in: SignedIn, headers: HeaderMap) -> Response {
    let notice = notice::take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let campaigns = match state.store.list_campaigns(true).await {
        Ok(campaigns) => campaigns,
        Err(error) => return Problem::from(error).into_response(),
    };
    let mut rows = Vec::new();
    for campaign in campaigns {
        if let Ok(Some((campaign, totals, branches))) =
            state.store.campaign_progress(campaign.slug.as_str()).await
        {
            let progress = Progress::new(&campaign, &totals, &branches);
            rows.push(json!({
                "slug": campaign.slug.as_str(),
                "archived": campaign.archived,
                "title": campaign.title.get("en"),
                "status": progress.status,
                "raised": progress.raised,
                "goal": progress.goal,
                "currency": progress.currency,
                "percent": progress.percent,
                "online": progress.by_source.online,
                "offline": progress.by_source.offline,
                "shown": {
                    "raised": shown_decimal(&progress.raised, campaign.currency),
                    "goal": shown_decimal(&progress.goal, campaign.currency),
                    "online": shown_decimal(&progress.by_source.online, campaign.currency),
                    "offline": shown_decimal(&progress.by_source.offline, campaign.currency),
                    "percent": crate::web::i18n::catalog().fallback().percent(progress.percent),
                },
            }));
        }
    }
    let scope = signed_in.actor.scope();
    let flags =
        state.store.flags(&scope, &crate::store::FlagFilter::default()).await.map_or(0, |flags| flags.len());
    let failing = state.store.failed_events(&scope).await.map_or(0, |events| events.len());
    let response = page(
        StatusCode::OK,
        "admin_home.html",
        json!({"frame": frame(&state, &signed_in, "Campaigns"), "campaigns": rows, "needs_a_look": flags + failing, "notice": notice,
               "setup": if signed_in.actor.role.allows(Role::Admin) { state.setup_warnings.iter().map(ToString::to_string).collect() } else { Vec::new() }}),
    );
    notice::spent(&state, shown, response)
}

/// The export as a download, for a signed-in person (same code as the API).
async fn export(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(input): Query<crate::export::ExportInput>,
) -> Response {
    match crate::export::start(
        &state.store,
        input,
        state.timezone,
        &signed_in.actor.scope(),
        state.export_stall,
    )
    .await
    {
        Ok(export) => super::exports::download(export),
        Err(error) => Problem::from(error).into_response(),
    }
}
