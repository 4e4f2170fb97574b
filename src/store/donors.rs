//! Donors seen whole: the merge records, and the figures and entries of a set of donor keys.

use chrono::NaiveDate;
use sqlx::Row;

use super::entries::{ENTRY_COLUMNS, ENTRY_FROM, entry_from_row};
use super::{Store, StoreError, WriteTx, now, placeholders, read_date, read_instant, stored_instant};
use crate::ledger::donors::Merge;
use crate::ledger::entry::{Donor, Entry};

/// The key the ledger keeps a gift under, for what the gift says of its donor (`lookup`, as
/// `Donor::key` makes it: `email:…`, `name:…` or `unnamed:…`): the donor's opaque key
/// (`d-…`), made the first time they give, and whether it was made now. The lookup stays out
/// of the ledger, in `donors`, so that erasing a person leaves their key naming no one. An
/// `unnamed:` key names no one already and is kept as it is.
///
/// No row is locked for a known donor (the lock order stays: offers, then the donor's
/// totals); a new one's row is new. Two first gifts of one donor at once: the second waits
/// for the first's row and takes its key.
pub(super) async fn donor_key_for(write: &mut WriteTx, lookup: &str) -> Result<(String, bool), StoreError> {
    if lookup.starts_with("unnamed:") {
        return Ok((lookup.to_owned(), false));
    }
    let minted: Option<String> = sqlx::query_scalar(
        "INSERT INTO donors (key, lookup) VALUES ($1, $2) ON CONFLICT (lookup) DO NOTHING RETURNING key",
    )
    .bind(format!("d-{}", super::entries::random_hex()))
    .bind(lookup)
    .fetch_optional(&mut *write.tx)
    .await?;
    if let Some(key) = minted {
        return Ok((key, true));
    }
    let key: String = sqlx::query_scalar("SELECT key FROM donors WHERE lookup = $1")
        .bind(lookup)
        .fetch_one(&mut *write.tx)
        .await?;
    Ok((key, false))
}

/// Takes back a key made for a gift that turned out to be recorded already (a replay): a
/// forgotten donor's replayed gift leaves no new record of them.
pub(super) async fn unmint_donor_key(write: &mut WriteTx, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM donors WHERE key = $1").bind(key).execute(&mut *write.tx).await?;
    Ok(())
}

/// Whether `text` is a record's key as shown (`d-` and hex, or `unnamed:…`), rather than an
/// email or a name (an address may well begin with `d-`).
fn is_record_key(text: &str) -> bool {
    text.starts_with("unnamed:")
        || text
            .strip_prefix("d-")
            .is_some_and(|hex| (16..=32).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Keeps the name, email and message a gift came with beside its entry (nothing when it has
/// none of them).
pub(super) async fn write_details(
    write: &mut WriteTx,
    entry_id: i64,
    donor: &Donor,
) -> Result<(), StoreError> {
    if donor.name.is_none() && donor.email.is_none() && donor.message.is_none() {
        return Ok(());
    }
    sqlx::query("INSERT INTO donor_details (entry_id, name, email, message) VALUES ($1, $2, $3, $4)")
        .bind(entry_id)
        .bind(&donor.name)
        .bind(&donor.email)
        .bind(&donor.message)
        .execute(&mut *write.tx)
        .await?;
    Ok(())
}

/// One donor key's figures in one currency.
#[derive(Clone, Debug)]
pub struct DonorFigures {
    pub key: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub currency: String,
    pub gifts: i64,
    /// Gifts less what reversed them.
    pub total_minor: i64,
    pub last_on: NaiveDate,
}

impl Store {
    /// The key of the donor `text` names: a key as shown (`d-…`, `unnamed:…`), else an email
    /// or a name a gift was given under (`key_of`); `None` when no gift was.
    pub async fn donor_key_named(&self, text: &str) -> Result<Option<String>, StoreError> {
        let text = text.trim();
        if is_record_key(text) {
            return Ok(Some(text.to_owned()));
        }
        self.donor_key_of(&crate::ledger::donors::key_of(text)).await
    }

    /// The key of the donor an email finds, if they gave under it and were not forgotten.
    pub async fn donor_key_of_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        self.donor_key_of(&crate::ledger::entry::email_key(email.trim())).await
    }

    async fn donor_key_of(&self, lookup: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT key FROM donors WHERE lookup = $1")
            .bind(lookup)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The email addresses `keys` were found by (lower-cased), for what is kept by address:
    /// subscriptions, checkouts, emails.
    pub async fn emails_of_donors(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT lookup FROM donors WHERE key IN ({}) AND lookup LIKE 'email:%' ORDER BY lookup",
            placeholders(keys.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for key in keys {
            query = query.bind(key);
        }
        let lookups = query.fetch_all(self.pool()).await?;
        Ok(lookups.iter().filter_map(|lookup| lookup.strip_prefix("email:")).map(str::to_owned).collect())
    }

    /// Every merge record, oldest first.
    pub async fn donor_merges(&self) -> Result<Vec<Merge>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, from_key, into_key, undoes_id, reason, at, by_actor FROM donor_merges ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Merge {
                    id: row.try_get("id")?,
                    from_key: row.try_get("from_key")?,
                    into_key: row.try_get("into_key")?,
                    undoes: row.try_get("undoes_id")?,
                    reason: row.try_get("reason")?,
                    at: read_instant(&row.try_get::<String, _>("at")?)?,
                    by: row.try_get("by_actor")?,
                })
            })
            .collect()
    }

    /// Appends a merge record (or, with `undoes`, the undoing of one); its id.
    pub async fn record_merge(
        &self,
        from_key: &str,
        into_key: &str,
        undoes: Option<i64>,
        reason: Option<&str>,
        by: &str,
    ) -> Result<i64, StoreError> {
        let mut write = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO donor_merges (from_key, into_key, undoes_id, reason, at, by_actor) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(from_key)
        .bind(into_key)
        .bind(undoes)
        .bind(reason)
        .bind(stored_instant(now()))
        .bind(by)
        .fetch_one(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(id)
    }

    /// The donor keys whose name, email or key holds `words` (any case), at most `limit`.
    pub async fn find_donor_keys(&self, words: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        let pattern = format!(
            "%{}%",
            words.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        let rows = sqlx::query(
            "SELECT e.donor_key FROM ledger_entries e LEFT JOIN donor_details pd ON pd.entry_id = e.id \
             WHERE e.donor_key NOT LIKE 'unnamed:%' AND \
             (LOWER(COALESCE(pd.name, '')) LIKE $1 ESCAPE '\\' OR LOWER(COALESCE(pd.email, '')) LIKE $1 ESCAPE '\\' \
              OR e.donor_key LIKE $1 ESCAPE '\\') \
             GROUP BY e.donor_key ORDER BY MAX(e.id) DESC LIMIT $2",
        )
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("donor_key")?)).collect()
    }

    /// Each of `keys`' figures, a row a key and currency.
    pub async fn donor_figures(&self, keys: &[String]) -> Result<Vec<DonorFigures>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT e.donor_key, MAX(pd.name) AS name, MAX(pd.email) AS email, e.currency, \
             CAST(SUM(CASE WHEN e.kind = 'donation' THEN 1 ELSE 0 END) AS BIGINT) AS gifts, \
             CAST(SUM(e.amount_minor) AS BIGINT) AS total, MAX(e.received_on) AS last_on \
             FROM ledger_entries e LEFT JOIN donor_details pd ON pd.entry_id = e.id \
             WHERE e.donor_key IN ({}) GROUP BY e.donor_key, e.currency",
            placeholders(keys.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(DonorFigures {
                    key: row.try_get("donor_key")?,
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                    currency: row.try_get("currency")?,
                    gifts: row.try_get("gifts")?,
                    total_minor: row.try_get("total")?,
                    last_on: read_date(&row.try_get::<String, _>("last_on")?)?,
                })
            })
            .collect()
    }

    /// Every entry under any of `keys`, by day.
    pub async fn entries_of_donors(&self, keys: &[String]) -> Result<Vec<Entry>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} {ENTRY_FROM} WHERE e.donor_key IN ({}) ORDER BY e.received_on, e.id",
            placeholders(keys.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(entry_from_row).collect()
    }
}

/// What the checkouts and the outbox hold about one address, for `appeal donor export`.
impl Store {
    /// Every checkout started with `email` (any case), oldest first, as stored.
    pub async fn checkouts_of(&self, email: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, c.slug, i.billing_interval, i.amount_minor, i.fee_cover_minor, i.currency, i.donor_name, \
             i.donor_email, i.public_message, i.locale, i.status, i.created_at FROM checkout_intents i \
             JOIN campaigns c ON c.id = i.campaign_id WHERE LOWER(i.donor_email) = LOWER($1) ORDER BY i.created_at, i.id",
        )
        .bind(email)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(serde_json::json!({
                    "id": row.try_get::<String, _>("id")?,
                    "campaign": row.try_get::<String, _>("slug")?,
                    "interval": row.try_get::<String, _>("billing_interval")?,
                    "amount_minor": row.try_get::<i64, _>("amount_minor")?,
                    "fee_cover_minor": row.try_get::<i64, _>("fee_cover_minor")?,
                    "currency": row.try_get::<String, _>("currency")?,
                    "name": row.try_get::<Option<String>, _>("donor_name")?,
                    "email": row.try_get::<Option<String>, _>("donor_email")?,
                    "message": row.try_get::<Option<String>, _>("public_message")?,
                    "language": row.try_get::<String, _>("locale")?,
                    "status": row.try_get::<String, _>("status")?,
                    "created_at": row.try_get::<String, _>("created_at")?,
                }))
            })
            .collect()
    }

    /// Every email written to `address` (any case) and still kept, oldest first.
    pub async fn emails_to(&self, address: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, subject, body, created_at, sent_at, cancelled_at FROM outbox_emails \
             WHERE LOWER(to_address) = LOWER($1) ORDER BY id",
        )
        .bind(address)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(serde_json::json!({
                    "kind": row.try_get::<Option<String>, _>("kind")?,
                    "subject": row.try_get::<String, _>("subject")?,
                    "body": row.try_get::<String, _>("body")?,
                    "created_at": row.try_get::<String, _>("created_at")?,
                    "sent_at": row.try_get::<Option<String>, _>("sent_at")?,
                    "put_aside_at": row.try_get::<Option<String>, _>("cancelled_at")?,
                }))
            })
            .collect()
    }
}
