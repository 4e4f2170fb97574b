//! Stripe events as appeal keeps them: applied once under their id, waiting for the payment
//! they refer to, or failing with their error and attempts until they apply, are quarantined
//! for a treasurer, or are dismissed with a reason.

use sqlx::Row;

use super::{Store, StoreError, WriteTx, now, read_optional_instant, stored_instant};
use crate::access::Scope;

/// How an event stands after trying to claim it for application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventClaim {
    /// First time seen (or it was waiting, or failing): apply its effects in this transaction.
    New,
    /// Applied, ignored or dismissed before: change nothing.
    Duplicate,
}

/// Where an event stands before it is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventState {
    /// Never seen, waiting for its payment, or failed and to be tried again.
    Open,
    /// Failed too often with an error that will not pass by itself: a treasurer decides.
    Quarantined,
    /// Applied, ignored or dismissed: nothing more to do.
    Done,
}

/// A Stripe event that waits for what it refers to (a refund whose payment is not in yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredEvent {
    pub id: String,
    pub payload: String,
}

/// An event that failed to apply, as the treasury sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedEvent {
    pub id: String,
    pub kind: String,
    /// When Stripe created it (unix seconds).
    pub created: i64,
    /// `failing` (tried again by reconcile and Stripe's retries) or `quarantined`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub failed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub payload: Option<String>,
}

/// Tries after which an event that keeps failing with a lasting error is quarantined.
pub const QUARANTINE_AFTER_ATTEMPTS: i64 = 5;

/// A reason a treasurer gave, and who gave it.
#[derive(Clone, Copy, Debug)]
pub struct Resolution<'a> {
    pub by: &'a str,
    pub reason: &'a str,
}

/// Where an event stands, from its stored status (none when never seen).
pub(super) fn event_state_of(status: Option<&str>) -> EventState {
    match status {
        None | Some("deferred" | "failing") => EventState::Open,
        Some("quarantined") => EventState::Quarantined,
        Some(_) => EventState::Done,
    }
}

impl Store {
    /// Where an event stands (so a duplicate costs one read).
    pub async fn event_state(&self, event_id: &str) -> Result<EventState, StoreError> {
        let row = sqlx::query("SELECT status FROM stripe_events WHERE id = $1")
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?;
        let status: Option<String> = row.map(|row| row.try_get("status")).transpose()?;
        Ok(event_state_of(status.as_deref()))
    }

    /// Keeps an event that waits for `waiting_for` (a charge id) to reach the ledger.
    pub async fn defer_event(
        &self,
        event_id: &str,
        event_type: &str,
        created: i64,
        waiting_for: &str,
        payload: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_events (id, type, created, status, waiting_for, payload, source, received_at) \
             VALUES ($1, $2, $3, 'deferred', $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET status = 'deferred', \
             waiting_for = excluded.waiting_for, payload = excluded.payload \
             WHERE stripe_events.status IN ('failing', 'quarantined')",
        )
        .bind(event_id)
        .bind(event_type)
        .bind(created)
        .bind(waiting_for)
        .bind(payload)
        .bind(source)
        .bind(stored_instant(now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn deferred_events(&self, waiting_for: &str) -> Result<Vec<DeferredEvent>, StoreError> {
        sqlx::query(
            "SELECT id, payload FROM stripe_events WHERE waiting_for = $1 AND status = 'deferred' ORDER BY created, id",
        )
        .bind(waiting_for)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Ok(DeferredEvent { id: row.try_get("id")?, payload: row.try_get("payload")? }))
        .collect()
    }

    /// Records a failed attempt at an event, keeping its payload to try again. After
    /// [`QUARANTINE_AFTER_ATTEMPTS`] attempts an event whose error is `lasting` is
    /// quarantined. Returns the event's status now, or `None` when it was applied meanwhile.
    pub async fn record_event_failure(
        &self,
        failure: &EventFailure<'_>,
    ) -> Result<Option<String>, StoreError> {
        let at = stored_instant(now());
        let row = sqlx::query(
            "INSERT INTO stripe_events (id, type, created, status, payload, source, received_at, attempts, last_error, failed_at) \
             VALUES ($1, $2, $3, 'failing', $4, $5, $6, 1, $7, $6) \
             ON CONFLICT (id) DO UPDATE SET attempts = stripe_events.attempts + 1, last_error = $7, failed_at = $6, \
             payload = COALESCE(stripe_events.payload, excluded.payload), waiting_for = NULL, \
             status = CASE WHEN $8 AND stripe_events.attempts + 1 >= $9 THEN 'quarantined' \
                           WHEN stripe_events.status = 'quarantined' THEN 'quarantined' ELSE 'failing' END \
             WHERE stripe_events.status IN ('deferred', 'failing', 'quarantined') \
             RETURNING status",
        )
        .bind(failure.id)
        .bind(failure.kind)
        .bind(failure.created)
        .bind(failure.payload)
        .bind(failure.source)
        .bind(&at)
        .bind(failure.error)
        .bind(failure.lasting)
        .bind(QUARANTINE_AFTER_ATTEMPTS)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| row.try_get("status")).transpose().map_err(Into::into)
    }

    /// Events that failed and have not been applied or dismissed, oldest first.
    /// Events concern the whole Stripe account: a branch-scoped caller sees none.
    pub async fn failed_events(&self, scope: &Scope) -> Result<Vec<FailedEvent>, StoreError> {
        if !scope.is_whole_organization() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {FAILED_COLUMNS} FROM stripe_events {FAILED} ORDER BY created, id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(failed_from_row)
            .collect()
    }

    pub async fn failed_event(&self, event_id: &str) -> Result<Option<FailedEvent>, StoreError> {
        let sql = format!("SELECT {FAILED_COLUMNS} FROM stripe_events {FAILED} AND id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(event_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(failed_from_row).transpose()
    }

    /// Events waiting for a charge whose gift a treasurer dismissed: they are set aside with
    /// it, for the same reason. Returns how many.
    pub async fn dismiss_events_waiting_for(
        &self,
        charge: &str,
        resolution: Resolution<'_>,
    ) -> Result<u64, StoreError> {
        let dismissed = sqlx::query(
            "UPDATE stripe_events SET status = 'dismissed', resolved_by = $1, resolution = $2, payload = NULL \
             WHERE waiting_for = $3 AND status = 'deferred'",
        )
        .bind(resolution.by)
        .bind(format!("dismissed with the gift it waited for: {}", resolution.reason))
        .bind(charge)
        .execute(self.pool())
        .await?;
        Ok(dismissed.rows_affected())
    }

    /// A treasurer sets a failed event aside with a reason: it counts as done from now on.
    /// Returns false when the event was not failing (applied meanwhile, or unknown).
    pub async fn dismiss_event(
        &self,
        event_id: &str,
        resolution: Resolution<'_>,
    ) -> Result<bool, StoreError> {
        let dismissed = sqlx::query(
            "UPDATE stripe_events SET status = 'dismissed', resolved_by = $1, resolution = $2, payload = NULL \
             WHERE id = $3 AND status IN ('failing', 'quarantined')",
        )
        .bind(resolution.by)
        .bind(resolution.reason)
        .bind(event_id)
        .execute(self.pool())
        .await?;
        Ok(dismissed.rows_affected() == 1)
    }
}

const FAILED_COLUMNS: &str = "id, type, created, status, attempts, last_error, failed_at, payload";
const FAILED: &str = "WHERE status IN ('failing', 'quarantined')";

fn failed_from_row(row: &sqlx::any::AnyRow) -> Result<FailedEvent, StoreError> {
    Ok(FailedEvent {
        id: row.try_get("id")?,
        kind: row.try_get("type")?,
        created: row.try_get("created")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get::<Option<String>, _>("last_error")?.unwrap_or_default(),
        failed_at: read_optional_instant(row, "failed_at")?,
        payload: row.try_get("payload")?,
    })
}

/// One failed attempt at an event.
#[derive(Clone, Copy, Debug)]
pub struct EventFailure<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub created: i64,
    pub payload: &'a str,
    pub source: &'a str,
    pub error: &'a str,
    /// The error will not pass by itself (an unreadable event, a refused request), as
    /// opposed to Stripe being unreachable for a while.
    pub lasting: bool,
}

/// Claims an event inside `write`: the row with its unique id is written in the same
/// transaction as the event's effects, so an event is applied exactly once.
pub(crate) async fn claim_event_in(
    write: &mut WriteTx,
    event_id: &str,
    event_type: &str,
    created: i64,
    status: &str,
    source: &str,
) -> Result<EventClaim, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO stripe_events (id, type, created, status, source, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(event_id)
    .bind(event_type)
    .bind(created)
    .bind(status)
    .bind(source)
    .bind(stored_instant(now()))
    .execute(&mut *write.tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(EventClaim::New);
    }
    // It was seen before: only an event still waiting, or failing, may be applied now. Its
    // attempts and last error stay, as the history of how it got there.
    let resumed = sqlx::query(
        "UPDATE stripe_events SET status = $1, waiting_for = NULL, payload = NULL \
         WHERE id = $2 AND status IN ('deferred', 'failing', 'quarantined')",
    )
    .bind(status)
    .bind(event_id)
    .execute(&mut *write.tx)
    .await?;
    Ok(if resumed.rows_affected() == 1 { EventClaim::New } else { EventClaim::Duplicate })
}
