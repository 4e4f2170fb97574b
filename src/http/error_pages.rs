//! Pages for people, JSON for programs: a browser (`Accept: text/html`) that meets a refusal
//! or a failure gets a page in the site's language and style, with a way back; an API client
//! on the same URL gets the same problem as `application/problem+json`.

use axum::body::to_bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::pages::{Lang, page_info, render};

/// The largest problem read back to be shown as a page.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("text/html")))
}

/// An error page's heading and explanation by its status, as the i18n keys name them
/// (`error.title.404`, `error.body.404`).
fn error_keys(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        401 => ("error.title.401", "error.body.401"),
        403 => ("error.title.403", "error.body.403"),
        404 => ("error.title.404", "error.body.404"),
        409 => ("error.title.409", "error.body.409"),
        413 | 415 | 400 | 422 => ("error.title.422", "error.body.422"),
        429 => ("error.title.429", "error.body.429"),
        500..=599 => ("error.title.500", "error.body.500"),
        _ => ("error.title.other", "error.body.other"),
    }
}

pub async fn html_for_browsers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !wants_html(request.headers()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(lang) = Lang::from_request_parts(&mut parts, &state).await;
    let path = parts.uri.path().to_owned();
    let response = next.run(Request::from_parts(parts, body)).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == b"application/problem+json");
    if !is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let problem: Value = match to_bytes(body, MAX_PROBLEM_BYTES).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let status = parts.status;
    let language = lang.language;
    let (heading_key, body_key) = error_keys(status);
    let heading = language.t(heading_key);
    let staff = path.starts_with("/admin") || path.starts_with("/api/v1/admin");
    // Staff (the dashboard and the API, in English) also read what the server said and which
    // fields it named; supporters read the explanation in their language only.
    let errors: Vec<Value> = problem["errors"]
        .as_object()
        .filter(|_| staff)
        .map(|errors| {
            errors.iter().map(|(field, message)| json!({"field": field, "message": message})).collect()
        })
        .unwrap_or_default();
    let link = if path.starts_with("/admin") {
        json!({"href": "/admin", "label": language.t("error.back_admin")})
    } else {
        json!({"href": format!("/?lang={}", language.code), "label": language.t("error.back")})
    };
    let page = page_info(&state, language, heading, &path);
    let context = json!({
        "page": page, "t": language.strings(), "heading": heading, "explanation": language.t(body_key),
        "detail": if staff { problem["detail"].clone() } else { Value::Null },
        "errors": errors, "link": link, "status": status.as_u16(),
    });
    let mut page = render(&lang, status, "error.html", context);
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::SET_COOKIE] {
        for value in parts.headers.get_all(&name) {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
}
