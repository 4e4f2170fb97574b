//! The kept totals: each campaign's and branch's figures, spread over shard rows.
//!
//! A figure is the sum of its base row (`campaign_totals`, `branch_totals`, which older
//! versions moved) and its rows in `campaign_total_shards` / `branch_total_shards`. A write
//! transaction gathers what its entries change and adds it, just before it commits, to one
//! shard chosen for it: concurrent gifts to one campaign each lock a different row, so their
//! commits no longer queue one behind another. Reads, documents and `appeal check` sum the
//! rows; the overflow guard checks the sum.
//!
//! Locks are taken in one order everywhere: a campaign's base row (reversals, which read
//! what is left of a gift under it), then donors' rows (as entries are appended), then the
//! shard rows (at commit, campaigns then branches, each by id).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use super::{Engine, StoreError};
use crate::ledger::totals::TotalsChange;

/// Shard rows per campaign and per branch: more than the writers one instance runs at once
/// (its pool), so that transactions handed consecutive shards rarely meet.
pub(crate) const SHARDS: u64 = 32;

/// The next shard to hand out, starting somewhere random in each process, so that
/// instances sharing a database do not all start on the same row.
fn next_shard() -> i64 {
    static NEXT: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let mut bytes = [0_u8; 8];
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        AtomicU64::new(u64::from_le_bytes(bytes))
    });
    // Below SHARDS (32), so it fits.
    i64::try_from(next.fetch_add(1, Ordering::Relaxed) % SHARDS).unwrap_or(0)
}

/// What one write transaction's entries change, gathered until it commits.
#[derive(Debug, Default)]
pub(crate) struct PendingTotals {
    campaigns: BTreeMap<i64, TotalsChange>,
    /// Branch id → (campaign id, gross, net).
    branches: BTreeMap<i64, (i64, i64, i64)>,
}

impl PendingTotals {
    /// Adds one entry's change to its campaign (and branch).
    pub fn add(
        &mut self,
        campaign_id: i64,
        branch_id: Option<i64>,
        change: &TotalsChange,
    ) -> Result<(), StoreError> {
        let campaign = self.campaigns.entry(campaign_id).or_default();
        *campaign = campaign.checked_add(change).ok_or_else(total_overflows)?;
        if let Some(branch_id) = branch_id {
            let (_, gross, net) = self.branches.entry(branch_id).or_insert((campaign_id, 0, 0));
            *gross = gross.checked_add(change.gross_minor).ok_or_else(total_overflows)?;
            *net = net.checked_add(change.net_minor).ok_or_else(total_overflows)?;
        }
        Ok(())
    }

    /// Adds what was gathered to one shard per campaign and branch, then checks that each
    /// campaign's and branch's summed figures still fit. On PostgreSQL the shard's move and
    /// the sum are one statement (one round trip); SQLite, in process, runs them one by one.
    pub async fn apply(&self, tx: &mut AnyConnection, engine: Engine, at: &str) -> Result<(), StoreError> {
        if self.campaigns.is_empty() && self.branches.is_empty() {
            return Ok(());
        }
        let shard = next_shard();
        for (campaign_id, change) in &self.campaigns {
            let move_by = |sql: &'static str| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(campaign_id)
                    .bind(shard)
                    .bind(change.gross_minor)
                    .bind(change.net_minor)
                    .bind(change.online_gross_minor)
                    .bind(change.online_net_minor)
                    .bind(change.offline_minor)
                    .bind(change.donations)
                    .bind(change.donors)
                    .bind(at)
            };
            CAMPAIGN_ROWS.move_shard(tx, engine, *campaign_id, move_by).await?;
        }
        for (branch_id, (campaign_id, gross, net)) in &self.branches {
            let move_by = |sql: &'static str| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(branch_id)
                    .bind(shard)
                    .bind(campaign_id)
                    .bind(gross)
                    .bind(net)
            };
            BRANCH_ROWS.move_shard(tx, engine, *branch_id, move_by).await?;
        }
        Ok(())
    }
}

/// The statements that move one owner's (a campaign's or a branch's) shard and check its sum.
struct ShardRows {
    /// Moves the shard (`$1` the owner, `$2` the shard, then the change), returning its row.
    moved: &'static str,
    /// PostgreSQL: the move and the sum in one statement, with the move's parameters.
    moved_and_summed: &'static LazyLock<String>,
    /// SQLite: the owner's figures summed (`$1` the owner), after the move.
    summed: &'static LazyLock<String>,
    figures: &'static [&'static str],
}

static CAMPAIGN_ROWS: ShardRows = ShardRows {
    moved: CAMPAIGN_MOVE,
    moved_and_summed: &CAMPAIGN_MOVE_AND_SUM,
    summed: &CAMPAIGN_SUM_CHECK,
    figures: CAMPAIGN_SUMMED,
};

static BRANCH_ROWS: ShardRows = ShardRows {
    moved: BRANCH_MOVE,
    moved_and_summed: &BRANCH_MOVE_AND_SUM,
    summed: &BRANCH_SUM_CHECK,
    figures: BRANCH_SUMMED,
};

impl ShardRows {
    /// Moves `owner`'s shard by the change `move_by` binds to a statement, then checks that
    /// its summed figures still fit: one statement on PostgreSQL (one round trip), two on
    /// SQLite, in process.
    async fn move_shard<'q>(
        &self,
        tx: &mut AnyConnection,
        engine: Engine,
        owner: i64,
        move_by: impl Fn(&'static str) -> Query<'q, Any, AnyArguments>,
    ) -> Result<(), StoreError> {
        if engine == Engine::Postgres {
            refuse_overflow(
                move_by(self.moved_and_summed.as_str()).fetch_optional(&mut *tx).await,
                self.figures,
            )?;
            return Ok(());
        }
        refuse_overflow(move_by(self.moved).fetch_optional(&mut *tx).await, self.figures)?;
        let summed =
            sqlx::query(sqlx::AssertSqlSafe(self.summed.as_str())).bind(owner).fetch_optional(&mut *tx).await;
        refuse_overflow(summed, self.figures)?;
        Ok(())
    }
}

/// Adds a change to one of a campaign's shard rows (`$1` the campaign, `$2` the shard, then
/// the figures and `updated_at`), returning the row's figures.
const CAMPAIGN_MOVE: &str = "INSERT INTO campaign_total_shards (campaign_id, shard, gross_minor, net_minor, \
     online_gross_minor, online_net_minor, offline_minor, donations, donors, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (campaign_id, shard) DO UPDATE SET \
     gross_minor = campaign_total_shards.gross_minor + excluded.gross_minor, \
     net_minor = campaign_total_shards.net_minor + excluded.net_minor, \
     online_gross_minor = campaign_total_shards.online_gross_minor + excluded.online_gross_minor, \
     online_net_minor = campaign_total_shards.online_net_minor + excluded.online_net_minor, \
     offline_minor = campaign_total_shards.offline_minor + excluded.offline_minor, \
     donations = campaign_total_shards.donations + excluded.donations, \
     donors = campaign_total_shards.donors + excluded.donors, \
     updated_at = excluded.updated_at \
     RETURNING gross_minor, net_minor, online_gross_minor, online_net_minor, offline_minor, donations, donors";

/// Adds a change to one of a branch's shard rows (`$1` the branch, `$2` the shard, `$3` its
/// campaign, `$4` gross, `$5` net), returning the row's figures.
const BRANCH_MOVE: &str = "INSERT INTO branch_total_shards (branch_id, shard, campaign_id, gross_minor, net_minor) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (branch_id, shard) DO UPDATE SET \
     gross_minor = branch_total_shards.gross_minor + excluded.gross_minor, \
     net_minor = branch_total_shards.net_minor + excluded.net_minor \
     RETURNING gross_minor, net_minor";

/// PostgreSQL: a shard moved (`moved`, whose `$1` is its owner and `$2` the shard) and its
/// owner's figures summed, in one statement. The statement's other parts read the rows as
/// they stood when it began, so the moved row is taken from what the move returned and the
/// others (the owner's base row and other shards) from the tables. Like the SQLite pair, the
/// guard sees what other transactions had committed, not what they are still writing on
/// other shards.
fn move_and_sum(moved: &str, figures: &[&str], owner: &str, base: &str, shards: &str) -> String {
    let columns = figures.join(", ");
    format!(
        "WITH moved AS ({moved}) SELECT {} FROM (SELECT {columns} FROM moved \
         UNION ALL SELECT {columns} FROM {base} WHERE {owner} = $1 \
         UNION ALL SELECT {columns} FROM {shards} WHERE {owner} = $1 AND shard <> $2) parts",
        sums(figures)
    )
}

static CAMPAIGN_MOVE_AND_SUM: LazyLock<String> = LazyLock::new(|| {
    move_and_sum(CAMPAIGN_MOVE, CAMPAIGN_SUMMED, "campaign_id", "campaign_totals", "campaign_total_shards")
});

static BRANCH_MOVE_AND_SUM: LazyLock<String> = LazyLock::new(|| {
    move_and_sum(BRANCH_MOVE, BRANCH_SUMMED, "branch_id", "branch_totals", "branch_total_shards")
});

/// SQLite: one campaign's figures summed over its rows (`$1`: its id), read after its shard moved.
static CAMPAIGN_SUM_CHECK: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {} FROM ({}) parts", sums(CAMPAIGN_SUMMED), campaign_parts("campaign_id = $1"))
});

/// SQLite: one branch's figures summed over its rows (`$1`: its id).
static BRANCH_SUM_CHECK: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {} FROM ({}) parts", sums(BRANCH_SUMMED), branch_parts("branch_id = $1"))
});

/// The campaign figures kept in shards.
pub(crate) const CAMPAIGN_SUMMED: &[&str] = &[
    "gross_minor",
    "net_minor",
    "online_gross_minor",
    "online_net_minor",
    "offline_minor",
    "donations",
    "donors",
];

/// The branch figures kept in shards.
pub(crate) const BRANCH_SUMMED: &[&str] = &["gross_minor", "net_minor"];

/// `CAST(SUM(x) AS BIGINT) AS x, …`: a sum past 64 bits fails (PostgreSQL's cast raises
/// "out of range", SQLite's SUM "integer overflow") instead of wrapping.
pub(crate) fn sums(figures: &[&str]) -> String {
    figures
        .iter()
        .map(|figure| format!("CAST(SUM({figure}) AS BIGINT) AS {figure}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Campaigns' base rows and shard rows (`campaign_id`, the figures and `updated_at`), one
/// under the other, for the rows matching `filter` (a condition on `campaign_id`).
pub(crate) fn campaign_parts(filter: &str) -> String {
    let columns = CAMPAIGN_SUMMED.join(", ");
    format!(
        "SELECT campaign_id, {columns}, updated_at FROM campaign_totals WHERE {filter} \
         UNION ALL SELECT campaign_id, {columns}, updated_at FROM campaign_total_shards WHERE {filter}"
    )
}

/// Branches' base rows and shard rows (`branch_id`, `campaign_id` and the figures), one
/// under the other, for the rows matching `filter` (a condition on either column).
pub(crate) fn branch_parts(filter: &str) -> String {
    let columns = BRANCH_SUMMED.join(", ");
    format!(
        "SELECT branch_id, campaign_id, {columns} FROM branch_totals WHERE {filter} \
         UNION ALL SELECT branch_id, campaign_id, {columns} FROM branch_total_shards WHERE {filter}"
    )
}

/// Takes the campaign's base row (a row lock until commit on PostgreSQL): what is left of a
/// gift is read under it, so that two reversals of one gift cannot both take the same amount.
pub(super) async fn lock_campaign_totals(tx: &mut AnyConnection, campaign_id: i64) -> Result<(), StoreError> {
    let locked = sqlx::query("UPDATE campaign_totals SET version = version + 1 WHERE campaign_id = $1")
        .bind(campaign_id)
        .execute(&mut *tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(StoreError::NotFound("campaign"));
    }
    Ok(())
}

/// A total moved or summed in SQL that no longer fits in 64 bits refuses the whole
/// transaction: PostgreSQL raises "out of range" (22003), SQLite raises "integer overflow"
/// from SUM or turns an addition into a float, which is caught here.
pub(super) fn refuse_overflow(
    moved: Result<Option<AnyRow>, sqlx::Error>,
    columns: &[&str],
) -> Result<Option<AnyRow>, StoreError> {
    let row = match moved {
        Err(sqlx::Error::Database(error))
            if error.code().as_deref() == Some("22003") || error.message().contains("integer overflow") =>
        {
            return Err(total_overflows());
        }
        other => other?,
    };
    if let Some(row) = &row
        && columns.iter().any(|column| row.try_get::<i64, _>(*column).is_err())
    {
        return Err(total_overflows());
    }
    Ok(row)
}

pub(super) fn total_overflows() -> StoreError {
    StoreError::conflict("amount", "would overflow the campaign's total")
}
