//! The HTTP API and pages: one module per area, merged into one router here.

pub mod admin;
mod appeal_pages;
pub mod appeals;
pub mod auth;
mod badge;
mod branch_pages;
mod card;
pub mod checkout;
pub mod dashboard;
pub mod defence;
pub mod embeds;
pub mod error;
mod error_pages;
pub mod exports;
pub mod extract;
pub mod fast;
mod give;
pub mod limits;
pub mod links;
mod manage;
mod matching;
pub mod openapi;
pub mod outgoing_webhooks;
pub mod page_cache;
pub mod pages;
mod progress_view;
pub mod public;
pub mod rates;
pub mod recurring;
pub mod security;
pub mod serve;
pub mod sources;
pub mod stripe_review;
mod thanks;
pub mod webhook;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Method, StatusCode};
use tower_http::trace::TraceLayer;

use std::sync::Arc;

use crate::config::SiteConfig;
use crate::live::Live;
use crate::mail::Mailer;
use crate::payments::Payments;
use crate::store::Store;
use defence::Defence;
use error::Problem;

/// What every handler can reach: one shared value, so that handing it to each request
/// (axum clones the state per request) costs one reference count.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    /// `None` when no Stripe key is configured: online giving answers 503.
    pub payments: Option<Payments>,
    pub public_url: String,
    pub live: Arc<Live>,
    pub defence: Arc<Defence>,
    pub mailer: Mailer,
    pub site: SiteConfig,
    /// The Content-Security-Policies, built once (Stripe's origins for form-action).
    pub policies: security::Policies,
    pub embed_script: Arc<String>,
    pub timezone: chrono_tz::Tz,
    pub logins: Arc<defence::LoginThrottle>,
    /// Password hashing and checking (argon2, slow on purpose) run on blocking threads, a
    /// few at a time, so that sign-ins cannot stall webhooks and pages.
    pub password_work: Arc<tokio::sync::Semaphore>,
    /// Whether cookies get `Secure` (the public address is https).
    pub secure_cookies: bool,
    /// How long an export download may go unread before it gives its connection back.
    pub export_stall: std::time::Duration,
    /// What a first install has left to set, shown to admins on the dashboard.
    pub setup_warnings: Vec<crate::config::SetupWarning>,
    /// `serve --demo`: the public pages say what is left to set before real gifts.
    pub demo: bool,
    /// Set on SIGTERM: `/readyz` answers 503 while requests in flight and new ones are still
    /// served, until the instance stops listening.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Public pages rendered once and served again while their figures stand.
    pub pages: Arc<page_cache::PageCache>,
    /// Share cards drawn once per language and served again while their figures stand.
    pub images: Arc<page_cache::PageCache<[u8]>>,
    /// Appeal progress documents, built at most about once a second each.
    pub appeal_documents: Arc<appeals::AppealDocuments>,
}

/// How many password hashes are worked on at once (one per core of a small server).
pub const PASSWORD_WORKERS: usize = 2;

impl Shared {
    /// Runs password work (argon2) on a blocking thread, a few at a time.
    pub async fn password_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, error::Problem> {
        let _permit = self
            .password_work
            .acquire()
            .await
            .map_err(|_| error::Problem::internal(&"the password workers are closed"))?;
        tokio::task::spawn_blocking(work).await.map_err(|error| error::Problem::internal(&error))
    }

    /// The session cookie's name: `__Host-` on https, where the browser then refuses it
    /// from any other origin, path or insecure page.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies { auth::SECURE_SESSION_COOKIE } else { auth::SESSION_COOKIE }
    }
}

pub fn router(state: AppState) -> Router {
    // Every API route comes with its part of the OpenAPI document (`openapi`).
    let (api, _) = openapi::api_routes().split_for_parts();
    Router::new()
        .merge(api)
        .route("/api/docs", axum::routing::get(openapi::docs_page))
        .merge(dashboard::router(state.clone()))
        .merge(pages::router())
        .merge(appeal_pages::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), error_pages::html_for_browsers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Request spans are named after the matched route, so `/c/{slug}` is one series in the logs.
fn request_span(request: &Request) -> tracing::Span {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    route_span(request.method(), route)
}

/// The span of one request to `route` (also made by the progress fast path, ahead of the router).
fn route_span(method: &Method, route: &str) -> tracing::Span {
    tracing::info_span!("request", otel.name = %format_args!("{method} {route}"), method = %method, route)
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "No such page or endpoint.")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "This endpoint does not take that method.",
    )
}
