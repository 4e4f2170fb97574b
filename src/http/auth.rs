//! Who is calling: an API token (`Authorization: Bearer <token>`) or a signed-in person
//! (the `appeal_session` cookie, `__Host-appeal_session` on https; state-changing API calls
//! then carry `X-CSRF-Token`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::error::Problem;
use crate::access::{Actor, Role, hash_token};
use crate::store::{StoredSession, TokenClosed};

pub const SESSION_COOKIE: &str = "appeal_session";
/// The same on https: only a secure, host-only, path-/ cookie can bear this name.
pub const SECURE_SESSION_COOKIE: &str = "__Host-appeal_session";
/// Marks a refusal of a form from an older session, carrying this session's CSRF token to the
/// dashboard's layer that offers to send the form again; removed before the answer leaves.
pub const STALE_FORM_HEADER: &str = "x-appeal-stale-form";

/// An authenticated caller. Extracting it answers 401 when there is no valid token or session.
#[derive(Clone, Debug)]
pub struct Caller(pub Actor);

impl Caller {
    /// Answers 403 unless the caller's role covers `needed`.
    pub fn require(&self, needed: Role) -> Result<&Actor, Problem> {
        require_role(&self.0, needed).map(|()| &self.0)
    }
}

/// 403 unless `actor`'s role covers `needed`: the one role check of tokens and sessions.
fn require_role(actor: &Actor, needed: Role) -> Result<(), Problem> {
    if actor.role.allows(needed) {
        Ok(())
    } else {
        Err(Problem::forbidden(format!("This needs the {needed} role; yours is {}.", actor.role)))
    }
}

/// A cookie's value from the request.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{name}=")).map(str::to_owned))
}

fn client_address(parts: &Parts, state: &AppState) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0;
    Some(state.defence.client_ip(&parts.headers, peer).to_string())
}

/// The person behind a valid session cookie, with the session itself.
pub async fn session_of(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<(Actor, StoredSession, String)>, Problem> {
    let Some(token) = cookie(parts, state.session_cookie()) else {
        return Ok(None);
    };
    let token_hash = hash_token(&token);
    let Some(session) = state.store.session(&token_hash).await? else {
        return Ok(None);
    };
    let role = Role::parse(&session.user.role)
        .map_err(|_| Problem::internal(&"a stored user has an unknown role"))?;
    let mut actor = Actor::person(&session.user.email, role, session.user.branch.clone());
    actor.address = client_address(parts, state);
    Ok(Some((actor, session, token_hash)))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Some(header_value) = parts.headers.get(header::AUTHORIZATION) else {
            // No token: a signed-in person, whose writes must carry the session's CSRF token.
            return match session_of(parts, state).await? {
                Some((actor, session, _)) => {
                    let safe = matches!(parts.method, Method::GET | Method::HEAD);
                    let csrf = parts.headers.get("x-csrf-token").and_then(|value| value.to_str().ok());
                    if !safe && csrf != Some(session.csrf_token.as_str()) {
                        return Err(Problem::forbidden("A signed-in write needs the X-CSRF-Token header."));
                    }
                    Ok(Caller(actor))
                }
                None => Err(Problem::unauthorized(
                    "Send an API token as Authorization: Bearer <token>, or sign in.",
                )),
            };
        };
        let token = header_value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Problem::unauthorized("The Authorization header must read Bearer <token>."))?;
        let stored = state
            .store
            .token_by_hash(&hash_token(token))
            .await?
            .ok_or_else(|| Problem::unauthorized("The API token is not valid."))?;
        // Whoever holds a closed token learns only what it was: expired or revoked, and when.
        match stored.closed(chrono::Utc::now()) {
            Some(TokenClosed::Revoked(at)) => {
                return Err(Problem::unauthorized(&format!(
                    "The API token \"{}\" was revoked on {}; ask an administrator for a new one.",
                    stored.name,
                    at.format("%Y-%m-%d")
                )));
            }
            Some(TokenClosed::Expired(at)) => {
                return Err(Problem::unauthorized(&format!(
                    "The API token \"{}\" expired on {}; ask an administrator for a new one.",
                    stored.name,
                    at.format("%Y-%m-%d %H:%M UTC")
                )));
            }
            None => {}
        }
        let role =
            Role::parse(&stored.role).map_err(|_| Problem::internal(&"stored token has an unknown role"))?;
        let mut actor = Actor::token(&stored.name, role);
        actor.address = client_address(parts, state);
        Ok(Caller(actor))
    }
}

/// A signed-in person on a dashboard page; without a session, the page sends to the login.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub actor: Actor,
    pub user_id: i64,
    pub email: String,
    pub csrf_token: String,
    pub token_hash: String,
}

impl SignedIn {
    /// The refusal of a form whose `csrf` field is not this session's, or `None` when it is.
    pub fn refuse_bad_csrf(&self, submitted: Option<&str>) -> Option<Response> {
        (submitted != Some(self.csrf_token.as_str())).then(|| {
            let mut response =
                Problem::forbidden("The form's CSRF token does not match your session; reload the page.")
                    .into_response();
            // For the dashboard's layer that offers to send the form again under this session
            // (a form from an older session); it never leaves the server.
            if let Ok(value) = axum::http::HeaderValue::from_str(&self.csrf_token) {
                response.headers_mut().insert(STALE_FORM_HEADER, value);
            }
            response
        })
    }

    /// The refusal of a dashboard form: a bad CSRF token, or a role below `needed`.
    pub fn refuse_form(&self, submitted_csrf: Option<&str>, needed: Role) -> Option<Response> {
        // The role first: a form this person may not send is not offered to send again.
        require_role(&self.actor, needed)
            .err()
            .map(IntoResponse::into_response)
            .or_else(|| self.refuse_bad_csrf(submitted_csrf))
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match session_of(parts, state).await {
            Ok(Some((actor, session, token_hash))) => Ok(SignedIn {
                actor,
                user_id: session.user.id,
                email: session.user.email,
                csrf_token: session.csrf_token,
                token_hash,
            }),
            Ok(None) => Err(Redirect::to("/admin/login").into_response()),
            Err(problem) => Err(problem.into_response()),
        }
    }
}
