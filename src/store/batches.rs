//! Deposits (batches): posted whole, found again when the same slip comes twice, and
//! reversed whole.

use crate::ledger::bodies::EntryBody;
use crate::ledger::outgoing::EventKind;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::entries::{ENTRY_COLUMNS, ENTRY_FROM, entry_by_idempotency_key, entry_from_row, record_entry_in};
use super::{LookAlike, RecordOutcome, Store, StoreError, now, read_date, read_instant, stored_instant};
use crate::access::Scope;
use crate::ledger::NewEntry;
use crate::ledger::batch::BatchDraft;
use crate::ledger::entry::Entry;

/// A deposit as posted: its batch, its entries, and whether it had been posted before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPosted {
    pub batch_id: i64,
    pub entries: Vec<Entry>,
    pub replayed: bool,
}

/// A deposit as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub id: i64,
    pub campaign_id: i64,
    pub reference: String,
    pub deposited_on: NaiveDate,
    pub declared_count: i64,
    pub declared_total_minor: i64,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

const BATCH_COLUMNS: &str = "id, campaign_id, reference, deposited_on, declared_count, declared_total_minor, recorded_at, recorded_by";

fn batch_from_row(row: &sqlx::any::AnyRow) -> Result<StoredBatch, StoreError> {
    Ok(StoredBatch {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        reference: row.try_get("reference")?,
        deposited_on: read_date(row.try_get("deposited_on")?)?,
        declared_count: row.try_get("declared_count")?,
        declared_total_minor: row.try_get("declared_total_minor")?,
        recorded_at: read_instant(row.try_get("recorded_at")?)?,
        recorded_by: row.try_get("recorded_by")?,
    })
}

impl Store {
    /// Posts a deposit: the batch row and all its entries in one transaction, or nothing.
    /// A deposit under an idempotency key posted before is not posted again: its batch and
    /// entries come back as they were (`Replayed`).
    /// With `refuse_look_alike`, a deposit like an earlier one of the campaign is refused
    /// (`StoreError::LooksLike`) under the campaign's lock, so two posted at once on two
    /// instances cannot both pass.
    pub async fn record_batch(
        &self,
        batch: &BatchDraft,
        recorded_by: &str,
        idempotency_key: Option<&str>,
        refuse_look_alike: bool,
    ) -> Result<BatchPosted, StoreError> {
        let mut write = self.begin_write().await?;
        if refuse_look_alike {
            // Before anything else: the insert below takes a share of the campaign's row.
            write.lock_campaign(batch.campaign_id).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO batches (campaign_id, reference, deposited_on, declared_count, declared_total_minor, \
             recorded_at, recorded_by, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(batch.campaign_id)
        .bind(&batch.reference)
        .bind(batch.deposited_on.format("%Y-%m-%d").to_string())
        .bind(batch.declared_count)
        .bind(batch.declared_total_minor)
        .bind(stored_instant(now()))
        .bind(recorded_by)
        .bind(idempotency_key)
        .fetch_optional(&mut *write.tx)
        .await?;
        let batch_id: i64 = match inserted {
            Some(row) => row.try_get("id")?,
            None => {
                // Posted before under this key (or by a concurrent submit, which PostgreSQL
                // waited for): what it posted, as it was.
                let existing: i64 = sqlx::query("SELECT id FROM batches WHERE idempotency_key = $1")
                    .bind(idempotency_key)
                    .fetch_one(&mut *write.tx)
                    .await?
                    .try_get("id")?;
                let sql = format!("SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.batch_id = $1 ORDER BY e.id");
                let rows =
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(existing).fetch_all(&mut *write.tx).await?;
                let entries = rows.iter().map(entry_from_row).collect::<Result<_, _>>()?;
                return Ok(BatchPosted { batch_id: existing, entries, replayed: true });
            }
        };
        if refuse_look_alike {
            let look = look_alike_deposit(
                &mut *write.tx,
                batch.campaign_id,
                &batch.reference,
                batch.deposited_on,
                batch.declared_total_minor,
                Some(batch_id),
            )
            .await?;
            if let Some(earlier) = look {
                return Err(StoreError::LooksLike(LookAlike::Deposit(Box::new(earlier))));
            }
        }
        let mut recorded = Vec::with_capacity(batch.entries.len());
        for entry in &batch.entries {
            let entry = NewEntry { batch_id: Some(batch_id), ..entry.clone() };
            recorded.push(record_entry_in(&mut write, &entry).await?.entry().clone());
        }
        if let Some(first) = recorded.first() {
            let total: i64 = recorded.iter().map(|entry| entry.amount_minor).sum();
            let entries: Vec<EntryBody> = recorded.iter().map(EntryBody::new).collect();
            // The shape of the answer to the deposit's POST, with the campaign and the slip.
            let body = serde_json::json!({
                "batch": batch_id,
                "campaign": first.campaign_slug.as_str(),
                "reference": batch.reference,
                "deposited_on": batch.deposited_on.format("%Y-%m-%d").to_string(),
                "count": entries.len(),
                "total": first.currency.format_minor(total),
                "entries": entries,
            });
            write.emit(EventKind::BatchPosted, &body);
        }
        write.commit().await?;
        Ok(BatchPosted { batch_id, entries: recorded, replayed: false })
    }

    /// The id of the deposit posted under an idempotency key, if any.
    pub async fn batch_id_by_key(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT id FROM batches WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|row| row.try_get("id")).transpose()?)
    }

    /// An earlier deposit of the campaign that looks like this one: the same slip reference
    /// (in any case and spacing), or the same date and declared total. The oldest first.
    pub async fn earlier_deposit(
        &self,
        campaign_id: i64,
        reference: &str,
        deposited_on: NaiveDate,
        declared_total_minor: i64,
    ) -> Result<Option<StoredBatch>, StoreError> {
        look_alike_deposit(self.pool(), campaign_id, reference, deposited_on, declared_total_minor, None)
            .await
    }

    pub async fn batch(&self, id: i64) -> Result<Option<StoredBatch>, StoreError> {
        let sql = format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    /// The deposits of a campaign in `scope` (for a branch treasurer, those holding an entry
    /// of their branch), newest first.
    /// With each, what is left of it after reversals.
    pub async fn batches(
        &self,
        scope: &Scope,
        campaign_id: i64,
        limit: i64,
    ) -> Result<Vec<(StoredBatch, i64)>, StoreError> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS}, (SELECT CAST(COALESCE(SUM(x.amount_minor), 0) AS BIGINT) FROM ledger_entries x \
             JOIN ledger_entries o ON x.id = o.id OR x.origin_entry_id = o.id \
             WHERE o.batch_id = batches.id AND o.reverses_entry_id IS NULL) AS left_minor \
             FROM batches WHERE campaign_id = $1 AND ($3 IS NULL OR EXISTS (\
             SELECT 1 FROM ledger_entries e JOIN branches b ON b.id = e.branch_id WHERE e.batch_id = batches.id AND b.slug = $3)) \
             ORDER BY id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(campaign_id)
            .bind(limit)
            .bind(scope.branch())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| Ok((batch_from_row(row)?, row.try_get("left_minor")?))).collect()
    }

    /// The entries a deposit posted (not their reversals), in order.
    pub async fn batch_entries(&self, batch_id: i64) -> Result<Vec<Entry>, StoreError> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.batch_id = $1 AND e.reverses_entry_id IS NULL ORDER BY e.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(batch_id).fetch_all(self.pool()).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Records an offline gift; with `refuse_look_alike`, one with the same reference, amount
    /// and date as an earlier offline gift of the campaign is refused (`StoreError::LooksLike`)
    /// under the campaign's lock, so two recorded at once on two instances cannot both pass.
    /// A replay of its idempotency key answers as before, look-alike or not.
    pub async fn record_gift(
        &self,
        entry: &NewEntry,
        refuse_look_alike: bool,
    ) -> Result<RecordOutcome, StoreError> {
        let mut write = self.begin_write().await?;
        if refuse_look_alike && let Some(reference) = &entry.reference {
            write.lock_campaign(entry.campaign_id).await?;
            // The same form sent again answers as the first time, look-alike or not.
            if let Some(key) = &entry.idempotency_key
                && let Some(existing) = entry_by_idempotency_key(&mut write, key).await?
            {
                return Ok(RecordOutcome::Replayed(existing));
            }
            if let Some(earlier) = look_alike_gift(
                &mut *write.tx,
                entry.campaign_id,
                reference,
                entry
                    .presented
                    .map_or((entry.amount_minor, None), |(amount, given)| (amount, Some(given.code()))),
                entry.received_on,
            )
            .await?
            {
                return Err(StoreError::LooksLike(LookAlike::Gift(Box::new(earlier))));
            }
        }
        let outcome = record_entry_in(&mut write, entry).await?;
        write.commit().await?;
        Ok(outcome)
    }

    /// Records several entries (a deposit's reversals) in one transaction: all or none.
    pub async fn record_entries(&self, entries: &[NewEntry]) -> Result<Vec<RecordOutcome>, StoreError> {
        let mut write = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(entries.len());
        for entry in entries {
            outcomes.push(record_entry_in(&mut write, entry).await?);
        }
        write.commit().await?;
        Ok(outcomes)
    }
}

/// The oldest deposit of the campaign like this one (the same slip in any case and spacing,
/// or the same date and declared total), other than `except`.
async fn look_alike_deposit<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    campaign_id: i64,
    reference: &str,
    deposited_on: NaiveDate,
    declared_total_minor: i64,
    except: Option<i64>,
) -> Result<Option<StoredBatch>, StoreError> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM batches WHERE campaign_id = $1 AND id <> $5 \
         AND (LOWER(TRIM(reference)) = $2 OR (deposited_on = $3 AND declared_total_minor = $4)) ORDER BY id LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(campaign_id)
        .bind(reference.trim().to_lowercase())
        .bind(deposited_on.format("%Y-%m-%d").to_string())
        .bind(declared_total_minor)
        .bind(except.unwrap_or(0))
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(batch_from_row).transpose()
}

/// The oldest offline gift of the campaign with this reference, amount and date: the amount
/// as given (`given`: in the campaign's currency, or in another, named), whatever rate counted it.
async fn look_alike_gift<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    campaign_id: i64,
    reference: &str,
    given: (i64, Option<&str>),
    received_on: NaiveDate,
) -> Result<Option<Entry>, StoreError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.campaign_id = $1 AND e.kind = 'donation' \
         AND e.source = 'offline' AND LOWER(TRIM(e.reference)) = $2 \
         AND (($5 IS NULL AND e.presented_currency IS NULL AND e.amount_minor = $3) \
              OR (e.presented_currency = $5 AND e.presented_amount_minor = $3)) \
         AND e.received_on = $4 ORDER BY e.id LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(campaign_id)
        .bind(reference.trim().to_lowercase())
        .bind(given.0)
        .bind(received_on.format("%Y-%m-%d").to_string())
        .bind(given.1)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(entry_from_row).transpose()
}
