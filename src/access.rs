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

/// Who made a write, as the ledger's `recorded_by` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub label: String,
    pub role: Role,
}

impl Actor {
    pub fn token(name: &str, role: Role) -> Self {
        Actor { label: format!("token:{name}"), role }
    }

    /// The command line on the server: whoever can run it owns the database anyway.
    pub fn command_line() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Actor { label: format!("cli:{user}"), role: Role::Admin }
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
    fn tokens_are_random_and_stored_as_hashes() {
        let first = generate_token();
        assert!(first.starts_with("appeal_"));
        assert_eq!(first.len(), 7 + 64);
        assert_ne!(first, generate_token());
        assert_eq!(hash_token(&first).len(), 64);
        assert_ne!(hash_token(&first), first);
    }
}
