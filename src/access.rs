//! Who may do what: roles, and API tokens (random, shown once, stored as a SHA-256 hash).

use std::fmt;

use sha2::{Digest, Sha256};

/// Roles in increasing power: a viewer reads, a treasurer records money, an admin also
/// manages campaigns and tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Treasurer,
    Admin,
}

impl Role {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value.trim() {
            "admin" => Ok(Role::Admin),
            "treasurer" => Ok(Role::Treasurer),
            "viewer" => Ok(Role::Viewer),
            _ => Err("must be one of admin, treasurer, viewer"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Treasurer => "treasurer",
            Role::Viewer => "viewer",
        }
    }

    /// True when this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a write, as the ledger's `recorded_by` and the audit log name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub label: String,
    pub role: Role,
    /// A branch treasurer sees and records only this branch (by slug, in every campaign).
    pub branch: Option<String>,
    /// Where the request came from, for the audit log.
    pub address: Option<String>,
}

impl Actor {
    pub fn token(name: &str, role: Role) -> Self {
        Actor { label: format!("token:{name}"), role, branch: None, address: None }
    }

    pub fn person(email: &str, role: Role, branch: Option<String>) -> Self {
        Actor { label: format!("user:{email}"), role, branch, address: None }
    }

    /// The command line on the server: whoever can run it owns the database anyway.
    pub fn command_line() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Actor { label: format!("cli:{user}"), role: Role::Admin, branch: None, address: None }
    }

    /// True when this actor may touch money of `branch` (a branch slug, or none).
    pub fn may_touch_branch(&self, branch: Option<&str>) -> bool {
        match &self.branch {
            None => true,
            Some(own) => branch == Some(own.as_str()),
        }
    }

    /// What this actor may see.
    pub fn scope(&self) -> Scope {
        Scope { branch: self.branch.clone(), donors: self.role.allows(Role::Treasurer) }
    }
}

/// What one caller may see, built once from the caller and passed into every store query
/// that lists money or people, so that no handler decides it alone: a branch treasurer sees
/// their branch only, and only treasurers and admins see who gave (names and e-mails), as
/// the exports have it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    branch: Option<String>,
    donors: bool,
}

impl Scope {
    /// The whole organization, donors included: the command line and background jobs.
    pub fn everything() -> Self {
        Scope { branch: None, donors: true }
    }

    /// The branch (slug) this scope is limited to, if any.
    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    /// Whether donors' names and e-mail addresses may be seen.
    pub fn sees_donors(&self) -> bool {
        self.donors
    }

    /// Whether the whole organization is seen (Stripe's account-wide events, for one).
    pub fn is_whole_organization(&self) -> bool {
        self.branch.is_none()
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes any password")
        .to_string()
}

/// The hash an unknown account's sign-in is checked against, made once: an unknown account
/// costs what a wrong password does, so the time taken tells nothing.
static NO_ACCOUNT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no such account"));

/// Checks a sign-in: against the account's stored hash, or the dummy one when there is no
/// account. Argon2 is slow on purpose: run it off the async workers.
pub fn verify_sign_in(password: &str, stored_hash: Option<&str>) -> bool {
    let verified = verify_password(password, stored_hash.unwrap_or(&NO_ACCOUNT));
    verified && stored_hash.is_some()
}

/// Checks a password against its stored hash, in constant time.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// What a new password must be.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 12 {
        Err("must be at least 12 characters")
    } else if password.len() > 1024 {
        Err("must be at most 1024 bytes")
    } else {
        Ok(())
    }
}

const TOKEN_PREFIX: &str = "appeal_";

/// A new random token (32 bytes, hex) to hand out once.
pub fn generate_token() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

/// The hash under which a token is stored and looked up. Tokens carry 256 random bits,
/// so a fast hash is enough: there is nothing to guess.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.allows(Role::Treasurer));
        assert!(Role::Treasurer.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Treasurer));
        assert!(!Role::Treasurer.allows(Role::Admin));
    }

    #[test]
    fn passwords_are_stored_as_argon2id_hashes() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert_ne!(hash, hash_password("correct horse battery"), "each hash has its own salt");
    }

    #[test]
    fn branch_treasurers_touch_only_their_branch() {
        let scoped = Actor::person("t@example.org", Role::Treasurer, Some("quebec".into()));
        assert!(scoped.may_touch_branch(Some("quebec")));
        assert!(!scoped.may_touch_branch(Some("montreal")));
        assert!(!scoped.may_touch_branch(None));
        assert!(Actor::token("x", Role::Treasurer).may_touch_branch(None));
    }

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let first = generate_token();
        assert!(first.starts_with("appeal_"));
        assert_eq!(first.len(), 7 + 64);
        assert_ne!(first, generate_token());
        assert_eq!(hash_token(&first).len(), 64);
        assert_ne!(hash_token(&first), first);
    }
}
