//! The sources report: what each `ref` brought to a campaign, read from the checkouts, the
//! ledger and the subscriptions that carry it.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::access::Scope;
use crate::ledger::Campaign;
use crate::ledger::attribution::SourceFigures;

impl Store {
    /// Every source of `campaign` seen by `scope` (a branch's own, for a branch treasurer),
    /// the most money first, gifts with no `ref` as one more row.
    pub async fn sources(
        &self,
        campaign: &Campaign,
        scope: &Scope,
    ) -> Result<Vec<SourceFigures>, StoreError> {
        let checkouts = sqlx::query(
            "SELECT i.source_ref, COUNT(*) AS started, \
             CAST(COALESCE(SUM(CASE WHEN i.status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS paid \
             FROM checkout_intents i LEFT JOIN branches b ON b.id = i.branch_id \
             WHERE i.campaign_id = $1 AND ($2 IS NULL OR b.slug = $2) GROUP BY i.source_ref",
        )
        .bind(campaign.id)
        .bind(scope.branch())
        .fetch_all(self.pool())
        .await?;
        let amount = if campaign.count_net_of_fees { "e.net_minor" } else { "e.amount_minor" };
        let entries = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT e.source_ref, \
             CAST(COALESCE(SUM(CASE WHEN e.kind = 'donation' THEN 1 ELSE 0 END), 0) AS BIGINT) AS gifts, \
             CAST(COALESCE(SUM({amount}), 0) AS BIGINT) AS raised, \
             COUNT(DISTINCT CASE WHEN e.kind = 'donation' THEN e.donor_key END) AS donors \
             FROM ledger_entries e LEFT JOIN branches b ON b.id = e.branch_id \
             WHERE e.campaign_id = $1 AND ($2 IS NULL OR b.slug = $2) GROUP BY e.source_ref"
        )))
        .bind(campaign.id)
        .bind(scope.branch())
        .fetch_all(self.pool())
        .await?;
        let subscriptions = sqlx::query(
            "SELECT s.source_ref, COUNT(*) AS started FROM subscriptions s \
             LEFT JOIN branches b ON b.id = s.branch_id \
             WHERE s.campaign_id = $1 AND ($2 IS NULL OR b.slug = $2) GROUP BY s.source_ref",
        )
        .bind(campaign.id)
        .bind(scope.branch())
        .fetch_all(self.pool())
        .await?;

        let mut merged: BTreeMap<Option<String>, SourceFigures> = BTreeMap::new();
        fn at(
            merged: &mut BTreeMap<Option<String>, SourceFigures>,
            source_ref: Option<String>,
        ) -> &mut SourceFigures {
            merged
                .entry(source_ref.clone())
                .or_insert_with(|| SourceFigures { source_ref, ..SourceFigures::default() })
        }
        for row in &checkouts {
            let figures = at(&mut merged, row.try_get("source_ref")?);
            figures.checkouts = row.try_get("started")?;
            figures.checkouts_paid = row.try_get("paid")?;
        }
        for row in &entries {
            let figures = at(&mut merged, row.try_get("source_ref")?);
            figures.gifts = row.try_get("gifts")?;
            figures.raised_minor = row.try_get("raised")?;
            figures.donors = row.try_get("donors")?;
        }
        for row in &subscriptions {
            at(&mut merged, row.try_get("source_ref")?).subscriptions = row.try_get("started")?;
        }
        let mut rows: Vec<SourceFigures> = merged.into_values().collect();
        rows.sort_by(|a, b| {
            b.raised_minor
                .cmp(&a.raised_minor)
                .then_with(|| a.source_ref.is_none().cmp(&b.source_ref.is_none()))
        });
        Ok(rows)
    }
}
