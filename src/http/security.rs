//! Security headers on every answer: a Content-Security-Policy with no inline script,
//! Stripe and the captcha where needed, and no framing except the embeddable pages (the bar,
//! the branch leaderboard and a branch's page). Answers
//! that are not HTML (JSON, CSV, scripts, styles) get the short `default-src 'none'`
//! policy: there is nothing in them for a longer one to govern, and the progress JSON is
//! read far more often than anything else.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::config::CaptchaKind;

/// The two policies, built once: pages, and the frameable `/embed/*`.
#[derive(Clone, Debug)]
pub struct Policies {
    page: HeaderValue,
    frameable: HeaderValue,
    data: HeaderValue,
}

/// The policy of answers that are not HTML.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

impl Policies {
    pub fn new(captcha: Option<CaptchaKind>, payment_origins: &[String]) -> Self {
        let (script, frame) = match captcha {
            Some(CaptchaKind::Turnstile) => {
                (" https://challenges.cloudflare.com", " https://challenges.cloudflare.com")
            }
            Some(CaptchaKind::HCaptcha) => {
                (" https://js.hcaptcha.com https://*.hcaptcha.com", " https://*.hcaptcha.com")
            }
            None => ("", ""),
        };
        let forms = payment_origins.join(" ");
        let policy = |ancestors: &str| {
            let text = format!(
                "default-src 'self'; script-src 'self'{script}; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'{script}; frame-src 'self'{frame}; form-action 'self' {forms}; base-uri 'none'; \
                 object-src 'none'; frame-ancestors {ancestors}"
            );
            HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
        };
        Policies {
            page: policy("'none'"),
            frameable: policy("*"),
            data: HeaderValue::from_static(DATA_POLICY),
        }
    }
}

pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // The bar (`/embed/*`), the branch leaderboard (`/c/{slug}/branches`) and a branch's page
    // (`/c/{slug}/b/{branch}`, whose form opens Stripe in the whole window, never the frame).
    let branch_page = path.starts_with("/c/") && path.split('/').nth(3) == Some("b");
    let frameable = path.starts_with("/embed/")
        || (path.starts_with("/c/") && path.ends_with("/branches"))
        || branch_page;
    let mut response = next.run(request).await;
    // Internal to the dashboard's layers; never sent.
    response.headers_mut().remove(super::auth::STALE_FORM_HEADER);
    add_headers(&state.policies, frameable, response.headers_mut());
    response
}

/// The security headers of an answer, by its content type; `frameable` for `/embed/*`.
pub fn add_headers(policies: &Policies, frameable: bool, headers: &mut HeaderMap) {
    let html =
        headers.get(header::CONTENT_TYPE).is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    let policy = match (html, frameable) {
        (false, _) => &policies.data,
        (true, true) => &policies.frameable,
        (true, false) => &policies.page,
    };
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if !frameable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}
