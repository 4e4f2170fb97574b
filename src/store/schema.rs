//! The database's schema against the migrations this binary ships: applying them, and
//! saying whether a database is behind, current or ahead (migrated by a newer appeal).
//!
//! Migrations follow expand-then-contract (README, "Upgrades"): each one only adds what
//! older instances ignore, so a newer instance may migrate while older ones still serve; what
//! they no longer need is removed by a later release, once none of them runs.

use sqlx::Row;
use sqlx::migrate::Migrator;

use super::{Engine, Store, StoreError};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Where a database stands against this binary's migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaState {
    /// Every migration this binary knows is applied, and no other.
    Current { version: i64 },
    /// Migrations this binary would apply (`appeal migrate`).
    Behind { applied: Option<i64>, pending: Vec<i64> },
    /// Migrations applied by a newer appeal that this binary does not know.
    Ahead { known: i64, unknown: Vec<i64> },
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies the engine's migrations that have not run yet; refuses a database migrated by
    /// a newer appeal, naming the versions.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if let SchemaState::Ahead { known, unknown } = self.schema_state().await? {
            return Err(StoreError::NewerSchema { known, unknown });
        }
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database holds appeal's migration table: an appeal database at all.
    pub(super) async fn has_migrations_table(&self) -> Result<bool, StoreError> {
        let sql = match self.engine {
            Engine::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Engine::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = '_sqlx_migrations' \
                 AND table_schema = current_schema()"
            }
        };
        let found: i64 = sqlx::query(sql).fetch_one(&self.pool).await?.try_get("n")?;
        Ok(found > 0)
    }

    /// Compares the migrations applied to the database with those this binary ships.
    pub async fn schema_state(&self) -> Result<SchemaState, StoreError> {
        let shipped: Vec<i64> = self.migrator().iter().map(|migration| migration.version).collect();
        let applied: Vec<i64> = if !self.has_migrations_table().await? {
            Vec::new()
        } else {
            sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| row.try_get("version"))
                .collect::<Result<_, _>>()?
        };
        Ok(compare(&shipped, &applied))
    }
}

/// `shipped` and `applied` in ascending order.
fn compare(shipped: &[i64], applied: &[i64]) -> SchemaState {
    let known = shipped.last().copied().unwrap_or(0);
    let unknown: Vec<i64> = applied.iter().copied().filter(|version| !shipped.contains(version)).collect();
    if !unknown.is_empty() {
        return SchemaState::Ahead { known, unknown };
    }
    let pending: Vec<i64> = shipped.iter().copied().filter(|version| !applied.contains(version)).collect();
    if pending.is_empty() {
        SchemaState::Current { version: known }
    } else {
        SchemaState::Behind { applied: applied.last().copied(), pending }
    }
}

/// The versions of the migrations each engine ships, for the test that keeps them in step.
pub fn migration_versions() -> (Vec<i64>, Vec<i64>) {
    let versions = |migrator: &Migrator| migrator.iter().map(|m| m.version).collect();
    (versions(&SQLITE_MIGRATIONS), versions(&POSTGRES_MIGRATIONS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_behind_current_or_ahead() {
        assert_eq!(compare(&[1, 2, 3], &[1, 2, 3]), SchemaState::Current { version: 3 });
        assert_eq!(compare(&[1, 2, 3], &[1]), SchemaState::Behind { applied: Some(1), pending: vec![2, 3] });
        assert_eq!(compare(&[1, 2], &[]), SchemaState::Behind { applied: None, pending: vec![1, 2] });
        assert_eq!(compare(&[1, 2], &[1, 2, 3, 4]), SchemaState::Ahead { known: 2, unknown: vec![3, 4] });
    }
}
