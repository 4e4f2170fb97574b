//! Forgetting a person: their name, email, address and messages erased everywhere appeal
//! keeps them, in one transaction, while every amount stays in the ledger under their donor
//! key, which then names no one. No ledger row is changed: what is erased lives beside it.

use sqlx::Row;

use super::{Store, StoreError, WriteTx, now, placeholders, stored_instant};
use crate::ledger::privacy::Person;

/// What was erased, counted where it was.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Forgotten {
    /// The donor keys that now name no one.
    pub records: Vec<String>,
    /// Ledger entries whose name, email and message were erased (their amounts stay).
    pub entries: u64,
    pub statements: u64,
    pub checkouts: u64,
    pub subscriptions: u64,
    /// Emails in the outbox (unsent ones are not sent).
    pub emails: u64,
    pub self_service_links: u64,
    pub stripe_events: u64,
    pub webhook_events: u64,
    pub audit_entries: u64,
    /// The campaigns whose donor wall showed them.
    #[serde(skip)]
    pub campaigns: Vec<i64>,
}

/// Runs `sql` with `lists` each bound in turn, as many `$n` as its values, after `fixed`.
fn in_list(sql: &str, lists: &[&[String]], first: usize) -> String {
    let mut next = first;
    let mut sql = sql.to_owned();
    for (index, list) in lists.iter().enumerate() {
        let marks: Vec<String> = (0..list.len().max(1)).map(|n| format!("${}", next + n)).collect();
        next += list.len().max(1);
        sql = sql.replace(&format!("{{{index}}}"), &marks.join(", "));
    }
    sql
}

/// Binds `lists` in order (an empty list as one NULL, which matches nothing).
fn bind_lists<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    lists: &[&'q [String]],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for list in lists {
        if list.is_empty() {
            query = query.bind(None::<String>);
        }
        for value in *list {
            query = query.bind(value.as_str());
        }
    }
    query
}

impl Store {
    /// The subscriptions still running for `keys`' gifts or `emails` (lower-cased): a person
    /// cannot be forgotten while Stripe still charges them.
    pub async fn running_subscriptions_of(
        &self,
        keys: &[String],
        emails: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let sql = in_list(
            "SELECT id FROM subscriptions WHERE status NOT IN ('canceled', 'incomplete_expired') \
             AND (LOWER(donor_email) IN ({0}) OR id IN (SELECT stripe_subscription FROM ledger_entries \
             WHERE donor_key IN ({1}) AND stripe_subscription IS NOT NULL)) ORDER BY id",
            &[emails, keys],
            1,
        );
        let query = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[emails, keys]);
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// The donor keys forgotten.
    pub async fn forgotten_donor_keys(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM donors WHERE forgotten_at IS NOT NULL")
            .fetch_all(self.pool())
            .await?;
        Ok(keys.into_iter().collect())
    }

    /// Erases the person with the donor keys `keys` (their records, merged ones included)
    /// and the addresses `emails` (lower-cased) everywhere they are kept.
    pub async fn forget_person(&self, keys: &[String], emails: &[String]) -> Result<Forgotten, StoreError> {
        let mut write = self.begin_write().await?;
        let mut forgotten = Forgotten { records: keys.to_vec(), ..Forgotten::default() };

        // Who they are, as everything kept may name them.
        let mut person = Person { emails: emails.to_vec(), ..Person::default() };
        let sql = in_list("SELECT lookup FROM donors WHERE key IN ({0}) AND lookup IS NOT NULL", &[keys], 1);
        for lookup in
            bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[keys]).fetch_all(&mut *write.tx).await?
        {
            let lookup: String = lookup.try_get("lookup")?;
            if let Some(email) = lookup.strip_prefix("email:") {
                push_new(&mut person.emails, email.to_owned());
            }
            person.lookups.push(lookup);
        }
        let sql = in_list(
            "SELECT e.id, e.campaign_id, pd.name, pd.email FROM ledger_entries e \
             LEFT JOIN donor_details pd ON pd.entry_id = e.id WHERE e.donor_key IN ({0})",
            &[keys],
            1,
        );
        let mut entry_ids: Vec<String> = Vec::new();
        for row in
            bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[keys]).fetch_all(&mut *write.tx).await?
        {
            entry_ids.push(row.try_get::<i64, _>("id")?.to_string());
            let campaign: i64 = row.try_get("campaign_id")?;
            if !forgotten.campaigns.contains(&campaign) {
                forgotten.campaigns.push(campaign);
            }
            if let Some(name) = row.try_get::<Option<String>, _>("name")? {
                push_new(&mut person.names, name);
            }
            if let Some(email) = row.try_get::<Option<String>, _>("email")? {
                push_new(&mut person.emails, email.to_lowercase());
            }
        }
        let emails = person.emails.clone();

        // Their records name no one from now on; their details go.
        let stamp = stored_instant(now());
        let sql =
            in_list("UPDATE donors SET lookup = NULL, forgotten_at = $1 WHERE key IN ({0})", &[keys], 2);
        bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&stamp), &[keys])
            .execute(&mut *write.tx)
            .await?;
        let sql = in_list(
            "DELETE FROM donor_details WHERE entry_id IN (SELECT id FROM ledger_entries WHERE donor_key IN ({0}))",
            &[keys],
            1,
        );
        forgotten.entries = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[keys])
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        let sql = in_list(
            "DELETE FROM statement_addressees WHERE statement_id IN (SELECT id FROM statements WHERE donor_key IN ({0}))",
            &[keys],
            1,
        );
        forgotten.statements = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[keys])
            .execute(&mut *write.tx)
            .await?
            .rows_affected();

        // What is kept by address.
        let sql = in_list(
            "UPDATE checkout_intents SET donor_name = NULL, donor_email = NULL, public_message = NULL \
             WHERE LOWER(donor_email) IN ({0})",
            &[&emails],
            1,
        );
        forgotten.checkouts = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[&emails])
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        let sql = in_list(
            "UPDATE subscriptions SET donor_name = NULL, donor_email = NULL WHERE LOWER(donor_email) IN ({0}) \
             OR id IN (SELECT stripe_subscription FROM ledger_entries WHERE donor_key IN ({1}))",
            &[&emails, keys],
            1,
        );
        forgotten.subscriptions = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[&emails, keys])
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        let sql = in_list("DELETE FROM manage_tokens WHERE LOWER(email) IN ({0})", &[&emails], 1);
        forgotten.self_service_links = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[&emails])
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
        // An email kept erases its address and words; one not sent yet never goes.
        let sql = in_list(
            "UPDATE outbox_emails SET to_address = '', subject = '', body = '', data = NULL, last_error = NULL, \
             cancelled_at = CASE WHEN sent_at IS NULL THEN COALESCE(cancelled_at, $1) ELSE cancelled_at END \
             WHERE LOWER(to_address) IN ({0})",
            &[&emails],
            2,
        );
        forgotten.emails = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&stamp), &[&emails])
            .execute(&mut *write.tx)
            .await?
            .rows_affected();

        // What is kept as it came: read where it names them, erased field by field.
        forgotten.stripe_events =
            scrub_documents(&mut write, &person, "stripe_events", "id", &["payload"]).await?;
        forgotten.webhook_events = scrub_documents(&mut write, &person, "outbox", "id", &["payload"]).await?;
        forgotten.audit_entries = scrub_documents(
            &mut write,
            &person,
            "audit_log",
            "id",
            &["target", "before_state", "after_state"],
        )
        .await?;

        for campaign in &forgotten.campaigns {
            write.touch(*campaign);
        }
        write.commit().await?;
        Ok(forgotten)
    }
}

fn push_new(list: &mut Vec<String>, value: String) {
    if !value.trim().is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

/// Erases `person` from the text columns `columns` of `table`'s rows that name them; how many
/// rows changed.
async fn scrub_documents(
    write: &mut WriteTx,
    person: &Person,
    table: &str,
    id: &str,
    columns: &[&str],
) -> Result<u64, StoreError> {
    let mut needles: Vec<String> = person
        .needles()
        .iter()
        .map(|needle| format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
        .collect();
    needles.extend(
        person.lookups.iter().map(|lookup| {
            format!("%{}%", lookup.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
        }),
    );
    if needles.is_empty() {
        return Ok(0);
    }
    let marks = placeholders(needles.len());
    let clauses: Vec<String> = columns
        .iter()
        .map(|column| {
            let marks: Vec<String> = marks
                .split(", ")
                .map(|mark| format!("LOWER({column}) LIKE LOWER({mark}) ESCAPE '\\'"))
                .collect();
            marks.join(" OR ")
        })
        .collect();
    let sql =
        format!("SELECT {id} AS row_id, {} FROM {table} WHERE {}", columns.join(", "), clauses.join(" OR "));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for needle in &needles {
        query = query.bind(needle.as_str());
    }
    let rows = query.fetch_all(&mut *write.tx).await?;
    let mut changed = 0;
    for row in &rows {
        // Stripe's events are named by Stripe's ids; the others by a number.
        let row_id: Result<i64, String> = match row.try_get::<i64, _>("row_id") {
            Ok(number) => Ok(number),
            Err(_) => Err(row.try_get("row_id")?),
        };
        let mut updated = false;
        for column in columns {
            let Some(text) = row.try_get::<Option<String>, _>(*column)? else { continue };
            if let Some(scrubbed) = person.scrub_stored(&text) {
                let sql = format!("UPDATE {table} SET {column} = $1 WHERE {id} = $2");
                let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(scrubbed);
                let query = match &row_id {
                    Ok(number) => query.bind(*number),
                    Err(text) => query.bind(text.as_str()),
                };
                query.execute(&mut *write.tx).await?;
                updated = true;
            }
        }
        changed += u64::from(updated);
    }
    Ok(changed)
}
