//! `appeal check`: every kept total (its base row and shards summed) recomputed from the
//! ledger and compared; every match offer's matched sum (`matching.rs`); and each
//! subscription's recorded history against where it stands (`recurring.rs`).

use std::collections::BTreeMap;

use sqlx::Row;

use super::totals::{branch_parts, campaign_parts};
use super::{Store, StoreError};

/// One kept figure that disagrees with the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discrepancy {
    pub campaign: String,
    pub figure: String,
    pub kept: i64,
    pub ledger: i64,
}

/// Each kept campaign figure and the query that recomputes it from the ledger, per campaign.
const CAMPAIGN_FIGURES: &[(&str, &str)] = &[
    (
        "gross_minor",
        "SELECT campaign_id AS k, CAST(SUM(amount_minor) AS BIGINT) AS v FROM ledger_entries GROUP BY campaign_id",
    ),
    (
        "net_minor",
        "SELECT campaign_id AS k, CAST(SUM(net_minor) AS BIGINT) AS v FROM ledger_entries GROUP BY campaign_id",
    ),
    (
        "online_gross_minor",
        "SELECT campaign_id AS k, CAST(SUM(amount_minor) AS BIGINT) AS v FROM ledger_entries WHERE source = 'online' GROUP BY campaign_id",
    ),
    (
        "online_net_minor",
        "SELECT campaign_id AS k, CAST(SUM(net_minor) AS BIGINT) AS v FROM ledger_entries WHERE source = 'online' GROUP BY campaign_id",
    ),
    (
        "offline_minor",
        "SELECT campaign_id AS k, CAST(SUM(amount_minor) AS BIGINT) AS v FROM ledger_entries WHERE source = 'offline' GROUP BY campaign_id",
    ),
    (
        "donations",
        "SELECT d.campaign_id AS k, COUNT(*) AS v FROM ledger_entries d WHERE d.kind = 'donation' AND d.amount_minor + \
         (SELECT COALESCE(CAST(SUM(r.amount_minor) AS BIGINT), 0) FROM ledger_entries r WHERE r.origin_entry_id = d.id) > 0 \
         GROUP BY d.campaign_id",
    ),
    (
        "donors",
        "SELECT campaign_id AS k, COUNT(*) AS v FROM (SELECT campaign_id, donor_key FROM ledger_entries \
         GROUP BY campaign_id, donor_key HAVING SUM(amount_minor) > 0) AS positive GROUP BY campaign_id",
    ),
];

const BRANCH_FIGURES: &[(&str, &str)] = &[
    (
        "gross_minor",
        "SELECT branch_id AS k, CAST(SUM(amount_minor) AS BIGINT) AS v FROM ledger_entries WHERE branch_id IS NOT NULL GROUP BY branch_id",
    ),
    (
        "net_minor",
        "SELECT branch_id AS k, CAST(SUM(net_minor) AS BIGINT) AS v FROM ledger_entries WHERE branch_id IS NOT NULL GROUP BY branch_id",
    ),
];

impl Store {
    /// Recomputes every campaign's and branch's totals from the ledger and lists each
    /// figure that differs from the kept one. An empty list means they all agree.
    pub async fn check_totals(&self) -> Result<Vec<Discrepancy>, StoreError> {
        let mut found = Vec::new();
        let campaigns = sqlx::query("SELECT c.id, c.slug FROM campaigns c ORDER BY c.id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get::<i64, _>("id")?, row.try_get::<String, _>("slug")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;

        for (figure, recompute) in CAMPAIGN_FIGURES {
            let kept = self
                .figures(&format!(
                    "SELECT campaign_id AS k, CAST(SUM({figure}) AS BIGINT) AS v FROM ({}) parts GROUP BY campaign_id",
                    campaign_parts("1 = 1")
                ))
                .await?;
            let ledger = self.figures(recompute).await?;
            for (id, slug) in &campaigns {
                compare(&mut found, slug, figure, &kept, &ledger, *id);
            }
        }

        let branches = sqlx::query(
            "SELECT b.id, b.slug, c.slug AS campaign_slug FROM branches b JOIN campaigns c ON c.id = b.campaign_id ORDER BY b.id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<i64, _>("id")?,
                format!("{} (branch {})", row.try_get::<String, _>("campaign_slug")?, row.try_get::<String, _>("slug")?),
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        for (figure, recompute) in BRANCH_FIGURES {
            let kept = self
                .figures(&format!(
                    "SELECT branch_id AS k, CAST(SUM({figure}) AS BIGINT) AS v FROM ({}) parts GROUP BY branch_id",
                    branch_parts("1 = 1")
                ))
                .await?;
            let ledger = self.figures(recompute).await?;
            for (id, label) in &branches {
                compare(&mut found, label, figure, &kept, &ledger, *id);
            }
        }
        // And each match offer's matched sum, replayed from its accruals and the ledger.
        found.extend(self.check_matches().await?);
        // And each subscription's recorded history against where it stands.
        found.extend(self.check_subscription_history().await?);
        Ok(found)
    }

    /// What a campaign counts as raised, recomputed from the ledger (gross, or net of fees
    /// when it says so, with matched money pledged when it counts that).
    pub async fn ledger_raised(&self, slug: &str) -> Result<Option<i64>, StoreError> {
        let Some((campaign, mut totals, _)) = self.campaign_progress(slug).await? else { return Ok(None) };
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS gross, \
             CAST(COALESCE(SUM(net_minor), 0) AS BIGINT) AS net FROM ledger_entries WHERE campaign_id = $1",
        )
        .bind(campaign.id)
        .fetch_one(self.pool())
        .await?;
        totals.gross_minor = row.try_get("gross")?;
        totals.net_minor = row.try_get("net")?;
        Ok(Some(totals.counted_minor(&campaign)))
    }

    async fn figures(&self, sql: &str) -> Result<BTreeMap<i64, i64>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("k")?, row.try_get("v")?)))
            .collect()
    }
}

fn compare(
    found: &mut Vec<Discrepancy>,
    label: &str,
    figure: &str,
    kept: &BTreeMap<i64, i64>,
    ledger: &BTreeMap<i64, i64>,
    id: i64,
) {
    let kept_value = kept.get(&id).copied().unwrap_or(0);
    let ledger_value = ledger.get(&id).copied().unwrap_or(0);
    if kept_value != ledger_value {
        found.push(Discrepancy {
            campaign: label.to_owned(),
            figure: figure.to_owned(),
            kept: kept_value,
            ledger: ledger_value,
        });
    }
}
