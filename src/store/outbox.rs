//! The outbox of outgoing events, the webhook endpoints that want them, one delivery per
//! endpoint and event, and the log of every attempt.
//!
//! An event is written in the same transaction as the change it tells of (see
//! `WriteTx::emit`), and only when some endpoint wants its type: a rolled-back change sends
//! nothing, a committed one is never lost. The sender (`crate::webhooks`) then makes one
//! delivery of it per endpoint that wanted it, and tries each until it is delivered or its
//! schedule runs out.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, WriteTx, now, read_flag, read_instant, read_optional_instant, stored_instant,
};
use crate::ledger::outgoing::{EventKind, OutgoingEvent};

/// Events written by one statement at most (four parameters each).
const EVENTS_PER_STATEMENT: usize = 100;

/// A registered endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEndpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<EventKind>,
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// One event's delivery to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt at a delivery, as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAttempt {
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status answered, or none (no connection, no answer in time).
    pub status: Option<i64>,
    pub latency_ms: i64,
    /// The start of the answer's body, or what went wrong.
    pub answer: Option<String>,
    pub replay: bool,
}

/// A delivery whose time has come, with what sending it needs.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    /// When it was due, as stored: its record is kept only if nobody changed it meanwhile
    /// (a replay asked while it was in flight).
    pub due: String,
    /// The next attempt was asked for by a person (a replay), not by the schedule.
    pub replay: bool,
}

/// What became of a delivery after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    /// Tried again at this time.
    Retry(DateTime<Utc>),
    /// Its schedule ran out.
    Failed,
}

/// What an attempt's record changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecorded {
    /// The endpoint was disabled: its deliveries have failed, without a success, for as long
    /// as the whole schedule.
    pub endpoint_disabled: Option<StoredEndpoint>,
}

const ENDPOINT_COLUMNS: &str =
    "id, url, events, secret, enabled, disabled_reason, created_at, created_by, last_success_at";

fn endpoint_from_row(row: &AnyRow) -> Result<StoredEndpoint, StoreError> {
    Ok(StoredEndpoint {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        events: EventKind::read_list(&row.try_get::<String, _>("events")?),
        secret: row.try_get("secret")?,
        enabled: read_flag(row, "enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        created_at: read_instant(&row.try_get::<String, _>("created_at")?)?,
        created_by: row.try_get("created_by")?,
        last_success_at: read_optional_instant(row, "last_success_at")?,
    })
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, o.event_id, o.event_type, d.state, d.attempts, \
     d.next_attempt_at, d.created_at, d.delivered_at";

fn delivery_from_row(row: &AnyRow) -> Result<StoredDelivery, StoreError> {
    Ok(StoredDelivery {
        id: row.try_get("id")?,
        endpoint_id: row.try_get("endpoint_id")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: read_optional_instant(row, "next_attempt_at")?,
        created_at: read_instant(&row.try_get::<String, _>("created_at")?)?,
        delivered_at: read_optional_instant(row, "delivered_at")?,
    })
}

/// Writes a transaction's events to the outbox, each only if some endpoint wants its type
/// (enabled or not: a disabled endpoint's events are kept for a replay once it is enabled
/// again). Returns how many were kept.
pub(super) async fn write_events_in(
    tx: &mut sqlx::AnyConnection,
    events: &[OutgoingEvent],
) -> Result<u64, StoreError> {
    let mut kept = 0;
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let mut rows = String::new();
        for n in 0..chunk.len() {
            let p = n * 4;
            if n == 0 {
                rows.push_str(&format!(
                    "SELECT ${} AS event_id, ${} AS event_type, ${} AS payload, ${} AS created_at",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4
                ));
            } else {
                rows.push_str(&format!(" UNION ALL SELECT ${}, ${}, ${}, ${}", p + 1, p + 2, p + 3, p + 4));
            }
        }
        let sql = format!(
            "INSERT INTO outbox (event_id, event_type, payload, created_at) \
             SELECT v.event_id, v.event_type, v.payload, v.created_at FROM ({rows}) v \
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.events LIKE '%,' || v.event_type || ',%')"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for event in chunk {
            query = query
                .bind(event.id.clone())
                .bind(event.kind.as_str())
                .bind(event.body.clone())
                .bind(stored_instant(event.at));
        }
        kept += query.execute(&mut *tx).await?.rows_affected();
    }
    Ok(kept)
}

impl WriteTx {
    /// Tells the endpoints that want it of this change, once the transaction commits.
    pub(crate) fn emit(&mut self, kind: EventKind, data: &impl serde::Serialize) {
        let id = format!("evt_{}", super::entries::random_hex());
        self.events.push(OutgoingEvent::new(id, kind, now(), data));
    }
}

impl Store {
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[EventKind],
        secret: &str,
        created_by: &str,
    ) -> Result<StoredEndpoint, StoreError> {
        let sql = format!(
            "INSERT INTO webhook_endpoints (url, events, secret, enabled, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ENDPOINT_COLUMNS}"
        );
        let mut write = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(url)
            .bind(EventKind::stored_list(events))
            .bind(secret)
            .bind(true)
            .bind(stored_instant(now()))
            .bind(created_by)
            .fetch_one(&mut *write.tx)
            .await?;
        let endpoint = endpoint_from_row(&row)?;
        write.commit().await?;
        Ok(endpoint)
    }

    pub async fn webhook_endpoints(&self) -> Result<Vec<StoredEndpoint>, StoreError> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    pub async fn webhook_endpoint(&self, id: i64) -> Result<Option<StoredEndpoint>, StoreError> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    /// Changes an endpoint's URL, event types or state; `None` keeps what is stored.
    /// Enabling clears the reason it was disabled.
    pub async fn update_webhook_endpoint(
        &self,
        id: i64,
        url: Option<&str>,
        events: Option<&[EventKind]>,
        enabled: Option<bool>,
    ) -> Result<Option<StoredEndpoint>, StoreError> {
        let sql = format!(
            "UPDATE webhook_endpoints SET url = COALESCE($1, url), events = COALESCE($2, events), \
             enabled = COALESCE($3, enabled), \
             disabled_reason = CASE WHEN $3 IS NULL THEN disabled_reason ELSE NULL END \
             WHERE id = $4 RETURNING {ENDPOINT_COLUMNS}"
        );
        let mut write = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(url)
            .bind(events.map(EventKind::stored_list))
            .bind(enabled)
            .bind(id)
            .fetch_optional(&mut *write.tx)
            .await?;
        let endpoint = row.as_ref().map(endpoint_from_row).transpose()?;
        write.commit().await?;
        Ok(endpoint)
    }

    /// Removes an endpoint with its deliveries and their log. False when there was none.
    pub async fn delete_webhook_endpoint(&self, id: i64) -> Result<bool, StoreError> {
        let mut write = self.begin_write().await?;
        if self.engine() == super::Engine::Postgres {
            // First: a sender recording an attempt or making a delivery for it meanwhile
            // waits for this to commit (and then finds it gone), rather than adding a row
            // that would keep it from being deleted. SQLite's write gate does this already.
            sqlx::query("SELECT id FROM webhook_endpoints WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *write.tx)
                .await?;
        }
        for sql in [
            "DELETE FROM webhook_attempts WHERE endpoint_id = $1",
            "DELETE FROM webhook_deliveries WHERE endpoint_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *write.tx).await?;
        }
        let removed = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        write.commit().await?;
        Ok(removed > 0)
    }

    /// An endpoint's deliveries, newest first, before the delivery `before` if given.
    pub async fn webhook_deliveries(
        &self,
        endpoint_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id \
             WHERE d.endpoint_id = $1 AND ($2 IS NULL OR d.id < $2) ORDER BY d.id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(endpoint_id)
            .bind(before)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The attempts at some deliveries, oldest first.
    pub async fn webhook_attempts(&self, delivery_ids: &[i64]) -> Result<Vec<StoredAttempt>, StoreError> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = delivery_ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT id, delivery_id, attempted_at, status, latency_ms, answer, replay FROM webhook_attempts \
             WHERE delivery_id IN ({list}) ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredAttempt {
                    id: row.try_get("id")?,
                    delivery_id: row.try_get("delivery_id")?,
                    attempted_at: read_instant(&row.try_get::<String, _>("attempted_at")?)?,
                    status: row.try_get("status")?,
                    latency_ms: row.try_get("latency_ms")?,
                    answer: row.try_get("answer")?,
                    replay: read_flag(row, "replay")?,
                })
            })
            .collect()
    }

    /// Sends one delivery again now, whatever became of it; its schedule starts again.
    /// False when the endpoint holds no such delivery.
    pub async fn replay_webhook_delivery(
        &self,
        endpoint_id: i64,
        delivery_id: i64,
    ) -> Result<bool, StoreError> {
        let mut write = self.begin_write().await?;
        let replayed = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND endpoint_id = $3",
        )
        .bind(REPLAY_MARK)
        .bind(delivery_id)
        .bind(endpoint_id)
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        write.commit().await?;
        self.wake_sender();
        Ok(replayed > 0)
    }

    /// Sends again every event of the endpoint's types written between `from` and `to`:
    /// those delivered or failed, and those it never had (it was disabled, or registered
    /// later). Returns how many deliveries were queued.
    pub async fn replay_webhook_range(
        &self,
        endpoint_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut write = self.begin_write().await?;
        let reset = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE endpoint_id = $2 AND outbox_id IN (SELECT id FROM outbox WHERE created_at >= $3 AND created_at < $4)",
        )
        .bind(REPLAY_MARK)
        .bind(endpoint_id)
        .bind(stored_instant(from))
        .bind(stored_instant(to))
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        let added = sqlx::query(
            "INSERT INTO webhook_deliveries (endpoint_id, outbox_id, state, attempts, next_attempt_at, created_at) \
             SELECT w.id, o.id, 'pending', 0, $1, $2 FROM outbox o JOIN webhook_endpoints w \
               ON w.id = $3 AND w.events LIKE '%,' || o.event_type || ',%' \
             WHERE o.created_at >= $4 AND o.created_at < $5 \
             ON CONFLICT (endpoint_id, outbox_id) DO NOTHING",
        )
        .bind(REPLAY_MARK)
        .bind(stored_instant(now()))
        .bind(endpoint_id)
        .bind(stored_instant(from))
        .bind(stored_instant(to))
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        write.commit().await?;
        self.wake_sender();
        Ok(reset + added)
    }

    /// Makes the deliveries of the events written since the last call: one per endpoint
    /// enabled, wanting the event's type, and registered before the event was written.
    /// Returns how many events were dispatched.
    pub async fn dispatch_outbox(&self) -> Result<usize, StoreError> {
        // A read first: most rounds find nothing, and need not take SQLite's write lock.
        let waiting = sqlx::query("SELECT id FROM outbox WHERE dispatched_at IS NULL LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        if waiting.is_none() {
            return Ok(0);
        }
        let mut write = self.begin_write().await?;
        let at = stored_instant(now());
        // Marked first, and exactly those rows given deliveries: an event committed by a
        // concurrent writer meanwhile waits for the next call.
        let rows = sqlx::query(
            "UPDATE outbox SET dispatched_at = $1 WHERE id IN \
             (SELECT id FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT 500) \
             RETURNING id, event_type, created_at",
        )
        .bind(&at)
        .fetch_all(&mut *write.tx)
        .await?;
        for row in &rows {
            sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint_id, outbox_id, state, attempts, next_attempt_at, created_at) \
                 SELECT w.id, $1, 'pending', 0, $2, $2 FROM webhook_endpoints w \
                 WHERE w.enabled = $3 AND w.events LIKE '%,' || $4 || ',%' AND w.created_at <= $5 \
                 ON CONFLICT (endpoint_id, outbox_id) DO NOTHING",
            )
            .bind(row.try_get::<i64, _>("id")?)
            .bind(&at)
            .bind(true)
            .bind(row.try_get::<String, _>("event_type")?)
            .bind(row.try_get::<String, _>("created_at")?)
            .execute(&mut *write.tx)
            .await?;
        }
        write.commit().await?;
        Ok(rows.len())
    }

    /// Deliveries due by `at` to enabled endpoints, oldest due first.
    pub async fn due_deliveries(
        &self,
        at: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.endpoint_id, w.url, w.secret, o.event_id, o.payload, d.attempts, d.created_at, \
             d.next_attempt_at FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN outbox o ON o.id = d.outbox_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND w.enabled = $2 \
             ORDER BY d.next_attempt_at, d.id LIMIT $3",
        )
        .bind(stored_instant(at))
        .bind(true)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    id: row.try_get("id")?,
                    endpoint_id: row.try_get("endpoint_id")?,
                    url: row.try_get("url")?,
                    secret: row.try_get("secret")?,
                    event_id: row.try_get("event_id")?,
                    body: row.try_get("payload")?,
                    attempts: row.try_get("attempts")?,
                    created_at: read_instant(&row.try_get::<String, _>("created_at")?)?,
                    due: row.try_get("next_attempt_at")?,
                    replay: row.try_get::<String, _>("next_attempt_at")? == REPLAY_MARK,
                })
            })
            .collect()
    }

    /// When the next pending delivery to an enabled endpoint is due, if any.
    pub async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(d.next_attempt_at) AS due FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.state = 'pending' AND w.enabled = $1",
        )
        .bind(true)
        .fetch_one(self.pool())
        .await?;
        read_optional_instant(&row, "due")
    }

    /// Logs an attempt and moves its delivery on: delivered, tried again later, or failed
    /// for good, which disables the endpoint when it has not succeeded since the delivery
    /// was made.
    /// An endpoint it disables is told to the admins by an email (`notice` gives its subject
    /// and text) queued in the same transaction.
    pub async fn record_webhook_attempt(
        &self,
        delivery: &DueDelivery,
        attempt: &NewAttempt,
        result: &AttemptResult,
        notice: &(dyn Fn(&StoredEndpoint) -> (String, String) + Sync),
    ) -> Result<AttemptRecorded, StoreError> {
        let mut write = self.begin_write().await?;
        let at = stored_instant(attempt.at);
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status, latency_ms, answer, replay) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(delivery.id)
        .bind(delivery.endpoint_id)
        .bind(&at)
        .bind(attempt.status)
        .bind(attempt.latency_ms)
        .bind(&attempt.answer)
        .bind(delivery.replay)
        .execute(&mut *write.tx)
        .await?;
        let (state, next, delivered) = match result {
            AttemptResult::Delivered => ("delivered", None, Some(at.clone())),
            AttemptResult::Retry(next) => ("pending", Some(stored_instant(*next)), None),
            AttemptResult::Failed => ("failed", None, None),
        };
        // Only as it was when sent: a replay asked meanwhile stands, and is sent next.
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, \
             delivered_at = COALESCE($3, delivered_at) WHERE id = $4 AND attempts = $5 AND next_attempt_at = $6",
        )
        .bind(state)
        .bind(next)
        .bind(delivered.clone())
        .bind(delivery.id)
        .bind(delivery.attempts)
        .bind(&delivery.due)
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        let mut endpoint_disabled = None;
        match result {
            AttemptResult::Delivered => {
                sqlx::query("UPDATE webhook_endpoints SET last_success_at = $1 WHERE id = $2")
                    .bind(&at)
                    .bind(delivery.endpoint_id)
                    .execute(&mut *write.tx)
                    .await?;
            }
            AttemptResult::Failed if moved > 0 => {
                let sql = format!(
                    "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2 \
                     WHERE id = $3 AND enabled = $4 AND (last_success_at IS NULL OR last_success_at < $5) \
                     RETURNING {ENDPOINT_COLUMNS}"
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(false)
                    .bind(format!(
                        "every delivery failed from {} to {}",
                        stored_instant(delivery.created_at),
                        at
                    ))
                    .bind(delivery.endpoint_id)
                    .bind(true)
                    .bind(stored_instant(delivery.created_at))
                    .fetch_optional(&mut *write.tx)
                    .await?;
                endpoint_disabled = row.as_ref().map(endpoint_from_row).transpose()?;
                if let Some(endpoint) = &endpoint_disabled {
                    let (subject, body) = notice(endpoint);
                    super::emails::queue_admin_email_in(&mut write, &subject, &body).await?;
                }
            }
            AttemptResult::Retry(_) | AttemptResult::Failed => {}
        }
        write.commit().await?;
        Ok(AttemptRecorded { endpoint_disabled })
    }

    /// Forgets events written before `before` once nothing is left to send of them: their
    /// deliveries (delivered or failed), the attempts' log, and the event itself; emails
    /// sent (or given up) before then too. Returns how many events went.
    pub async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = stored_instant(before);
        let mut write = self.begin_write().await?;
        let old = "SELECT o.id FROM outbox o WHERE o.created_at < $1 AND o.dispatched_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.outbox_id = o.id AND p.state = 'pending')";
        for sql in [
            format!(
                "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT d.id FROM webhook_deliveries d WHERE d.outbox_id IN ({old}))"
            ),
            format!("DELETE FROM webhook_deliveries WHERE outbox_id IN ({old})"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&before).execute(&mut *write.tx).await?;
        }
        let pruned = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM outbox WHERE id IN ({old})")))
            .bind(&before)
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        // A statement's email is the record that it was sent (so that it is never sent again):
        // it is kept.
        sqlx::query(
            "DELETE FROM outbox_emails WHERE created_at < $1 AND (sent_at IS NOT NULL OR next_attempt_at IS NULL) \
             AND (kind IS NULL OR kind <> 'annual_statement')",
        )
            .bind(&before)
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        Ok(pruned)
    }

    /// Puts a delivery off until `at` without logging an attempt: its attempt could not be
    /// recorded, and it must not be sent again at once.
    pub async fn postpone_delivery(&self, delivery_id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut write = self.begin_write().await?;
        sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending'")
            .bind(stored_instant(at))
            .bind(delivery_id)
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        Ok(())
    }

    /// Wakes this process's sender: something may be due now.
    pub fn wake_sender(&self) {
        self.outbox_wake.notify_one();
    }

    /// Resolves when this process wrote an event or queued a replay.
    pub async fn sender_woken(&self) {
        self.outbox_wake.notified().await;
    }
}

/// A replay's `next_attempt_at`: earlier than any instant, so it is due at once and its
/// attempt is logged as a replay.
const REPLAY_MARK: &str = "0001-01-01T00:00:00.000000Z";

/// An attempt as it went.
#[derive(Clone, Debug)]
pub struct NewAttempt {
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub answer: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event is written with the transaction that causes it, and only if it commits; an
    /// event no endpoint wants is not kept at all.
    #[tokio::test]
    async fn events_are_kept_only_when_their_transaction_commits() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = super::super::migrated_sqlite_store(&dir).await;
        store
            .create_webhook_endpoint(
                "https://crm.example.org/in",
                &[EventKind::BatchPosted],
                "whsec_AAAA",
                "test",
            )
            .await
            .expect("an endpoint");

        let mut rolled_back = store.begin_write().await.expect("begin");
        rolled_back.emit(EventKind::BatchPosted, &serde_json::json!({"batch": 1}));
        drop(rolled_back);

        let mut committed = store.begin_write().await.expect("begin");
        committed.emit(EventKind::BatchPosted, &serde_json::json!({"batch": 2}));
        committed.emit(EventKind::DonationRecorded, &serde_json::json!({"id": 3}));
        committed.commit().await.expect("commit");

        let kept: Vec<String> = sqlx::query_scalar("SELECT payload FROM outbox ORDER BY id")
            .fetch_all(store.pool())
            .await
            .expect("the outbox");
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains(r#""type":"batch.posted""#) && kept[0].contains(r#""batch":2"#), "{kept:?}");
        assert_eq!(store.dispatch_outbox().await.expect("dispatched"), 1);
        let due = store.due_deliveries(now(), 10).await.expect("due");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].body, kept[0]);
        assert_eq!(store.dispatch_outbox().await.expect("nothing more"), 0);

        // Kept while a delivery is pending, whatever its age; forgotten once delivered.
        let later = now() + chrono::Duration::days(1);
        assert_eq!(store.prune_outbox(later).await.expect("pruned"), 0, "still to send");
        let attempt = NewAttempt { at: now(), status: Some(200), latency_ms: 3, answer: None };
        let notice = |_: &StoredEndpoint| (String::new(), String::new());
        store
            .record_webhook_attempt(&due[0], &attempt, &AttemptResult::Delivered, &notice)
            .await
            .expect("recorded");
        assert_eq!(
            store.prune_outbox(now() - chrono::Duration::days(1)).await.expect("pruned"),
            0,
            "too recent"
        );
        assert_eq!(store.prune_outbox(later).await.expect("pruned"), 1);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts")
            .fetch_one(store.pool())
            .await
            .expect("the log");
        assert_eq!(left, 0);
    }
}
