//! What Stripe reported that a treasurer must look at: a gift Stripe took back more of than
//! it held (over-reversed), or money that cannot be counted in its campaign's currency,
//! held (never dropped) until a treasurer gives its amount or dismisses it with a reason.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::entries::{RecordOutcome, record_entry_in};
use super::events::Resolution;
use super::{Store, StoreError, WriteTx, now, read_instant, read_optional_instant, stored_instant};
use crate::access::Scope;
use crate::ledger::{NewEntry, Slug};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
    /// Stripe took back more of a gift than it held (a dispute after a refund, rounding).
    OverReversed,
    /// Money Stripe reported that cannot be counted in the campaign's currency.
    Uncounted,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::OverReversed => "over_reversed",
            FlagKind::Uncounted => "uncounted",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "over_reversed" => Ok(FlagKind::OverReversed),
            "uncounted" => Ok(FlagKind::Uncounted),
            other => Err(StoreError::Corrupt(format!("flag kind {other}"))),
        }
    }
}

/// A flag to raise, in the transaction of what caused it.
#[derive(Clone, Debug)]
pub struct NewFlag<'a> {
    pub kind: FlagKind,
    /// What raised it, once: a reversal's entry, or the key the held entry will take.
    pub subject: String,
    pub campaign_id: i64,
    pub branch_id: Option<i64>,
    /// The gift concerned, when it is in the ledger.
    pub entry_id: Option<i64>,
    pub stripe_charge: Option<&'a str>,
    pub detail: String,
    /// What Stripe reported, as figures a person reads.
    pub reported: serde_json::Value,
    /// The entry as it would be recorded, waiting for its amount.
    pub held: Option<&'a NewEntry>,
}

/// A flag as the treasury sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub id: i64,
    pub kind: FlagKind,
    pub subject: String,
    pub campaign_id: i64,
    pub campaign_slug: Slug,
    pub branch_slug: Option<Slug>,
    pub entry_id: Option<i64>,
    pub stripe_charge: Option<String>,
    pub detail: String,
    pub reported: serde_json::Value,
    pub held: Option<NewEntry>,
    pub raised_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

impl Flag {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// Which flags to list.
#[derive(Clone, Debug, Default)]
pub struct FlagFilter {
    /// Resolved ones too.
    pub all: bool,
    /// Only flags of gifts whose money one payout carried.
    pub payout_id: Option<String>,
}

const FLAG_COLUMNS: &str = "f.id, f.kind, f.subject, f.campaign_id, c.slug AS campaign_slug, b.slug AS branch_slug, \
     f.entry_id, f.stripe_charge, f.detail, f.reported, f.held, f.raised_at, f.resolved_at, f.resolved_by, f.resolution";

const FLAG_FROM: &str =
    "FROM stripe_flags f JOIN campaigns c ON c.id = f.campaign_id LEFT JOIN branches b ON b.id = f.branch_id";

/// Raises a flag inside `write`; a subject flagged before is left as it is.
pub(crate) async fn raise_flag_in(write: &mut WriteTx, flag: &NewFlag<'_>) -> Result<(), StoreError> {
    let held = flag
        .held
        .map(serde_json::to_string)
        .transpose()
        .map_err(|error| StoreError::Corrupt(format!("held entry: {error}")))?;
    sqlx::query(
        "INSERT INTO stripe_flags (kind, subject, campaign_id, branch_id, entry_id, stripe_charge, detail, reported, \
         held, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (subject) DO NOTHING",
    )
    .bind(flag.kind.as_str())
    .bind(&flag.subject)
    .bind(flag.campaign_id)
    .bind(flag.branch_id)
    .bind(flag.entry_id)
    .bind(flag.stripe_charge)
    .bind(&flag.detail)
    .bind(flag.reported.to_string())
    .bind(held)
    .bind(stored_instant(now()))
    .execute(&mut *write.tx)
    .await?;
    Ok(())
}

/// Closes the over-reversal flags of a gift that Stripe's money brought back to zero or more.
pub(crate) async fn close_over_reversals_in(
    write: &mut WriteTx,
    gift_id: i64,
    returned_by_entry: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE stripe_flags SET resolved_at = $1, resolved_by = 'stripe', resolution = $2 \
         WHERE entry_id = $3 AND kind = 'over_reversed' AND resolved_at IS NULL",
    )
    .bind(stored_instant(now()))
    .bind(format!("Stripe gave the money back (entry #{returned_by_entry})"))
    .bind(gift_id)
    .execute(&mut *write.tx)
    .await?;
    Ok(())
}

impl Store {
    /// Flags of `scope`'s branch, oldest first: the open ones, or all with `filter.all`.
    pub async fn flags(&self, scope: &Scope, filter: &FlagFilter) -> Result<Vec<Flag>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        flags_on(&mut connection, scope, filter).await
    }

    pub async fn flag(&self, id: i64) -> Result<Option<Flag>, StoreError> {
        let sql = format!("SELECT {FLAG_COLUMNS} {FLAG_FROM} WHERE f.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(flag_from_row).transpose()
    }

    /// A treasurer acknowledges or dismisses an open flag. False when it was not open.
    pub async fn resolve_flag(&self, id: i64, resolution: Resolution<'_>) -> Result<bool, StoreError> {
        let mut write = self.begin_write().await?;
        let resolved = resolve_flag_in(&mut write, id, resolution, None).await?;
        write.commit().await?;
        Ok(resolved)
    }

    /// Records the entry a held flag was waiting for, with the amount a treasurer gave, and
    /// resolves the flag, in one transaction.
    pub async fn record_held(
        &self,
        id: i64,
        entry: &NewEntry,
        resolution: Resolution<'_>,
    ) -> Result<RecordOutcome, StoreError> {
        let mut write = self.begin_write().await?;
        let outcome = record_entry_in(&mut write, entry).await?;
        if let RecordOutcome::Replayed(recorded) = &outcome {
            // Stripe's own path booked it meanwhile: the treasurer's amount is not used.
            return Err(StoreError::conflict(
                "flag",
                format!("was recorded meanwhile, as entry #{}", recorded.id),
            ));
        }
        if !resolve_flag_in(&mut write, id, resolution, Some(outcome.entry().id)).await? {
            return Err(StoreError::conflict("flag", "is already resolved"));
        }
        write.commit().await?;
        Ok(outcome)
    }
}

async fn resolve_flag_in(
    write: &mut WriteTx,
    id: i64,
    resolution: Resolution<'_>,
    recorded_entry: Option<i64>,
) -> Result<bool, StoreError> {
    let resolved = sqlx::query(
        "UPDATE stripe_flags SET resolved_at = $1, resolved_by = $2, resolution = $3, \
         entry_id = COALESCE($4, entry_id) WHERE id = $5 AND resolved_at IS NULL",
    )
    .bind(stored_instant(now()))
    .bind(resolution.by)
    .bind(resolution.reason)
    .bind(recorded_entry)
    .bind(id)
    .execute(&mut *write.tx)
    .await?;
    Ok(resolved.rows_affected() == 1)
}

fn flag_from_row(row: &AnyRow) -> Result<Flag, StoreError> {
    let kind: String = row.try_get("kind")?;
    let reported: String = row.try_get("reported")?;
    let held: Option<String> = row.try_get("held")?;
    Ok(Flag {
        id: row.try_get("id")?,
        kind: FlagKind::parse(&kind)?,
        subject: row.try_get("subject")?,
        campaign_id: row.try_get("campaign_id")?,
        campaign_slug: Slug::from_stored(row.try_get("campaign_slug")?),
        branch_slug: row.try_get::<Option<String>, _>("branch_slug")?.map(Slug::from_stored),
        entry_id: row.try_get("entry_id")?,
        stripe_charge: row.try_get("stripe_charge")?,
        detail: row.try_get("detail")?,
        reported: serde_json::from_str(&reported)
            .map_err(|error| StoreError::Corrupt(format!("flag figures: {error}")))?,
        held: held
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|error| StoreError::Corrupt(format!("held entry: {error}")))?,
        raised_at: read_instant(row.try_get("raised_at")?)?,
        resolved_at: read_optional_instant(row, "resolved_at")?,
        resolved_by: row.try_get("resolved_by")?,
        resolution: row.try_get("resolution")?,
    })
}

/// Flags as a connection (a write transaction, too) sees them.
pub(super) async fn flags_on(
    connection: &mut sqlx::AnyConnection,
    scope: &Scope,
    filter: &FlagFilter,
) -> Result<Vec<Flag>, StoreError> {
    let sql = format!(
        "SELECT {FLAG_COLUMNS} {FLAG_FROM} WHERE ($1 OR f.resolved_at IS NULL) AND ($2 IS NULL OR b.slug = $2) \
             AND ($3 IS NULL OR f.entry_id IN (SELECT COALESCE(e.origin_entry_id, e.id) FROM ledger_entries e \
               JOIN payout_items pi ON pi.balance_transaction = e.stripe_balance_transaction WHERE pi.payout_id = $3)) \
             ORDER BY f.id"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(filter.all)
        .bind(scope.branch())
        .bind(&filter.payout_id)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(flag_from_row)
        .collect()
}
