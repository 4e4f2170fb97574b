//! The one error answer: RFC 9457 `application/problem+json`, naming fields for validation.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::defence::Rejection;
use crate::actions::ActionError;
use crate::ledger::FieldErrors;
use crate::payments::client::StripeApiError;
use crate::payments::process::ProcessError;
use crate::store::StoreError;

/// An error, as RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:appeal:problem:<kind>` (`validation`, `not-found`, `conflict`, `unauthorized`...).
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What happened, for a person.
    detail: String,
    /// Each bad field (`amount`, `entries[2].method`, `Idempotency-Key`) and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    www_authenticate: bool,
    #[serde(skip)]
    retry_after_seconds: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:appeal:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            www_authenticate: false,
            retry_after_seconds: None,
        }
    }

    /// Names what is wrong, as a validation problem does: the body itself ("body"), or a
    /// header ("content-type").
    pub fn naming(mut self, field: &str, message: impl Into<String>) -> Self {
        self.errors.get_or_insert_with(BTreeMap::new).insert(field.to_owned(), message.into());
        self
    }

    pub fn validation(errors: &FieldErrors) -> Self {
        let mut problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
            format!("Some fields are not valid: {errors}."),
        );
        problem.errors = Some(errors.as_map().clone());
        problem
    }

    pub fn not_found(what: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("No such {what}."))
    }

    pub fn unauthorized(detail: &str) -> Self {
        let mut problem =
            Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail);
        problem.www_authenticate = true;
        problem
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// Tells the client when to come back (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn conflict(field: &str, message: &str) -> Self {
        let mut problem =
            Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", format!("{field} {message}."));
        problem.errors = Some(BTreeMap::from([(field.to_owned(), message.to_owned())]));
        problem
    }

    pub fn bad_request(kind: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, kind, title, detail)
    }

    /// A failure of ours: the cause goes to the log, never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "Something went wrong on our side; it has been logged.",
        )
    }

    /// `/readyz` while the instance drains before it stops.
    pub fn draining() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "Draining",
            "This instance is stopping; send new requests to another one.",
        )
    }

    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "database unavailable");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "The database is not answering; try again shortly.",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let www_authenticate = self.www_authenticate;
        let retry_after = self.retry_after_seconds;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { field, message } => Problem::conflict(&field, &message),
            StoreError::NotFound(what) => Problem::not_found(what),
            other if other.is_unavailable() => Problem::unavailable(&other),
            other => Problem::internal(&other),
        }
    }
}

impl From<ActionError> for Problem {
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::Invalid(errors) => Problem::validation(&errors),
            ActionError::NotFound(what) => Problem::not_found(what),
            ActionError::Conflict { field, message } => Problem::conflict(&field, &message),
            ActionError::Store(error) => error.into(),
            ActionError::PaymentsNotConfigured => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "online-giving-not-configured",
                "Online giving is not set up",
                "This server has no Stripe key, so it cannot take donations online yet. \
                 Offline donations and progress still work.",
            ),
            ActionError::Stripe(error) => error.into(),
            ActionError::Process(error) => error.into(),
            ActionError::Output(message) => Problem::internal(&message),
            ActionError::Forbidden(message) => Problem::forbidden(format!("{message}.")),
        }
    }
}

impl From<Rejection> for Problem {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::RateLimited { retry_after_seconds } => {
                let mut problem = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many attempts",
                    format!(
                        "Too many attempts to start a donation; try again in {retry_after_seconds} seconds."
                    ),
                );
                problem.retry_after_seconds = Some(retry_after_seconds);
                problem
            }
            Rejection::Honeypot => Problem::validation(&FieldErrors::single("website", "must be left empty")),
            Rejection::Captcha => {
                Problem::validation(&FieldErrors::single("captcha_token", "did not pass the captcha check"))
            }
        }
    }
}

impl From<StripeApiError> for Problem {
    fn from(error: StripeApiError) -> Self {
        tracing::error!(%error, "Stripe call failed");
        let detail = match &error {
            StripeApiError::Refused { message, .. } => format!("Stripe refused the request: {message}"),
            StripeApiError::Unavailable(_) => "Stripe could not be reached; try again shortly.".to_owned(),
        };
        Problem::new(StatusCode::BAD_GATEWAY, "payment-provider", "Payment provider error", detail)
    }
}

impl From<ProcessError> for Problem {
    fn from(error: ProcessError) -> Self {
        match error {
            ProcessError::Store(error) => error.into(),
            ProcessError::Stripe(error) => error.into(),
            ProcessError::Unreadable(_) => Problem::internal(&error),
        }
    }
}

impl From<FieldErrors> for Problem {
    fn from(errors: FieldErrors) -> Self {
        Problem::validation(&errors)
    }
}

pub type ApiResult<T> = Result<T, Problem>;
