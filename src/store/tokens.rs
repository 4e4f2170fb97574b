//! API tokens: only a SHA-256 hash of each token is stored. A token may expire and be
//! revoked; either way it keeps its name, which the audit log uses.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{
    Store, StoreError, is_unique_violation, now, read_instant, read_optional_instant, stored_instant,
};

/// A token as stored: its name, role and lifetime, never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl StoredToken {
    /// Why this token no longer opens anything at `at`, or `None` while it does.
    pub fn closed(&self, at: DateTime<Utc>) -> Option<TokenClosed> {
        if let Some(revoked_at) = self.revoked_at {
            return Some(TokenClosed::Revoked(revoked_at));
        }
        self.expires_at.filter(|expires_at| *expires_at <= at).map(TokenClosed::Expired)
    }
}

/// A token that no longer works, and since when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenClosed {
    Revoked(DateTime<Utc>),
    Expired(DateTime<Utc>),
}

const TOKEN_COLUMNS: &str = "name, role, created_at, expires_at, revoked_at";

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<StoredToken, StoreError> {
    Ok(StoredToken {
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        created_at: read_instant(row.try_get("created_at")?)?,
        expires_at: read_optional_instant(row, "expires_at")?,
        revoked_at: read_optional_instant(row, "revoked_at")?,
    })
}

impl Store {
    pub async fn insert_token(
        &self,
        name: &str,
        role: &str,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(role)
        .bind(token_hash)
        .bind(stored_instant(now()))
        .bind(expires_at.map(stored_instant))
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

    /// The token of a hash, open or not: the caller says why a closed one is refused.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<StoredToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(self.pool()).await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Every token ever made, by name.
    pub async fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a token by name and returns it as it was before; a revoked token stays revoked
    /// (its first revocation time is kept).
    pub async fn revoke_token(&self, name: &str) -> Result<StoredToken, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(self.pool()).await?;
        let before = token_from_row(&row.ok_or(StoreError::NotFound("token"))?)?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
            .bind(stored_instant(now()))
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(before)
    }
}
