//! What online giving keeps beside the ledger: checkout intents, processed Stripe events
//! and subscriptions.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, WriteTx, now, read_flag, read_instant, stored_instant};
use crate::ledger::checkout::{CheckoutDraft, Intent, Interval, Locale};
use crate::ledger::entry::{Donor, Entry};
use crate::ledger::subscription::Subscription;
use crate::ledger::{Currency, Slug};

/// How an event stands after trying to claim it for application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventClaim {
    /// First time seen (or it was waiting): apply its effects in this transaction.
    New,
    /// Applied or ignored before: change nothing.
    Duplicate,
}

/// A Stripe event that waits for what it refers to (a refund whose payment is not in yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredEvent {
    pub id: String,
    pub payload: String,
}

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
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'created', $13, $13)",
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
        let row = sqlx::query(
            "SELECT id, campaign_id, branch_id, billing_interval, amount_minor, fee_cover_minor, currency, \
             donor_name, donor_email, anonymous, public_message, locale, status, stripe_session \
             FROM checkout_intents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(intent_from_row).transpose()
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

    /// Whether an event was applied or ignored already (so a duplicate costs one read).
    pub async fn event_is_done(&self, event_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT status FROM stripe_events WHERE id = $1")
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<String, _>("status")? != "deferred",
            None => false,
        })
    }

    /// Keeps an event that waits for `waiting_for` (a charge id) to reach the ledger.
    pub async fn defer_event(
        &self,
        event_id: &str,
        event_type: &str,
        created: i64,
        waiting_for: &str,
        payload: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_events (id, type, created, status, waiting_for, payload, source, received_at) \
             VALUES ($1, $2, $3, 'deferred', $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(event_id)
        .bind(event_type)
        .bind(created)
        .bind(waiting_for)
        .bind(payload)
        .bind(source)
        .bind(stored_instant(now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn deferred_events(&self, waiting_for: &str) -> Result<Vec<DeferredEvent>, StoreError> {
        sqlx::query(
            "SELECT id, payload FROM stripe_events WHERE waiting_for = $1 AND status = 'deferred' ORDER BY created, id",
        )
        .bind(waiting_for)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Ok(DeferredEvent { id: row.try_get("id")?, payload: row.try_get("payload")? }))
        .collect()
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    pub async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
    ) -> Result<Vec<(Subscription, Slug)>, StoreError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS}, c.slug AS campaign_slug FROM subscriptions s \
             JOIN campaigns c ON c.id = s.campaign_id \
             WHERE ($1 IS NULL OR s.campaign_id = $1) AND ($2 IS NULL OR s.status = $2) ORDER BY s.created_at DESC"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.campaign_id)
            .bind(&filter.status)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((subscription_from_row(row)?, Slug::from_stored(row.try_get("campaign_slug")?))))
            .collect()
    }
}

/// Claims an event inside `write`: the row with its unique id is written in the same
/// transaction as the event's effects, so an event is applied exactly once.
pub(crate) async fn claim_event_in(
    write: &mut WriteTx,
    event_id: &str,
    event_type: &str,
    created: i64,
    status: &str,
    source: &str,
) -> Result<EventClaim, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO stripe_events (id, type, created, status, source, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(event_id)
    .bind(event_type)
    .bind(created)
    .bind(status)
    .bind(source)
    .bind(stored_instant(now()))
    .execute(&mut *write.tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(EventClaim::New);
    }
    // It was seen before: only an event still waiting may be applied now.
    let resumed = sqlx::query(
        "UPDATE stripe_events SET status = $1, waiting_for = NULL, payload = NULL WHERE id = $2 AND status = 'deferred'",
    )
    .bind(status)
    .bind(event_id)
    .execute(&mut *write.tx)
    .await?;
    Ok(if resumed.rows_affected() == 1 { EventClaim::New } else { EventClaim::Duplicate })
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
/// was cancelled, then recomputes the campaign's recurring figures.
pub(crate) async fn upsert_subscription_in(
    write: &mut WriteTx,
    subscription: &Subscription,
    stripe_updated: i64,
) -> Result<(), StoreError> {
    let at = stored_instant(now());
    sqlx::query(
        "INSERT INTO subscriptions (id, campaign_id, branch_id, intent_id, status, amount_minor, currency, \
         billing_interval, billing_count, monthly_minor, donor_name, donor_email, stripe_customer, \
         current_period_end, cancel_at_period_end, cancelled_at, stripe_updated, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
         ON CONFLICT (id) DO UPDATE SET status = $5, amount_minor = $6, billing_interval = $8, billing_count = $9, \
         monthly_minor = $10, donor_name = COALESCE($11, subscriptions.donor_name), \
         donor_email = COALESCE($12, subscriptions.donor_email), \
         stripe_customer = COALESCE($13, subscriptions.stripe_customer), current_period_end = $14, \
         cancel_at_period_end = $15, cancelled_at = $16, stripe_updated = $17, updated_at = $18 \
         WHERE subscriptions.stripe_updated <= $17 \
         AND subscriptions.status NOT IN ('canceled', 'incomplete_expired')",
    )
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
    .execute(&mut *write.tx)
    .await?;
    refresh_recurring_in(write, subscription.campaign_id).await
}

/// Marks a known subscription past due after a failed payment, unless newer news is stored.
pub(crate) async fn mark_subscription_past_due_in(
    write: &mut WriteTx,
    subscription_id: &str,
    stripe_updated: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "UPDATE subscriptions SET status = 'past_due', stripe_updated = $1, updated_at = $2 \
         WHERE id = $3 AND stripe_updated <= $1 AND status NOT IN ('canceled', 'incomplete_expired') \
         RETURNING campaign_id",
    )
    .bind(stripe_updated)
    .bind(stored_instant(now()))
    .bind(subscription_id)
    .fetch_optional(&mut *write.tx)
    .await?;
    if let Some(row) = row {
        refresh_recurring_in(write, row.try_get("campaign_id")?).await?;
    }
    Ok(())
}

/// `recurring.active` and `recurring.monthly`, kept with the other totals.
async fn refresh_recurring_in(write: &mut WriteTx, campaign_id: i64) -> Result<(), StoreError> {
    write.touch(campaign_id);
    let row = sqlx::query(
        "SELECT COUNT(*) AS active, CAST(COALESCE(SUM(monthly_minor), 0) AS BIGINT) AS monthly \
         FROM subscriptions WHERE campaign_id = $1 AND status IN ('active', 'trialing')",
    )
    .bind(campaign_id)
    .fetch_one(&mut *write.tx)
    .await?;
    let active: i64 = row.try_get("active")?;
    let monthly: i64 = row.try_get("monthly")?;
    sqlx::query(
        "UPDATE campaign_totals SET recurring_active = $1, recurring_monthly_minor = $2, updated_at = $3, \
         version = version + 1 WHERE campaign_id = $4",
    )
    .bind(active)
    .bind(monthly)
    .bind(stored_instant(now()))
    .bind(campaign_id)
    .execute(&mut *write.tx)
    .await?;
    Ok(())
}

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.campaign_id, s.branch_id, s.intent_id, s.status, s.amount_minor, \
     s.currency, s.billing_interval, s.billing_count, s.donor_name, s.donor_email, s.stripe_customer, \
     s.current_period_end, s.cancel_at_period_end, s.cancelled_at";

fn subscription_from_row(row: &AnyRow) -> Result<Subscription, StoreError> {
    let currency: String = row.try_get("currency")?;
    let interval: String = row.try_get("billing_interval")?;
    let instant = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<String>, _>(column)?.as_deref().map(read_instant).transpose()
    };
    Ok(Subscription {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        branch_id: row.try_get("branch_id")?,
        intent_id: row.try_get("intent_id")?,
        status: row.try_get("status")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: Currency::from_code(&currency)
            .map_err(|_| StoreError::Corrupt(format!("currency {currency}")))?,
        interval: Interval::parse(&interval)
            .map_err(|_| StoreError::Corrupt(format!("interval {interval}")))?,
        interval_count: row.try_get("billing_count")?,
        donor_name: row.try_get("donor_name")?,
        donor_email: row.try_get("donor_email")?,
        customer: row.try_get("stripe_customer")?,
        current_period_end: instant("current_period_end")?,
        cancel_at_period_end: read_flag(row, "cancel_at_period_end")?,
        cancelled_at: instant("cancelled_at")?,
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
        currency: Currency::from_code(&currency)
            .map_err(|_| StoreError::Corrupt(format!("currency {currency}")))?,
        donor: Donor {
            name: row.try_get("donor_name")?,
            email: row.try_get("donor_email")?,
            anonymous: read_flag(row, "anonymous")?,
            message: row.try_get("public_message")?,
        },
        locale: Locale::from_stored(locale),
        status: row.try_get("status")?,
        stripe_session: row.try_get("stripe_session")?,
    })
}
