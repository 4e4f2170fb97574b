//! People who sign in, their sessions, and the audit log.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, is_unique_violation, now, read_instant, stored_instant};

/// A person as stored; the password only as its argon2id hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUser {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub branch: Option<String>,
    pub created_at: DateTime<Utc>,
    /// A disabled person cannot sign in; their sessions ended when they were disabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A signed-in session, found by its cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub user: StoredUser,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Which lines of the audit log to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFilter {
    /// Part of who wrote it or what it was written on ("tre@example.org", "entry:12").
    pub person: Option<String>,
    /// One action ("donation.reverse").
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub sign_ins: SignIns,
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            person: None,
            action: None,
            from: None,
            until: None,
            sign_ins: SignIns::Shown,
            before_id: None,
            limit: 200,
        }
    }
}

/// Sign-ins (and failed or throttled ones) among the other lines, apart, or only them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIns {
    Shown,
    Hidden,
    Only,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub address: Option<String>,
}

const USER_COLUMNS: &str = "u.id, u.email, u.password_hash, u.role, u.branch, u.created_at, u.disabled_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<StoredUser, StoreError> {
    Ok(StoredUser {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        branch: row.try_get("branch")?,
        created_at: read_instant(row.try_get("created_at")?)?,
        disabled_at: row
            .try_get::<Option<String>, _>("disabled_at")?
            .as_deref()
            .map(read_instant)
            .transpose()?,
    })
}

impl Store {
    pub async fn insert_user(
        &self,
        email: &str,
        password_hash: &str,
        role: &str,
        branch: Option<&str>,
    ) -> Result<i64, StoreError> {
        let at = stored_instant(now());
        let inserted = sqlx::query(
            "INSERT INTO users (email, password_hash, role, branch, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role)
        .bind(branch)
        .bind(&at)
        .fetch_one(self.pool())
        .await;
        match inserted {
            Ok(row) => Ok(row.try_get("id")?),
            Err(error) if is_unique_violation(&error) => {
                Err(StoreError::conflict("email", "already has an account"))
            }
            Err(error) => Err(error.into()),
        }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE LOWER(u.email) = LOWER($1)");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(self.pool()).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Everyone who may sign in or was disabled, by email.
    pub async fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY LOWER(u.email)");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Disables a person (ending every session of theirs) or enables them again.
    pub async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3")
            .bind(disabled.then(|| stored_instant(now())))
            .bind(stored_instant(now()))
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Removes a person and their sessions. What they recorded keeps their name: the ledger's
    /// `recorded_by` and the audit log hold it as written, not as a reference to this row.
    pub async fn remove_user(&self, user_id: i64) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM password_links WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *transaction).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Keeps a one-time link to set `user_id`'s password (its token only as a hash); earlier
    /// links of the person stop working.
    pub async fn insert_password_link(
        &self,
        token_hash: &str,
        user_id: i64,
        purpose: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        let at = stored_instant(now());
        sqlx::query("UPDATE password_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
            .bind(&at)
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "INSERT INTO password_links (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose)
        .bind(&at)
        .bind(stored_instant(expires_at))
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The person a link still open (unused, unexpired) sets the password of, and its purpose.
    pub async fn open_password_link(
        &self,
        token_hash: &str,
    ) -> Result<Option<(i64, StoredUser, String)>, StoreError> {
        let sql = format!(
            "SELECT l.id AS link_id, l.purpose, {USER_COLUMNS} FROM password_links l JOIN users u ON u.id = l.user_id \
             WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(stored_instant(now()))
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| Ok((row.try_get("link_id")?, user_from_row(&row)?, row.try_get("purpose")?)))
            .transpose()
    }

    /// Spends a link on a new password, ending the person's sessions: once only, even when
    /// sent twice at once.
    pub async fn use_password_link(
        &self,
        link_id: i64,
        user_id: i64,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        let at = stored_instant(now());
        let spent = sqlx::query("UPDATE password_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(&at)
            .bind(link_id)
            .execute(&mut *transaction)
            .await?;
        if spent.rows_affected() != 1 {
            return Err(StoreError::conflict("link", "has been used already"));
        }
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(&at)
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<StoredUser>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(stored_instant(now()))
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(stored_instant(now()))
        .bind(stored_instant(expires_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session of a cookie, if it exists and has not expired.
    pub async fn session(&self, token_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(stored_instant(now()))
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(StoredSession {
                user: user_from_row(&row)?,
                csrf_token: row.try_get("csrf_token")?,
                expires_at: read_instant(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of a person but one (after a password change).
    pub async fn delete_other_sessions(&self, user_id: i64, keep_token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep_token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Moves a session's expiry (tests use it to expire one; nothing else needs to).
    pub async fn set_session_expiry(
        &self,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE token_hash = $2")
            .bind(stored_instant(expires_at))
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Appends one line to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
        address: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, before_state, after_state, address) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(stored_instant(now()))
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(before.map(ToString::to_string))
        .bind(after.map(ToString::to_string))
        .bind(address)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The audit log, newest first, narrowed by `filter`.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let sign_ins = match filter.sign_ins {
            SignIns::Shown => "",
            SignIns::Hidden => "AND action NOT LIKE 'user.sign\\_in%' ESCAPE '\\'",
            SignIns::Only => "AND action LIKE 'user.sign\\_in%' ESCAPE '\\'",
        };
        let sql = format!(
            "SELECT id, at, actor, action, target, before_state, after_state, address FROM audit_log \
             WHERE ($1 IS NULL OR id < $1) AND ($3 IS NULL OR LOWER(actor) LIKE $3 OR LOWER(target) LIKE $3) \
             AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) {sign_ins} \
             ORDER BY id DESC LIMIT $2"
        );
        let person = filter.person.as_deref().map(|person| {
            let escaped = person.trim().to_lowercase().replace(['%', '_'], "");
            format!("%{escaped}%")
        });
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.before_id)
            .bind(filter.limit)
            .bind(person)
            .bind(filter.action.as_deref())
            .bind(filter.from.map(stored_instant))
            .bind(filter.until.map(stored_instant))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditRecord {
                    id: row.try_get("id")?,
                    at: read_instant(row.try_get("at")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    before: row.try_get("before_state")?,
                    after: row.try_get("after_state")?,
                    address: row.try_get("address")?,
                })
            })
            .collect()
    }
}
