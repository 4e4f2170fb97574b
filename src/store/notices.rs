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

    /// Releases the commits waiting for `turn` and those before it. Turns end in order, but
    /// a sender that gave up may say so late: the mark never goes back.
    fn release(&self, turn: u64) {
        self.sent.send_if_modified(|last| {
            let later = turn > *last;
            if later {
                *last = turn;
            }
            later
        });
    }

    /// A sender stopped before its work was done: what was due is given up (returned, to
    /// be logged) as one more turn, so that nobody waits for it, and the next commit starts a
    /// new sender.
    fn give_up(&self) -> BTreeSet<i64> {
        let mut due = self.due();
        due.turns += 1;
        due.sending = false;
        let given_up = std::mem::take(&mut due.campaigns);
        self.release(due.turns);
        given_up
    }
}

/// One statement for any number of notices, joined by commas (a notice has none: a
/// campaign's id and the instance's hex name).
const SEND: &str = "SELECT pg_notify($1, notice) FROM unnest(string_to_array($2, ',')) AS notice";

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
            // The guard exists before the task first runs: a task dropped unrun gives up too.
            let sender = Sender { store: self.clone(), done: false };
            tokio::spawn(sender.run());
        }
        let _ = sent.wait_for(|last| *last >= turn).await;
    }
}

/// The sender at work. One that stops before its work is done (its task dropped as the
/// runtime shuts down, or a panic) gives up what is due, so that no commit waits for it.
struct Sender {
    store: Store,
    done: bool,
}

impl Sender {
    /// Sends what is due, turn after turn, until nothing is.
    async fn run(mut self) {
        let notices = &self.store.notices;
        while let Some((turn, campaigns)) = notices.take() {
            // Sent after the commit, not inside it: a transaction that notifies holds
            // PostgreSQL's database-wide notify lock until its commit is flushed, which would
            // make every writer's commit wait for the one before. A notice lost to a crash
            // here is covered by the documents' five-second life. One notice per campaign,
            // as every version reads them.
            let joined: Vec<String> = campaigns.iter().map(|id| self.store.change_notice(*id)).collect();
            let sent = sqlx::query(SEND)
                .bind(CHANGES_CHANNEL)
                .bind(joined.join(","))
                .execute(&self.store.pool)
                .await;
            if let Err(error) = sent {
                tracing::warn!(%error, ?campaigns, "committed, but other instances were not told");
            }
            notices.release(turn);
        }
        self.done = true;
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if !self.done {
            let campaigns = self.store.notices.give_up();
            tracing::warn!(?campaigns, "the change notices' sender stopped: other instances were not told");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_commit_waits_for_the_turn_that_carries_its_campaigns() {
        let notices = Notices::default();
        assert_eq!(notices.mark(&[1]), (1, true), "the first mark starts a sender");
        assert_eq!(notices.mark(&[2, 1]), (1, false), "a mark before the turn shares it");
        assert_eq!(notices.take(), Some((1, BTreeSet::from([1, 2]))));
        assert_eq!(notices.mark(&[3]), (2, false), "a mark during a turn waits for the next");
        notices.release(1);
        assert_eq!(notices.take(), Some((2, BTreeSet::from([3]))));
        notices.release(2);
        assert_eq!(notices.take(), None, "nothing due: the sender stops");
        assert_eq!(notices.mark(&[4]), (3, true), "the next mark starts a sender again");
    }

    #[test]
    fn the_sent_mark_never_goes_back() {
        let notices = Notices::default();
        notices.release(3);
        notices.release(2);
        assert_eq!(*notices.sent.borrow(), 3);
    }

    #[test]
    fn a_sender_that_gives_up_releases_every_waiting_commit() {
        let notices = Notices::default();
        notices.mark(&[1]);
        assert_eq!(notices.take(), Some((1, BTreeSet::from([1]))));
        let (waiting_for, _) = notices.mark(&[2]);
        assert_eq!(notices.give_up(), BTreeSet::from([2]));
        assert!(*notices.sent.borrow() >= waiting_for, "the commits of turns 1 and 2 go on");
        assert_eq!(notices.mark(&[5]), (3, true), "the next commit starts a new sender");
    }
}
