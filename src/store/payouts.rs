//! Stripe payouts and what they carried, and the reconciliation of each against the ledger.

use sqlx::Row;

use super::{Store, StoreError, WriteTx, now, stored_instant};
use crate::access::Scope;

/// A payout as Stripe last described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPayout {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub arrival_date: String,
}

/// One balance transaction of a payout, next to the ledger entry it should match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutLine {
    pub balance_transaction: String,
    pub kind: String,
    pub source: Option<String>,
    pub stripe_net_minor: i64,
    pub entry_id: Option<i64>,
    pub entry_net_minor: Option<i64>,
}

/// A payout reconciled: Stripe's amount, the sum of our entries in it, and every line that
/// does not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutReport {
    pub payout: StoredPayout,
    pub lines: Vec<PayoutLine>,
    /// What the lines say Stripe paid (their net), which is the payout's amount.
    pub stripe_lines_minor: i64,
    /// The net of the ledger entries found in the payout.
    pub entries_minor: i64,
    /// How many of the payout's lines have no entry, and how many another net (all of
    /// them, whatever `lines` shows).
    pub missing_lines: usize,
    pub different_lines: usize,
    /// Open flags on the gifts whose money the payout carried (an over-reversed gift).
    pub flags: Vec<super::Flag>,
}

impl PayoutReport {
    /// Lines with no entry in the ledger.
    pub fn missing(&self) -> Vec<&PayoutLine> {
        self.lines.iter().filter(|line| line.entry_id.is_none()).collect()
    }

    /// Lines whose entry's net differs from Stripe's.
    pub fn different(&self) -> Vec<&PayoutLine> {
        self.lines
            .iter()
            .filter(|line| line.entry_net_minor.is_some_and(|net| net != line.stripe_net_minor))
            .collect()
    }

    /// Stripe's payout amount less the sum of our entries: zero when everything is explained.
    pub fn difference_minor(&self) -> i64 {
        self.payout.amount_minor - self.entries_minor
    }

    pub fn reconciled(&self) -> bool {
        self.difference_minor() == 0 && self.missing_lines == 0 && self.different_lines == 0
    }
}

/// What one payout carried, as Stripe lists it.
#[derive(Clone, Debug)]
pub struct PayoutItem {
    pub balance_transaction: String,
    pub kind: String,
    pub source: Option<String>,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub net_minor: i64,
}

/// A payout's status in the order Stripe moves it: pending, in transit, paid, then failed or
/// cancelled (a payout may show as paid and fail afterwards).
const STATUS_RANK: &str = "CASE {} WHEN 'pending' THEN 0 WHEN 'in_transit' THEN 1 WHEN 'paid' THEN 2 \
     WHEN 'failed' THEN 3 WHEN 'canceled' THEN 3 ELSE 0 END";

/// Stores a payout and (when paid) the transactions it carried; true when this made it paid.
/// Only forward: a word is
/// kept when its status is further along than the stored one, or as far along and no older
/// (`stripe_updated`, the time of Stripe's event), so an event arriving late changes nothing.
pub(crate) async fn upsert_payout_in(
    write: &mut WriteTx,
    payout: &StoredPayout,
    items: Option<&[PayoutItem]>,
    stripe_updated: i64,
) -> Result<bool, StoreError> {
    let was_paid = sqlx::query("SELECT status FROM payouts WHERE id = $1")
        .bind(&payout.id)
        .fetch_optional(&mut *write.tx)
        .await?
        .map(|row| row.try_get::<String, _>("status"))
        .transpose()?
        .is_some_and(|status| status == "paid");
    let stored_rank = STATUS_RANK.replace("{}", "payouts.status");
    let new_rank = STATUS_RANK.replace("{}", "excluded.status");
    let sql = format!(
        "INSERT INTO payouts (id, amount_minor, currency, status, arrival_date, updated_at, stripe_updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET amount_minor = $2, currency = $3, status = $4, arrival_date = $5, \
         updated_at = $6, stripe_updated = $7 \
         WHERE {stored_rank} < {new_rank} OR ({stored_rank} = {new_rank} AND payouts.stripe_updated <= $7) \
         RETURNING id"
    );
    let moved = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&payout.id)
        .bind(payout.amount_minor)
        .bind(&payout.currency)
        .bind(&payout.status)
        .bind(&payout.arrival_date)
        .bind(stored_instant(now()))
        .bind(stripe_updated)
        .fetch_optional(&mut *write.tx)
        .await?;
    if let (Some(_), Some(items)) = (&moved, items) {
        sqlx::query("DELETE FROM payout_items WHERE payout_id = $1")
            .bind(&payout.id)
            .execute(&mut *write.tx)
            .await?;
        for item in items {
            sqlx::query(
                "INSERT INTO payout_items (payout_id, balance_transaction, type, source, amount_minor, fee_minor, net_minor) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&payout.id)
            .bind(&item.balance_transaction)
            .bind(&item.kind)
            .bind(&item.source)
            .bind(item.amount_minor)
            .bind(item.fee_minor)
            .bind(item.net_minor)
            .execute(&mut *write.tx)
            .await?;
        }
    }
    Ok(moved.is_some() && payout.status == "paid" && !was_paid)
}

fn payout_from_row(row: &sqlx::any::AnyRow) -> Result<StoredPayout, StoreError> {
    Ok(StoredPayout {
        id: row.try_get("id")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
        status: row.try_get("status")?,
        arrival_date: row.try_get("arrival_date")?,
    })
}

impl Store {
    pub async fn payouts(&self) -> Result<Vec<StoredPayout>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, amount_minor, currency, status, arrival_date FROM payouts ORDER BY arrival_date DESC, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(payout_from_row).collect()
    }

    /// A payout next to the ledger, line by line. Its figures are the whole payout's; a
    /// branch-scoped report lists only the lines of its branch's entries.
    pub async fn payout_report(
        &self,
        scope: &Scope,
        payout_id: &str,
    ) -> Result<Option<PayoutReport>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        payout_report_on(&mut connection, scope, payout_id).await
    }
}

/// A payout next to the ledger, as a connection (a write transaction, too) sees them.
pub(crate) async fn payout_report_on(
    connection: &mut sqlx::AnyConnection,
    scope: &Scope,
    payout_id: &str,
) -> Result<Option<PayoutReport>, StoreError> {
    {
        let Some(row) =
            sqlx::query("SELECT id, amount_minor, currency, status, arrival_date FROM payouts WHERE id = $1")
                .bind(payout_id)
                .fetch_optional(&mut *connection)
                .await?
        else {
            return Ok(None);
        };
        let payout = payout_from_row(&row)?;
        let rows = sqlx::query(
            "SELECT pi.balance_transaction, pi.type, pi.source, pi.net_minor, e.id AS entry_id, e.net_minor AS entry_net, \
             b.slug AS branch_slug \
             FROM payout_items pi LEFT JOIN ledger_entries e ON e.stripe_balance_transaction = pi.balance_transaction \
             LEFT JOIN branches b ON b.id = e.branch_id \
             WHERE pi.payout_id = $1 AND pi.type <> 'payout' ORDER BY pi.balance_transaction",
        )
        .bind(payout_id)
        .fetch_all(&mut *connection)
        .await?;
        let lines: Vec<(PayoutLine, Option<String>)> = rows
            .iter()
            .map(|row| {
                let line = PayoutLine {
                    balance_transaction: row.try_get("balance_transaction")?,
                    kind: row.try_get("type")?,
                    source: row.try_get("source")?,
                    stripe_net_minor: row.try_get("net_minor")?,
                    entry_id: row.try_get("entry_id")?,
                    entry_net_minor: row.try_get("entry_net")?,
                };
                Ok((line, row.try_get::<Option<String>, _>("branch_slug")?))
            })
            .collect::<Result<_, StoreError>>()?;
        let stripe_lines_minor = lines.iter().map(|(line, _)| line.stripe_net_minor).sum();
        let entries_minor = lines.iter().filter_map(|(line, _)| line.entry_net_minor).sum();
        let missing = lines.iter().filter(|(line, _)| line.entry_id.is_none()).count();
        let different = lines
            .iter()
            .filter(|(line, _)| line.entry_net_minor.is_some_and(|net| net != line.stripe_net_minor))
            .count();
        let lines = lines
            .into_iter()
            .filter(|(_, branch)| scope.branch().is_none() || branch.as_deref() == scope.branch())
            .map(|(line, _)| line)
            .collect();
        let flags = super::flags::flags_on(
            connection,
            scope,
            &super::FlagFilter { payout_id: Some(payout_id.to_owned()), ..super::FlagFilter::default() },
        )
        .await?;
        Ok(Some(PayoutReport {
            payout,
            lines,
            stripe_lines_minor,
            entries_minor,
            missing_lines: missing,
            different_lines: different,
            flags,
        }))
    }
}

impl Store {
    /// The ledger entries that name a Stripe balance transaction, received since `since`:
    /// transaction → (entry id, net, currency code).
    pub async fn stripe_entry_nets(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<std::collections::HashMap<String, (i64, i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, stripe_balance_transaction, net_minor, currency FROM ledger_entries \
             WHERE stripe_balance_transaction IS NOT NULL AND received_at >= $1",
        )
        .bind(stored_instant(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("stripe_balance_transaction")?,
                    (row.try_get("id")?, row.try_get("net_minor")?, row.try_get("currency")?),
                ))
            })
            .collect()
    }
}
