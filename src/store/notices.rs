//! Change notices to the other instances (PostgreSQL's NOTIFY), coalesced under a burst.
//!
//! A commit that changes a campaign's figures tells the other instances on the changes
//! channel, so that they drop their copy of its progress document and tell their streams.
//! One notice per commit would cost a round trip per gift during a push. Instead, one
//! sender at a time sends what is due, in turns of one statement each: a commit marks its
//! campaigns due and waits for the turn that carries them. Commits that mark while a turn
//! is being sent share the next one. Every commit is told before it returns, as when each
//! sent its own. The sender is a task of its own, so a request that goes away cannot
//! strand what it marked.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::{CHANGES_CHANNEL, Engine, Store};

/// Campaigns due to be told, and the turns that tell them.
#[derive(Debug)]
pub(super) struct Notices {
    state: Mutex<Due>,
    /// The last turn sent (or given up).
    sent: watch::Sender<u64>,
}

impl Default for Notices {
    fn default() -> Self {
        Notices { state: Mutex::default(), sent: watch::Sender::new(0) }
    }
}

#[derive(Debug, Default)]
struct Due {
    campaigns: BTreeSet<i64>,
    /// Turns taken so far: the next turn takes everything marked before it.
    turns: u64,
    sending: bool,
}

impl Notices {
    fn due(&self) -> MutexGuard<'_, Due> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `campaigns` due: the turn that will carry them, and whether the caller is to
    /// start a sender (none is at work).
    fn mark(&self, campaigns: &[i64]) -> (u64, bool) {
        let mut due = self.due();
        due.campaigns.extend(campaigns);
        (due.turns + 1, !std::mem::replace(&mut due.sending, true))
    }

    /// The next turn and what it carries, or nothing, in which case the sender stops (under
    /// the same lock, so that a campaign marked after this finds no sender and starts one).
    fn take(&self) -> Option<(u64, BTreeSet<i64>)> {
        let mut due = self.due();
        if due.campaigns.is_empty() {
            due.sending = false;
            return None;
        }
        due.turns += 1;
        Some((due.turns, std::mem::take(&mut due.campaigns)))
    }
}

impl Store {
    /// Tells the other instances (on PostgreSQL) that `campaigns` changed; returns once the
    /// notice is sent (or failed, which is logged).
    pub(super) async fn notify_changed(&self, campaigns: &[i64]) {
        if self.engine != Engine::Postgres || campaigns.is_empty() {
            return;
        }
        let mut sent = self.notices.sent.subscribe();
        let (turn, start) = self.notices.mark(campaigns);
        if start {
            tokio::spawn(self.clone().send_notices());
        }
        let _ = sent.wait_for(|last| *last >= turn).await;
    }

    /// Sends what is due, turn after turn, until nothing is.
    async fn send_notices(self) {
        let mut sender = Sender { store: self, turn: None };
        while let Some((turn, campaigns)) = sender.store.notices.take() {
            sender.turn = Some(turn);
            // Sent after the commit, not inside it: a transaction that notifies holds
            // PostgreSQL's database-wide notify lock until its commit is flushed, which would
            // make every writer's commit wait for the one before. A notice lost to a crash
            // here is covered by the documents' five-second life. One notice per campaign,
            // as every version reads them.
            let notices: Vec<String> = campaigns.iter().map(|id| sender.store.change_notice(*id)).collect();
            let calls: Vec<String> = (2..notices.len() + 2).map(|n| format!("pg_notify($1, ${n})")).collect();
            let sql = format!("SELECT {}", calls.join(", "));
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(CHANGES_CHANNEL);
            for notice in &notices {
                query = query.bind(notice);
            }
            if let Err(error) = query.execute(&sender.store.pool).await {
                tracing::warn!(%error, ?campaigns, "committed, but other instances were not told");
            }
            sender.store.notices.sent.send_replace(turn);
        }
        sender.turn = None;
    }
}

/// The sender at work. One that ends mid-turn (its task dropped as the runtime shuts down,
/// or a panic) releases the commits waiting for that turn and leaves the rest to a new one.
struct Sender {
    store: Store,
    /// The turn being sent, until the sender ends normally.
    turn: Option<u64>,
}

impl Drop for Sender {
    fn drop(&mut self) {
        let Some(turn) = self.turn else {
            return;
        };
        tracing::warn!(turn, "a change notice was not sent: the sender stopped");
        let notices = &self.store.notices;
        let restart = {
            let mut due = notices.due();
            due.sending = !due.campaigns.is_empty();
            due.sending
        };
        notices.sent.send_replace(turn);
        if restart {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(self.store.clone().send_notices());
                }
                Err(_) => notices.due().sending = false,
            }
        }
    }
}
