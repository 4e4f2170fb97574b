//! Annual statements: the year's entries as statements read them, the statements issued
//! (numbered in order within their year, never changed), and their emails in the outbox.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, is_unique_violation, now, read_date, read_instant, stored_instant};
use crate::ledger::statements::{Draft, Issued, StatementBody, YearEntry};

/// A statement as issued.
#[derive(Clone, Debug)]
pub struct StoredStatement {
    pub id: i64,
    pub year: i32,
    pub number: i64,
    pub donor_key: String,
    pub campaign_id: Option<i64>,
    pub locale: String,
    pub body: StatementBody,
    pub replaces: Option<i64>,
    /// The number of the statement it replaces.
    pub replaces_number: Option<i64>,
    /// The statement that replaced it, if one did.
    pub replaced_by: Option<i64>,
    pub issued_at: DateTime<Utc>,
    /// The day it was issued, in the organization's time zone.
    pub issued_on: NaiveDate,
    pub issued_by: String,
    /// Its email: `None` never queued, else whether it went (`sent`, `pending`, `cancelled`,
    /// or `failed`: its tries ran out, and the next `--send` tries again).
    pub email: Option<&'static str>,
}

const COLUMNS: &str = "s.id, s.year, s.number, s.donor_key, s.campaign_id, s.locale, s.body, s.replaces_id, \
     s.issued_at, s.issued_on, s.issued_by, sa.name AS addressee_name, sa.email AS addressee_email, \
     (SELECT r.number FROM statements r WHERE r.id = s.replaces_id) AS replaces_number, \
     (SELECT n.id FROM statements n WHERE n.replaces_id = s.id) AS replaced_by, \
     (SELECT CASE WHEN o.sent_at IS NOT NULL THEN 'sent' WHEN o.cancelled_at IS NOT NULL THEN 'cancelled' \
      WHEN o.send_after IS NULL THEN 'failed' ELSE 'pending' END \
      FROM outbox_emails o WHERE o.once_key = 'statement:' || CAST(s.id AS TEXT)) AS email_state";

/// The statements with whom each is made out to (kept beside it, so that erasing a person
/// changes no statement).
const FROM: &str = "FROM statements s LEFT JOIN statement_addressees sa ON sa.statement_id = s.id";

/// A statement's body as kept: what it says, its addressee (kept beside it) put back.
fn body_from_row(row: &AnyRow) -> Result<StatementBody, StoreError> {
    let body: String = row.try_get("body")?;
    let mut body: StatementBody = serde_json::from_str(&body)
        .map_err(|error| StoreError::Corrupt(format!("statement body: {error}")))?;
    body.name = row.try_get("addressee_name")?;
    body.email = row.try_get("addressee_email")?;
    Ok(body)
}

fn statement_from_row(row: &AnyRow) -> Result<StoredStatement, StoreError> {
    let email: Option<String> = row.try_get("email_state")?;
    Ok(StoredStatement {
        id: row.try_get("id")?,
        year: i32::try_from(row.try_get::<i64, _>("year")?).unwrap_or_default(),
        number: row.try_get("number")?,
        donor_key: row.try_get("donor_key")?,
        campaign_id: row.try_get("campaign_id")?,
        locale: row.try_get("locale")?,
        body: body_from_row(row)?,
        replaces: row.try_get("replaces_id")?,
        replaces_number: row.try_get("replaces_number")?,
        replaced_by: row.try_get("replaced_by")?,
        issued_at: read_instant(&row.try_get::<String, _>("issued_at")?)?,
        issued_on: read_date(&row.try_get::<String, _>("issued_on")?)?,
        issued_by: row.try_get("issued_by")?,
        email: match email.as_deref() {
            Some("sent") => Some("sent"),
            Some("cancelled") => Some("cancelled"),
            Some("failed") => Some("failed"),
            Some(_) => Some("pending"),
            None => None,
        },
    })
}

impl Store {
    /// Every gift received in `year` (its day in `zone`) and every reversal of one, whenever
    /// it came, of one campaign or all, as statements read them.
    pub async fn year_entries(
        &self,
        year: i32,
        zone: chrono_tz::Tz,
        campaign_id: Option<i64>,
    ) -> Result<Vec<YearEntry>, StoreError> {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or(StoreError::NotFound("year"))?;
        let last = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(StoreError::NotFound("year"))?;
        // A day either side: an entry's day in the zone may differ from its stored day.
        // A reversal counts in the year of the gift it reverses: read by its gift's day, a
        // day either side (a day in the zone may differ from the stored one).
        let rows = sqlx::query(
            // Gifts by their day, then what reversed them by their gift's (each read through an
            // index: received_on, then origin_entry_id).
            "SELECT e.id, e.kind, e.amount_minor, e.currency, e.donor_key, pd.name AS donor_name, pd.email AS donor_email, \
             e.recurring, e.received_on, e.received_at, e.received_on AS gift_on, e.received_at AS gift_at, \
             c.title_en, c.title_fr \
             FROM ledger_entries e JOIN campaigns c ON c.id = e.campaign_id \
             LEFT JOIN donor_details pd ON pd.entry_id = e.id \
             WHERE e.origin_entry_id IS NULL AND e.received_on >= $1 AND e.received_on <= $2 \
             AND ($3 IS NULL OR e.campaign_id = $3) \
             UNION ALL \
             SELECT e.id, e.kind, e.amount_minor, e.currency, e.donor_key, pd.name AS donor_name, pd.email AS donor_email, \
             e.recurring, e.received_on, e.received_at, o.received_on AS gift_on, o.received_at AS gift_at, \
             c.title_en, c.title_fr \
             FROM ledger_entries o JOIN ledger_entries e ON e.origin_entry_id = o.id \
             JOIN campaigns c ON c.id = e.campaign_id LEFT JOIN donor_details pd ON pd.entry_id = e.id \
             WHERE o.received_on >= $1 AND o.received_on <= $2 AND ($3 IS NULL OR e.campaign_id = $3) \
             ORDER BY 1",
        )
        .bind(first.pred_opt().unwrap_or(first).to_string())
        .bind(last.succ_opt().unwrap_or(last).to_string())
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        let day_of = |at: Option<String>, on: String| -> Result<NaiveDate, StoreError> {
            match at.as_deref() {
                Some(at) => Ok(read_instant(at)?.with_timezone(&zone).date_naive()),
                None => read_date(&on),
            }
        };
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let gift_day = day_of(row.try_get("gift_at")?, row.try_get("gift_on")?)?;
            if gift_day.year() != year {
                continue;
            }
            let day = day_of(row.try_get("received_at")?, row.try_get("received_on")?)?;
            let kind: String = row.try_get("kind")?;
            entries.push(YearEntry {
                id: row.try_get("id")?,
                donor_key: row.try_get("donor_key")?,
                donor_name: row.try_get("donor_name")?,
                donor_email: row.try_get("donor_email")?,
                gift: kind == "donation",
                recurring: super::read_flag(row, "recurring")?,
                amount_minor: row.try_get("amount_minor")?,
                currency: row.try_get("currency")?,
                day,
                campaign_title: crate::ledger::campaign::Localized {
                    en: row.try_get::<Option<String>, _>("title_en")?.unwrap_or_default(),
                    fr: row.try_get::<Option<String>, _>("title_fr")?.unwrap_or_default(),
                },
            });
        }
        Ok(entries)
    }

    /// The language each donor (by lower-cased email) last gave in online (a checkout paid).
    pub async fn donor_locales(&self) -> Result<HashMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT LOWER(donor_email) AS email, locale FROM checkout_intents \
             WHERE donor_email IS NOT NULL AND status = 'completed' ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut locales = HashMap::new();
        for row in &rows {
            locales.insert(row.try_get("email")?, row.try_get("locale")?);
        }
        Ok(locales)
    }

    /// The statements of `year` (for one campaign, or made for all) in force: not replaced.
    pub async fn statements_in_force(
        &self,
        year: i32,
        campaign_id: Option<i64>,
    ) -> Result<HashMap<String, Issued>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.donor_key, s.locale, s.body, sa.name AS addressee_name, sa.email AS addressee_email \
             FROM statements s LEFT JOIN statement_addressees sa ON sa.statement_id = s.id WHERE s.year = $1 \
             AND COALESCE(s.campaign_id, 0) = COALESCE($2, 0) \
             AND NOT EXISTS (SELECT 1 FROM statements n WHERE n.replaces_id = s.id)",
        )
        .bind(i64::from(year))
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        let mut issued = HashMap::new();
        for row in &rows {
            let body = body_from_row(row)?;
            issued.insert(
                row.try_get("donor_key")?,
                Issued { id: row.try_get("id")?, locale: row.try_get("locale")?, body },
            );
        }
        Ok(issued)
    }

    /// Issues `draft` as the next statement of `year` (replacing `replaces`, if given).
    pub async fn issue_statement(
        &self,
        year: i32,
        campaign_id: Option<i64>,
        draft: &Draft,
        replaces: Option<i64>,
        issued_by: &str,
        zone: chrono_tz::Tz,
    ) -> Result<StoredStatement, StoreError> {
        // What it says is kept as issued; whom it is made out to, beside it.
        let mut body =
            serde_json::to_value(&draft.body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        if let Some(fields) = body.as_object_mut() {
            fields.remove("name");
            fields.remove("email");
        }
        let body = body.to_string();
        let total: i64 = draft.body.totals.iter().map(|total| total.total_minor).sum();
        let at = now();
        let mut write = self.begin_write().await?;
        // The year's next number, under the write gate (SQLite) or the unique (year, number)
        // (a concurrent run, on PostgreSQL or from another SQLite process, is refused with a
        // conflict to run again, rather than share a number).
        // Not for a donor forgotten since the year's entries were read.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO statements (year, number, donor_key, campaign_id, locale, body, total_minor, replaces_id, \
             issued_at, issued_on, issued_by) \
             SELECT $1, (SELECT COALESCE(MAX(number), 0) + 1 FROM statements WHERE year = $1), \
             $2, $3, $4, $5, $6, $7, $8, $9, $10 \
             WHERE NOT EXISTS (SELECT 1 FROM donors WHERE key = $2 AND forgotten_at IS NOT NULL) RETURNING id",
        )
        .bind(i64::from(year))
        .bind(&draft.donor_key)
        .bind(campaign_id)
        .bind(&draft.locale)
        .bind(&body)
        .bind(total)
        .bind(replaces)
        .bind(stored_instant(at))
        .bind(at.with_timezone(&zone).date_naive().to_string())
        .bind(issued_by)
        .fetch_optional(&mut *write.tx)
        .await
        .map_err(|error| {
            if is_unique_violation(&error) {
                StoreError::conflict("year", "statements are being made by another run at the same time: run it again")
            } else {
                error.into()
            }
        })?;
        let id = id.ok_or_else(|| {
            StoreError::conflict("donor", "was forgotten while the statements were made: make them again")
        })?;
        sqlx::query("INSERT INTO statement_addressees (statement_id, name, email) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&draft.body.name)
            .bind(&draft.body.email)
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        self.statement(id).await?.ok_or(StoreError::NotFound("statement"))
    }

    pub async fn statement(&self, id: i64) -> Result<Option<StoredStatement>, StoreError> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE s.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(statement_from_row).transpose()
    }

    /// Every statement of `year`, by number.
    pub async fn statements(&self, year: i32) -> Result<Vec<StoredStatement>, StoreError> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE s.year = $1 ORDER BY s.number");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(year)).fetch_all(self.pool()).await?;
        rows.iter().map(statement_from_row).collect()
    }

    /// Every statement issued under any of `keys` (one person's), newest year first, by number.
    pub async fn statements_of(&self, keys: &[String]) -> Result<Vec<StoredStatement>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE s.donor_key IN ({}) ORDER BY s.year DESC, s.number",
            super::placeholders(keys.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(statement_from_row).collect()
    }

    /// Queues the email of each statement of `year` (made for `campaign_id`, or for every
    /// campaign) in force that has an address and was never queued, or whose email failed or
    /// was put aside; how many were queued.
    pub async fn queue_statement_emails(
        &self,
        year: i32,
        campaign_id: Option<i64>,
    ) -> Result<usize, StoreError> {
        let mut queued = 0;
        for statement in self.statements(year).await?.into_iter().filter(|s| s.campaign_id == campaign_id) {
            let Some(email) = statement.body.email.as_deref() else { continue };
            if statement.replaced_by.is_some() || matches!(statement.email, Some("sent" | "pending")) {
                continue;
            }
            let mut write = self.begin_write().await?;
            let stamp = stored_instant(now());
            let done = sqlx::query(
                "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, data, once_key, send_after) \
                 VALUES ($1, '', '', $2, 'annual_statement', $3, $4, $2) \
                 ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO UPDATE SET send_after = excluded.send_after, \
                 cancelled_at = NULL, attempts = 0, last_error = NULL \
                 WHERE outbox_emails.sent_at IS NULL AND (outbox_emails.cancelled_at IS NOT NULL OR outbox_emails.send_after IS NULL)",
            )
            .bind(email)
            .bind(&stamp)
            .bind(serde_json::json!({"statement": statement.id}).to_string())
            .bind(format!("statement:{}", statement.id))
            .execute(&mut *write.tx)
            .await?;
            write.wake_sender |= done.rows_affected() > 0;
            queued += usize::try_from(done.rows_affected()).unwrap_or(0);
            write.commit().await?;
        }
        Ok(queued)
    }
}
