//! Forgetting a person: their name, email, address and messages erased everywhere appeal
//! keeps them, in one transaction, while every amount stays in the ledger under their donor
//! key, which then names no one. No ledger row is changed: what is erased lives beside it.

use sqlx::Row;

use super::{Store, StoreError, WriteTx, now, stored_instant};
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

/// Who asked, for the audit log (written in the same transaction as the erasure).
#[derive(Clone, Copy, Debug)]
pub struct ForgetBy<'a> {
    pub actor: &'a str,
    pub address: Option<&'a str>,
}

/// Runs `sql` (its `{n}` the lists' placeholders, from `$1`) with `lists` bound; how many
/// rows it changed.
async fn affected(write: &mut WriteTx, sql: &str, lists: &[&[String]]) -> Result<u64, StoreError> {
    let sql = in_list(sql, lists, 1);
    Ok(bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), lists)
        .execute(&mut *write.tx)
        .await?
        .rows_affected())
}

impl Store {
    /// The donor keys forgotten.
    pub async fn forgotten_donor_keys(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM donors WHERE forgotten_at IS NOT NULL")
            .fetch_all(self.pool())
            .await?;
        Ok(keys.into_iter().collect())
    }

    /// Erases the person with the donor keys `keys` (their records, merged ones included)
    /// and the addresses `emails` (lower-cased) everywhere they are kept, and audits it, in
    /// one transaction. `Ok(Err(ids))`: refused, for the subscriptions still running (Stripe
    /// would bring their name back with its next payment); nothing was changed.
    pub async fn forget_person(
        &self,
        keys: &[String],
        emails: &[String],
        by: ForgetBy<'_>,
    ) -> Result<Result<Forgotten, Vec<String>>, StoreError> {
        let mut write = self.begin_write().await?;
        let mut forgotten = Forgotten { records: keys.to_vec(), ..Forgotten::default() };

        // Who they are, as everything kept may name them: addresses, record names, entries,
        // and the ids of their objects at Stripe.
        let mut person = Person { emails: emails.to_vec(), ..Person::default() };
        let sql = in_list("SELECT lookup FROM donors WHERE key IN ({0}) AND lookup IS NOT NULL", &[keys], 1);
        for row in
            bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[keys]).fetch_all(&mut *write.tx).await?
        {
            let lookup: String = row.try_get("lookup")?;
            if let Some(email) = lookup.strip_prefix("email:") {
                push_new(&mut person.emails, email.to_owned());
            }
            person.lookups.push(lookup);
        }
        let sql = in_list(
            "SELECT e.id, e.campaign_id, e.stripe_payment_intent, e.stripe_charge, e.stripe_invoice, \
             e.stripe_subscription, pd.email FROM ledger_entries e \
             LEFT JOIN donor_details pd ON pd.entry_id = e.id WHERE e.donor_key IN ({0})",
            &[keys],
            1,
        );
        for row in
            bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[keys]).fetch_all(&mut *write.tx).await?
        {
            person.entries.push(row.try_get("id")?);
            let campaign: i64 = row.try_get("campaign_id")?;
            if !forgotten.campaigns.contains(&campaign) {
                forgotten.campaigns.push(campaign);
            }
            for column in ["stripe_payment_intent", "stripe_charge", "stripe_invoice", "stripe_subscription"]
            {
                if let Some(id) = row.try_get::<Option<String>, _>(column)? {
                    push_new(&mut person.stripe_ids, id);
                }
            }
            if let Some(email) = row.try_get::<Option<String>, _>("email")? {
                push_new(&mut person.emails, email.to_lowercase());
            }
        }
        let emails = person.emails.clone();
        let ids = person.stripe_ids.clone();
        // Their checkouts (by address, or by the payment they became, when Stripe took the
        // address), subscriptions and self-service links name their other ids at Stripe.
        let checkouts = "LOWER(donor_email) IN ({0}) OR stripe_payment_intent IN ({1}) \
                         OR stripe_subscription IN ({1}) OR stripe_session IN ({1})";
        for (sql, columns) in [
            (
                format!("SELECT stripe_session AS a, stripe_payment_intent AS b, stripe_subscription AS c FROM checkout_intents WHERE {checkouts}"),
                &["a", "b", "c"][..],
            ),
            (
                "SELECT id AS a, stripe_customer AS b FROM subscriptions WHERE LOWER(donor_email) IN ({0}) OR id IN ({1})"
                    .to_owned(),
                &["a", "b"][..],
            ),
            ("SELECT customer AS a FROM manage_tokens WHERE LOWER(email) IN ({0}) OR customer IN ({1})".to_owned(), &["a"][..]),
        ] {
            let sql = in_list(&sql, &[&emails, &ids], 1);
            for row in bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[&emails, &ids]).fetch_all(&mut *write.tx).await? {
                for column in columns {
                    if let Some(id) = row.try_get::<Option<String>, _>(*column)? {
                        push_new(&mut person.stripe_ids, id);
                    }
                }
            }
        }
        let ids = person.stripe_ids.clone();

        // Not while Stripe still charges them.
        let sql = in_list(
            "SELECT id FROM subscriptions WHERE status NOT IN ('canceled', 'incomplete_expired') \
             AND (LOWER(donor_email) IN ({0}) OR id IN ({1})) ORDER BY id",
            &[&emails, &ids],
            1,
        );
        let running: Vec<String> = bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)), &[&emails, &ids])
            .fetch_all(&mut *write.tx)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        if !running.is_empty() {
            return Ok(Err(running));
        }

        // Their records name no one from now on; their details go.
        let stamp = stored_instant(now());
        let sql =
            in_list("UPDATE donors SET lookup = NULL, forgotten_at = $1 WHERE key IN ({0})", &[keys], 2);
        bind_lists(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&stamp), &[keys])
            .execute(&mut *write.tx)
            .await?;
        forgotten.entries = affected(&mut write, "DELETE FROM donor_details WHERE entry_id IN (SELECT id FROM ledger_entries WHERE donor_key IN ({0}))", &[keys]).await?;
        forgotten.statements = affected(&mut write, "DELETE FROM statement_addressees WHERE statement_id IN (SELECT id FROM statements WHERE donor_key IN ({0}))", &[keys]).await?;

        // What is kept by address or Stripe id.
        let sql = format!(
            "UPDATE checkout_intents SET donor_name = NULL, donor_email = NULL, public_message = NULL WHERE {checkouts}"
        );
        forgotten.checkouts = affected(&mut write, &sql, &[&emails, &ids]).await?;
        forgotten.subscriptions = affected(&mut write, "UPDATE subscriptions SET donor_name = NULL, donor_email = NULL WHERE LOWER(donor_email) IN ({0}) OR id IN ({1})", &[&emails, &ids]).await?;
        forgotten.self_service_links = affected(
            &mut write,
            "DELETE FROM manage_tokens WHERE LOWER(email) IN ({0}) OR customer IN ({1})",
            &[&emails, &ids],
        )
        .await?;
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

        // What is kept as it came: read where it may name them, erased field by field.
        forgotten.stripe_events = scrub_documents(&mut write, &person, "stripe_events", &["payload"]).await?
            + scrub_documents(&mut write, &person, "stripe_flags", &["held", "detail"]).await?;
        forgotten.webhook_events = scrub_documents(&mut write, &person, "outbox", &["payload"]).await?
            + scrub_documents(&mut write, &person, "webhook_attempts", &["answer"]).await?;
        forgotten.audit_entries =
            scrub_documents(&mut write, &person, "audit_log", &["target", "before_state", "after_state"])
                .await?;

        if forgotten.records.is_empty() && forgotten.erased() == 0 {
            return Ok(Ok(forgotten));
        }
        let after =
            serde_json::to_string(&forgotten).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let target =
            keys.first().map_or_else(|| "donor:(no record)".to_owned(), |key| format!("donor:{key}"));
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, before_state, after_state, address) \
             VALUES ($1, $2, 'donor.forgotten', $3, NULL, $4, $5)",
        )
        .bind(&stamp)
        .bind(by.actor)
        .bind(target)
        .bind(after)
        .bind(by.address)
        .execute(&mut *write.tx)
        .await?;
        for campaign in &forgotten.campaigns {
            write.touch(*campaign);
        }
        write.commit().await?;
        Ok(Ok(forgotten))
    }
}

impl Forgotten {
    /// How many things were erased, in all.
    pub fn erased(&self) -> u64 {
        self.entries
            + self.statements
            + self.checkouts
            + self.subscriptions
            + self.emails
            + self.self_service_links
            + self.stripe_events
            + self.webhook_events
            + self.audit_entries
    }
}

fn push_new(list: &mut Vec<String>, value: String) {
    if !value.trim().is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

/// Erases `person` from the text columns `columns` of `table`'s rows that may name them (each
/// table's key is `id`); how many rows changed.
async fn scrub_documents(
    write: &mut WriteTx,
    person: &Person,
    table: &str,
    columns: &[&str],
) -> Result<u64, StoreError> {
    let needles: Vec<String> = person
        .needles()
        .iter()
        .map(|needle| format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
        .collect();
    if needles.is_empty() {
        return Ok(0);
    }
    let clauses: Vec<String> = columns
        .iter()
        .flat_map(|column| {
            (1..=needles.len()).map(move |mark| format!("LOWER({column}) LIKE LOWER(${mark}) ESCAPE '\\'"))
        })
        .collect();
    let sql =
        format!("SELECT id AS row_id, {} FROM {table} WHERE {}", columns.join(", "), clauses.join(" OR "));
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
                let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
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
