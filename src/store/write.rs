//! Write transactions, and on SQLite the write gate that groups them into shared commits.
//!
//! SQLite takes one writer at a time, so the writers of this process queue at an in-process
//! gate instead of spinning on the busy timeout. While some queue, they do not each pay for
//! a `BEGIN` and a `COMMIT` of their own: the first opens the SQLite transaction, each writes
//! inside its own savepoint (a writer that fails undoes only its own part), and the one that
//! finds nobody queued behind it (or the group full) commits for all of them. Nobody is told
//! their write is done before that commit: every member waits for it, and a commit that fails
//! fails every member, whose effects it undid.
//!
//! PostgreSQL needs no gate: each write is its own transaction, and concurrent writers only
//! meet on the rows they share (see `totals` for the campaign's).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use super::{Engine, Store, StoreError, now, stored_instant, totals};

/// Members of one group commit at most: a bound on how long the group holds SQLite's write
/// lock against other processes (the CLI), and on how long its first member waits.
const GROUP_MEMBERS: usize = 32;

/// The savepoint each member of a group writes in: opened, kept, and undone.
const SAVEPOINT: &str = "SAVEPOINT appeal_member";
const RELEASE: &str = "RELEASE appeal_member";
const ROLLBACK: &str = "ROLLBACK TO appeal_member";

/// SQLite's write gate and the group transaction behind it.
#[derive(Debug, Default)]
pub(super) struct WriteGate {
    group: Arc<Mutex<Group>>,
    /// Writers waiting for the gate: while there are some, a member leaves the commit to them.
    queued: AtomicUsize,
}

#[derive(Debug, Default)]
struct Group {
    /// The SQLite transaction the members write in, open between members.
    open: Option<Transaction<'static, Any>>,
    /// A member ended without committing: its savepoint is still to be undone.
    undo: bool,
    /// Members whose writes are in `open`, each waiting for its commit.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
}

/// Counts a writer as queued until it holds the gate, or gives up waiting (its request went
/// away). One that gives up may have been counted on to commit for a member waiting in the
/// group: the group is settled without it.
struct Queued {
    gate: Arc<WriteGate>,
    entered: bool,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.gate.queued.fetch_sub(1, Ordering::SeqCst);
        if !self.entered {
            settle_later(self.gate.clone());
        }
    }
}

impl WriteGate {
    async fn enter(self: &Arc<Self>) -> OwnedMutexGuard<Group> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut queued = Queued { gate: self.clone(), entered: false };
        let group = self.group.clone().lock_owned().await;
        queued.entered = true;
        group
    }

    fn is_queued(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }
}

/// Once the gate is free: undoes what a member that gave up left, and commits the members
/// waiting in the group if nobody is queued to carry it on.
fn settle_later(gate: Arc<WriteGate>) {
    let settle = async move {
        let mut group = gate.group.clone().lock_owned().await;
        if let Err(error) = group.settle_undo().await {
            group.fail(&error.to_string());
            return;
        }
        if !gate.is_queued()
            && group.open.is_some()
            && let Err(error) = group.commit().await
        {
            tracing::error!(%error, "a group commit failed after a member gave up");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(settle);
        }
        Err(_) => tracing::error!("a write ended outside the runtime: its group was not settled"),
    }
}

impl Group {
    /// Undoes what a member that ended without committing left behind.
    async fn settle_undo(&mut self) -> Result<(), sqlx::Error> {
        if std::mem::take(&mut self.undo)
            && let Some(tx) = self.open.as_mut()
        {
            sqlx::query(ROLLBACK).execute(&mut **tx).await?;
            sqlx::query(RELEASE).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Commits what the members wrote, and tells them how it went.
    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        let waiting = std::mem::take(&mut self.waiting);
        let committed = match self.open.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        };
        let told = committed.as_ref().map(|_| ()).map_err(ToString::to_string);
        for member in waiting {
            let _ = member.send(told.clone());
        }
        committed
    }

    /// Gives up the open transaction (its writes are undone) and tells its members.
    fn fail(&mut self, error: &str) {
        self.open = None;
        self.undo = false;
        for member in std::mem::take(&mut self.waiting) {
            let _ = member.send(Err(error.to_owned()));
        }
    }
}

/// The connection a write transaction writes through.
pub(crate) struct WriteConn(Option<Transaction<'static, Any>>);

impl Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.0.as_ref().expect("a write transaction is open until it ends")
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.0.as_mut().expect("a write transaction is open until it ends")
    }
}

/// A write transaction: on SQLite it holds the write gate until it ends. It remembers the
/// campaigns it changes, so that caches and live streams hear of them once it commits.
pub(crate) struct WriteTx {
    pub tx: WriteConn,
    /// On SQLite: the gate, held until this member's part is written.
    gate: Option<OwnedMutexGuard<Group>>,
    touched: Vec<i64>,
    /// What the entries appended so far change, added to the totals' shards at commit.
    totals: totals::PendingTotals,
    /// Events for the webhook endpoints, written to the outbox at commit.
    pub(super) events: Vec<crate::ledger::outgoing::OutgoingEvent>,
    /// Something was queued for the background sender (an email): wake it once committed.
    pub(super) wake_sender: bool,
    pub(super) store: Store,
}

impl Store {
    /// Begins a transaction that will write. On SQLite it joins the group transaction behind
    /// the write gate (opened with `BEGIN IMMEDIATE`, so that a transaction that reads before
    /// it writes cannot fail on commit), inside a savepoint of its own.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let (tx, gate) = match &self.write_gate {
            Some(gate) => {
                let mut group = gate.enter().await;
                match self.join_group(&mut group).await {
                    Ok(tx) => (tx, Some(group)),
                    Err(error) => {
                        group.fail(&error.to_string());
                        return Err(error.into());
                    }
                }
            }
            None => (self.pool.begin().await?, None),
        };
        Ok(WriteTx {
            tx: WriteConn(Some(tx)),
            gate,
            touched: Vec::new(),
            totals: totals::PendingTotals::default(),
            events: Vec::new(),
            wake_sender: false,
            store: self.clone(),
        })
    }

    async fn join_group(&self, group: &mut Group) -> Result<Transaction<'static, Any>, sqlx::Error> {
        group.settle_undo().await?;
        let mut tx = match group.open.take() {
            Some(tx) => tx,
            None => self.pool.begin_with("BEGIN IMMEDIATE").await?,
        };
        sqlx::query(SAVEPOINT).execute(&mut *tx).await?;
        Ok(tx)
    }
}

impl WriteTx {
    /// Serializes this transaction with every other that takes the same campaign's lock, until
    /// it ends: what it reads next (a look-alike deposit or gift) stays true until it commits,
    /// on every instance. On SQLite the write gate does this already.
    pub async fn lock_campaign(&mut self, campaign_id: i64) -> Result<(), StoreError> {
        if self.store.engine == Engine::Postgres {
            // NO KEY UPDATE: look-alike checks queue behind each other, while other
            // transactions inserting entries of the campaign (a key share) go on.
            sqlx::query("SELECT id FROM campaigns WHERE id = $1 FOR NO KEY UPDATE")
                .bind(campaign_id)
                .fetch_optional(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Marks a campaign whose public figures this transaction changes.
    pub fn touch(&mut self, campaign_id: i64) {
        if !self.touched.contains(&campaign_id) {
            self.touched.push(campaign_id);
        }
    }

    /// Adds one entry's change to its campaign's (and branch's) totals at commit.
    pub(crate) fn add_to_totals(
        &mut self,
        campaign_id: i64,
        branch_id: Option<i64>,
        change: &crate::ledger::totals::TotalsChange,
    ) -> Result<(), StoreError> {
        self.touch(campaign_id);
        self.totals.add(campaign_id, branch_id, change)
    }

    pub async fn commit(mut self) -> Result<(), StoreError> {
        let events = std::mem::take(&mut self.events);
        let kept = match events.is_empty() {
            true => 0,
            false => super::outbox::write_events_in(&mut self.tx, &events).await?,
        };
        // The totals last: their shard rows are locked from here to the commit only.
        self.totals.apply(&mut self.tx, self.store.engine, &stored_instant(now())).await?;
        match self.gate.take() {
            Some(group) => self.commit_in_group(group).await?,
            None => {
                if let Some(tx) = self.tx.0.take() {
                    tx.commit().await?;
                }
            }
        }
        self.store.notify_changed(&self.touched).await;
        if kept > 0 || self.wake_sender {
            self.store.wake_sender();
        }
        for campaign_id in &self.touched {
            self.store.refresh_document(*campaign_id).await;
        }
        Ok(())
    }

    /// Keeps this member's part and commits the group now if nobody is queued behind it (or
    /// it is full); else leaves the commit to those who are, and waits for it.
    async fn commit_in_group(&mut self, mut group: OwnedMutexGuard<Group>) -> Result<(), StoreError> {
        let Some(mut tx) = self.tx.0.take() else {
            return Ok(());
        };
        if let Err(error) = sqlx::query(RELEASE).execute(&mut *tx).await {
            group.open = Some(tx);
            group.fail(&error.to_string());
            return Err(error.into());
        }
        group.open = Some(tx);
        let queued = self.store.write_gate.as_ref().is_some_and(|gate| gate.is_queued());
        if !queued || group.waiting.len() + 1 >= GROUP_MEMBERS {
            // Dropping the gate as soon as the commit is done: the next writer need not
            // wait for the notices and the documents.
            return Ok(group.commit().await?);
        }
        let (told, done) = oneshot::channel();
        group.waiting.push(told);
        drop(group);
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(sqlx::Error::Protocol(format!("the group commit failed: {error}")).into()),
            Err(_) => Err(sqlx::Error::Protocol("the group commit was abandoned".to_owned()).into()),
        }
    }
}

impl Drop for WriteTx {
    /// A member that ends without committing has its part undone; if nobody is queued to
    /// carry the group on, a task commits what the members before it wrote.
    fn drop(&mut self) {
        let Some(mut group) = self.gate.take() else {
            return;
        };
        if let Some(tx) = self.tx.0.take() {
            group.open = Some(tx);
            group.undo = true;
        }
        drop(group);
        if let Some(gate) = self.store.write_gate.clone() {
            settle_later(gate);
        }
    }
}

/// The gate for an engine: SQLite's, or none.
pub(super) fn gate_for(engine: Engine) -> Option<Arc<WriteGate>> {
    (engine == Engine::Sqlite).then(|| Arc::new(WriteGate::default()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn rows(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'group'")
            .fetch_one(store.pool())
            .await
            .expect("count")
    }

    /// A member that left the commit to a writer queued behind it is committed all the same
    /// when that writer gives up waiting (its request went away).
    #[tokio::test]
    async fn a_writer_that_gives_up_in_the_queue_leaves_no_member_waiting() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = super::super::migrated_sqlite_store(&dir).await;
        let mut first = store.begin_write().await.expect("begin");
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target) VALUES ('now', 'test', 'group', 'one')",
        )
        .execute(&mut *first.tx)
        .await
        .expect("insert");
        // A second writer is queued at the gate (counted as a request waiting there would be),
        // so the first leaves the commit to it and waits...
        let gate = store.write_gate.clone().expect("SQLite has a gate");
        gate.queued.fetch_add(1, Ordering::SeqCst);
        let waiting = Queued { gate: gate.clone(), entered: false };
        let committing = tokio::spawn(first.commit());
        while gate.group.lock().await.waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!committing.is_finished(), "the first writer waits for the group's commit");
        // ...then the second gives up before its turn.
        drop(waiting);
        let committed = tokio::time::timeout(Duration::from_secs(10), committing).await;
        assert!(matches!(committed, Ok(Ok(Ok(())))), "the first writer's commit ends");
        assert_eq!(rows(&store).await, 1, "its row is committed");
    }

    /// A member that fails undoes only its own part of the group.
    #[tokio::test]
    async fn a_failed_member_undoes_only_itself() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = super::super::migrated_sqlite_store(&dir).await;
        let mut writers = Vec::new();
        for n in 0..40 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let mut write = store.begin_write().await?;
                sqlx::query(
                    "INSERT INTO audit_log (at, actor, action, target) VALUES ('now', 'test', 'group', $1)",
                )
                .bind(format!("row-{n}"))
                .execute(&mut *write.tx)
                .await?;
                if n % 4 == 0 {
                    // Gives up after writing: its row must not be committed with the others'.
                    return Err(StoreError::NotFound("on purpose"));
                }
                write.commit().await
            }));
        }
        let mut committed = 0;
        for writer in writers {
            if writer.await.expect("the writer ends").is_ok() {
                committed += 1;
            }
        }
        assert_eq!(committed, 30);
        assert_eq!(rows(&store).await, 30);
    }
}
