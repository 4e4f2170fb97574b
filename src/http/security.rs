//! Security headers on every answer: a Content-Security-Policy with no inline script,
//! Stripe and the captcha where needed, and no framing except the embeddable bar.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::config::CaptchaKind;

pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let frameable = request.uri().path().starts_with("/embed/");
    let mut response = next.run(request).await;
    let (script, frame) = match state.defence.captcha().map(|captcha| captcha.kind) {
        Some(CaptchaKind::Turnstile) => {
            (" https://challenges.cloudflare.com", " https://challenges.cloudflare.com")
        }
        Some(CaptchaKind::HCaptcha) => {
            (" https://js.hcaptcha.com https://*.hcaptcha.com", " https://*.hcaptcha.com")
        }
        None => ("", ""),
    };
    let forms = state.payment_origins.join(" ");
    let ancestors = if frameable { "*" } else { "'none'" };
    let policy = format!(
        "default-src 'self'; script-src 'self'{script}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{script}; frame-src 'self'{frame}; form-action 'self' {forms}; base-uri 'none'; \
         object-src 'none'; frame-ancestors {ancestors}"
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if !frameable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
