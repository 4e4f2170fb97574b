//! The subscriptions' recorded status changes, for recurring health.

use sqlx::Row;

use super::{Discrepancy, Store, StoreError, read_instant};
use crate::access::Scope;
use crate::ledger::recurring::Change;

impl Store {
    /// Every recorded change of the subscriptions in `currency` that `scope` sees, of one
    /// campaign or of all, in the order they were recorded.
    pub async fn subscription_changes(
        &self,
        scope: &Scope,
        campaign_id: Option<i64>,
        currency: &str,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.subscription_id, h.status, h.monthly_minor, h.end_reason, h.changed_at \
             FROM subscription_changes h JOIN subscriptions s ON s.id = h.subscription_id \
             LEFT JOIN branches b ON b.id = s.branch_id \
             WHERE h.currency = $1 AND ($2 IS NULL OR h.campaign_id = $2) AND ($3 IS NULL OR b.slug = $3) \
             ORDER BY h.id",
        )
        .bind(currency)
        .bind(campaign_id)
        .bind(scope.branch())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Change {
                    subscription: row.try_get("subscription_id")?,
                    status: row.try_get("status")?,
                    monthly_minor: row.try_get("monthly_minor")?,
                    end_reason: row.try_get("end_reason")?,
                    at: read_instant(&row.try_get::<String, _>("changed_at")?)?,
                })
            })
            .collect()
    }

    /// The currencies of the campaigns, each once, alphabetically.
    pub async fn campaign_currencies(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT currency FROM campaigns ORDER BY currency")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| Ok(row.try_get("currency")?)).collect()
    }

    /// Each subscription whose recorded history does not end where it stands (its status or
    /// monthly amount), for `appeal check`.
    pub async fn check_subscription_history(&self) -> Result<Vec<Discrepancy>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, c.slug, s.status, s.monthly_minor, h.status AS recorded_status, \
             h.monthly_minor AS recorded_monthly \
             FROM subscriptions s JOIN campaigns c ON c.id = s.campaign_id \
             LEFT JOIN subscription_changes h ON h.id = \
                 (SELECT MAX(x.id) FROM subscription_changes x WHERE x.subscription_id = s.id) \
             WHERE h.id IS NULL OR h.status <> s.status OR h.monthly_minor <> s.monthly_minor ORDER BY s.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let status: String = row.try_get("status")?;
                let recorded: Option<String> = row.try_get("recorded_status")?;
                Ok(Discrepancy {
                    campaign: row.try_get("slug")?,
                    figure: format!(
                        "subscription {id} ({status}; its history ends {}) monthly_minor",
                        recorded.as_deref().unwrap_or("nowhere")
                    ),
                    kept: row.try_get("monthly_minor")?,
                    ledger: row.try_get::<Option<i64>, _>("recorded_monthly")?.unwrap_or(0),
                })
            })
            .collect()
    }
}
