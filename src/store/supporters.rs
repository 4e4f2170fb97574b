//! What supporters see beside the totals: the donor wall, and self-service links.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, now, read_flag, stored_instant};

/// One gift on a campaign's donor wall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WallGift {
    /// `None` for anonymous gifts and gifts without a name.
    pub name: Option<String>,
    pub message: Option<String>,
    pub amount_minor: i64,
}

impl Store {
    /// The latest gifts still standing (not wholly refunded or disputed), newest first.
    pub async fn donor_wall(&self, campaign_id: i64, limit: i64) -> Result<Vec<WallGift>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.donor_name, d.anonymous, d.public_message, d.amount_minor FROM ledger_entries d \
             WHERE d.campaign_id = $1 AND d.kind = 'donation' AND d.amount_minor + \
             (SELECT COALESCE(CAST(SUM(r.amount_minor) AS BIGINT), 0) FROM ledger_entries r WHERE r.origin_entry_id = d.id) > 0 \
             ORDER BY d.id DESC LIMIT $2",
        )
        .bind(campaign_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let anonymous = read_flag(row, "anonymous")?;
                Ok(WallGift {
                    name: row.try_get::<Option<String>, _>("donor_name")?.filter(|_| !anonymous),
                    message: row.try_get("public_message")?,
                    amount_minor: row.try_get("amount_minor")?,
                })
            })
            .collect()
    }

    /// The Stripe customer of the newest subscription given under `email`, if any.
    pub async fn customer_for_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT stripe_customer FROM subscriptions WHERE LOWER(donor_email) = LOWER($1) \
             AND stripe_customer IS NOT NULL ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|row| row.try_get("stripe_customer")).transpose()?)
    }

    pub async fn insert_manage_token(
        &self,
        token_hash: &str,
        email: &str,
        customer: &str,
        locale: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO manage_tokens (token_hash, email, customer, locale, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(email)
        .bind(customer)
        .bind(locale)
        .bind(stored_instant(now()))
        .bind(stored_instant(expires_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether a link may still be used (unused and not expired), without using it.
    pub async fn manage_token_is_valid(&self, token_hash: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS ok FROM manage_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(stored_instant(now()))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Uses a link once: the customer it opens, or `None` when used or expired.
    pub async fn use_manage_token(&self, token_hash: &str) -> Result<Option<(String, String)>, StoreError> {
        let at = stored_instant(now());
        let row = sqlx::query(
            "UPDATE manage_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING customer, locale",
        )
        .bind(&at)
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((row.try_get("customer")?, row.try_get("locale")?))).transpose()
    }
}
