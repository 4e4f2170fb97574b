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

/// A gift as the dashboard shows it for the wall: what it would show and what was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WallItem {
    pub entry_id: i64,
    /// `None` when anonymous.
    pub name: Option<String>,
    pub message: Option<String>,
    pub name_hidden: bool,
    /// undecided, shown or hidden.
    pub message_state: String,
}

impl Store {
    /// The latest gifts still standing (not wholly refunded or disputed), newest first, as
    /// staff decided: a name they hid is not shown, nor a message they hid, nor (with
    /// `hold_messages`) one they have not shown yet.
    pub async fn donor_wall(
        &self,
        campaign_id: i64,
        limit: i64,
        hold_messages: bool,
    ) -> Result<Vec<WallGift>, StoreError> {
        let rows = sqlx::query(
            "SELECT pd.name AS donor_name, d.anonymous, pd.message AS public_message, d.amount_minor, \
             COALESCE(m.name_hidden, FALSE) AS name_hidden, COALESCE(m.message, 'undecided') AS message_state \
             FROM ledger_entries d LEFT JOIN wall_moderation m ON m.entry_id = d.id \
             LEFT JOIN donor_details pd ON pd.entry_id = d.id \
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
                let name_hidden = read_flag(row, "name_hidden")?;
                let state: String = row.try_get("message_state")?;
                let shown = match state.as_str() {
                    "shown" => true,
                    "hidden" => false,
                    _ => !hold_messages,
                };
                Ok(WallGift {
                    name: row
                        .try_get::<Option<String>, _>("donor_name")?
                        .filter(|_| !anonymous && !name_hidden),
                    message: row.try_get::<Option<String>, _>("public_message")?.filter(|_| shown),
                    amount_minor: row.try_get("amount_minor")?,
                })
            })
            .collect()
    }

    /// Records what staff decided about a gift on the wall (`None` keeps that part as it was).
    pub async fn decide_wall(
        &self,
        entry_id: i64,
        name_hidden: Option<bool>,
        message: Option<&str>,
        decided_by: &str,
    ) -> Result<(), StoreError> {
        let mut write = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO wall_moderation (entry_id, name_hidden, message, decided_by, decided_at) \
             VALUES ($1, COALESCE($2, FALSE), COALESCE($3, 'undecided'), $4, $5) \
             ON CONFLICT (entry_id) DO UPDATE SET name_hidden = COALESCE($2, wall_moderation.name_hidden), \
             message = COALESCE($3, wall_moderation.message), decided_by = $4, decided_at = $5",
        )
        .bind(entry_id)
        .bind(name_hidden)
        .bind(message)
        .bind(decided_by)
        .bind(stored_instant(now()))
        .execute(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(())
    }

    /// The latest gifts of a campaign that show something on the wall (a name, a message),
    /// with what staff decided, for the dashboard. In `scope` (a branch treasurer's branch).
    pub async fn wall_items(
        &self,
        scope: &crate::access::Scope,
        campaign_id: i64,
    ) -> Result<Vec<WallItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, pd.name AS donor_name, d.anonymous, pd.message AS public_message, \
             COALESCE(m.name_hidden, FALSE) AS name_hidden, \
             COALESCE(m.message, 'undecided') AS message_state FROM ledger_entries d \
             JOIN donor_details pd ON pd.entry_id = d.id \
             LEFT JOIN wall_moderation m ON m.entry_id = d.id LEFT JOIN branches b ON b.id = d.branch_id \
             WHERE d.campaign_id = $1 AND d.kind = 'donation' AND ($2 IS NULL OR b.slug = $2) \
             AND (pd.message IS NOT NULL OR (pd.name IS NOT NULL AND d.anonymous = FALSE)) \
             ORDER BY d.id DESC LIMIT 50",
        )
        .bind(campaign_id)
        .bind(scope.branch())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let anonymous = read_flag(row, "anonymous")?;
                Ok(WallItem {
                    entry_id: row.try_get("id")?,
                    name: row.try_get::<Option<String>, _>("donor_name")?.filter(|_| !anonymous),
                    message: row.try_get("public_message")?,
                    name_hidden: read_flag(row, "name_hidden")?,
                    message_state: row.try_get("message_state")?,
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

    /// Makes a one-time self-service link's token (32 random bytes, hex) for `customer`,
    /// kept by its hash until `expires_at`; the token itself is only returned.
    pub async fn issue_manage_token(
        &self,
        email: &str,
        customer: &str,
        locale: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        let token = crate::access::hex(&bytes);
        self.insert_manage_token(&crate::access::hash_token(&token), email, customer, locale, expires_at)
            .await?;
        Ok(token)
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
    /// The email, Stripe customer (empty for a donor without a subscription) and language of
    /// a self-service link that still works.
    pub async fn manage_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT email, customer, locale FROM manage_tokens WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(stored_instant(now()))
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((row.try_get("email")?, row.try_get("customer")?, row.try_get("locale")?)))
            .transpose()
    }

    /// Whether any gift is recorded under `email`.
    pub async fn donor_has_gifts(&self, email: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM donors d JOIN ledger_entries e ON e.donor_key = d.key WHERE d.lookup = $1 LIMIT 1",
        )
        .bind(crate::ledger::entry::email_key(email))
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

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
