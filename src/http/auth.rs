//! The caller of an admin endpoint, from `Authorization: Bearer <token>`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::Problem;
use crate::access::{Actor, Role, hash_token};

/// An authenticated caller. Extracting it answers 401 when there is no valid token.
#[derive(Clone, Debug)]
pub struct Caller(pub Actor);

impl Caller {
    /// Answers 403 unless the caller's role covers `needed`.
    pub fn require(&self, needed: Role) -> Result<&Actor, Problem> {
        if self.0.role.allows(needed) {
            Ok(&self.0)
        } else {
            Err(Problem::forbidden(format!(
                "This needs the {needed} role; the token has the {} role.",
                self.0.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| Problem::unauthorized("Send an API token as Authorization: Bearer <token>."))?;
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
        let role =
            Role::parse(&stored.role).map_err(|_| Problem::internal(&"stored token has an unknown role"))?;
        Ok(Caller(Actor::token(&stored.name, role)))
    }
}
