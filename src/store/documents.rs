//! Progress documents kept in memory, so a progress read usually touches no database row,
//! and the news of which campaigns changed, for caches and live streams.
//!
//! A commit in this process forgets the documents it changed before it returns; commits in
//! other instances arrive through PostgreSQL's NOTIFY (see `live`). A read that raced a
//! change is not kept, so a stale document cannot outlive the change that made it stale.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

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
}

#[derive(Debug)]
pub(super) struct Documents {
    by_slug: RwLock<HashMap<String, std::sync::Arc<ProgressDocument>>>,
    /// Bumped by every change; a read that saw it move keeps nothing.
    epoch: AtomicU64,
    changes: broadcast::Sender<i64>,
    /// On SQLite, the database and WAL files: another process (the CLI) that commits
    /// changes them, which is how this one learns of writes it did not make.
    sqlite_files: Option<[PathBuf; 2]>,
    sqlite_stamp: Mutex<Option<FileStamp>>,
}

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
    /// (a commit by any process). True when they had changed.
    pub(super) fn forget_if_files_changed(&self) -> bool {
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
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut documents) = self.by_slug.write() {
            documents.clear();
        }
        true
    }
    pub(super) fn changed(&self, campaign_id: i64) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut documents) = self.by_slug.write() {
            documents.retain(|_, document| document.campaign_id != campaign_id);
        }
        // Nobody listening is fine: no live stream is open.
        let _ = self.changes.send(campaign_id);
    }
}

impl Store {
    /// The progress document of a campaign, from memory when it has not changed since.
    pub async fn progress_document(
        &self,
        slug: &str,
    ) -> Result<Option<std::sync::Arc<ProgressDocument>>, StoreError> {
        self.documents.forget_if_files_changed();
        if let Some(document) =
            self.documents.by_slug.read().ok().and_then(|documents| documents.get(slug).cloned())
        {
            return Ok(Some(document));
        }
        let epoch = self.documents.epoch.load(Ordering::SeqCst);
        let Some((campaign, totals, branches)) = self.campaign_progress(slug).await? else {
            return Ok(None);
        };
        let body = serde_json::to_vec(&Progress::new(&campaign, &totals, &branches))
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let etag = format!("\"{}\"", &hex(&Sha256::digest(&body))[..32]);
        let document = std::sync::Arc::new(ProgressDocument {
            campaign_id: campaign.id,
            slug: campaign.slug.to_string(),
            public: campaign.status.is_public(),
            body: Bytes::from(body),
            etag_header: axum::http::HeaderValue::from_str(&etag)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            etag,
        });
        if let Ok(mut documents) = self.documents.by_slug.write()
            && self.documents.epoch.load(Ordering::SeqCst) == epoch
        {
            documents.insert(slug.to_owned(), document.clone());
        }
        Ok(Some(document))
    }

    /// Ids of campaigns whose figures changed, as they commit (here or, on PostgreSQL, in
    /// any instance once `announce_change` is fed from NOTIFY).
    pub fn changes(&self) -> broadcast::Receiver<i64> {
        self.documents.changes.subscribe()
    }

    /// Another instance changed a campaign: forget its document and tell the live streams.
    pub fn announce_change(&self, campaign_id: i64) {
        self.documents.changed(campaign_id);
    }

    /// On SQLite: whether another process committed since the last look (the documents
    /// are then forgotten). Always false on PostgreSQL, where NOTIFY says it.
    pub fn files_changed(&self) -> bool {
        self.documents.forget_if_files_changed()
    }
}
