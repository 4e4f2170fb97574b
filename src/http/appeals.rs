//! Appeals over the API: admins set them up and change their members; anyone reads an
//! appeal's progress document, once or live. Documents are built at most about once a second
//! per appeal (`AppealDocuments`), however many read them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use tower_http::cors::{Any, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiPath};
use crate::access::{Role, hex};
use crate::actions;
use crate::ledger::appeals::{Appeal, AppealInput, AppealProgress, MemberSource};
use crate::ledger::campaign::Localized;
use crate::ledger::progress::timestamp;

pub fn router() -> OpenApiRouter<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .vary(Vec::<axum::http::HeaderName>::new());
    let public =
        OpenApiRouter::new().routes(routes!(get_progress)).routes(routes!(stream_progress)).layer(cors);
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update)).merge(public)
}

/// The path parameter naming an appeal.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppealSlug {
    /// The appeal's slug, as in its address (`/a/{slug}`).
    #[allow(dead_code)]
    slug: String,
}

/// An appeal as set up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppealBody {
    pub slug: String,
    pub title: Localized,
    pub currency: &'static str,
    pub goal: String,
    pub rate_policy: crate::ledger::appeals::RatePolicy,
    /// `1 currency = rate` of the appeal's currency, under the fixed policy.
    pub fixed_rates: std::collections::BTreeMap<String, String>,
    /// The day a fixed rate not given is taken from the rates table.
    #[schema(format = Date)]
    pub launched_on: String,
    pub members: Vec<MemberBody>,
    /// Its public progress document.
    pub progress_url: String,
    /// Its public page.
    pub page_url: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberBody {
    pub campaign: Option<String>,
    pub url: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AppealList {
    appeals: Vec<AppealBody>,
}

fn appeal_body(state: &AppState, appeal: &Appeal) -> AppealBody {
    AppealBody {
        slug: appeal.slug.to_string(),
        title: appeal.title.clone(),
        currency: appeal.currency.code(),
        goal: appeal.currency.format_minor(appeal.goal_minor),
        rate_policy: appeal.rate_policy,
        fixed_rates: appeal
            .fixed_rates
            .iter()
            .map(|(code, fixed)| ((*code).to_owned(), fixed.rate.to_string()))
            .collect(),
        launched_on: appeal.launched_on.to_string(),
        members: appeal
            .members
            .iter()
            .map(|member| match &member.source {
                MemberSource::Campaign { slug, .. } => {
                    MemberBody { campaign: Some(slug.clone()), url: None, name: member.name.clone() }
                }
                MemberSource::Remote { url, .. } => {
                    MemberBody { campaign: None, url: Some(url.clone()), name: member.name.clone() }
                }
            })
            .collect(),
        progress_url: format!("{}/api/v1/appeals/{}/progress", state.public_url, appeal.slug),
        page_url: format!("{}/a/{}", state.public_url, appeal.slug),
        created_at: timestamp(appeal.created_at),
        updated_at: timestamp(appeal.updated_at),
    }
}

/// Every appeal (people of the treasury).
#[utoipa::path(get, path = "/api/v1/admin/appeals", operation_id = "list_appeals", tag = "appeals",
    responses((status = 200, description = "The appeals, by slug", body = AppealList)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let appeals = actions::list_appeals(&state.store, actor).await?;
    let appeals = appeals.iter().map(|appeal| appeal_body(&state, appeal)).collect();
    Ok(axum::Json(AppealList { appeals }).into_response())
}

/// Sets up an appeal (admins): `slug`, `title`, `currency` and `goal` are required;
/// `rate_policy` is `fixed` unless said; `members` lists campaigns of this instance
/// (`{"campaign": "office"}`) and other instances' public progress URLs (`{"url": …}`).
#[utoipa::path(post, path = "/api/v1/admin/appeals", operation_id = "create_appeal", tag = "appeals",
    request_body = AppealInput,
    responses((status = 201, description = "Set up", body = AppealBody,
        headers(("Location" = String, description = "Its public progress document")))))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<AppealInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let appeal = actions::create_appeal(&state.store, input, actor).await?;
    let location = format!("/api/v1/appeals/{}/progress", appeal.slug);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(appeal_body(&state, &appeal)))
        .into_response())
}

/// Changes an appeal (admins): fields left out stay; `members`, when given, is the whole
/// list (a remote kept keeps its last known figures).
#[utoipa::path(patch, path = "/api/v1/admin/appeals/{slug}", operation_id = "update_appeal", tag = "appeals",
    params(AppealSlug), request_body = AppealInput,
    responses((status = 200, description = "Changed", body = AppealBody)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(input): ApiJson<AppealInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let appeal = actions::update_appeal(&state.store, &slug, input, actor).await?;
    state.appeal_documents.forget(&slug);
    state.appeal_documents.forget(appeal.slug.as_str());
    Ok(axum::Json(appeal_body(&state, &appeal)).into_response())
}

/// An appeal's progress JSON, ready to send, with its ETag.
#[derive(Debug)]
pub struct AppealDocument {
    pub appeal: Appeal,
    pub progress: AppealProgress,
    pub body: Bytes,
    pub etag: String,
    pub etag_header: HeaderValue,
    built: Instant,
}

/// How long a built appeal document is served before it is built again.
const DOCUMENT_FOR: Duration = Duration::from_secs(1);

/// Appeal documents kept for `DOCUMENT_FOR`, so that readers and streams share one build.
#[derive(Debug, Default)]
pub struct AppealDocuments {
    kept: Mutex<HashMap<String, Arc<AppealDocument>>>,
    /// Held while one is built, so that readers who find it missing build it once.
    building: tokio::sync::Mutex<()>,
}

/// Appeals kept at most; past it the cache starts afresh.
const MAX_KEPT: usize = 1024;

impl AppealDocuments {
    /// The kept document, when built less than `DOCUMENT_FOR` ago and, given `since`, after it.
    fn fresh(&self, slug: &str, since: Option<Instant>) -> Option<Arc<AppealDocument>> {
        let kept = self.kept.lock().ok()?;
        kept.get(slug)
            .filter(|document| document.built.elapsed() < DOCUMENT_FOR)
            .filter(|document| since.is_none_or(|since| document.built >= since))
            .cloned()
    }

    fn keep(&self, slug: &str, document: &Arc<AppealDocument>) {
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
            kept.insert(slug.to_owned(), document.clone());
        }
    }

    /// Forgets an appeal's document (it was changed).
    pub fn forget(&self, slug: &str) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.remove(slug);
        }
    }
}

/// The appeal's document: kept, or built now (`None`: no such appeal).
pub(super) async fn appeal_document(state: &AppState, slug: &str) -> ApiResult<Option<Arc<AppealDocument>>> {
    appeal_document_since(state, slug, None).await
}

/// The appeal's document built after `since` (a change heard then), kept or built now.
async fn appeal_document_since(
    state: &AppState,
    slug: &str,
    since: Option<Instant>,
) -> ApiResult<Option<Arc<AppealDocument>>> {
    let documents = &state.appeal_documents;
    if let Some(document) = documents.fresh(slug, since) {
        return Ok(Some(document));
    }
    let _building = documents.building.lock().await;
    // Another reader may have built it while this one waited.
    if let Some(document) = documents.fresh(slug, since) {
        return Ok(Some(document));
    }
    let Some((appeal, progress)) =
        actions::appeal_progress_document(&state.store, slug, state.live.stale_after()).await?
    else {
        return Ok(None);
    };
    let body = serde_json::to_vec(&progress).map_err(|error| Problem::internal(&error))?;
    let etag = format!("\"{}\"", &hex(&Sha256::digest(&body))[..32]);
    let document = Arc::new(AppealDocument {
        appeal,
        progress,
        body: Bytes::from(body),
        etag_header: HeaderValue::from_str(&etag).map_err(|error| Problem::internal(&error))?,
        etag,
        built: Instant::now(),
    });
    state.appeal_documents.keep(slug, &document);
    Ok(Some(document))
}

async fn public_document(state: &AppState, slug: &str) -> ApiResult<Arc<AppealDocument>> {
    appeal_document(state, slug).await?.ok_or_else(|| Problem::not_found("appeal"))
}

/// An appeal's progress: its total in its currency, and each member's figure in its own
/// currency and converted, with the rate, its day and source, when it was last heard from,
/// and whether it is stale (a remote that did not answer lately keeps its last known figure).
#[utoipa::path(get, path = "/api/v1/appeals/{slug}/progress", operation_id = "appeal_progress", tag = "appeals",
    params(AppealSlug,
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a document held already")),
    responses(
        (status = 200, description = "The appeal's progress document", body = AppealProgress,
            headers(("ETag" = String, description = "The document's version"),
                    ("Cache-Control" = String, description = "public, max-age=5"))),
        (status = 304, description = "The client holds this version already")))]
async fn get_progress(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let document = public_document(&state, &slug).await?;
    Ok(super::public::tagged_json(
        &document.body,
        &document.etag,
        &document.etag_header,
        request.headers().get(header::IF_NONE_MATCH),
    ))
}

/// What an appeal stream hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heard {
    /// A member campaign's commit, or a remote's figures or state changed.
    Change,
    /// Time passed (a remote may have gone stale meanwhile).
    Tick,
    /// The instance is stopping.
    Stopping,
}

type Changes = Pin<Box<dyn Stream<Item = Heard> + Send>>;

fn changes_of<T: Clone + Send + 'static>(receiver: broadcast::Receiver<T>) -> Changes {
    Box::pin(futures_util::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        match receiver.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => Some((Heard::Change, Some(receiver))),
            Err(broadcast::error::RecvError::Closed) => Some((Heard::Stopping, None)),
        }
    }))
}

/// How long a stream lets a burst of changes settle before it builds the document again.
const SETTLE: Duration = Duration::from_millis(300);

/// `GET /api/v1/appeals/{slug}/progress/stream`: one `progress` event with the appeal's
/// document on connect and whenever it changes.
#[utoipa::path(get, path = "/api/v1/appeals/{slug}/progress/stream", operation_id = "stream_appeal_progress",
    tag = "appeals", params(AppealSlug),
    responses(
        (status = 200, description = "Server-sent events: `progress`, whose data is the appeal's progress document, on connect and after every change; a comment line every 15 s",
            content_type = "text/event-stream", body = String),
        (status = 429, description = "This address holds too many open streams", body = Problem, content_type = "application/problem+json")))]
async fn stream_progress(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let document = public_document(&state, &slug).await?;
    let permit = super::public::admit_stream(&state, &headers, peer)?;
    let mut sources: Vec<Changes> = document
        .appeal
        .members
        .iter()
        .filter_map(|member| match member.source {
            MemberSource::Campaign { id, .. } => Some(changes_of(state.live.subscribe(id))),
            MemberSource::Remote { .. } => None,
        })
        .collect();
    sources.push(changes_of(state.live.subscribe_appeals()));
    let every = state.live.remote_every();
    sources.push(Box::pin(futures_util::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some((Heard::Tick, ()))
    })));
    let changes = futures_util::stream::select_all(sources);
    let first = progress_event(&document);
    let stream = futures_util::stream::unfold(
        (Some(first), changes, permit, document.etag.clone(), state, slug),
        |(first, mut changes, permit, mut last_etag, state, slug)| async move {
            if let Some(event) = first {
                return Some((Ok::<_, Infallible>(event), (None, changes, permit, last_etag, state, slug)));
            }
            loop {
                // A change needs a document built after it; a tick takes one a second old.
                let mut since = match changes.next().await {
                    None | Some(Heard::Stopping) => return None,
                    Some(Heard::Change) => Some(Instant::now()),
                    Some(Heard::Tick) => None,
                };
                // Let a burst settle, then take in what came meanwhile.
                tokio::time::sleep(SETTLE).await;
                while let Some(Some(heard)) = futures_util::FutureExt::now_or_never(changes.next()) {
                    match heard {
                        Heard::Stopping => return None,
                        Heard::Change => since = Some(Instant::now()),
                        Heard::Tick => {}
                    }
                }
                match appeal_document_since(&state, &slug, since).await {
                    Ok(Some(document)) if document.etag != last_etag => {
                        last_etag = document.etag.clone();
                        let event = progress_event(&document);
                        return Some((Ok(event), (None, changes, permit, last_etag, state, slug)));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return None,
                    Err(_) => {}
                }
            }
        },
    );
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(super::public::HEARTBEAT));
    let mut response = sse.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn progress_event(document: &AppealDocument) -> Event {
    super::public::tagged_event(&document.etag, &document.body)
}
