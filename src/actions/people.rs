//! Tokens and people over their lifetime: created, listed, expired or revoked, disabled,
//! enabled and removed. Every change is in the audit log; what a removed person recorded keeps
//! their name there and in the ledger.

use chrono::{DateTime, Utc};

use super::{ActionError, audit};
use crate::access::{Actor, Role, generate_token, hash_token};
use crate::ledger::FieldErrors;
use crate::store::{Store, StoredToken, StoredUser};

/// The longest a token may be made to last: ten years.
const LONGEST_EXPIRY_SECONDS: i64 = 3650 * 86_400;

/// A new API token, shown this once, and when it stops working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCreated {
    pub token: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates an API token; `expires_in` is a duration such as "90d" or "12h" (none: it lasts
/// until revoked).
#[tracing::instrument(skip_all, fields(name, role))]
pub async fn create_token(
    store: &Store,
    name: &str,
    role: &str,
    expires_in: Option<&str>,
    actor: &Actor,
) -> Result<TokenCreated, ActionError> {
    let mut errors = FieldErrors::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "must be 1 to 100 characters");
    }
    let role = errors.check("role", Role::parse(role));
    let expires_at = match expires_in {
        None => Some(None),
        Some(text) => errors.check("expires_in", expiry(text, Utc::now())).map(Some),
    };
    let (Some(role), Some(expires_at)) = (role, expires_at) else {
        return Err(ActionError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ActionError::Invalid(errors));
    }
    let token = generate_token();
    store.insert_token(name, role.as_str(), &hash_token(&token), expires_at).await?;
    let after = serde_json::json!({"name": name, "role": role.as_str(), "expires_at": expires_at});
    audit(store, actor, "token.create", &format!("token:{name}"), None, Some(after)).await;
    Ok(TokenCreated { token, expires_at })
}

/// When a token made at `now` to last `text` ("90d") expires.
fn expiry(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, &'static str> {
    const MESSAGE: &str = "must be a duration such as 90d or 12h";
    let seconds = crate::config::parse_duration(text).ok_or(MESSAGE)?;
    if seconds > LONGEST_EXPIRY_SECONDS {
        return Err("must be at most 3650d (ten years)");
    }
    chrono::TimeDelta::try_seconds(seconds).and_then(|delta| now.checked_add_signed(delta)).ok_or(MESSAGE)
}

/// Every token ever made, by name, with its lifetime (never the token).
pub async fn list_tokens(store: &Store) -> Result<Vec<StoredToken>, ActionError> {
    Ok(store.tokens().await?)
}

/// Revokes a token by name; the token as it was. Revoking a revoked token changes nothing.
#[tracing::instrument(skip_all, fields(name))]
pub async fn revoke_token(store: &Store, name: &str, actor: &Actor) -> Result<StoredToken, ActionError> {
    let before = store.revoke_token(name.trim()).await?;
    if before.revoked_at.is_none() {
        let state = |revoked_at: Option<DateTime<Utc>>| serde_json::json!({"name": before.name, "role": before.role, "expires_at": before.expires_at, "revoked_at": revoked_at});
        let target = format!("token:{}", before.name);
        audit(store, actor, "token.revoke", &target, Some(state(None)), Some(state(Some(Utc::now())))).await;
    }
    Ok(before)
}

/// Adds a person who signs in with a password (hashed with argon2id).
#[tracing::instrument(skip_all, fields(role))]
pub async fn add_user(
    store: &Store,
    email: &str,
    role: &str,
    branch: Option<&str>,
    password: &str,
    actor: &Actor,
) -> Result<(), ActionError> {
    let mut errors = FieldErrors::new();
    let email = errors.check("email", crate::ledger::validation::parse_email(email));
    let role = errors.check("role", Role::parse(role));
    let branch = match branch.map(str::trim).filter(|branch| !branch.is_empty()) {
        Some(slug) => {
            errors.check("branch", crate::ledger::Slug::parse(slug)).map(|slug| Some(slug.to_string()))
        }
        None => Some(None),
    };
    errors.check("password", crate::access::check_new_password(password));
    let (Some(email), Some(role), Some(branch)) = (email, role, branch) else {
        return Err(ActionError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ActionError::Invalid(errors));
    }
    store
        .insert_user(&email, &crate::access::hash_password(password), role.as_str(), branch.as_deref())
        .await?;
    let after = serde_json::json!({"email": email, "role": role.as_str(), "branch": branch});
    audit(store, actor, "user.add", &format!("user:{email}"), None, Some(after)).await;
    Ok(())
}

/// How long an invitation works, and a reset link.
const INVITE_DAYS: i64 = 7;
const RESET_HOURS: i64 = 24;

/// A one-time link to set a password, shown (and sent) once: `token` goes into
/// `/admin/welcome/{token}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordLink {
    pub email: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Invites a person: their account, with no password yet, and a link to set one (seven days).
#[tracing::instrument(skip_all, fields(role))]
pub async fn invite_user(
    store: &Store,
    email: &str,
    role: &str,
    branch: Option<&str>,
    actor: &Actor,
) -> Result<PasswordLink, ActionError> {
    // A password no one knows until the link sets one.
    let unknown = generate_token();
    add_user(store, email, role, branch, &unknown, actor).await?;
    let user = store.user_by_email(email.trim()).await?.ok_or(ActionError::NotFound("user"))?;
    password_link(store, &user, "invite", chrono::Duration::days(INVITE_DAYS), actor).await
}

/// A link for a person to set a new password (a day); earlier links stop working.
pub async fn reset_password_link(
    store: &Store,
    email: &str,
    actor: &Actor,
) -> Result<PasswordLink, ActionError> {
    let user = store.user_by_email(email.trim()).await?.ok_or(ActionError::NotFound("user"))?;
    password_link(store, &user, "reset", chrono::Duration::hours(RESET_HOURS), actor).await
}

async fn password_link(
    store: &Store,
    user: &StoredUser,
    purpose: &str,
    lasts: chrono::Duration,
    actor: &Actor,
) -> Result<PasswordLink, ActionError> {
    let token = generate_token();
    let expires_at = Utc::now() + lasts;
    store.insert_password_link(&hash_token(&token), user.id, purpose, expires_at).await?;
    let after = serde_json::json!({"purpose": purpose, "expires_at": expires_at});
    audit(store, actor, &format!("user.{purpose}_link"), &format!("user:{}", user.email), None, Some(after))
        .await;
    Ok(PasswordLink { email: user.email.clone(), token, expires_at })
}

/// The person an open link sets the password of, if it is open.
pub async fn password_link_holder(store: &Store, token: &str) -> Result<Option<StoredUser>, ActionError> {
    Ok(store.open_password_link(&hash_token(token)).await?.map(|(_, user, _)| user))
}

/// Checks a new password and its confirmation, as the welcome page takes them.
pub fn check_password_pair(password: &str, confirm: &str) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    errors.check("password", crate::access::check_new_password(password));
    if password != confirm {
        errors.add("confirm", "differs from the password");
    }
    errors.into_result(|| ())
}

/// Sets a password (hashed already, off the async workers) through a one-time link, once,
/// ending the person's other sessions.
pub async fn set_password_by_link(
    store: &Store,
    token: &str,
    password_hash: &str,
) -> Result<StoredUser, ActionError> {
    let (link_id, user, purpose) =
        store.open_password_link(&hash_token(token)).await?.ok_or(ActionError::NotFound("link"))?;
    store.use_password_link(link_id, user.id, password_hash).await?;
    let actor =
        Actor::person(&user.email, Role::parse(&user.role).unwrap_or(Role::Viewer), user.branch.clone());
    let after = serde_json::json!({"through": purpose});
    audit(store, &actor, "user.password", &format!("user:{}", user.email), None, Some(after)).await;
    Ok(user)
}

/// Everyone who signs in or is disabled, by email.
pub async fn list_users(store: &Store) -> Result<Vec<StoredUser>, ActionError> {
    Ok(store.users().await?)
}

/// What happens to a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonChange {
    /// Cannot sign in; their open sessions end.
    Disable,
    /// May sign in again.
    Enable,
    /// Gone, with their sessions; the ledger and the audit log keep their name.
    Remove,
}

impl PersonChange {
    fn action(self) -> &'static str {
        match self {
            PersonChange::Disable => "user.disable",
            PersonChange::Enable => "user.enable",
            PersonChange::Remove => "user.remove",
        }
    }
}

/// Disables, enables or removes a person found by email; the person as they were.
#[tracing::instrument(skip_all, fields(change = ?change))]
pub async fn change_person(
    store: &Store,
    email: &str,
    change: PersonChange,
    actor: &Actor,
) -> Result<StoredUser, ActionError> {
    let user = store.user_by_email(email.trim()).await?.ok_or(ActionError::NotFound("user"))?;
    let state = |disabled: bool| serde_json::json!({"email": user.email, "role": user.role, "branch": user.branch, "disabled": disabled});
    let before = state(user.disabled_at.is_some());
    let after = match change {
        PersonChange::Disable | PersonChange::Enable => {
            let disabled = change == PersonChange::Disable;
            if user.disabled_at.is_some() == disabled {
                return Ok(user);
            }
            store.set_user_disabled(user.id, disabled).await?;
            Some(state(disabled))
        }
        PersonChange::Remove => {
            store.remove_user(user.id).await?;
            None
        }
    };
    audit(store, actor, change.action(), &format!("user:{}", user.email), Some(before), after).await;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_expiry_is_a_bounded_duration() {
        let now = Utc::now();
        assert_eq!(expiry("90d", now), Ok(now + chrono::Duration::days(90)));
        assert_eq!(expiry("12h", now), Ok(now + chrono::Duration::hours(12)));
        for bad in ["soon", "0d", "-1d", "99999999999999999999d", "3651d", ""] {
            assert!(expiry(bad, now).is_err(), "{bad}");
        }
    }
}
