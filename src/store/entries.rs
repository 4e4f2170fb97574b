//! The ledger: appending entries together with the totals they move, and reading entries back.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::flags::{FlagKind, NewFlag, close_over_reversals_in, raise_flag_in};
use super::totals::{lock_campaign_totals, refuse_overflow};
use super::{
    Store, StoreError, WriteTx, now, read_currency, read_date, read_flag, read_instant, read_kind,
    read_source, stored_instant,
};
use crate::access::Scope;
use crate::ledger::bodies::EntryBody;
use crate::ledger::entry::{Donor, Entry};
use crate::ledger::outgoing::EventKind;
use crate::ledger::search::EntrySearch;
use crate::ledger::totals::{EntryFacts, totals_change};
use crate::ledger::{NewEntry, Slug, StripeRefs};

pub(super) const ENTRY_COLUMNS: &str = "e.id, e.campaign_id, c.slug AS campaign_slug, e.branch_id, b.slug AS branch_slug, \
     e.kind, e.source, e.method, e.amount_minor, e.fee_minor, e.net_minor, e.currency, e.donor_key, \
     pd.name AS donor_name, pd.email AS donor_email, e.anonymous, pd.message AS public_message, e.recurring, e.received_on, \
     e.recorded_at, e.recorded_by, e.reference, e.reason, e.reverses_entry_id, e.origin_entry_id, \
     e.stripe_payment_intent, e.stripe_charge, e.stripe_invoice, e.stripe_subscription, \
     e.stripe_balance_transaction, e.stripe_refund, e.stripe_dispute, e.presented_amount_minor, e.presented_currency, \
     e.rate, e.rate_on, e.rate_source, e.received_at, e.batch_id, e.source_ref, e.match_offer_id, bt.reference AS batch_reference, pi.payout_id AS stripe_payout";

/// The same columns, as an INSERT into `ledger_entries` returns them: the entry comes back
/// from the statement that writes it, without a second read (its donor's details, kept in
/// `donor_details`, are the ones just written).
const ENTRY_RETURNING: &str = "id, campaign_id, \
     (SELECT c.slug FROM campaigns c WHERE c.id = ledger_entries.campaign_id) AS campaign_slug, branch_id, \
     (SELECT b.slug FROM branches b WHERE b.id = ledger_entries.branch_id) AS branch_slug, \
     kind, source, method, amount_minor, fee_minor, net_minor, currency, donor_key, \
     CAST(NULL AS TEXT) AS donor_name, CAST(NULL AS TEXT) AS donor_email, anonymous, \
     CAST(NULL AS TEXT) AS public_message, recurring, received_on, \
     recorded_at, recorded_by, reference, reason, reverses_entry_id, origin_entry_id, \
     stripe_payment_intent, stripe_charge, stripe_invoice, stripe_subscription, \
     stripe_balance_transaction, stripe_refund, stripe_dispute, presented_amount_minor, presented_currency, \
     rate, rate_on, rate_source, received_at, batch_id, source_ref, match_offer_id, \
     (SELECT bt.reference FROM batches bt WHERE bt.id = ledger_entries.batch_id) AS batch_reference, \
     (SELECT pi.payout_id FROM payout_items pi WHERE pi.balance_transaction = ledger_entries.stripe_balance_transaction \
      AND pi.type <> 'payout' LIMIT 1) AS stripe_payout";

/// The entries with their campaign, branch, batch, payout and donor's details (`pd`: a
/// person's name, email and message, kept out of the ledger so that they can be erased).
pub(super) const ENTRY_FROM: &str = "FROM ledger_entries e JOIN campaigns c ON c.id = e.campaign_id \
     LEFT JOIN donor_details pd ON pd.entry_id = e.id \
     LEFT JOIN branches b ON b.id = e.branch_id \
     LEFT JOIN batches bt ON bt.id = e.batch_id \
     LEFT JOIN payout_items pi ON pi.balance_transaction = e.stripe_balance_transaction AND pi.type <> 'payout'";

/// A new entry's donor key: its gift's (a reversal), or the one its donor's details find.
enum DonorKey {
    Kept(String),
    Found((String, bool)),
}

/// Whether an entry was appended now or had been appended before under the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded(Entry),
    Replayed(Entry),
}

impl RecordOutcome {
    pub fn entry(&self) -> &Entry {
        match self {
            RecordOutcome::Recorded(entry) | RecordOutcome::Replayed(entry) => entry,
        }
    }
}

/// Which entries to list, newest first: a campaign's (or all), narrowed by a search.
#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    pub campaign_id: Option<i64>,
    pub search: EntrySearch,
}

impl Store {
    /// Appends `entry` and moves the campaign, branch and donor totals by it, in one
    /// transaction: either all of it is written or none of it.
    #[tracing::instrument(skip_all, fields(campaign_id = entry.campaign_id, kind = entry.kind.as_str()))]
    pub async fn record_entry(&self, entry: &NewEntry) -> Result<RecordOutcome, StoreError> {
        let mut write = self.begin_write().await?;
        let outcome = record_entry_in(&mut write, entry).await?;
        write.commit().await?;
        Ok(outcome)
    }
    /// The entry recorded under an idempotency key, if any.
    pub async fn entry_by_idempotency_key(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.idempotency_key = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key).fetch_optional(self.pool()).await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    pub async fn entry(&self, id: i64) -> Result<Option<Entry>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Money received per day (gross), for the dashboard's chart.
    pub async fn daily_totals(&self, campaign_id: i64) -> Result<Vec<(chrono::NaiveDate, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT received_on, CAST(SUM(amount_minor) AS BIGINT) AS total FROM ledger_entries \
             WHERE campaign_id = $1 GROUP BY received_on ORDER BY received_on",
        )
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| Ok((read_date(row.try_get("received_on")?)?, row.try_get("total")?))).collect()
    }

    /// What is left of a donation after the entries that reverse it.
    pub async fn remaining_of(&self, origin_entry_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM ledger_entries \
             WHERE id = $1 OR origin_entry_id = $1",
        )
        .bind(origin_entry_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("total")?)
    }

    /// For each listed gift: what is left of it after reversals, refunds and disputes, and
    /// the entries that took money out of it, oldest first.
    pub async fn reversal_state(
        &self,
        entries: &[Entry],
    ) -> Result<std::collections::HashMap<i64, (i64, Vec<i64>)>, StoreError> {
        let origins: Vec<i64> =
            entries.iter().filter(|entry| entry.reverses_entry_id.is_none()).map(|entry| entry.id).collect();
        let mut state: std::collections::HashMap<i64, (i64, Vec<i64>)> = std::collections::HashMap::new();
        if origins.is_empty() {
            return Ok(state);
        }
        let list = super::placeholders(origins.len());
        let sql = format!(
            "SELECT id, origin_entry_id, amount_minor FROM ledger_entries \
             WHERE origin_entry_id IN ({list}) OR id IN ({list}) ORDER BY id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &origins {
            query = query.bind(*id);
        }
        for row in query.fetch_all(self.pool()).await? {
            let id: i64 = row.try_get("id")?;
            let origin: Option<i64> = row.try_get("origin_entry_id")?;
            let origin = origin.unwrap_or(id);
            let amount: i64 = row.try_get("amount_minor")?;
            let (left, by) = state.entry(origin).or_default();
            *left += amount;
            if id != origin {
                by.push(id);
            }
        }
        Ok(state)
    }

    /// Entries in `scope` matching `filter`, newest first. A viewer's search does not look at
    /// donors' names and e-mails, which they may not see.
    pub async fn list_entries(&self, scope: &Scope, filter: &EntryFilter) -> Result<Vec<Entry>, StoreError> {
        let search = &filter.search;
        let donors = if scope.sees_donors() {
            "LOWER(COALESCE(pd.name, '')) LIKE $5 ESCAPE '\\' OR LOWER(COALESCE(pd.email, '')) LIKE $5 ESCAPE '\\' OR "
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE ($1 IS NULL OR e.campaign_id = $1) \
             AND ($2 IS NULL OR e.id < $2) AND ($4 IS NULL OR b.slug = $4) \
             AND ($5 IS NULL OR {donors}LOWER(COALESCE(e.reference, '')) LIKE $5 ESCAPE '\\' \
                  OR e.id = $6 OR e.amount_minor = $7 OR e.amount_minor = -$7) \
             AND ($8 IS NULL OR e.received_on >= $8) AND ($9 IS NULL OR e.received_on <= $9) \
             AND ($10 IS NULL OR e.method = $10) AND ($11 IS NULL OR b.slug = $11) \
             AND ($12 IS NULL OR e.kind = $12) AND ($13 IS NULL OR e.batch_id = $13) \
             ORDER BY e.id DESC LIMIT $3"
        );
        let day = |date: Option<chrono::NaiveDate>| date.map(|date| date.format("%Y-%m-%d").to_string());
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.campaign_id)
            .bind(search.before_id)
            .bind(search.limit)
            .bind(scope.branch())
            .bind(search.text.as_deref())
            .bind(search.id)
            .bind(search.amount_minor)
            .bind(day(search.from))
            .bind(day(search.to))
            .bind(search.method.as_deref())
            .bind(search.branch.as_deref())
            .bind(search.kind.map(|kind| kind.as_str()))
            .bind(search.batch_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| entry_from_row(row).map(|entry| in_scope(scope, entry))).collect()
    }
}

/// Appends `entry` and moves the donor's sum by it, inside `write`; the campaign's and
/// branch's totals move by it when `write` commits (see `totals`).
///
/// Locks are taken in one order: the campaign's base row (a reversal only), the donor's
/// row, then at commit the shard rows.
pub(crate) async fn record_entry_in(
    write: &mut WriteTx,
    entry: &NewEntry,
) -> Result<RecordOutcome, StoreError> {
    let reverses_entry_id = match (entry.reverses_entry_id, &entry.reverses_key) {
        (Some(id), _) => Some(id),
        (None, Some(key)) => Some(
            entry_by_idempotency_key(write, key).await?.ok_or(StoreError::NotFound("reversed entry"))?.id,
        ),
        (None, None) => None,
    };
    let (origin_entry_id, origin_before, donor_key) = match reverses_entry_id {
        Some(reversed_id) => {
            // What is left to reverse is read under the campaign's lock, so that two
            // reversals of one gift cannot both take the same amount.
            lock_campaign_totals(&mut write.tx, entry.campaign_id).await?;
            // Under that lock, a reversal seen before (committed by a concurrent writer
            // while this one waited, too) is a replay, before its amount is checked against
            // what is left, which it has itself already taken. Other entries learn it from
            // the INSERT below, without a read first.
            if let Some(key) = &entry.idempotency_key
                && let Some(existing) = entry_by_idempotency_key(write, key).await?
            {
                return Ok(RecordOutcome::Replayed(existing));
            }
            let reversed = entry_in(write, reversed_id).await?.ok_or(StoreError::NotFound("entry"))?;
            if reversed.campaign_id != entry.campaign_id {
                return Err(StoreError::conflict("entry", "belongs to another campaign"));
            }
            let origin_id = reversed.origin_entry_id;
            let before = origin_sum(write, origin_id).await?;
            if entry.capped && before + entry.amount_minor < 0 {
                return Err(StoreError::conflict(
                    "amount",
                    format!(
                        "must not exceed what is left to reverse ({})",
                        entry.currency.format_minor(before.max(0))
                    ),
                ));
            }
            (Some(origin_id), Some(before), DonorKey::Kept(reversed.donor_key))
        }
        None => (
            None,
            None,
            DonorKey::Found(super::donors::donor_key_for(write, &entry.donor.key(&random_hex())).await?),
        ),
    };
    let (donor_key, minted) = match donor_key {
        DonorKey::Kept(key) => (key, false),
        DonorKey::Found((key, minted)) => (key, minted),
    };

    super::matching::check_settlement(write, entry).await?;
    let recorded_at = stored_instant(now());
    let sql = format!(
        "INSERT INTO ledger_entries (campaign_id, branch_id, kind, source, method, amount_minor, fee_minor, \
         net_minor, currency, donor_key, anonymous, recurring, \
         received_on, recorded_at, recorded_by, reference, reason, reverses_entry_id, origin_entry_id, \
         idempotency_key, stripe_payment_intent, stripe_charge, stripe_invoice, stripe_subscription, \
         stripe_balance_transaction, stripe_refund, stripe_dispute, presented_amount_minor, presented_currency, received_at, batch_id, \
         source_ref, match_offer_id, rate, rate_on, rate_source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING {ENTRY_RETURNING}",
    );
    let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(entry.campaign_id)
        .bind(entry.branch_id)
        .bind(entry.kind.as_str())
        .bind(entry.source.as_str())
        .bind(&entry.method)
        .bind(entry.amount_minor)
        .bind(entry.fee_minor)
        .bind(entry.net_minor())
        .bind(entry.currency.code())
        .bind(&donor_key)
        .bind(entry.donor.anonymous)
        .bind(entry.recurring)
        .bind(entry.received_on.format("%Y-%m-%d").to_string())
        .bind(&recorded_at)
        .bind(&entry.recorded_by)
        .bind(&entry.reference)
        .bind(&entry.reason)
        .bind(reverses_entry_id)
        .bind(origin_entry_id)
        .bind(&entry.idempotency_key)
        .bind(&entry.stripe.payment_intent)
        .bind(&entry.stripe.charge)
        .bind(&entry.stripe.invoice)
        .bind(&entry.stripe.subscription)
        .bind(&entry.stripe.balance_transaction)
        .bind(&entry.stripe.refund)
        .bind(&entry.stripe.dispute)
        .bind(entry.presented.map(|(amount, _)| amount))
        .bind(entry.presented.map(|(_, currency)| currency.code()))
        .bind(entry.received_at.map(stored_instant))
        .bind(entry.batch_id)
        .bind(&entry.source_ref)
        .bind(entry.match_offer_id)
        .bind(entry.rate.as_ref().map(|rate| rate.rate.to_string()))
        .bind(entry.rate.as_ref().map(|rate| rate.on.to_string()))
        .bind(entry.rate.as_ref().map(|rate| rate.source.clone()))
        .fetch_optional(&mut *write.tx)
        .await;
    let recorded = match inserted {
        Ok(Some(row)) => {
            let mut recorded = entry_from_row(&row)?;
            super::donors::write_details(write, recorded.id, &entry.donor).await?;
            recorded.donor.name.clone_from(&entry.donor.name);
            recorded.donor.email.clone_from(&entry.donor.email);
            recorded.donor.message.clone_from(&entry.donor.message);
            recorded
        }
        // The key was recorded before, or by a concurrent writer first (PostgreSQL waited
        // for it to commit): this is a replay of what was written.
        Ok(None) => {
            if minted {
                super::donors::unmint_donor_key(write, &donor_key).await?;
            }
            let key = entry.idempotency_key.as_deref().unwrap_or_default();
            let existing =
                entry_by_idempotency_key(write, key).await?.ok_or(StoreError::NotFound("entry"))?;
            return Ok(RecordOutcome::Replayed(existing));
        }
        Err(error) => return Err(error.into()),
    };

    if let (Some(origin_id), Some(before)) = (origin_entry_id, origin_before) {
        flag_over_reversal(write, entry, &recorded, origin_id, before).await?;
    }

    // The match offers it may change, locked before the donor's row (one lock order for all).
    let offers = super::matching::lock_offers(write, entry, origin_entry_id.zip(origin_before)).await?;

    // The donor's sum comes back from its row, which says whether the donor now counts (or
    // no longer does); the campaign's figures, the donor count with them, move at commit.
    let donor_after = refuse_overflow(
        sqlx::query(
            "INSERT INTO donor_totals (campaign_id, donor_key, gross_minor) VALUES ($1, $2, $3) \
             ON CONFLICT (campaign_id, donor_key) DO UPDATE SET gross_minor = donor_totals.gross_minor + excluded.gross_minor \
             RETURNING gross_minor",
        )
        .bind(entry.campaign_id)
        .bind(&donor_key)
        .bind(entry.amount_minor)
        .fetch_optional(&mut *write.tx)
        .await,
        &["gross_minor"],
    )?
    .ok_or(StoreError::NotFound("donor"))?
    .try_get::<i64, _>("gross_minor")?;
    let change = totals_change(EntryFacts {
        kind: entry.kind,
        source: entry.source,
        amount_minor: entry.amount_minor,
        net_minor: entry.net_minor(),
        origin_before_minor: origin_before,
        donor_before_minor: donor_after - entry.amount_minor,
    });
    write.add_to_totals(entry.campaign_id, entry.branch_id, &change)?;
    super::matching::accrue(
        write,
        entry,
        &recorded,
        donor_after - entry.amount_minor,
        origin_entry_id.zip(origin_before),
        &offers,
    )
    .await?;
    write.emit(EventKind::of_entry(&recorded), &EntryBody::new(&recorded));
    Ok(RecordOutcome::Recorded(recorded))
}

/// A reversal Stripe reported that takes a gift below zero is recorded (it is a fact) and
/// flags the gift for a treasurer; money Stripe gives back that brings it to zero or more
/// closes the flag.
async fn flag_over_reversal(
    write: &mut WriteTx,
    entry: &NewEntry,
    recorded: &Entry,
    gift_id: i64,
    before: i64,
) -> Result<(), StoreError> {
    let after = before + entry.amount_minor;
    let currency = entry.currency;
    if entry.amount_minor < 0 && after < 0 {
        let taken_by = [&entry.stripe.refund, &entry.stripe.dispute]
            .into_iter()
            .flatten()
            .next()
            .map_or_else(String::new, |id| format!(" ({id})"));
        let flag = NewFlag {
            kind: FlagKind::OverReversed,
            subject: format!("over_reversed:{}", recorded.id),
            campaign_id: entry.campaign_id,
            branch_id: entry.branch_id,
            entry_id: Some(gift_id),
            stripe_charge: entry.stripe.charge.as_deref(),
            detail: format!(
                "Stripe's {}{taken_by} took {} {currency} from gift #{gift_id} when {} {currency} was left: \
                 the gift is over-reversed by {} {currency} (entry #{})",
                entry.kind.as_str(),
                currency.format_minor(-entry.amount_minor),
                currency.format_minor(before),
                currency.format_minor(-after),
                recorded.id
            ),
            reported: serde_json::json!({
                "entry": recorded.id,
                "taken": currency.format_minor(-entry.amount_minor),
                "left_before": currency.format_minor(before),
                "over_by": currency.format_minor(-after),
                "currency": currency.code(),
            }),
            held: None,
        };
        raise_flag_in(write, &flag).await?;
    } else if entry.amount_minor > 0 && before < 0 && after >= 0 {
        close_over_reversals_in(write, gift_id, recorded.id).await?;
    }
    Ok(())
}

async fn entry_in(write: &mut WriteTx, id: i64) -> Result<Option<Entry>, StoreError> {
    let sql = format!("SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *write.tx).await?;
    row.as_ref().map(entry_from_row).transpose()
}

pub(super) async fn entry_by_idempotency_key(
    write: &mut WriteTx,
    key: &str,
) -> Result<Option<Entry>, StoreError> {
    let sql = format!("SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.idempotency_key = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key).fetch_optional(&mut *write.tx).await?;
    row.as_ref().map(entry_from_row).transpose()
}

async fn origin_sum(write: &mut WriteTx, origin_id: i64) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM ledger_entries \
         WHERE id = $1 OR origin_entry_id = $1",
    )
    .bind(origin_id)
    .fetch_one(&mut *write.tx)
    .await?;
    Ok(row.try_get("total")?)
}

/// An entry as `scope` may see it: without who gave, unless the scope sees donors.
pub(super) fn in_scope(scope: &Scope, mut entry: Entry) -> Entry {
    if !scope.sees_donors() {
        entry.donor.name = None;
        entry.donor.email = None;
        entry.donor_key = String::new();
    }
    entry
}

pub(super) fn random_hex() -> String {
    let mut bytes = [0_u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn entry_from_row(row: &AnyRow) -> Result<Entry, StoreError> {
    let kind: String = row.try_get("kind")?;
    let source: String = row.try_get("source")?;
    let currency: String = row.try_get("currency")?;
    let id: i64 = row.try_get("id")?;
    Ok(Entry {
        id,
        campaign_id: row.try_get("campaign_id")?,
        campaign_slug: Slug::from_stored(row.try_get("campaign_slug")?),
        branch_id: row.try_get("branch_id")?,
        branch_slug: row.try_get::<Option<String>, _>("branch_slug")?.map(Slug::from_stored),
        kind: read_kind(&kind)?,
        source: read_source(&source)?,
        method: row.try_get("method")?,
        amount_minor: row.try_get("amount_minor")?,
        fee_minor: row.try_get("fee_minor")?,
        net_minor: row.try_get("net_minor")?,
        currency: read_currency(&currency)?,
        donor_key: row.try_get("donor_key")?,
        donor: Donor {
            name: row.try_get("donor_name")?,
            email: row.try_get("donor_email")?,
            anonymous: read_flag(row, "anonymous")?,
            message: row.try_get("public_message")?,
        },
        recurring: read_flag(row, "recurring")?,
        received_on: read_date(row.try_get("received_on")?)?,
        recorded_at: read_instant(row.try_get("recorded_at")?)?,
        recorded_by: row.try_get("recorded_by")?,
        reference: row.try_get("reference")?,
        reason: row.try_get("reason")?,
        reverses_entry_id: row.try_get("reverses_entry_id")?,
        origin_entry_id: row.try_get::<Option<i64>, _>("origin_entry_id")?.unwrap_or(id),
        stripe: StripeRefs {
            payment_intent: row.try_get("stripe_payment_intent")?,
            charge: row.try_get("stripe_charge")?,
            invoice: row.try_get("stripe_invoice")?,
            subscription: row.try_get("stripe_subscription")?,
            balance_transaction: row.try_get("stripe_balance_transaction")?,
            refund: row.try_get("stripe_refund")?,
            dispute: row.try_get("stripe_dispute")?,
            payout: row.try_get("stripe_payout")?,
        },
        presented: match (
            row.try_get::<Option<i64>, _>("presented_amount_minor")?,
            row.try_get::<Option<String>, _>("presented_currency")?,
        ) {
            (Some(amount), Some(code)) => Some((amount, read_currency(&code)?)),
            _ => None,
        },
        rate: read_applied_rate(row)?,
        received_at: row
            .try_get::<Option<String>, _>("received_at")?
            .as_deref()
            .map(read_instant)
            .transpose()?,
        batch_id: row.try_get("batch_id")?,
        batch_reference: row.try_get("batch_reference")?,
        source_ref: row.try_get("source_ref")?,
        match_offer_id: row.try_get("match_offer_id")?,
    })
}

/// The rate an entry's money was counted at (`rate`, `rate_on`, `rate_source`), if any.
pub(super) fn read_applied_rate(
    row: &AnyRow,
) -> Result<Option<crate::ledger::entry::AppliedRate>, StoreError> {
    applied_rate([
        row.try_get::<Option<String>, _>("rate")?.as_deref(),
        row.try_get::<Option<String>, _>("rate_on")?.as_deref(),
        row.try_get::<Option<String>, _>("rate_source")?.as_deref(),
    ])
}

/// The rate, its day and its source as stored, read back.
pub(super) fn applied_rate(
    parts: [Option<&str>; 3],
) -> Result<Option<crate::ledger::entry::AppliedRate>, StoreError> {
    let [Some(rate), Some(on), Some(source)] = parts else {
        return Ok(None);
    };
    Ok(Some(crate::ledger::entry::AppliedRate {
        rate: rate.parse().map_err(|_| StoreError::Corrupt(format!("entry rate {rate}")))?,
        on: read_date(on)?,
        source: source.to_owned(),
    }))
}
