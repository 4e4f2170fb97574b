//! Live progress: one reader per instance turns each committed change into a fresh progress
//! document and fans it out to every open stream of that campaign. On PostgreSQL, changes
//! committed by other instances arrive through LISTEN/NOTIFY.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::store::{CHANGES_CHANNEL, Engine, ProgressDocument, Store};

/// The most streams one address may hold open (a newsroom behind one NAT is fine; a loop is not).
pub const DEFAULT_MAX_STREAMS_PER_IP: usize = 50;

/// The most streams one instance holds open at once, unless `APPEAL_MAX_STREAMS` says.
pub const DEFAULT_MAX_STREAMS: usize = 10_000;

pub mod remote;

#[derive(Debug)]
pub struct Live {
    store: Store,
    channels: Mutex<HashMap<i64, broadcast::Sender<Arc<ProgressDocument>>>>,
    /// Told when a remote appeal member's figures (or whether it answers) changed.
    /// Replaced when the instance stops, which ends the appeal streams listening to it.
    appeals: Mutex<broadcast::Sender<()>>,
    /// How often remote members are asked; one not heard from for three times as long is stale.
    remote_every: Duration,
    /// Open streams per client (by its limit key): entries leave when their count is 0, so
    /// the table holds at most as many keys as there are open streams.
    open_streams: Mutex<OpenStreams>,
    max_streams_per_ip: usize,
    max_streams: usize,
}

#[derive(Debug, Default)]
struct OpenStreams {
    per_address: HashMap<IpAddr, usize>,
    total: usize,
}

/// Why a stream was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TooManyStreams {
    /// This address already holds its share of streams.
    FromThisAddress,
    /// The instance holds as many streams as it may: come back shortly.
    Full,
}

/// An open stream's place in the per-address count, given back when the stream ends.
#[derive(Debug)]
pub struct StreamPermit {
    live: Arc<Live>,
    ip: IpAddr,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.live.open_streams.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(count) = open.per_address.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    open.per_address.remove(&self.ip);
                }
            }
        }
    }
}

impl Live {
    /// Starts the fan-out (and, on PostgreSQL, the listener) for `store`.
    pub fn start(
        store: Store,
        database_url: &str,
        max_streams_per_ip: usize,
        max_streams: usize,
        remote_every: Duration,
    ) -> Arc<Live> {
        let live = Arc::new(Live {
            store: store.clone(),
            channels: Mutex::default(),
            appeals: Mutex::new(broadcast::channel(16).0),
            remote_every,
            open_streams: Mutex::default(),
            max_streams_per_ip,
            max_streams,
        });
        tokio::spawn(fan_out(live.clone(), store.changes()));
        tokio::spawn(remote::follow(live.clone()));
        if store.engine() == Engine::Postgres {
            tokio::spawn(listen(store, database_url.to_owned()));
        } else {
            tokio::spawn(watch_sqlite_files(live.clone()));
        }
        live
    }

    /// Admits one more stream from a client (by its limit key), or refuses past either cap.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<StreamPermit, TooManyStreams> {
        let mut open = self.open_streams.lock().map_err(|_| TooManyStreams::Full)?;
        if open.total >= self.max_streams {
            return Err(TooManyStreams::Full);
        }
        let count = open.per_address.entry(ip).or_insert(0);
        if *count >= self.max_streams_per_ip {
            return Err(TooManyStreams::FromThisAddress);
        }
        *count += 1;
        open.total += 1;
        Ok(StreamPermit { live: self.clone(), ip })
    }

    /// New documents of one campaign, as they are committed.
    pub fn subscribe(&self, campaign_id: i64) -> broadcast::Receiver<Arc<ProgressDocument>> {
        let mut channels = self.channels.lock().expect("the channel map is not poisoned");
        channels.entry(campaign_id).or_insert_with(|| broadcast::channel(16).0).subscribe()
    }

    /// News that some remote appeal member changed (its figures, or whether it answers).
    pub fn subscribe_appeals(&self) -> broadcast::Receiver<()> {
        self.appeals.lock().expect("the appeal channel is not poisoned").subscribe()
    }

    /// Tells the appeal streams that a remote member changed.
    fn appeals_changed(&self) {
        if let Ok(sender) = self.appeals.lock() {
            let _ = sender.send(());
        }
    }

    /// How often remote appeal members are asked for their figures.
    pub fn remote_every(&self) -> Duration {
        self.remote_every
    }

    /// How long a remote member may go unheard before it is shown stale.
    pub fn stale_after(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.remote_every * 3).unwrap_or(chrono::Duration::MAX)
    }

    /// Ends every open stream (the instance is stopping): their clients reconnect, to
    /// another instance behind the load balancer, and get the current figures at once.
    pub fn close_all(&self) {
        self.channels.lock().expect("the channel map is not poisoned").clear();
        if let Ok(mut appeals) = self.appeals.lock() {
            *appeals = broadcast::channel(16).0;
        }
    }

    /// How many streams are open now, for /metrics.
    pub fn open_streams(&self) -> usize {
        self.open_streams.lock().map(|open| open.total).unwrap_or(0)
    }

    async fn publish(&self, campaign_id: i64) {
        let sender = {
            let mut channels = self.channels.lock().expect("the channel map is not poisoned");
            match channels.get(&campaign_id) {
                Some(sender) if sender.receiver_count() > 0 => sender.clone(),
                Some(_) => {
                    channels.remove(&campaign_id);
                    return;
                }
                None => return,
            }
        };
        let slug = match self.store.campaign_slug(campaign_id).await {
            Ok(Some(slug)) => slug,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, campaign_id, "cannot read a changed campaign");
                return;
            }
        };
        match self.store.progress_document(slug.as_str()).await {
            Ok(Some(document)) => {
                let _ = sender.send(document);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, campaign_id, "cannot read a changed campaign's progress"),
        }
    }
}

async fn fan_out(live: Arc<Live>, mut changes: broadcast::Receiver<i64>) {
    loop {
        match changes.recv().await {
            Ok(campaign_id) => live.publish(campaign_id).await,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                // Too many changes at once: refresh every campaign someone is watching.
                tracing::warn!(missed, "live fan-out fell behind; refreshing every watched campaign");
                let watched: Vec<i64> = live
                    .channels
                    .lock()
                    .map(|channels| channels.keys().copied().collect())
                    .unwrap_or_default();
                for campaign_id in watched {
                    live.publish(campaign_id).await;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// On SQLite, another process (the CLI) may commit: look at the files every half second and
/// refresh every watched campaign when they changed.
async fn watch_sqlite_files(live: Arc<Live>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(500));
    loop {
        ticks.tick().await;
        if live.store.files_changed() {
            let watched: Vec<i64> =
                live.channels.lock().map(|channels| channels.keys().copied().collect()).unwrap_or_default();
            for campaign_id in watched {
                live.publish(campaign_id).await;
            }
        }
    }
}

/// Hears other instances' commits and feeds them to this one's caches and streams.
async fn listen(store: Store, database_url: String) {
    loop {
        match sqlx::postgres::PgListener::connect(&database_url).await {
            Ok(mut listener) => {
                if let Err(error) = listener.listen(CHANGES_CHANNEL).await {
                    tracing::warn!(%error, "cannot LISTEN for changes; retrying");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(notification) => {
                                store.hear_change_notice(notification.payload());
                            }
                            Err(error) => {
                                tracing::warn!(%error, "lost the change listener; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot connect the change listener; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
