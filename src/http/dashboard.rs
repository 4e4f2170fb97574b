//! The treasurers' dashboard (`/admin`): sign-in, campaigns, figures traced to entries,
//! offline deposits, refunds, cancellations, exports and the audit log. Server-rendered
//! forms, each carrying the session's CSRF token; no script at all.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{SESSION_COOKIE, SignedIn, cookie};
use super::error::Problem;
use crate::access::{Role, check_new_password, hash_password, hash_token, hex, verify_password};
use crate::actions::{self, ActionError};
use crate::ledger::batch::{BatchInput, RowNames, entries_from_csv};
use crate::ledger::entry::{OfflineDonationInput, ReversalInput};
use crate::ledger::progress::{Progress, timestamp};
use crate::ledger::validation::AmountText;
use crate::ledger::{EntryKind, Source};
use crate::store::{EntryFilter, SubscriptionFilter};
use crate::web::templates;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/password", get(password_form).post(change_password))
        .route("/admin", get(home))
        .route("/admin/c/{slug}", get(campaign))
        .route("/admin/c/{slug}/donations", post(record_donation))
        .route("/admin/c/{slug}/batches", post(record_batch))
        .route("/admin/entries/{id}/reverse", post(reverse))
        .route("/admin/entries/{id}/refund", post(refund))
        .route("/admin/subscriptions/{id}/cancel", post(cancel))
        .route("/admin/export", get(export))
        .route("/admin/audit", get(audit))
        .route("/admin/payouts", get(payouts))
}

/// How long a session lasts from sign-in.
const SESSION_HOURS: i64 = 12;
const LOGIN_CSRF_COOKIE: &str = "appeal_login_csrf";

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system provides randomness");
    hex(&buffer)
}

fn page(status: StatusCode, template: &str, context: Value) -> Response {
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

fn form<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> T {
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
    let csrf = random_hex(16);
    let mut response = page(
        status,
        "admin_login.html",
        json!({"organization": state.site.organization, "csrf": csrf, "error": error}),
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
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    LoginCsrf(expected): LoginCsrf,
    body: Bytes,
) -> Response {
    let submitted: LoginForm = form(&body);
    if expected.is_none() || submitted.csrf != expected {
        return login_page(&state, StatusCode::FORBIDDEN, Some("The form expired; please sign in again."));
    }
    let email = submitted.email.unwrap_or_default().trim().to_owned();
    let password = submitted.password.unwrap_or_default();
    let ip = state.defence.client_ip(&headers, peer);
    if let Err(wait) = state.logins.attempt(ip, &email) {
        tracing::warn!(%ip, "sign-in throttled");
        let mut response =
            login_page(&state, StatusCode::TOO_MANY_REQUESTS, Some("Too many attempts; wait a few minutes."));
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let user = match state.store.user_by_email(&email).await {
        Ok(user) => user,
        Err(error) => return Problem::from(error).into_response(),
    };
    // A missing account costs the same hashing as a wrong password, so timing tells nothing.
    let stored_hash =
        user.as_ref().map_or_else(|| hash_password("no such account"), |user| user.password_hash.clone());
    let verified = verify_password(&password, &stored_hash) && user.is_some();
    let Some(user) = user.filter(|_| verified) else {
        state.logins.failed(&email);
        tracing::warn!(%ip, "sign-in failed");
        return login_page(&state, StatusCode::UNAUTHORIZED, Some("Wrong email or password."));
    };
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
    let mut response = Redirect::to("/admin").into_response();
    let response_headers = response.headers_mut();
    response_headers
        .append(header::SET_COOKIE, cookie_header(&state, SESSION_COOKIE, &token, SESSION_HOURS * 3600));
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
    response.headers_mut().append(header::SET_COOKIE, cookie_header(&state, SESSION_COOKIE, "", 0));
    response
}

/// What every dashboard page shows around its content.
fn frame(state: &AppState, signed_in: &SignedIn, title: &str) -> Value {
    json!({
        "organization": state.site.organization,
        "title": title,
        "email": signed_in.email,
        "role": signed_in.actor.role.as_str(),
        "branch": signed_in.actor.branch,
        "csrf": signed_in.csrf_token,
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
    let error = if !verify_password(&submitted.current.unwrap_or_default(), &user.password_hash) {
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
    let stored = state.store.set_password(user.id, &hash_password(&new)).await;
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

async fn home(State(state): State<AppState>, signed_in: SignedIn) -> Response {
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
                "title": campaign.title.get("en"),
                "status": progress.status,
                "raised": progress.raised,
                "goal": progress.goal,
                "currency": progress.currency,
                "percent": progress.percent,
                "online": progress.by_source.online,
                "offline": progress.by_source.offline,
            }));
        }
    }
    page(
        StatusCode::OK,
        "admin_home.html",
        json!({"frame": frame(&state, &signed_in, "Campaigns"), "campaigns": rows}),
    )
}

#[derive(Debug, Default, Deserialize)]
struct CampaignQuery {
    notice: Option<String>,
}

/// A campaign's page: every figure next to the entries that make it.
async fn campaign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<CampaignQuery>,
) -> Response {
    render_campaign(&state, &signed_in, &slug, query.notice, BTreeMap::new(), None, StatusCode::OK).await
}

async fn render_campaign(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    preview: Option<Value>,
    status: StatusCode,
) -> Response {
    let Ok(Some((campaign, totals, branches))) = state.store.campaign_progress(slug).await else {
        return Problem::not_found("campaign").into_response();
    };
    let currency = campaign.currency;
    let progress = Progress::new(&campaign, &totals, &branches);
    let mut leaderboard: Vec<Value> = progress
        .branches
        .iter()
        .map(|branch| json!({"slug": branch.slug, "name": branch.name, "raised": branch.raised, "goal": branch.goal}))
        .collect();
    leaderboard.sort_by(|a, b| {
        let amount =
            |value: &Value| value["raised"].as_str().and_then(|text| text.parse::<f64>().ok()).unwrap_or(0.0);
        amount(b).total_cmp(&amount(a))
    });
    let filter = EntryFilter {
        campaign_id: Some(campaign.id),
        branch_slug: signed_in.actor.branch.clone(),
        before_id: None,
        limit: 25,
    };
    let entries = match state.store.list_entries(&filter).await {
        Ok(entries) => entries,
        Err(error) => return Problem::from(error).into_response(),
    };
    let recent: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "id": entry.id,
                "date": entry.received_on.format("%Y-%m-%d").to_string(),
                "kind": entry.kind.as_str(),
                "source": entry.source.as_str(),
                "method": entry.method,
                "branch": entry.branch_slug.as_ref().map(|slug| slug.as_str()),
                "donor": entry.donor.name,
                "amount": currency.format_minor(entry.amount_minor),
                "fee": currency.format_minor(entry.fee_minor),
                "reference": entry.reference,
                "batch": entry.batch_id,
                "refundable": entry.kind == EntryKind::Donation && entry.source == Source::Online,
                "reversible": entry.kind == EntryKind::Donation && entry.source == Source::Offline,
            })
        })
        .collect();
    let subscriptions = match state
        .store
        .list_subscriptions(&SubscriptionFilter { campaign_id: Some(campaign.id), status: None })
        .await
    {
        Ok(list) => list,
        Err(error) => return Problem::from(error).into_response(),
    };
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    for (subscription, _) in &subscriptions {
        *by_status.entry(subscription.status.clone()).or_insert(0) += 1;
    }
    let subscription_rows: Vec<Value> = subscriptions
        .iter()
        .map(|(subscription, _)| {
            json!({
                "id": subscription.id,
                "status": subscription.status,
                "amount": currency.format_minor(subscription.amount_minor),
                "interval": subscription.interval.as_str(),
                "donor": subscription.donor_name.clone().or(subscription.donor_email.clone()),
                "cancel_at_period_end": subscription.cancel_at_period_end,
                "active": subscription.is_active(),
            })
        })
        .collect();
    let daily = state.store.daily_totals(campaign.id).await.unwrap_or_default();
    let chart = chart_svg(&daily, campaign.goal_minor);
    let context = json!({
        "frame": frame(state, signed_in, campaign.title.get("en")),
        "campaign": {"slug": campaign.slug.as_str(), "title": campaign.title.get("en"), "status": campaign.status.as_str(),
                     "branches": branches.iter().map(|row| json!({"slug": row.branch.slug.as_str(), "name": row.branch.name})).collect::<Vec<_>>()},
        "progress": progress,
        "leaderboard": leaderboard,
        "entries": recent,
        "subscriptions": subscription_rows,
        "by_status": by_status,
        "chart": chart,
        "notice": notice,
        "errors": errors,
        "preview": preview,
        "today": Utc::now().with_timezone(&state.timezone).date_naive().format("%Y-%m-%d").to_string(),
    });
    page(status, "admin_campaign.html", context)
}

/// Money per day as bars and the running total as a line, against the goal; drawn on the
/// server so the page needs no script.
fn chart_svg(daily: &[(chrono::NaiveDate, i64)], goal_minor: i64) -> Value {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 180.0;
    if daily.is_empty() {
        return Value::Null;
    }
    let mut cumulative = 0_i64;
    let points: Vec<(i64, i64)> = daily
        .iter()
        .map(|(_, amount)| {
            cumulative += amount;
            (*amount, cumulative)
        })
        .collect();
    // A little room above the goal line, so it does not sit on the frame.
    let top = points.iter().map(|(_, total)| *total).max().unwrap_or(0).max(goal_minor).max(1) as f64 * 1.08;
    let step = WIDTH / points.len() as f64;
    let y = |value: i64| HEIGHT - (value.max(0) as f64 / top) * HEIGHT;
    let bars: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(index, (amount, _))| {
            let bar_top = y(*amount);
            json!({"x": format!("{:.1}", index as f64 * step + step * 0.15), "y": format!("{bar_top:.1}"),
                   "width": format!("{:.1}", step * 0.7), "height": format!("{:.1}", HEIGHT - bar_top)})
        })
        .collect();
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(index, (_, total))| format!("{:.1},{:.1}", index as f64 * step + step / 2.0, y(*total)))
        .collect();
    json!({
        "width": WIDTH, "height": HEIGHT, "bars": bars, "line": line.join(" "),
        "goal_y": format!("{:.1}", y(goal_minor)),
        "first": daily.first().map(|(date, _)| date.to_string()),
        "last": daily.last().map(|(date, _)| date.to_string()),
    })
}

fn redirect_with(slug: &str, notice: &str) -> Response {
    let query: String =
        form_urlencoded::Serializer::new(String::new()).append_pair("notice", notice).finish();
    Redirect::to(&format!("/admin/c/{slug}?{query}")).into_response()
}

/// The campaign page again, with the form's errors beside their fields.
async fn render_errors(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    errors: BTreeMap<String, String>,
) -> Response {
    render_campaign(state, signed_in, slug, None, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// An action's refusal: beside the form when it is about the input, a problem otherwise.
async fn render_action_error(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    error: ActionError,
) -> Response {
    match field_errors(error) {
        Ok(errors) => render_errors(state, signed_in, slug, errors).await,
        Err(problem) => problem.into_response(),
    }
}

fn field_errors(error: ActionError) -> Result<BTreeMap<String, String>, Problem> {
    match error {
        ActionError::Invalid(errors) => {
            Ok(errors.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
        }
        ActionError::Forbidden(message) => Ok(BTreeMap::from([("form".to_owned(), message)])),
        ActionError::Conflict { field, message } => Ok(BTreeMap::from([(field, message)])),
        other => Err(Problem::from(other)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct DonationForm {
    csrf: Option<String>,
    amount: Option<String>,
    method: Option<String>,
    received_on: Option<String>,
    donor_name: Option<String>,
    donor_email: Option<String>,
    reference: Option<String>,
    branch: Option<String>,
}

async fn record_donation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: DonationForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let input = OfflineDonationInput {
        amount: submitted.amount.map(AmountText),
        method: submitted.method,
        received_on: submitted.received_on,
        donor_name: submitted.donor_name,
        donor_email: submitted.donor_email,
        reference: submitted.reference,
        branch: submitted.branch,
        anonymous: None,
        message: None,
    };
    match actions::record_offline_donation(&state.store, &slug, input, &signed_in.actor, None).await {
        Ok(outcome) => redirect_with(&slug, &format!("Recorded entry {}.", outcome.entry().id)),
        Err(error) => render_action_error(&state, &signed_in, &slug, error).await,
    }
}

#[derive(Debug, Default, Deserialize)]
struct BatchForm {
    csrf: Option<String>,
    reference: Option<String>,
    deposited_on: Option<String>,
    declared_count: Option<String>,
    declared_total: Option<String>,
    csv: Option<String>,
    /// "preview" or "post".
    action: Option<String>,
}

async fn record_batch(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: BatchForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let mut errors = BTreeMap::new();
    let entries = match entries_from_csv(submitted.csv.as_deref().unwrap_or_default()) {
        Ok(entries) => entries,
        Err(csv_errors) => {
            errors.extend(csv_errors.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
            Vec::new()
        }
    };
    let declared_count = match submitted.declared_count.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => match text.parse::<i64>() {
            Ok(count) => Some(count),
            Err(_) => {
                errors.insert("declared_count".to_owned(), "must be a whole number".to_owned());
                None
            }
        },
        _ => None,
    };
    if !errors.is_empty() {
        return render_errors(&state, &signed_in, &slug, errors).await;
    }
    let input = BatchInput {
        reference: submitted.reference,
        deposited_on: submitted.deposited_on,
        declared_count,
        declared_total: submitted.declared_total.map(AmountText),
        entries,
    };
    let preview = submitted.action.as_deref() != Some("post");
    match actions::record_batch(&state.store, &slug, input, &signed_in.actor, RowNames::CsvLines, preview)
        .await
    {
        Ok(outcome) if preview => {
            let currency = outcome.currency;
            let rows: Vec<Value> = outcome
                .entries
                .iter()
                .map(|entry| {
                    json!({"amount": currency.format_minor(entry.amount_minor), "method": entry.method,
                                     "date": entry.received_on.to_string(), "donor": entry.donor.name})
                })
                .collect();
            let preview = json!({"rows": rows, "total": currency.format_minor(outcome.total_minor), "form": {
                "reference": body_field(&body, "reference"), "deposited_on": body_field(&body, "deposited_on"),
                "declared_count": body_field(&body, "declared_count"), "declared_total": body_field(&body, "declared_total"),
                "csv": body_field(&body, "csv")}});
            render_campaign(&state, &signed_in, &slug, None, BTreeMap::new(), Some(preview), StatusCode::OK)
                .await
        }
        Ok(outcome) => redirect_with(
            &slug,
            &format!(
                "Posted batch {}: {} entries.",
                outcome.batch_id.unwrap_or_default(),
                outcome.recorded.len()
            ),
        ),
        Err(error) => render_action_error(&state, &signed_in, &slug, error).await,
    }
}

fn body_field(body: &Bytes, name: &str) -> String {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
struct EntryActionForm {
    csrf: Option<String>,
    amount: Option<String>,
    reason: Option<String>,
    campaign: Option<String>,
}

async fn reverse(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let submitted: EntryActionForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let input = ReversalInput {
        amount: submitted.amount.filter(|amount| !amount.trim().is_empty()).map(AmountText),
        reason: submitted.reason,
        kind: None,
        received_on: None,
    };
    match actions::reverse_entry(&state.store, id, input, &signed_in.actor).await {
        Ok(outcome) => redirect_with(&slug, &format!("Entry {id} reversed by entry {}.", outcome.entry().id)),
        Err(error) => render_action_error(&state, &signed_in, &slug, error).await,
    }
}

async fn refund(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let submitted: EntryActionForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let amount = submitted.amount.filter(|amount| !amount.trim().is_empty()).map(AmountText);
    match actions::refund_donation(&state.store, state.payments.as_ref(), id, amount, &signed_in.actor).await
    {
        Ok(refund) => redirect_with(
            &slug,
            &format!(
                "Asked Stripe to refund {} of entry {id}; the ledger moves when Stripe confirms.",
                refund.entry.currency.format_minor(refund.amount_minor)
            ),
        ),
        Err(error) => render_action_error(&state, &signed_in, &slug, error).await,
    }
}

#[derive(Debug, Default, Deserialize)]
struct CancelForm {
    csrf: Option<String>,
    campaign: Option<String>,
    when: Option<String>,
}

async fn cancel(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: CancelForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let slug = submitted.campaign.clone().unwrap_or_default();
    let at_period_end = submitted.when.as_deref() != Some("now");
    match actions::cancel_subscription(
        &state.store,
        state.payments.as_ref(),
        &id,
        at_period_end,
        &signed_in.actor,
    )
    .await
    {
        Ok(_) => redirect_with(&slug, &format!("Subscription {id} cancelled; nothing was refunded.")),
        Err(error) => render_action_error(&state, &signed_in, &slug, error).await,
    }
}

/// The export as a download, for a signed-in person (same code as the API).
async fn export(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(mut input): Query<crate::export::ExportInput>,
) -> Response {
    if let Some(own) = &signed_in.actor.branch {
        input.branch = Some(own.clone());
    }
    let include_donors = signed_in.actor.role.allows(Role::Treasurer);
    match crate::export::start(&state.store, input, state.timezone, include_donors).await {
        Ok(export) => super::exports::download(export),
        Err(error) => Problem::from(error).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    format: Option<String>,
}

async fn audit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<AuditQuery>,
) -> Response {
    if !signed_in.actor.role.allows(Role::Admin) {
        return Problem::forbidden("The audit log is for admins.").into_response();
    }
    let records = match state.store.audit_log(None, 1000).await {
        Ok(records) => records,
        Err(error) => return Problem::from(error).into_response(),
    };
    if query.format.as_deref() == Some("csv") {
        let mut out = String::from("id,at,actor,action,target,before,after,address\r\n");
        for record in &records {
            let fields = [
                record.id.to_string(),
                timestamp(record.at),
                record.actor.clone(),
                record.action.clone(),
                record.target.clone(),
                record.before.clone().unwrap_or_default(),
                record.after.clone().unwrap_or_default(),
                record.address.clone().unwrap_or_default(),
            ];
            let quoted: Vec<String> =
                fields.iter().map(|field| format!("\"{}\"", field.replace('"', "\"\""))).collect();
            out.push_str(&quoted.join(","));
            out.push_str("\r\n");
        }
        return (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"appeal-audit.csv\""),
                ),
            ],
            out,
        )
            .into_response();
    }
    let rows: Vec<Value> = records
        .iter()
        .map(|record| json!({"id": record.id, "at": timestamp(record.at), "actor": record.actor, "action": record.action,
                             "target": record.target, "before": record.before, "after": record.after, "address": record.address}))
        .collect();
    page(
        StatusCode::OK,
        "admin_audit.html",
        json!({"frame": frame(&state, &signed_in, "Audit log"), "records": rows}),
    )
}

/// Every payout reconciled against the ledger, the unexplained lines first to the eye.
async fn payouts(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    let mut reports = Vec::new();
    let listed = match state.store.payouts().await {
        Ok(listed) => listed,
        Err(error) => return Problem::from(error).into_response(),
    };
    for payout in listed {
        match state.store.payout_report(&payout.id).await {
            Ok(Some(report)) => reports.push(super::admin::payout_body(&report)),
            Ok(None) => {}
            Err(error) => return Problem::from(error).into_response(),
        }
    }
    page(
        StatusCode::OK,
        "admin_payouts.html",
        json!({"frame": frame(&state, &signed_in, "Payouts"), "payouts": reports}),
    )
}
