//! Progress documents kept in memory, so a progress read usually touches no database row,
//! and the news of which campaigns changed, for caches and live streams.
//!
//! A commit in this process rebuilds the documents it changed before it returns, so readers
//! go on being answered from memory while it does. Commits in other instances arrive as
//! notices through PostgreSQL's NOTIFY (see `live`), sent after their commit, and forget
//! the document at once, as they have returned; a document also lives at most five seconds,
//! which bounds the staleness a lost notice could cause. A read that raced a change is not
//! kept, so a stale document cannot outlive the change that made it stale. Documents are
//! built one at a time: when one is missing, one reader builds it and the others wait for it
//! instead of all asking the database at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::{Store, StoreError};
use crate::access::hex;
use crate::ledger::progress::Progress;

/// A campaign's progress JSON, ready to send, with its ETag.
#[derive(Debug)]
pub struct ProgressDocument {
    pub campaign_id: i64,
    pub slug: String,
    /// Drafts are never shown to the public.
    pub public: bool,
    pub body: Bytes,
    pub etag: String,
    /// The same, ready to send.
    pub etag_header: axum::http::HeaderValue,
    /// When it was built: past `MAX_AGE` it is built again.
    built: Instant,
}

/// How long a document may be kept without hearing of a change: the `max-age` the progress
/// answer gives caches. It bounds how stale a document can be when another instance's
/// notice is lost (that instance stopped between its commit and its NOTIFY, or this one's
/// listener was reconnecting).
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct Documents {
    by_slug: RwLock<HashMap<String, Arc<ProgressDocument>>>,
    /// Bumped by every change; a read that saw it move keeps nothing.
    epoch: AtomicU64,
    changes: broadcast::Sender<i64>,
    /// On SQLite, the database and WAL files: another process (the CLI) that commits
    /// changes them, which is how this one learns of writes it did not make.
    sqlite_files: Option<[PathBuf; 2]>,
    sqlite_stamp: Mutex<Option<FileStamp>>,
    /// This process's name in change notices, so that it skips its own.
    instance: String,
    /// When readers last looked at the files, in nanoseconds since `born`.
    looked_at: AtomicU64,
    born: Instant,
    /// Held while a document is built, so that a missing one is built once.
    building: tokio::sync::Mutex<()>,
    /// Per campaign: rebuilds asked for by commits, and the last asked for when a rebuild
    /// began. A commit whose ask a rebuild that began after it covers need not rebuild again,
    /// so a burst of commits to one campaign rebuilds its document a few times, not once each.
    rebuilds: Mutex<HashMap<i64, (u64, u64)>>,
    /// Slugs that named no campaign, lately: a flood of random slugs is answered from here
    /// instead of queuing, one at a time, for `building`. Bounded, and forgotten on any
    /// change (a campaign created under one of them).
    absent: Mutex<Absent>,
}

/// Recently missing slugs, oldest first, at most `ABSENT_CAPACITY`.
#[derive(Debug, Default)]
struct Absent {
    since: HashMap<String, Instant>,
    order: std::collections::VecDeque<String>,
}

const ABSENT_CAPACITY: usize = 4096;

impl Absent {
    fn is_absent(&self, slug: &str) -> bool {
        self.since.get(slug).is_some_and(|since| since.elapsed() < MAX_AGE)
    }

    fn remember(&mut self, slug: &str) {
        if self.since.insert(slug.to_owned(), Instant::now()).is_none() {
            self.order.push_back(slug.to_owned());
            while self.since.len() > ABSENT_CAPACITY {
                let Some(oldest) = self.order.pop_front() else { break };
                self.since.remove(&oldest);
            }
        }
    }

    fn forget_all(&mut self) {
        self.since.clear();
        self.order.clear();
    }
}

/// How often readers look at the SQLite files at most: a millisecond.
const READER_LOOK_NANOS: u64 = 1_000_000;

/// Sizes and modification times of the SQLite files.
type FileStamp = [(u64, Option<SystemTime>); 2];

impl Documents {
    pub(super) fn new(sqlite_path: Option<PathBuf>) -> Self {
        let sqlite_files = sqlite_path.map(|path| {
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            [path, PathBuf::from(wal)]
        });
        Documents {
            by_slug: RwLock::default(),
            epoch: AtomicU64::new(0),
            changes: broadcast::channel(1024).0,
            sqlite_files,
            sqlite_stamp: Mutex::new(None),
            instance: super::entries::random_hex(),
            looked_at: AtomicU64::new(0),
            born: Instant::now(),
            building: tokio::sync::Mutex::new(()),
            rebuilds: Mutex::default(),
            absent: Mutex::default(),
        }
    }

    fn stamp(&self) -> Option<FileStamp> {
        let files = self.sqlite_files.as_ref()?;
        let read = |path: &PathBuf| {
            std::fs::metadata(path).map(|meta| (meta.len(), meta.modified().ok())).unwrap_or((0, None))
        };
        Some([read(&files[0]), read(&files[1])])
    }

    /// On SQLite, forgets every document when the files changed since last looked at
    /// (a commit by any process), except `keep`'s, which the caller is rebuilding. True when
    /// they had changed.
    fn forget_if_files_changed(&self, keep: Option<i64>) -> bool {
        let Some(stamp) = self.stamp() else {
            return false;
        };
        let Ok(mut last) = self.sqlite_stamp.lock() else {
            return false;
        };
        if last.as_ref() == Some(&stamp) {
            return false;
        }
        *last = Some(stamp);
        self.bump();
        if let Ok(mut documents) = self.by_slug.write() {
            documents.retain(|_, document| Some(document.campaign_id) == keep);
        }
        true
    }

    /// What a reader does before using a document: on SQLite, look at the files for commits
    /// by other processes, at most once a millisecond. A commit by another process is thus
    /// seen within a millisecond (the CLI takes longer than that to exit), and a busy bar
    /// does not pay two `statx` per read.
    fn forget_if_files_changed_lately(&self) {
        if self.sqlite_files.is_none() {
            return;
        }
        let now = u64::try_from(self.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.looked_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < READER_LOOK_NANOS
            || self.looked_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        self.forget_if_files_changed(None);
    }

    fn cached(&self, slug: &str) -> Option<Arc<ProgressDocument>> {
        self.by_slug
            .read()
            .ok()
            .and_then(|documents| documents.get(slug).cloned())
            .filter(|document| document.built.elapsed() < MAX_AGE)
    }

    /// The slug under which a campaign's document is kept, if it is.
    fn cached_slug(&self, campaign_id: i64) -> Option<String> {
        let documents = self.by_slug.read().ok()?;
        documents.values().find(|document| document.campaign_id == campaign_id).map(|d| d.slug.clone())
    }

    /// Something changed: documents built before may not be kept, and no slug is known absent.
    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut absent) = self.absent.lock() {
            absent.forget_all();
        }
    }

    fn forget(&self, campaign_id: i64) {
        if let Ok(mut documents) = self.by_slug.write() {
            documents.retain(|_, document| document.campaign_id != campaign_id);
        }
    }

    /// A commit asks for its campaign's document to be rebuilt: its ask's number.
    fn ask_rebuild(&self, campaign_id: i64) -> u64 {
        let Ok(mut rebuilds) = self.rebuilds.lock() else {
            return u64::MAX;
        };
        let (asked, _) = rebuilds.entry(campaign_id).or_insert((0, 0));
        *asked += 1;
        *asked
    }

    /// Whether ask `asked` still needs a rebuild (one that began after it has not ended):
    /// if so, the last ask the rebuild starting now covers.
    fn rebuild_needed(&self, campaign_id: i64, asked: u64) -> Option<u64> {
        let Ok(rebuilds) = self.rebuilds.lock() else {
            return Some(asked);
        };
        match rebuilds.get(&campaign_id) {
            Some(&(_, covered)) if covered >= asked => None,
            Some(&(last, _)) => Some(last),
            None => Some(asked),
        }
    }

    fn rebuilt(&self, campaign_id: i64, covers: u64) {
        if let Ok(mut rebuilds) = self.rebuilds.lock()
            && let Some((_, covered)) = rebuilds.get_mut(&campaign_id)
        {
            *covered = (*covered).max(covers);
        }
    }

    /// Tells the live streams a campaign changed. Nobody listening is fine: no stream is open.
    fn announce(&self, campaign_id: i64) {
        let _ = self.changes.send(campaign_id);
    }

    /// Keeps a document built while the epoch was `epoch`, unless a change came since.
    fn keep(&self, slug: &str, document: &Arc<ProgressDocument>, epoch: u64) -> bool {
        let Ok(mut documents) = self.by_slug.write() else {
            return false;
        };
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return false;
        }
        documents.insert(slug.to_owned(), document.clone());
        true
    }
}

impl Store {
    /// The progress document of a campaign, from memory when it has not changed since.
    pub async fn progress_document(&self, slug: &str) -> Result<Option<Arc<ProgressDocument>>, StoreError> {
        if let Some(document) = self.progress_document_in_memory(slug) {
            return Ok(Some(document));
        }
        let documents = &self.documents;
        if documents.absent.lock().is_ok_and(|absent| absent.is_absent(slug)) {
            return Ok(None);
        }
        let _building = documents.building.lock().await;
        // Another reader may have built it while this one waited.
        if let Some(document) = documents.cached(slug) {
            return Ok(Some(document));
        }
        let epoch = documents.epoch.load(Ordering::SeqCst);
        let document = self.build_document(slug).await?;
        match &document {
            Some(document) => {
                documents.keep(slug, document, epoch);
            }
            None if documents.epoch.load(Ordering::SeqCst) == epoch => {
                if let Ok(mut absent) = documents.absent.lock() {
                    absent.remember(slug);
                }
            }
            None => {}
        }
        Ok(document)
    }

    /// The progress document of a campaign when it is in memory and current; never waits.
    pub fn progress_document_in_memory(&self, slug: &str) -> Option<Arc<ProgressDocument>> {
        self.documents.forget_if_files_changed_lately();
        self.documents.cached(slug)
    }

    async fn build_document(&self, slug: &str) -> Result<Option<Arc<ProgressDocument>>, StoreError> {
        let Some((campaign, totals, branches)) = self.campaign_progress(slug).await? else {
            return Ok(None);
        };
        let body = serde_json::to_vec(&Progress::new(&campaign, &totals, &branches))
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let etag = format!("\"{}\"", &hex(&Sha256::digest(&body))[..32]);
        Ok(Some(Arc::new(ProgressDocument {
            campaign_id: campaign.id,
            slug: campaign.slug.to_string(),
            public: campaign.status.is_public(),
            body: Bytes::from(body),
            etag_header: axum::http::HeaderValue::from_str(&etag)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            etag,
            built: Instant::now(),
        })))
    }

    /// A campaign's figures changed (a commit here or, through NOTIFY, in another
    /// instance): rebuild its document, then tell the live streams. Readers keep the old
    /// document until the new one replaces it; a failed rebuild forgets it instead.
    pub(super) async fn refresh_document(&self, campaign_id: i64) {
        let documents = &self.documents;
        documents.bump();
        if let Some(slug) = documents.cached_slug(campaign_id) {
            let asked = documents.ask_rebuild(campaign_id);
            let _building = documents.building.lock().await;
            // A rebuild that began after this commit (for another commit that waited here
            // meanwhile) read what it wrote: nothing more to do.
            let Some(covers) = documents.rebuild_needed(campaign_id, asked) else {
                documents.announce(campaign_id);
                return;
            };
            // On SQLite this commit moved the file stamps: take them in now (forgetting the
            // other campaigns' documents, as any change of the files does), so that readers
            // do not throw away the document being rebuilt here.
            documents.forget_if_files_changed(Some(campaign_id));
            let epoch = documents.epoch.load(Ordering::SeqCst);
            let kept = match self.build_document(&slug).await {
                Ok(Some(document)) if document.campaign_id == campaign_id && document.slug == slug => {
                    documents.keep(&slug, &document, epoch)
                }
                Ok(_) => false,
                Err(error) => {
                    tracing::warn!(%error, campaign_id, "cannot rebuild a changed campaign's progress");
                    false
                }
            };
            if !kept {
                documents.forget(campaign_id);
            }
            // Kept, or forgotten so that the next reader reads afresh: either way the
            // commits asked before this rebuild began are seen.
            documents.rebuilt(campaign_id, covers);
        }
        documents.announce(campaign_id);
    }

    /// Ids of campaigns whose figures changed, as they commit (here or, on PostgreSQL, in
    /// any instance once `hear_change_notice` is fed from NOTIFY).
    pub fn changes(&self) -> broadcast::Receiver<i64> {
        self.documents.changes.subscribe()
    }

    /// The notice that tells other instances (PostgreSQL's NOTIFY) a campaign changed.
    pub(super) fn change_notice(&self, campaign_id: i64) -> String {
        format!("{campaign_id} {}", self.documents.instance)
    }

    /// A change notice heard on PostgreSQL: another instance (or the CLI) changed a campaign.
    /// Its document is forgotten at once, since that commit has already returned to whoever
    /// made it, and the live streams are told; the next read builds it again. This
    /// instance's own notices are skipped: its commits rebuilt their documents already.
    pub fn hear_change_notice(&self, notice: &str) {
        let mut words = notice.split(' ');
        let Some(Ok(campaign_id)) = words.next().map(str::parse::<i64>) else {
            return;
        };
        if words.next() == Some(self.documents.instance.as_str()) {
            return;
        }
        self.documents.bump();
        self.documents.forget(campaign_id);
        self.documents.announce(campaign_id);
    }

    /// On SQLite: whether another process committed since the last look (the documents
    /// are then forgotten). Always false on PostgreSQL, where NOTIFY says it.
    pub fn files_changed(&self) -> bool {
        self.documents.forget_if_files_changed(None)
    }
}
