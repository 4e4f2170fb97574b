//! The one query layer over SQLite and PostgreSQL: connection, migrations, transactions.
//!
//! Every query is written once in portable SQL (`$1` placeholders, `ON CONFLICT`,
//! `RETURNING`) and runs on either engine through sqlx's `Any` driver. Only the DDL differs,
//! in `migrations/sqlite/` and `migrations/postgres/` under the same version numbers.

mod appeals;
mod backup;
mod batches;
mod campaigns;
mod check;
mod documents;
mod donors;
mod emails;
mod entries;
mod events;
mod export_rows;
mod flags;
mod matching;
mod notices;
mod outbox;
mod payouts;
mod people;
mod privacy;
mod rates;
mod recurring;
mod schema;
mod sources;
mod statements;
mod stripe;
mod supporters;
mod tokens;
mod totals;
mod write;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};

pub use appeals::RemoteToFollow;
pub use backup::{BackupError, InUse, Restored, hold_in_use, restore};
pub use batches::{BatchPosted, StoredBatch};
pub use check::Discrepancy;
pub use documents::ProgressDocument;
pub use donors::DonorFigures;
pub use emails::{QueuedEmail, SupporterEmail, SupporterEmailKind, SupporterEmailRecord};
pub(crate) use emails::{queue_payment_failed_in, queue_receipt_in, settle_payment_failed_in};
pub(crate) use entries::record_entry_in;
pub use entries::{EntryFilter, RecordOutcome};
pub(crate) use events::claim_event_in;
pub use events::{
    DeferredEvent, EventClaim, EventFailure, EventState, FailedEvent, QUARANTINE_AFTER_ATTEMPTS, Resolution,
};
pub use export_rows::{ExportFilter, ExportRow};
pub(crate) use flags::raise_flag_in;
pub use flags::{Flag, FlagFilter, FlagKind, NewFlag};
pub use outbox::{
    AttemptRecorded, AttemptResult, DueDelivery, NewAttempt, StoredAttempt, StoredDelivery, StoredEndpoint,
};
pub use payouts::{PayoutItem, PayoutLine, PayoutReport, StoredPayout};
pub(crate) use payouts::{payout_report_on, upsert_payout_in};
pub use people::{AuditFilter, AuditRecord, SignIns, StoredSession, StoredUser};
pub use privacy::{ForgetBy, Forgotten};
pub use rates::RateFilter;
pub use schema::{SchemaState, migration_versions};
pub use statements::StoredStatement;
pub use stripe::{StoredDispute, SubscriptionFilter};
pub(crate) use stripe::{
    mark_subscription_past_due_in, update_intent_in, upsert_dispute_in, upsert_subscription_in,
};
pub use supporters::{WallGift, WallItem};
pub use tokens::{StoredToken, TokenClosed};
pub(crate) use write::WriteTx;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// Picks the engine from the URL scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{field} {message}")]
    Conflict { field: String, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error(
        "no appeal database at {url} ({detail}). Point DATABASE_URL at your database (a .env file in the \
         current folder is read too), or create a new one with `appeal migrate` or `appeal serve`"
    )]
    NoDatabase { url: String, detail: String },
    #[error(
        "the database was migrated by a newer appeal: it holds migrations {unknown:?}, and this binary knows \
         migrations up to {known}. Run the newer appeal, or upgrade this one; `appeal migrate --check` says \
         where a database stands"
    )]
    NewerSchema { known: i64, unknown: Vec<i64> },
    /// A deposit or gift like an earlier one, found under the campaign's lock.
    #[error("looks like an earlier one")]
    LooksLike(LookAlike),
}

/// The earlier record a new deposit or gift looks like.
#[derive(Debug)]
pub enum LookAlike {
    Deposit(Box<StoredBatch>),
    Gift(Box<crate::ledger::entry::Entry>),
}

impl StoreError {
    pub(crate) fn conflict(field: &str, message: impl Into<String>) -> Self {
        StoreError::Conflict { field: field.to_owned(), message: message.into() }
    }

    /// True when the database gave the transaction up for another it raced with (a deadlock,
    /// a serialization failure): the same work tried again is expected to go through.
    pub fn is_lost_race(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(error))
            if error.code().is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01")))
    }

    /// True when a write met a foreign key: a row it names is gone, or a row it removes is
    /// still named.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(error)) if error.is_foreign_key_violation())
    }

    /// True when the database itself failed (down, timed out), as opposed to a refused write.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_),
            ) => true,
            // PostgreSQL ending the connection (a restart, a failover, a terminated backend:
            // 57P01-57P03) or a connection exception (class 08): the server, not the request.
            StoreError::Database(sqlx::Error::Database(error)) => error.code().is_some_and(|code| {
                code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
            }),
            _ => false,
        }
    }
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// SQLite takes one writer at a time: writers in this process queue here, and commit
    /// together (see `write`). PostgreSQL needs no gate.
    write_gate: Option<Arc<write::WriteGate>>,
    /// Progress documents as last read, and who to tell when a campaign changes.
    documents: Arc<documents::Documents>,
    /// Wakes this process's webhook sender when an event is written or a replay queued.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// Campaigns whose change the other instances are still to hear (PostgreSQL).
    notices: Arc<notices::Notices>,
}

/// A PostgreSQL connection idle this long is pinged before it is used again.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_millis(500);

/// The PostgreSQL channel on which every instance hears that a campaign's figures changed.
pub const CHANGES_CHANNEL: &str = "appeal_progress";

impl Store {
    /// Connects to `url` (`sqlite:` creates the file when missing), without migrating.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        let pool = match engine {
            Engine::Sqlite => {
                options
                    .max_connections(8)
                    // A SQLite connection is a file handle in this process, with nothing to
                    // lose while idle: no ping (two thread hand-offs) before each use.
                    .test_before_acquire(false)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                            Ok(())
                        })
                    })
                    .connect(&sqlite_url_creating_file(url))
                    .await?
            }
            Engine::Postgres => {
                options
                    .max_connections(16)
                    // A connection used a moment ago is taken as it is: pinging each one
                    // before each use cost a round trip per use, several per webhook
                    // event. One idle for longer (the server may have restarted,
                    // or a proxy cut it) is pinged first and replaced if it is gone, as
                    // HikariCP does past its half-second window. A connection that breaks
                    // in use fails its query and is closed when it comes back to the pool.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_WHEN_IDLE_FOR {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let write_gate = write::gate_for(engine);
        let sqlite_path = (engine == Engine::Sqlite).then(|| sqlite_file_path(url)).flatten();
        Ok(Store {
            pool,
            engine,
            write_gate,
            documents: Arc::new(documents::Documents::new(sqlite_path)),
            outbox_wake: Arc::default(),
            notices: Arc::default(),
        })
    }

    /// Connects to an appeal database that exists already, without creating or migrating
    /// it: a command run from the wrong folder, or with a mistyped `DATABASE_URL`, must not
    /// leave a new empty database behind and report on that.
    pub async fn connect_existing(url: &str) -> Result<Self, StoreError> {
        let shown = redacted(url);
        if let Some(path) = sqlite_file_path(url)
            && !path.exists()
        {
            let absolute = std::path::absolute(&path).unwrap_or(path);
            return Err(StoreError::NoDatabase {
                url: shown,
                detail: format!("{} does not exist", absolute.display()),
            });
        }
        let store = Store::connect(url).await?;
        if !store.has_migrations_table().await? {
            store.close().await;
            return Err(StoreError::NoDatabase {
                url: shown,
                detail: "the database holds no appeal tables".to_owned(),
            });
        }
        Ok(store)
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A job that must run on one instance at a time holds this while it runs.
#[derive(Debug)]
pub struct JobLock {
    /// On PostgreSQL, the session that holds the advisory lock.
    connection: Option<(sqlx::pool::PoolConnection<Any>, i64)>,
}

impl JobLock {
    /// True while the lock is still held: on PostgreSQL, while the session holding it
    /// answers (a lost connection has let the lock go).
    pub async fn still_held(&mut self) -> bool {
        match &mut self.connection {
            Some((connection, _)) => sqlx::query("SELECT 1").execute(&mut **connection).await.is_ok(),
            None => true,
        }
    }

    pub async fn release(self) -> Result<(), StoreError> {
        if let Some((mut connection, key)) = self.connection {
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut *connection).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Takes the lock of a job such as `reconcile` if no other instance holds it. On SQLite,
    /// one machine runs everything and the jobs are safe to overlap: the lock is always given.
    pub async fn try_job_lock(&self, job: &str) -> Result<Option<JobLock>, StoreError> {
        if self.engine == Engine::Sqlite {
            return Ok(Some(JobLock { connection: None }));
        }
        // A stable key per job name (FNV-1a), the same on every instance.
        let key = job.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        let key = i64::from_ne_bytes(key.to_ne_bytes());
        let mut connection = self.pool.acquire().await?;
        let locked: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind(key)
            .fetch_one(&mut *connection)
            .await?
            .try_get("locked")?;
        Ok(locked.then_some(JobLock { connection: Some((connection, key)) }))
    }
}

/// The file of a `sqlite:` URL (`None` for an in-memory database).
/// A database URL as it may be shown: without its password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn sqlite_file_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

fn sqlite_url_creating_file(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The one way instants are stored: fixed-width RFC 3339 UTC with microseconds, so that
/// text order is time order on both engines.
/// `$1, $2, …, $count`: the placeholders of an `IN (…)` list of `count` values.
pub(super) fn placeholders(count: usize) -> String {
    (1..=count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn stored_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn read_instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("instant {text:?}")))
}

/// A nullable instant column, by name.
pub(crate) fn read_optional_instant(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?.as_deref().map(read_instant).transpose()
}

pub(crate) fn read_date(text: &str) -> Result<NaiveDate, StoreError> {
    // `YYYY-MM-DD` through `FromStr`: a fixed format, without a format string to parse per row.
    text.parse::<NaiveDate>().map_err(|_| StoreError::Corrupt(format!("date {text:?}")))
}

/// Reads a flag stored as BOOLEAN (PostgreSQL) or INTEGER 0/1 (SQLite), by name or position.
pub(crate) fn read_flag<I>(row: &AnyRow, column: I) -> Result<bool, StoreError>
where
    I: sqlx::ColumnIndex<AnyRow> + Copy,
{
    match row.try_get::<bool, _>(column) {
        Ok(flag) => Ok(flag),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// A stored currency code.
pub(crate) fn read_currency(code: &str) -> Result<crate::ledger::Currency, StoreError> {
    crate::ledger::Currency::from_code(code).map_err(|_| StoreError::Corrupt(format!("currency {code}")))
}

/// A stored entry kind.
pub(crate) fn read_kind(kind: &str) -> Result<crate::ledger::EntryKind, StoreError> {
    crate::ledger::EntryKind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("entry kind {kind}")))
}

/// A stored entry source.
pub(crate) fn read_source(source: &str) -> Result<crate::ledger::Source, StoreError> {
    crate::ledger::Source::parse(source).ok_or_else(|| StoreError::Corrupt(format!("entry source {source}")))
}

/// True when `error` is a violation of a UNIQUE constraint.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Hides the password of a database URL, for logs and `--help` output.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails on URLs that cannot hold one, which this one does.
            let _ = parsed.set_password(Some("********"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A migrated SQLite database in `dir`, for the store's own tests.
#[cfg(test)]
async fn migrated_sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("appeal.db").display());
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_ship_the_same_migration_versions() {
        let (sqlite, postgres) = migration_versions();
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must list the same versions");
    }

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://appeal:s3cret@db.example.org:5432/appeal"),
            "postgres://appeal:********@db.example.org:5432/appeal"
        );
        assert_eq!(redact_url("sqlite://appeal.db"), "sqlite://appeal.db");
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_file_path("sqlite://appeal.db"), Some("appeal.db".into()));
        assert_eq!(
            sqlite_file_path("sqlite:///var/lib/appeal.db?mode=rwc"),
            Some("/var/lib/appeal.db".into())
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
    }

    #[test]
    fn sqlite_files_are_created_on_first_run() {
        assert_eq!(sqlite_url_creating_file("sqlite://appeal.db"), "sqlite://appeal.db?mode=rwc");
        assert_eq!(sqlite_url_creating_file("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
    }
}
