//! What online giving keeps beside the ledger: checkout intents, subscriptions and disputes.

/// The subscription statuses that end it for good, as an SQL list: no later word changes them.
/// A subscription's columns as a write returns them, with its campaign's slug.
macro_rules! subscription_returning {
    () => {
        "id, campaign_id, branch_id, intent_id, status, amount_minor, currency, billing_interval, billing_count, \
         donor_name, donor_email, stripe_customer, current_period_end, cancel_at_period_end, cancelled_at, \
         created_at, source_ref, started_at, ended_at, end_reason, (SELECT c.slug FROM campaigns c WHERE c.id = subscriptions.campaign_id) AS campaign_slug"
    };
}

macro_rules! ended_subscription_statuses {
    () => {
        "('canceled', 'incomplete_expired')"
    };
}
pub(super) use ended_subscription_statuses;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::events::event_state_of;
use super::{
    EventState, Store, StoreError, WriteTx, now, read_currency, read_flag, read_instant,
    read_optional_instant, stored_instant,
};
use crate::access::Scope;
use crate::ledger::Slug;
use crate::ledger::bodies::SubscriptionBody;
use crate::ledger::checkout::{CheckoutDraft, Intent, Interval, Locale};
use crate::ledger::entry::{Donor, Entry};
use crate::ledger::outgoing::EventKind;
use crate::ledger::subscription::Subscription;

/// A checkout intent's columns (`i`), with its campaign's (`c`) currency.
const INTENT_COLUMNS: &str = "i.id, i.campaign_id, i.branch_id, i.billing_interval, i.amount_minor, \
     i.fee_cover_minor, i.currency, c.currency AS ledger_currency, i.donor_name, i.donor_email, i.anonymous, \
     i.public_message, i.locale, i.status, i.stripe_session, i.source_ref";

/// Filters for the subscriptions list.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionFilter {
    pub campaign_id: Option<i64>,
    pub status: Option<String>,
}

impl Store {
    pub async fn insert_intent(&self, id: &str, draft: &CheckoutDraft) -> Result<(), StoreError> {
        let at = stored_instant(now());
        sqlx::query(
            "INSERT INTO checkout_intents (id, campaign_id, branch_id, billing_interval, amount_minor, \
             fee_cover_minor, currency, donor_name, donor_email, anonymous, public_message, locale, status, \
             created_at, updated_at, source_ref) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'created', $13, $13, $14)",
        )
        .bind(id)
        .bind(draft.campaign_id)
        .bind(draft.branch_id)
        .bind(draft.interval.as_str())
        .bind(draft.amount_minor)
        .bind(draft.fee_cover_minor)
        .bind(draft.currency.code())
        .bind(&draft.donor.name)
        .bind(&draft.donor.email)
        .bind(draft.donor.anonymous)
        .bind(&draft.donor.message)
        .bind(draft.locale.as_str())
        .bind(&at)
        .bind(&draft.source_ref)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the Checkout Session Stripe opened for an intent.
    pub async fn open_intent(&self, id: &str, session_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checkout_intents SET status = 'open', stripe_session = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'created'",
        )
        .bind(session_id)
        .bind(stored_instant(now()))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn intent(&self, id: &str) -> Result<Option<Intent>, StoreError> {
        self.intent_where("id", id).await
    }

    /// The intent a Checkout Session was opened for (the thanks page knows only the session).
    pub async fn intent_of_session(&self, session_id: &str) -> Result<Option<Intent>, StoreError> {
        self.intent_where("stripe_session", session_id).await
    }

    async fn intent_where(&self, column: &'static str, value: &str) -> Result<Option<Intent>, StoreError> {
        let sql = format!(
            "SELECT {INTENT_COLUMNS} FROM checkout_intents i JOIN campaigns c ON c.id = i.campaign_id \
             WHERE i.{column} = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(self.pool()).await?;
        row.as_ref().map(intent_from_row).transpose()
    }

    /// Where a Stripe event stands and, in the same read, the checkout intent `intent_id` (the
    /// one its object names): one round trip before an event is planned, not two. The intent
    /// is `Some(None)` when there is none under that id, and `None` when its row cannot be
    /// read as an intent: planning reads it again, and the event fails there, where its
    /// failures are counted.
    pub async fn event_state_and_intent(
        &self,
        event_id: &str,
        intent_id: Option<&str>,
    ) -> Result<(EventState, Option<Option<Intent>>), StoreError> {
        let sql = format!(
            "SELECT (SELECT status FROM stripe_events WHERE id = $1) AS event_status, {INTENT_COLUMNS} \
             FROM (SELECT 1 AS one) o LEFT JOIN checkout_intents i ON i.id = $2 \
             LEFT JOIN campaigns c ON c.id = i.campaign_id"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(event_id)
            .bind(intent_id)
            .fetch_one(self.pool())
            .await?;
        let state = event_state_of(row.try_get::<Option<String>, _>("event_status")?.as_deref());
        let intent = match row.try_get::<Option<String>, _>("id")? {
            Some(_) => intent_from_row(&row).ok().map(Some),
            None => Some(None),
        };
        Ok((state, intent))
    }

    /// The donation recorded for a Stripe charge, if it is in the ledger yet.
    pub async fn donation_for_charge(&self, charge_id: &str) -> Result<Option<Entry>, StoreError> {
        let id: Option<i64> = sqlx::query(
            "SELECT id FROM ledger_entries WHERE stripe_charge = $1 AND kind = 'donation' ORDER BY id LIMIT 1",
        )
        .bind(charge_id)
        .fetch_optional(self.pool())
        .await?
        .map(|row| row.try_get("id"))
        .transpose()?;
        match id {
            Some(id) => self.entry(id).await,
            None => Ok(None),
        }
    }

    /// The disputes of some charges, keyed by charge (the latest word when one has several).
    pub async fn disputes_of_charges(
        &self,
        charges: &[&str],
    ) -> Result<std::collections::HashMap<String, StoredDispute>, StoreError> {
        let mut found = std::collections::HashMap::new();
        if charges.is_empty() {
            return Ok(found);
        }
        let sql = format!(
            "SELECT id, stripe_charge, status, reason, amount_minor, currency, evidence_due_by, stripe_updated \
             FROM disputes WHERE stripe_charge IN ({}) ORDER BY stripe_updated, id",
            super::placeholders(charges.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for charge in charges {
            query = query.bind(*charge);
        }
        for row in query.fetch_all(self.pool()).await? {
            let dispute = StoredDispute {
                id: row.try_get("id")?,
                charge: row.try_get("stripe_charge")?,
                status: row.try_get("status")?,
                reason: row.try_get("reason")?,
                amount_minor: row.try_get("amount_minor")?,
                currency: row.try_get("currency")?,
                evidence_due_by: row
                    .try_get::<Option<String>, _>("evidence_due_by")?
                    .as_deref()
                    .map(read_instant)
                    .transpose()?,
                stripe_updated: row.try_get("stripe_updated")?,
            };
            found.insert(dispute.charge.clone(), dispute);
        }
        Ok(found)
    }

    /// The dispute of each donation among `entries` that has one, keyed by entry id.
    pub async fn disputes_of_donations(
        &self,
        entries: &[Entry],
    ) -> Result<std::collections::HashMap<i64, StoredDispute>, StoreError> {
        let donations: Vec<(i64, &str)> = entries
            .iter()
            .filter(|entry| entry.kind == crate::ledger::EntryKind::Donation)
            .filter_map(|entry| entry.stripe.charge.as_deref().map(|charge| (entry.id, charge)))
            .collect();
        let charges: Vec<&str> = donations.iter().map(|(_, charge)| *charge).collect();
        let mut by_charge = self.disputes_of_charges(&charges).await?;
        Ok(donations
            .into_iter()
            .filter_map(|(id, charge)| by_charge.remove(charge).map(|dispute| (id, dispute)))
            .collect())
    }

    /// The disputes of the installments of some subscriptions, keyed by subscription.
    pub async fn disputes_of_subscriptions(
        &self,
        subscriptions: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<StoredDispute>>, StoreError> {
        let mut found: std::collections::HashMap<String, Vec<StoredDispute>> =
            std::collections::HashMap::new();
        if subscriptions.is_empty() {
            return Ok(found);
        }
        let sql = format!(
            "SELECT DISTINCT e.stripe_subscription, e.stripe_charge FROM ledger_entries e \
             WHERE e.kind = 'donation' AND e.stripe_subscription IN ({}) \
             AND e.stripe_charge IN (SELECT d.stripe_charge FROM disputes d)",
            super::placeholders(subscriptions.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for subscription in subscriptions {
            query = query.bind(*subscription);
        }
        let pairs: Vec<(String, String)> = query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("stripe_subscription")?, row.try_get("stripe_charge")?)))
            .collect::<Result<_, StoreError>>()?;
        let charges: Vec<&str> = pairs.iter().map(|(_, charge)| charge.as_str()).collect();
        let disputes = self.disputes_of_charges(&charges).await?;
        for (subscription, charge) in &pairs {
            if let Some(dispute) = disputes.get(charge) {
                found.entry(subscription.clone()).or_default().push(dispute.clone());
            }
        }
        Ok(found)
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    /// The subscriptions given with any of `emails` (lower-cased), newest first.
    pub async fn subscriptions_of_emails(
        &self,
        emails: &[String],
    ) -> Result<Vec<(Subscription, Slug)>, StoreError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let places = super::placeholders(emails.len());
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS}, c.slug AS campaign_slug FROM subscriptions s \
             JOIN campaigns c ON c.id = s.campaign_id WHERE LOWER(s.donor_email) IN ({places}) \
             ORDER BY s.created_at DESC"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for email in emails {
            query = query.bind(email);
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((subscription_from_row(row)?, Slug::from_stored(row.try_get("campaign_slug")?))))
            .collect()
    }

    /// Subscriptions as `scope` may see them: of its branch, with who gives only when it sees donors.
    pub async fn list_subscriptions(
        &self,
        scope: &Scope,
        filter: &SubscriptionFilter,
    ) -> Result<Vec<(Subscription, Slug)>, StoreError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS}, c.slug AS campaign_slug FROM subscriptions s \
             JOIN campaigns c ON c.id = s.campaign_id LEFT JOIN branches b ON b.id = s.branch_id \
             WHERE ($1 IS NULL OR s.campaign_id = $1) AND ($2 IS NULL OR s.status = $2) \
             AND ($3 IS NULL OR b.slug = $3) ORDER BY s.created_at DESC"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.campaign_id)
            .bind(&filter.status)
            .bind(scope.branch())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                let mut subscription = subscription_from_row(row)?;
                if !scope.sees_donors() {
                    subscription.donor_name = None;
                    subscription.donor_email = None;
                }
                Ok((subscription, Slug::from_stored(row.try_get("campaign_slug")?)))
            })
            .collect()
    }
}

/// A dispute as Stripe last described it. Its money moves in the ledger, by its balance
/// transactions; this is what treasurers see of its state (an inquiry moves no money).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDispute {
    pub id: String,
    pub charge: String,
    pub status: String,
    pub reason: Option<String>,
    /// In ledger minor units of `currency` (the charge's).
    pub amount_minor: i64,
    pub currency: String,
    pub evidence_due_by: Option<DateTime<Utc>>,
    /// The time of the event that described it (unix seconds): an older word never wins.
    pub stripe_updated: i64,
}

impl StoredDispute {
    /// An inquiry or retrieval: the cardholder's bank asks, no money is withdrawn.
    pub fn is_inquiry(&self) -> bool {
        self.status.starts_with("warning_")
    }

    /// Still waiting for an outcome (the closed statuses are those `upsert_dispute_in` keeps).
    pub fn is_open(&self) -> bool {
        !matches!(self.status.as_str(), "won" | "lost" | "warning_closed" | "prevented")
    }

    /// As the API shows it.
    pub fn body(&self) -> crate::ledger::bodies::DisputeBody {
        crate::ledger::bodies::DisputeBody {
            id: self.id.clone(),
            status: self.status.clone(),
            inquiry: self.is_inquiry(),
            open: self.is_open(),
            reason: self.reason.clone(),
            evidence_due_by: self.evidence_due_by.map(crate::ledger::progress::timestamp),
        }
    }
}

/// Stores what Stripe says of a dispute unless a later word is already stored: a closed
/// dispute stays closed.
pub(crate) async fn upsert_dispute_in(
    write: &mut WriteTx,
    dispute: &StoredDispute,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO disputes (id, stripe_charge, status, reason, amount_minor, currency, evidence_due_by, \
         stripe_updated, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET status = $3, reason = $4, amount_minor = $5, currency = $6, \
         evidence_due_by = $7, stripe_updated = $8, updated_at = $9 \
         WHERE disputes.stripe_updated <= $8 AND disputes.status NOT IN ('won', 'lost', 'warning_closed', 'prevented')",
    )
    .bind(&dispute.id)
    .bind(&dispute.charge)
    .bind(&dispute.status)
    .bind(&dispute.reason)
    .bind(dispute.amount_minor)
    .bind(&dispute.currency)
    .bind(dispute.evidence_due_by.map(stored_instant))
    .bind(dispute.stripe_updated)
    .bind(stored_instant(now()))
    .execute(&mut *write.tx)
    .await?;
    Ok(())
}

/// Moves an intent along as Stripe reports on it; a completed or failed intent stays so.
pub(crate) async fn update_intent_in(
    write: &mut WriteTx,
    intent_id: &str,
    status: &str,
    payment_intent: Option<&str>,
    subscription: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE checkout_intents SET status = CASE WHEN status IN ('completed', 'failed') THEN status ELSE $1 END, \
         stripe_payment_intent = COALESCE($2, stripe_payment_intent), \
         stripe_subscription = COALESCE($3, stripe_subscription), updated_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(payment_intent)
    .bind(subscription)
    .bind(stored_instant(now()))
    .bind(intent_id)
    .execute(&mut *write.tx)
    .await?;
    Ok(())
}

/// Stores what Stripe says of a subscription, unless a later word is already stored or it
/// was cancelled, then recomputes the campaign's recurring figures. `reported_at` is when
/// Stripe reported it (the event's time), the date a new status gets in its history unless
/// Stripe dates it (a start, an end).
pub(crate) async fn upsert_subscription_in(
    write: &mut WriteTx,
    subscription: &Subscription,
    stripe_updated: i64,
    reported_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = stored_instant(now());
    let row = sqlx::query(concat!(
        "INSERT INTO subscriptions (id, campaign_id, branch_id, intent_id, status, amount_minor, currency, \
         billing_interval, billing_count, monthly_minor, donor_name, donor_email, stripe_customer, \
         current_period_end, cancel_at_period_end, cancelled_at, stripe_updated, created_at, updated_at, source_ref, \
         started_at, ended_at, end_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19, \
         $20, $21, $22) \
         ON CONFLICT (id) DO UPDATE SET status = $5, amount_minor = $6, billing_interval = $8, billing_count = $9, \
         monthly_minor = $10, donor_name = COALESCE($11, subscriptions.donor_name), \
         donor_email = COALESCE($12, subscriptions.donor_email), \
         stripe_customer = COALESCE($13, subscriptions.stripe_customer), current_period_end = $14, \
         cancel_at_period_end = $15, cancelled_at = $16, stripe_updated = $17, updated_at = $18, \
         started_at = COALESCE($20, subscriptions.started_at), ended_at = $21, end_reason = $22 \
         WHERE subscriptions.stripe_updated <= $17 \
         AND subscriptions.status NOT IN ",
        ended_subscription_statuses!(),
        " RETURNING ",
        subscription_returning!()
    ))
    .bind(&subscription.id)
    .bind(subscription.campaign_id)
    .bind(subscription.branch_id)
    .bind(&subscription.intent_id)
    .bind(&subscription.status)
    .bind(subscription.amount_minor)
    .bind(subscription.currency.code())
    .bind(subscription.interval.as_str())
    .bind(subscription.interval_count)
    .bind(subscription.monthly_minor())
    .bind(&subscription.donor_name)
    .bind(&subscription.donor_email)
    .bind(&subscription.customer)
    .bind(subscription.current_period_end.map(stored_instant))
    .bind(subscription.cancel_at_period_end)
    .bind(subscription.cancelled_at.map(stored_instant))
    .bind(stripe_updated)
    .bind(&at)
    .bind(&subscription.source_ref)
    .bind(subscription.started_at.map(stored_instant))
    .bind(subscription.ended_at.map(stored_instant))
    .bind(&subscription.end_reason)
    .fetch_optional(&mut *write.tx)
    .await?;
    // `recurring.active` and `recurring.monthly` are counted from the subscriptions when the
    // campaign's progress is read: its readers are told.
    write.touch(subscription.campaign_id);
    if let Some(row) = row {
        let stored = subscription_from_row(&row)?;
        record_change_in(write, &stored, reported_at).await?;
        emit_subscription(write, &row, &stored, &at)?;
    }
    Ok(())
}

/// Adds a subscription's new status (or amount) to its history, dated when Stripe says it
/// happened; nothing if neither changed.
async fn record_change_in(
    write: &mut WriteTx,
    stored: &Subscription,
    reported_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let last = sqlx::query(
        "SELECT status, monthly_minor FROM subscription_changes WHERE subscription_id = $1 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(&stored.id)
    .fetch_optional(&mut *write.tx)
    .await?;
    let monthly = stored.monthly_minor();
    let ended_at = stored.ended_at.or(stored.cancelled_at);
    let mut changes: Vec<(&str, Option<&str>, DateTime<Utc>)> = Vec::new();
    match &last {
        Some(row) => {
            if row.try_get::<String, _>("status")? == stored.status
                && row.try_get::<i64, _>("monthly_minor")? == monthly
            {
                return Ok(());
            }
            let at = if stored.has_ended() { ended_at } else { None };
            changes.push((&stored.status, stored.end_reason.as_deref(), at.unwrap_or(reported_at)));
        }
        // First seen already ended (an import, events missed): it was active from its start.
        None if stored.has_ended() && stored.started_at.is_some() && stored.status == "canceled" => {
            changes.push(("active", None, stored.started_at.unwrap_or(reported_at)));
            changes.push((&stored.status, stored.end_reason.as_deref(), ended_at.unwrap_or(reported_at)));
        }
        None => changes.push((
            &stored.status,
            stored.end_reason.as_deref(),
            stored.started_at.unwrap_or(reported_at),
        )),
    }
    for (status, reason, at) in changes {
        sqlx::query(
            "INSERT INTO subscription_changes (subscription_id, campaign_id, status, monthly_minor, currency, \
             end_reason, changed_at, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&stored.id)
        .bind(stored.campaign_id)
        .bind(status)
        .bind(monthly)
        .bind(stored.currency.code())
        .bind(if stored.has_ended() && status == stored.status { reason } else { None })
        .bind(stored_instant(at))
        .bind(stored_instant(now()))
        .execute(&mut *write.tx)
        .await?;
    }
    Ok(())
}

/// Tells the webhook endpoints what a write did to a subscription: started (the row is the
/// one this write created), ended, or updated.
fn emit_subscription(
    write: &mut WriteTx,
    row: &AnyRow,
    stored: &Subscription,
    at: &str,
) -> Result<(), StoreError> {
    let campaign: String = row.try_get("campaign_slug")?;
    let kind = if row.try_get::<String, _>("created_at")? == at {
        EventKind::SubscriptionStarted
    } else if stored.is_final() {
        EventKind::SubscriptionEnded
    } else {
        EventKind::SubscriptionUpdated
    };
    write.emit(kind, &SubscriptionBody::new(stored, &campaign));
    Ok(())
}

/// Marks a known subscription past due after a failed payment, unless newer news is stored.
pub(crate) async fn mark_subscription_past_due_in(
    write: &mut WriteTx,
    subscription_id: &str,
    stripe_updated: i64,
) -> Result<(), StoreError> {
    let at = stored_instant(now());
    let row = sqlx::query(concat!(
        "UPDATE subscriptions SET status = 'past_due', stripe_updated = $1, updated_at = $2 \
         WHERE id = $3 AND stripe_updated <= $1 AND status NOT IN ",
        ended_subscription_statuses!(),
        " RETURNING ",
        subscription_returning!()
    ))
    .bind(stripe_updated)
    .bind(&at)
    .bind(subscription_id)
    .fetch_optional(&mut *write.tx)
    .await?;
    if let Some(row) = row {
        write.touch(row.try_get("campaign_id")?);
        let stored = subscription_from_row(&row)?;
        let failed_at = DateTime::<Utc>::from_timestamp_micros(stripe_updated).unwrap_or_else(now);
        record_change_in(write, &stored, failed_at).await?;
        emit_subscription(write, &row, &stored, &at)?;
    }
    Ok(())
}

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.campaign_id, s.branch_id, s.intent_id, s.status, s.amount_minor, \
     s.currency, s.billing_interval, s.billing_count, s.donor_name, s.donor_email, s.stripe_customer, \
     s.current_period_end, s.cancel_at_period_end, s.cancelled_at, s.source_ref, s.started_at, s.ended_at, \
     s.end_reason";

fn subscription_from_row(row: &AnyRow) -> Result<Subscription, StoreError> {
    let currency: String = row.try_get("currency")?;
    let interval: String = row.try_get("billing_interval")?;
    Ok(Subscription {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        branch_id: row.try_get("branch_id")?,
        intent_id: row.try_get("intent_id")?,
        status: row.try_get("status")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: read_currency(&currency)?,
        interval: Interval::parse(&interval)
            .map_err(|_| StoreError::Corrupt(format!("interval {interval}")))?,
        interval_count: row.try_get("billing_count")?,
        donor_name: row.try_get("donor_name")?,
        donor_email: row.try_get("donor_email")?,
        customer: row.try_get("stripe_customer")?,
        current_period_end: read_optional_instant(row, "current_period_end")?,
        cancel_at_period_end: read_flag(row, "cancel_at_period_end")?,
        cancelled_at: read_optional_instant(row, "cancelled_at")?,
        source_ref: row.try_get("source_ref")?,
        started_at: read_optional_instant(row, "started_at")?,
        ended_at: read_optional_instant(row, "ended_at")?,
        end_reason: row.try_get("end_reason")?,
    })
}

fn intent_from_row(row: &AnyRow) -> Result<Intent, StoreError> {
    let currency: String = row.try_get("currency")?;
    let interval: String = row.try_get("billing_interval")?;
    let locale: String = row.try_get("locale")?;
    Ok(Intent {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        branch_id: row.try_get("branch_id")?,
        interval: Interval::parse(&interval)
            .map_err(|_| StoreError::Corrupt(format!("interval {interval}")))?,
        amount_minor: row.try_get("amount_minor")?,
        fee_cover_minor: row.try_get("fee_cover_minor")?,
        currency: read_currency(&currency)?,
        ledger_currency: read_currency(&row.try_get::<String, _>("ledger_currency")?)?,
        donor: Donor {
            name: row.try_get("donor_name")?,
            email: row.try_get("donor_email")?,
            anonymous: read_flag(row, "anonymous")?,
            message: row.try_get("public_message")?,
        },
        locale: Locale::from_stored(locale),
        status: row.try_get("status")?,
        stripe_session: row.try_get("stripe_session")?,
        source_ref: row.try_get("source_ref")?,
    })
}
