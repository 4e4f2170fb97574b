//! The outbox of emails appeal sends on its own (an endpoint disabled): each written in the
//! transaction of what causes it, sent by the background sender (`crate::webhooks`) and
//! tried again until the mail server takes it.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, WriteTx, now, stored_instant};

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
}

impl Store {
    /// Emails whose time has come, oldest first.
    pub async fn due_emails(&self, at: DateTime<Utc>, limit: i64) -> Result<Vec<QueuedEmail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, to_address, subject, body, attempts FROM outbox_emails \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(stored_instant(at))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(QueuedEmail {
                    id: row.try_get("id")?,
                    to: row.try_get("to_address")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                    attempts: row.try_get("attempts")?,
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
        sqlx::query(
            "UPDATE outbox_emails SET attempts = attempts + 1, last_error = $1, \
             sent_at = CASE WHEN $1 IS NULL THEN $2 ELSE NULL END, next_attempt_at = $3 WHERE id = $4",
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
