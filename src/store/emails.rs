//! The outbox of emails appeal sends on its own (an endpoint disabled, a gift's receipt, a
//! supporter's payment that failed or recovered): each written in the transaction of what
//! causes it, sent by the background sender (`crate::webhooks`) and tried again on its
//! schedule (a receipt, until the mail server takes it). A supporter's email is written at
//! most once under its `once_key`, and its text is made when it is sent (`crate::mail`), in
//! the supporter's language.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, WriteTx, now, stored_instant};
use crate::ledger::entry::Entry;

/// Queues an email to every admin of the whole organization who may sign in, sent by the
/// background sender once the transaction commits.
pub(crate) async fn queue_admin_email_in(
    write: &mut WriteTx,
    subject: &str,
    body: &str,
) -> Result<(), StoreError> {
    let now = stored_instant(now());
    sqlx::query(
        "INSERT INTO outbox_emails (to_address, subject, body, created_at, next_attempt_at) \
         SELECT email, $1, $2, $3, $3 FROM users WHERE role = 'admin' AND disabled_at IS NULL AND branch IS NULL",
    )
    .bind(subject)
    .bind(body)
    .bind(&now)
    .execute(&mut *write.tx)
    .await?;
    write.wake_sender = true;
    Ok(())
}

/// An email waiting in the outbox.
#[derive(Clone, Debug)]
pub struct QueuedEmail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    /// A supporter's email: which, its subscription (none for a receipt or a statement) and
    /// what the text needs; written when sent.
    pub supporter: Option<SupporterEmail>,
}

/// What a supporter is told: about a gift, their subscription, or their year's gifts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupporterEmailKind {
    /// An installment failed: Stripe tries again; the card can be changed.
    PaymentFailed,
    /// An installment that had failed went through.
    PaymentRecovered,
    /// A yearly subscription renews within a week.
    RenewalNotice,
    /// Stripe is about to try a failed installment for the last time.
    PaymentReminder,
    /// A donor's annual statement, the PDF attached (`data`: `statement`, its id).
    AnnualStatement,
    /// A gift's receipt (`data`: `entry`, its id, `campaign`, and `language` when the donor
    /// asked for it again in one). Not kept once sent.
    Receipt,
}

impl SupporterEmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentFailed => "payment_failed",
            Self::PaymentRecovered => "payment_recovered",
            Self::RenewalNotice => "renewal_notice",
            Self::PaymentReminder => "payment_reminder",
            Self::AnnualStatement => "annual_statement",
            Self::Receipt => "receipt",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "payment_failed" => Some(Self::PaymentFailed),
            "payment_recovered" => Some(Self::PaymentRecovered),
            "renewal_notice" => Some(Self::RenewalNotice),
            "payment_reminder" => Some(Self::PaymentReminder),
            "annual_statement" => Some(Self::AnnualStatement),
            "receipt" => Some(Self::Receipt),
            _ => None,
        }
    }
}

/// A supporter's email as queued: its kind, subscription, and the facts its text needs.
#[derive(Clone, Debug)]
pub struct SupporterEmail {
    pub kind: SupporterEmailKind,
    /// Empty for a receipt or a statement.
    pub subscription_id: String,
    /// JSON. About a subscription: `invoice`, and for a failure `next_attempt` (Unix seconds)
    /// when Stripe will try again. A statement's: `statement`. A receipt's: `entry`,
    /// `campaign` (its slug) and `language` (when the donor asked for it in one).
    pub data: serde_json::Value,
}

/// How long before Stripe's last try the donor is reminded.
const REMINDER_HOURS_BEFORE: i64 = 24;

/// Queues the failure notice of `invoice` to the donor of `subscription_id` (when their email
/// is known and the subscription has not ended), once however often Stripe reports the failure;
/// and keeps its reminder due a day before Stripe's next try (the sender sends it only before
/// the last try, `attempt_count` telling which), or puts it aside when Stripe tries no more.
pub(crate) async fn queue_payment_failed_in(
    write: &mut WriteTx,
    subscription_id: &str,
    invoice: &str,
    next_attempt: Option<i64>,
    attempt_count: i64,
) -> Result<(), StoreError> {
    let data =
        serde_json::json!({"invoice": invoice, "next_attempt": next_attempt, "attempt_count": attempt_count});
    let at = now();
    let stamp = stored_instant(at);
    let queued = sqlx::query(concat!(
        "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, subscription_id, data, once_key, send_after) \
         SELECT donor_email, '', '', $1, 'payment_failed', id, $2, $3, $1 FROM subscriptions \
         WHERE id = $4 AND donor_email IS NOT NULL AND status NOT IN ",
        super::stripe::ended_subscription_statuses!(),
        " ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO NOTHING"
    ))
    .bind(&stamp)
    .bind(data.to_string())
    .bind(format!("payment_failed:{invoice}"))
    .bind(subscription_id)
    .execute(&mut *write.tx)
    .await?;
    write.wake_sender |= queued.rows_affected() > 0;
    let reminder_key = format!("payment_reminder:{invoice}");
    match next_attempt.and_then(|at| DateTime::<Utc>::from_timestamp(at, 0)) {
        Some(next) => {
            let due = (next - chrono::Duration::hours(REMINDER_HOURS_BEFORE)).max(at);
            // A later failure moves the reminder on; one reported out of order does not move it back.
            let kept = sqlx::query(concat!(
                "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, subscription_id, data, once_key, \
                 send_after, stripe_attempt) \
                 SELECT donor_email, '', '', $1, 'payment_reminder', id, $2, $3, $4, $6 FROM subscriptions \
                 WHERE id = $5 AND donor_email IS NOT NULL AND status NOT IN ",
                super::stripe::ended_subscription_statuses!(),
                " ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO UPDATE SET data = excluded.data, \
                 send_after = excluded.send_after, stripe_attempt = excluded.stripe_attempt \
                 WHERE outbox_emails.sent_at IS NULL AND outbox_emails.cancelled_at IS NULL \
                 AND outbox_emails.stripe_attempt < excluded.stripe_attempt"
            ))
            .bind(&stamp)
            .bind(data.to_string())
            .bind(&reminder_key)
            .bind(stored_instant(due))
            .bind(subscription_id)
            .bind(attempt_count)
            .execute(&mut *write.tx)
            .await?;
            write.wake_sender |= kept.rows_affected() > 0;
        }
        None => {
            sqlx::query(
                "UPDATE outbox_emails SET cancelled_at = $1 WHERE once_key = $2 AND sent_at IS NULL AND cancelled_at IS NULL",
            )
            .bind(&stamp)
            .bind(&reminder_key)
            .execute(&mut *write.tx)
            .await?;
        }
    }
    Ok(())
}

/// An installment of `invoice` went through: a failure notice not sent yet is put aside (the
/// donor need not hear of it); one that was sent is followed by a thank-you, once.
pub(crate) async fn settle_payment_failed_in(write: &mut WriteTx, invoice: &str) -> Result<(), StoreError> {
    let failed = format!("payment_failed:{invoice}");
    // Most installments never failed: one read, and nothing more for them.
    let notice = sqlx::query("SELECT id FROM outbox_emails WHERE once_key = $1")
        .bind(&failed)
        .fetch_optional(&mut *write.tx)
        .await?;
    if notice.is_none() {
        return Ok(());
    }
    let now = stored_instant(now());
    sqlx::query(
        "UPDATE outbox_emails SET cancelled_at = $1 WHERE once_key IN ($2, $3) AND sent_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(&now)
    .bind(&failed)
    .bind(format!("payment_reminder:{invoice}"))
    .execute(&mut *write.tx)
    .await?;
    let queued = sqlx::query(
        "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, subscription_id, data, once_key, send_after) \
         SELECT to_address, '', '', $1, 'payment_recovered', subscription_id, $2, $3, $1 FROM outbox_emails \
         WHERE once_key = $4 AND sent_at IS NOT NULL \
         ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO NOTHING",
    )
    .bind(&now)
    .bind(serde_json::json!({"invoice": invoice}).to_string())
    .bind(format!("payment_recovered:{invoice}"))
    .bind(&failed)
    .execute(&mut *write.tx)
    .await?;
    write.wake_sender |= queued.rows_affected() > 0;
    Ok(())
}

/// Queues the receipt of a gift to `to`, written when it is sent: in `language` when given
/// (the donor asked for it again in one), else in the language of the checkout the gift
/// came from.
pub(crate) async fn queue_receipt_in(
    write: &mut WriteTx,
    gift: &Entry,
    to: &str,
    language: Option<&str>,
) -> Result<(), StoreError> {
    let stamp = stored_instant(now());
    sqlx::query(
        "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, data, send_after) \
         VALUES ($1, '', '', $2, 'receipt', $3, $2)",
    )
    .bind(to)
    .bind(&stamp)
    .bind(
        serde_json::json!({"entry": gift.id, "campaign": gift.campaign_slug, "language": language})
            .to_string(),
    )
    .execute(&mut *write.tx)
    .await?;
    write.wake_sender = true;
    Ok(())
}

/// A supporter's email as treasurers see it.
#[derive(Clone, Debug)]
pub struct SupporterEmailRecord {
    pub id: i64,
    pub kind: String,
    pub to: String,
    pub subscription_id: String,
    pub campaign: Option<String>,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl Store {
    /// Emails whose time has come, oldest first: the admins' (due by `next_attempt_at`) and
    /// the supporters' (due by `send_after`, never once put aside).
    pub async fn due_emails(&self, at: DateTime<Utc>, limit: i64) -> Result<Vec<QueuedEmail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, to_address, subject, body, attempts, kind, subscription_id, data FROM ( \
               SELECT * FROM outbox_emails WHERE sent_at IS NULL AND next_attempt_at <= $1 \
               UNION ALL \
               SELECT * FROM outbox_emails WHERE kind IS NOT NULL AND sent_at IS NULL AND cancelled_at IS NULL \
                 AND send_after <= $1 \
             ) due ORDER BY COALESCE(next_attempt_at, send_after), id LIMIT $2",
        )
        .bind(stored_instant(at))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: Option<String> = row.try_get("kind")?;
                let supporter = match kind.as_deref().and_then(SupporterEmailKind::parse) {
                    Some(kind) => {
                        let data: Option<String> = row.try_get("data")?;
                        Some(SupporterEmail {
                            kind,
                            subscription_id: row
                                .try_get::<Option<String>, _>("subscription_id")?
                                .unwrap_or_default(),
                            data: data.and_then(|data| serde_json::from_str(&data).ok()).unwrap_or_default(),
                        })
                    }
                    None => None,
                };
                Ok(QueuedEmail {
                    id: row.try_get("id")?,
                    to: row.try_get("to_address")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                    attempts: row.try_get("attempts")?,
                    supporter,
                })
            })
            .collect()
    }

    /// Queues a gift's receipt again, as its donor asked from their page, in `language`.
    pub async fn queue_receipt(&self, gift: &Entry, to: &str, language: &str) -> Result<(), StoreError> {
        let mut write = self.begin_write().await?;
        queue_receipt_in(&mut write, gift, to, Some(language)).await?;
        write.commit().await
    }

    /// Queues the notice of every yearly subscription that renews within `ahead` of `at` and has
    /// not had one for this renewal (one per subscription and period, however often it runs).
    /// Returns how many were queued.
    pub async fn queue_renewal_notices(
        &self,
        at: DateTime<Utc>,
        ahead: chrono::Duration,
    ) -> Result<u64, StoreError> {
        let now = stored_instant(at);
        // Looked for first without writing: the sender looks often, and most times there is none
        // (no write transaction, so nothing queues behind it at the SQLite write gate).
        let waiting = sqlx::query(
            "SELECT 1 AS found FROM subscriptions s WHERE s.billing_interval = 'year' \
             AND s.status IN ('active', 'trialing') AND s.cancel_at_period_end = $3 AND s.donor_email IS NOT NULL \
             AND s.current_period_end > $1 AND s.current_period_end <= $2 AND NOT EXISTS ( \
               SELECT 1 FROM outbox_emails o WHERE o.once_key = 'renewal_notice:' || s.id || ':' || s.current_period_end) \
             LIMIT 1",
        )
        .bind(&now)
        .bind(stored_instant(at + ahead))
        .bind(false)
        .fetch_optional(self.pool())
        .await?;
        if waiting.is_none() {
            return Ok(0);
        }
        let mut write = self.begin_write().await?;
        let queued = sqlx::query(
            "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, subscription_id, data, once_key, send_after) \
             SELECT donor_email, '', '', $1, 'renewal_notice', id, '{}', 'renewal_notice:' || id || ':' || current_period_end, $1 \
             FROM subscriptions WHERE billing_interval = 'year' AND status IN ('active', 'trialing') \
             AND cancel_at_period_end = $3 AND donor_email IS NOT NULL \
             AND current_period_end > $1 AND current_period_end <= $2 \
             ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO NOTHING",
        )
        .bind(&now)
        .bind(stored_instant(at + ahead))
        .bind(false)
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        write.wake_sender |= queued > 0;
        write.commit().await?;
        Ok(queued)
    }

    /// Keeps the text a supporter's email was written with, for treasurers to read.
    pub async fn set_email_text(&self, id: i64, subject: &str, body: &str) -> Result<(), StoreError> {
        // Not into an email put aside meanwhile: its donor may have been forgotten, and their
        // name must not come back with the text.
        sqlx::query(
            "UPDATE outbox_emails SET subject = $1, body = $2 WHERE id = $3 AND sent_at IS NULL AND cancelled_at IS NULL",
        )
            .bind(subject)
            .bind(body)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether an email is still to be sent (not sent, not put aside), just before sending it.
    pub async fn email_is_due(&self, id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM outbox_emails WHERE id = $1 AND sent_at IS NULL AND cancelled_at IS NULL",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Whether an installment of `invoice` is in the ledger (it was paid).
    pub async fn invoice_is_recorded(&self, invoice: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM ledger_entries WHERE stripe_invoice = $1 AND kind = 'donation' LIMIT 1",
        )
        .bind(invoice)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Holds a supporter's email back until `at` (a reminder before a try that is not the last).
    pub async fn postpone_email(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox_emails SET send_after = $1 WHERE id = $2 AND sent_at IS NULL")
            .bind(stored_instant(at))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Puts aside a supporter's email that can no longer be written (its subscription or gift
    /// gone).
    pub async fn cancel_email(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox_emails SET cancelled_at = $1 WHERE id = $2 AND sent_at IS NULL")
            .bind(stored_instant(now()))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The emails written to supporters, newest first (of one subscription, when given).
    pub async fn supporter_emails(
        &self,
        subscription_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SupporterEmailRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.kind, o.to_address, o.subscription_id, c.slug, o.subject, o.created_at, o.sent_at, \
             o.cancelled_at, o.attempts, o.last_error, o.data FROM outbox_emails o \
             LEFT JOIN subscriptions s ON s.id = o.subscription_id LEFT JOIN campaigns c ON c.id = s.campaign_id \
             WHERE o.kind IS NOT NULL AND ($1 IS NULL OR o.subscription_id = $1) ORDER BY o.id DESC LIMIT $2",
        )
        .bind(subscription_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SupporterEmailRecord {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    to: row.try_get("to_address")?,
                    subscription_id: row.try_get::<Option<String>, _>("subscription_id")?.unwrap_or_default(),
                    // A receipt names its gift's campaign itself.
                    campaign: match row.try_get::<Option<String>, _>("slug")? {
                        Some(slug) => Some(slug),
                        None => row
                            .try_get::<Option<String>, _>("data")?
                            .and_then(|data| serde_json::from_str::<serde_json::Value>(&data).ok())
                            .and_then(|data| data["campaign"].as_str().map(str::to_owned)),
                    },
                    subject: row.try_get("subject")?,
                    created_at: super::read_instant(row.try_get("created_at")?)?,
                    sent_at: super::read_optional_instant(row, "sent_at")?,
                    cancelled_at: super::read_optional_instant(row, "cancelled_at")?,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Records how sending a queued email went: sent, or failed with `error` and tried again
    /// at `next` (never again when `None`).
    pub async fn email_attempted(
        &self,
        id: i64,
        error: Option<&str>,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut write = self.begin_write().await?;
        let now = stored_instant(now());
        if error.is_none() {
            // A receipt is kept only until it is sent: the ledger and the gift's details say
            // what it said.
            sqlx::query("DELETE FROM outbox_emails WHERE id = $1 AND kind = 'receipt'")
                .bind(id)
                .execute(&mut *write.tx)
                .await?;
        }
        // A supporter's email keeps `next_attempt_at` empty (see migration 20): its next try is
        // `send_after`. A failure is not kept on an email put aside meanwhile (its donor may
        // have been forgotten, and the error can name their address).
        sqlx::query(
            "UPDATE outbox_emails SET attempts = attempts + 1, last_error = $1, \
             sent_at = CASE WHEN $1 IS NULL THEN $2 ELSE NULL END, \
             next_attempt_at = CASE WHEN kind IS NULL THEN $3 ELSE NULL END, \
             send_after = CASE WHEN kind IS NULL THEN send_after ELSE $3 END \
             WHERE id = $4 AND ($1 IS NULL OR cancelled_at IS NULL)",
        )
        .bind(error)
        .bind(&now)
        .bind(next.map(stored_instant))
        .bind(id)
        .execute(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the sender writes or keeps about an email never lands in one put aside meanwhile
    /// (its donor forgotten between the sender's read and its write).
    #[tokio::test]
    async fn nothing_is_written_into_an_email_put_aside() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = super::super::migrated_sqlite_store(&dir).await;
        let stamp = stored_instant(now());
        sqlx::query(
            "INSERT INTO outbox_emails (to_address, subject, body, created_at, kind, data, send_after, cancelled_at) \
             VALUES ('', '', '', $1, 'receipt', NULL, $1, $1)",
        )
        .bind(&stamp)
        .execute(store.pool())
        .await
        .expect("a forgotten receipt");
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM outbox_emails").fetch_one(store.pool()).await.expect("id");
        store.set_email_text(id, "Thank you", "Dear Ana Béland").await.expect("no error");
        store.email_attempted(id, Some("550 no mailbox ana@example.org"), None).await.expect("no error");
        let row = sqlx::query("SELECT subject, body, last_error, attempts FROM outbox_emails WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .expect("the row");
        assert_eq!(row.try_get::<String, _>("subject").expect("subject"), "");
        assert_eq!(row.try_get::<String, _>("body").expect("body"), "");
        assert_eq!(row.try_get::<Option<String>, _>("last_error").expect("error"), None);
        assert_eq!(row.try_get::<i64, _>("attempts").expect("attempts"), 0);
    }
}
