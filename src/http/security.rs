//! Security headers on every answer: a Content-Security-Policy with no inline script,
//! Stripe and the captcha where needed, and no framing except the embeddable bar.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::config::CaptchaKind;

/// The two policies, built once: pages, and the frameable `/embed/*`.
#[derive(Clone, Debug)]
pub struct Policies {
    page: HeaderValue,
    frameable: HeaderValue,
}

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
        Policies { page: policy("'none'"), frameable: policy("*") }
    }
}

pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let frameable = request.uri().path().starts_with("/embed/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = if frameable { &state.policies.frameable } else { &state.policies.page };
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if !frameable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
