//! A form sent after the session ended is not lost: the sign-in page keeps it, and once the
//! person has signed in again a page shows what they were sending, with a button that sends it
//! (under the new session's CSRF token, and the form's own one-time token, so it acts once).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::page;
use crate::http::AppState;
use crate::http::auth::STALE_FORM_HEADER;
use crate::http::error::Problem;

/// The largest form kept across a sign-in: what a dashboard form may send at all. A body
/// without a length, or longer, passes through untouched (and is refused as ever).
const MAX_KEPT_BYTES: usize = crate::http::extract::MAX_BODY_BYTES;

/// A form to send again after signing in: where it went and what it held (its old CSRF
/// token left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Resume {
    pub action: String,
    pub body: String,
}

impl Resume {
    /// Only a dashboard form of this site is resumed, never an outside address.
    pub(super) fn new(action: &str, body: &str) -> Option<Self> {
        let safe = action.starts_with("/admin/")
            && !action.starts_with("//")
            && !action.contains("..")
            && !["/admin/login", "/admin/logout"].contains(&action)
            && !action.starts_with("/admin/welcome/");
        let kept: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form_urlencoded::parse(body.as_bytes()).filter(|(name, _)| name != "csrf"))
            .finish();
        safe.then(|| Resume { action: action.to_owned(), body: kept })
    }

    pub(super) fn fields(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.body.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }
}

/// Around the dashboard's forms: a POST that met an ended session (a redirect to sign in)
/// gets the sign-in page with the form kept in it.
pub(super) async fn keep_forms_across_sign_in(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/x-www-form-urlencoded"));
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let small = length.is_some_and(|length| length <= MAX_KEPT_BYTES);
    if request.method() != Method::POST || !is_form || !small || Resume::new(&path, "").is_none() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_KEPT_BYTES).await else {
        let problem = Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            "The form is too large.",
        );
        return problem.into_response();
    };
    let mut response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    // A form from an older session, while a newer one is open: shown again to send.
    if let Some(csrf) = response.headers_mut().remove(STALE_FORM_HEADER) {
        let body = String::from_utf8_lossy(&bytes);
        return match (Resume::new(&path, &body), csrf.to_str()) {
            (Some(resume), Ok(csrf)) => continue_page(&state, csrf, &resume),
            _ => response,
        };
    }
    let to_sign_in = response.status() == StatusCode::SEE_OTHER
        && response.headers().get(header::LOCATION).is_some_and(|location| location == "/admin/login");
    if !to_sign_in {
        return response;
    }
    let body = String::from_utf8_lossy(&bytes);
    let resume = Resume::new(&path, &body);
    super::login_page_keeping(
        &state,
        StatusCode::UNAUTHORIZED,
        Some("Your session ended. Sign in again: what you were sending is kept."),
        resume.as_ref(),
    )
}

/// After signing in again: what was being sent, and a button to send it now.
pub(super) fn continue_page(state: &AppState, csrf: &str, resume: &Resume) -> Response {
    let fields: Vec<serde_json::Value> = resume
        .fields()
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value, "shown": !["form_token"].contains(&name.as_str())}))
        .collect();
    page(
        StatusCode::OK,
        "admin_resume.html",
        json!({"organization": state.site.organization, "action": resume.action, "csrf": csrf, "fields": fields}),
    )
}
