//! Backups of an SQLite database that restore: a consistent copy taken while instances serve
//! (`VACUUM INTO`, a read transaction that never blocks writers in WAL mode), and a restore
//! that refuses a database in use and keeps the one it replaces.
//!
//! "In use" is a lock file beside the database (`appeal.db.lock`): every serving instance holds
//! it shared for its lifetime, a restore takes it exclusively. PostgreSQL is backed up with its
//! own tools (`pg_dump`, `pg_restore`; see the README).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use sqlx::Row;

use super::{Engine, Store, StoreError, sqlite_file_path};

/// Held by a serving instance: a restore cannot replace the database under it.
#[derive(Debug)]
pub struct InUse {
    _file: File,
}

/// Why a backup or restore could not be done, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backups of PostgreSQL are made with its own tools: pg_dump --format=custom --file appeal.dump \"$DATABASE_URL\", \
         restored with pg_restore --clean --if-exists --dbname \"$DATABASE_URL\" appeal.dump"
    )]
    Postgres,
    #[error("{0} already exists: choose a new file, a backup never overwrites one")]
    OutputExists(PathBuf),
    #[error(
        "{0} is in use by a running appeal: stop every instance serving it (or restore into a new file and point \
         DATABASE_URL at it)"
    )]
    InUse(PathBuf),
    #[error("{path} is not an appeal backup: {detail}")]
    NotABackup { path: PathBuf, detail: String },
    #[error("DATABASE_URL names no database file (an in-memory database cannot be restored into)")]
    NoFile,
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |error| BackupError::Io { path: path.to_owned(), error }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(database: &Path) -> Result<File, BackupError> {
    let path = lock_path(database);
    OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))
}

/// Marks the SQLite database of `url` as served, for as long as the result lives; refuses
/// while a restore holds it. Nothing to hold on PostgreSQL or in memory.
pub fn hold_in_use(url: &str) -> Result<Option<InUse>, BackupError> {
    let Some(database) = sqlite_file_path(url) else {
        return Ok(None);
    };
    let file = open_lock(&database)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(InUse { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::InUse(database)),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(BackupError::Io { path: lock_path(&database), error })
        }
    }
}

impl Store {
    /// A consistent copy of the whole SQLite database in `output`, taken while others read and
    /// write: written beside it under a temporary name, then renamed, so a half-written copy
    /// never bears the name. Returns the number of ledger entries in the copy.
    pub async fn backup_into(&self, output: &Path) -> Result<i64, BackupError> {
        if self.engine != Engine::Sqlite {
            return Err(BackupError::Postgres);
        }
        if output.exists() {
            return Err(BackupError::OutputExists(output.to_owned()));
        }
        let partial = partial_path(output);
        let _ = std::fs::remove_file(&partial);
        let target = partial.to_str().ok_or_else(|| BackupError::Io {
            path: partial.clone(),
            error: std::io::Error::other("the path is not UTF-8"),
        })?;
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{}'", target.replace('\'', "''"))))
            .execute(&self.pool)
            .await
            .map_err(StoreError::from)?;
        let entries = count_entries(&partial).await?;
        File::open(&partial).and_then(|file| file.sync_all()).map_err(io(&partial))?;
        std::fs::rename(&partial, output).map_err(io(output))?;
        Ok(entries)
    }
}

fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// The ledger entries of an appeal SQLite file, after checking it is whole and is one.
async fn count_entries(path: &Path) -> Result<i64, BackupError> {
    use sqlx::Connection;
    let not_a_backup = |detail: String| BackupError::NotABackup { path: path.to_owned(), detail };
    if !path.is_file() {
        return Err(not_a_backup("there is no such file".to_owned()));
    }
    // Read-only, and without the pool's set-up (which would switch the file to WAL).
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(|error| not_a_backup(error.to_string()))?;
    let checked = async {
        let integrity: String =
            sqlx::query("PRAGMA integrity_check").fetch_one(&mut connection).await?.try_get(0)?;
        if integrity != "ok" {
            return Ok(Err(format!("its integrity check says {integrity}")));
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM ledger_entries").fetch_one(&mut connection).await?;
        Ok::<_, sqlx::Error>(Ok(row.try_get::<i64, _>("n")?))
    }
    .await;
    let _ = connection.close().await;
    match checked {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(detail)) => Err(not_a_backup(detail)),
        Err(error) => Err(not_a_backup(error.to_string())),
    }
}

/// What a restore did: the entries restored, and where the database it replaced was kept.
#[derive(Debug)]
pub struct Restored {
    pub entries: i64,
    pub kept: Option<PathBuf>,
}

/// Puts the backup `input` in place of the SQLite database of `url`, refusing while any
/// instance serves it. A database already there is kept beside it (renamed with the time),
/// never deleted; its write-ahead log goes with it.
pub async fn restore(url: &str, input: &Path) -> Result<Restored, BackupError> {
    if url.starts_with("postgres") {
        return Err(BackupError::Postgres);
    }
    let database = sqlite_file_path(url).ok_or(BackupError::NoFile)?;
    let lock = open_lock(&database)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(BackupError::InUse(database)),
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(BackupError::Io { path: lock_path(&database), error });
        }
    }
    let entries = count_entries(input).await?;
    let incoming = partial_path(&database);
    std::fs::copy(input, &incoming).map_err(io(&incoming))?;
    File::open(&incoming).and_then(|file| file.sync_all()).map_err(io(&incoming))?;
    let kept = if database.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let mut kept = database.as_os_str().to_owned();
        kept.push(format!(".before-restore-{stamp}"));
        let kept = PathBuf::from(kept);
        std::fs::rename(&database, &kept).map_err(io(&database))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = database.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if side.exists() {
                let mut moved = kept.as_os_str().to_owned();
                moved.push(suffix);
                std::fs::rename(&side, PathBuf::from(moved)).map_err(io(&side))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, &database).map_err(io(&database))?;
    drop(lock);
    Ok(Restored { entries, kept })
}
