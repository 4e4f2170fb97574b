//! API tokens: only a SHA-256 hash of each token is stored.

use sqlx::Row;

use super::{Store, StoreError, is_unique_violation, now, stored_instant};

/// A token as stored: its name and role, never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub name: String,
    pub role: String,
}

impl Store {
    pub async fn insert_token(&self, name: &str, role: &str, token_hash: &str) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(role)
        .bind(token_hash)
        .bind(stored_instant(now()))
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => {
                Err(StoreError::conflict("name", "is already used by another token"))
            }
            Err(error) => Err(error.into()),
        }
    }

    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<StoredToken>, StoreError> {
        let row = sqlx::query("SELECT name, role FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| Ok(StoredToken { name: row.try_get("name")?, role: row.try_get("role")? })).transpose()
    }
}
