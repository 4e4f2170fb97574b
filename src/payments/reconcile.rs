//! `appeal reconcile`: Stripe's recent events, applied through the webhook's code path.
//! Safe at any time and alongside webhooks: an event already applied is a duplicate.

use super::amounts::from_stripe;
use super::client::StripeApi;
use super::objects::Event;
use super::process::{EventOutcome, EventSource, ProcessError, process_event};
use crate::access::Scope;
use crate::store::{FailedEvent, Store};

/// What a reconcile run did, event by event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Another instance was reconciling: this run did nothing.
    pub skipped: bool,
    pub seen: usize,
    pub applied: Vec<(String, String)>,
    pub deferred: Vec<(String, String)>,
    /// Events that failed in this run: (id, type, error).
    pub failed: Vec<(String, String, String)>,
    /// Every event still failing or quarantined after the run: the run is not clean while
    /// any remain.
    pub outstanding: Vec<FailedEvent>,
}

impl ReconcileReport {
    pub fn is_clean(&self) -> bool {
        self.outstanding.is_empty()
    }
}

/// Tries again the events that failed before, then lists the handled events created in the
/// last `since_seconds` and applies each one not yet recorded, oldest first. Each event is
/// applied on its own: one that fails is recorded and the run goes on. On PostgreSQL one
/// instance at a time does it (an advisory lock); a run that finds another under way stands
/// back.
pub async fn reconcile(
    store: &Store,
    api: &StripeApi,
    since_seconds: i64,
) -> Result<ReconcileReport, ProcessError> {
    let Some(lock) = store.try_job_lock("reconcile").await? else {
        return Ok(ReconcileReport { skipped: true, ..ReconcileReport::default() });
    };
    let report = reconcile_locked(store, api, since_seconds).await;
    lock.release().await?;
    report
}

async fn reconcile_locked(
    store: &Store,
    api: &StripeApi,
    since_seconds: i64,
) -> Result<ReconcileReport, ProcessError> {
    let mut report = ReconcileReport::default();
    // Those that failed before, from what was kept of them, even when older than the window;
    // each event is tried once per run.
    let mut tried = std::collections::HashSet::new();
    for failed in store.failed_events(&Scope::everything()).await? {
        if failed.status != "failing" {
            continue;
        }
        let Some(payload) = failed.payload else { continue };
        tried.insert(failed.id.clone());
        match serde_json::from_str::<Event>(&payload) {
            Ok(event) => apply_one(store, api, &event, &payload, &mut report).await?,
            Err(error) => report.failed.push((failed.id, failed.kind, format!("cannot be read: {error}"))),
        }
    }
    let since = chrono::Utc::now().timestamp() - since_seconds;
    let mut events = Vec::new();
    let mut starting_after: Option<String> = None;
    loop {
        let page = api.events_page(since, starting_after.as_deref()).await?;
        starting_after = page.data.last().map(|event| event.id.clone());
        let more = page.has_more && starting_after.is_some();
        events.extend(page.data);
        if !more {
            break;
        }
    }
    // Stripe lists newest first; apply in the order they happened.
    events.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    report.seen = events.len();
    for event in events.iter().filter(|event| !tried.contains(&event.id)) {
        let raw = serde_json::to_string(&serde_json::json!({
            "id": event.id, "type": event.kind, "created": event.created, "data": {"object": event.data.object}
        }))
        .map_err(|error| ProcessError::Unreadable(error.to_string()))?;
        apply_one(store, api, event, &raw, &mut report).await?;
    }
    report.outstanding = store.failed_events(&Scope::everything()).await?;
    Ok(report)
}

/// Applies one event into the report; only the database being down stops the run.
async fn apply_one(
    store: &Store,
    api: &StripeApi,
    event: &Event,
    raw: &str,
    report: &mut ReconcileReport,
) -> Result<(), ProcessError> {
    let named = (event.id.clone(), event.kind.clone());
    match process_event(store, api, event, raw, EventSource::Reconcile).await {
        Ok(EventOutcome::Applied) => report.applied.push(named),
        Ok(EventOutcome::Deferred) => report.deferred.push(named),
        Ok(EventOutcome::Duplicate | EventOutcome::Ignored(_) | EventOutcome::Quarantined) => {}
        Err(error) if error.is_database_down() => return Err(error),
        Err(error) => report.failed.push((named.0, named.1, error.to_string())),
    }
    Ok(())
}

/// How far back `serve`'s own reconcile looks: as far as `appeal reconcile` by default.
pub const SERVE_WINDOW_SECONDS: i64 = 72 * 3600;

/// `serve`'s background reconcile: every `every`, the last three days of events are
/// reconciled and failed events tried again, so no cron is needed. On PostgreSQL the job
/// lock makes one instance do it at a time. Runs until the task is dropped.
pub async fn reconcile_periodically(store: Store, api: StripeApi, every: std::time::Duration) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match reconcile(&store, &api, SERVE_WINDOW_SECONDS).await {
            Ok(report) if report.skipped => {}
            Ok(report) if report.is_clean() => tracing::info!(
                seen = report.seen,
                applied = report.applied.len(),
                waiting = report.deferred.len(),
                "reconciled with Stripe"
            ),
            Ok(report) => tracing::warn!(
                seen = report.seen,
                applied = report.applied.len(),
                failing = report.outstanding.len(),
                "reconciled with Stripe; some events still fail: see /admin/stripe"
            ),
            Err(error) => tracing::warn!(%error, "reconcile with Stripe failed; trying again later"),
        }
    }
}

/// Stripe's side against the ledger for a period: every charge, refund and dispute Stripe
/// booked, next to the entry that should hold it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StripeComparison {
    pub compared: usize,
    /// Stripe transactions no entry holds (run reconcile; other products show here too).
    pub unrecorded: Vec<(String, String, i64)>,
    /// Entries whose net differs from Stripe's: (transaction, entry, ledger net, Stripe net).
    pub different: Vec<(String, i64, i64, i64)>,
    /// Entries naming a transaction Stripe does not list for the period.
    pub unknown_to_stripe: Vec<(String, i64)>,
}

impl StripeComparison {
    pub fn agrees(&self) -> bool {
        self.unrecorded.is_empty() && self.different.is_empty() && self.unknown_to_stripe.is_empty()
    }
}

/// The kinds of balance transaction that are gifts, refunds or disputes.
const MONEY_KINDS: [&str; 7] = [
    "charge",
    "payment",
    "refund",
    "payment_refund",
    "refund_failure",
    "payment_failure_refund",
    "adjustment",
];

pub async fn compare_with_stripe(
    store: &Store,
    api: &StripeApi,
    since_seconds: i64,
) -> Result<StripeComparison, ProcessError> {
    let since = chrono::Utc::now() - chrono::Duration::seconds(since_seconds);
    let transactions = api.balance_transactions_since(since.timestamp()).await?;
    let mut entries = store.stripe_entry_nets(since).await?;
    let mut comparison = StripeComparison::default();
    for transaction in
        transactions.iter().filter(|transaction| MONEY_KINDS.contains(&transaction.kind.as_str()))
    {
        comparison.compared += 1;
        let net = from_stripe(transaction.net, &transaction.currency);
        match entries.remove(&transaction.id) {
            // Settled in another currency than its campaign's: a treasurer gave its amount.
            Some((_, _, currency)) if net.is_some_and(|(_, settled)| settled.code() != currency) => {}
            Some((entry, ledger_net, _)) => {
                let stripe_net = net.map_or(transaction.net, |(minor, _)| minor);
                if ledger_net != stripe_net {
                    comparison.different.push((transaction.id.clone(), entry, ledger_net, stripe_net));
                }
            }
            None => comparison.unrecorded.push((
                transaction.id.clone(),
                transaction.kind.clone(),
                net.map_or(transaction.net, |(minor, _)| minor),
            )),
        }
    }
    let mut unknown: Vec<(String, i64)> =
        entries.into_iter().map(|(transaction, (entry, ..))| (transaction, entry)).collect();
    unknown.sort();
    comparison.unknown_to_stripe = unknown;
    Ok(comparison)
}
