//! Outgoing webhooks: the sender that delivers the outbox's events to the endpoints admins
//! registered, signed as the Standard Webhooks specification has it, at least once.
//!
//! It runs inside `appeal serve`. On PostgreSQL one instance sends at a time (an advisory
//! lock); the others stand by and take over when it stops. Each cycle it makes the
//! deliveries of new events, closes the campaigns whose end has come (waking for it),
//! announces goals newly reached, and sends what is due, several endpoints at once. A
//! delivery answered with a 2xx is done; any other answer, no answer
//! within `APPEAL_WEBHOOK_TIMEOUT`, or no connection is tried again on a schedule with
//! jitter for about three days ([`RETRY_SCHEDULE`]); after that it has failed, and an
//! endpoint that has not succeeded since that delivery was made is disabled and the admins
//! are emailed.

pub mod signature;
mod supporters;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::mail::Mailer;
use crate::store::{AttemptResult, DueDelivery, NewAttempt, Store, StoreError, StoredEndpoint};

/// The waits between attempts: the first retry 5 seconds after an attempt fails, the last
/// about three days after the first attempt (65 hours of waits, each moved by up to a tenth
/// either way, so 71.5 hours at most).
pub const RETRY_SCHEDULE: [Duration; 10] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(13 * 3600),
];

/// The job lock held by the one sender at work across instances.
pub const SENDER_JOB: &str = "webhook-sender";

/// Deliveries sent at once.
const PARALLEL: usize = 8;
/// Deliveries sent per round, and to one endpoint at most.
const ROUND: i64 = 32;
const PER_ENDPOINT: usize = 2;
/// How much of an answer's body the log keeps.
const ANSWER_EXCERPT: usize = 1024;
/// How often the sender looks for work written by other instances, and an instance that
/// does not hold the sender's lock tries to take it.
const POLL: Duration = Duration::from_secs(2);
const STANDBY: Duration = Duration::from_secs(10);
/// How long the outbox keeps an event (and the log its deliveries) once nothing is left to
/// send of it, and how often the sender forgets older ones.
pub const KEPT_DAYS: i64 = 90;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often every campaign is looked at for a goal reached, whatever was heard.
const LOOK_AT_ALL_GOALS: Duration = Duration::from_secs(300);

/// The campaigns whose figures changed since the sender last looked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Changed {
    /// Any of them (the sender started, or missed notices).
    All,
    #[default]
    None,
    Some(Vec<i64>),
}

impl Changed {
    fn add(&mut self, campaign_id: i64) {
        match self {
            Changed::All => {}
            Changed::None => *self = Changed::Some(vec![campaign_id]),
            Changed::Some(ids) if !ids.contains(&campaign_id) => ids.push(campaign_id),
            Changed::Some(_) => {}
        }
    }
}

/// What the sender needs beside the store.
#[derive(Clone, Debug)]
pub struct Sender {
    store: Store,
    client: reqwest::Client,
    mailer: Mailer,
    public_url: String,
    /// How many times Stripe tries an installment (`APPEAL_PAYMENT_TRIES`).
    payment_tries: usize,
}

impl Sender {
    /// The number of tries Stripe makes, before the last of which a donor is reminded.
    #[must_use]
    pub fn with_payment_tries(self, payment_tries: usize) -> Self {
        Sender { payment_tries, ..self }
    }

    pub fn new(store: Store, mailer: Mailer, public_url: &str, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect is an answer that is not a 2xx: the endpoint's URL is to be fixed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("appeal-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        Sender { store, client, mailer, public_url: public_url.to_owned(), payment_tries: 8 }
    }

    /// Sends for as long as the server runs.
    pub async fn run(self) {
        // Campaigns whose figures changed (here or, on PostgreSQL, on any instance) are
        // looked at for a goal reached; all of them when the sender starts, and every
        // few minutes in case a notice was lost.
        let mut changes = self.store.changes();
        loop {
            let lock = match self.store.try_job_lock(SENDER_JOB).await {
                Ok(Some(lock)) => lock,
                Ok(None) => {
                    tokio::time::sleep(STANDBY).await;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "the webhook sender cannot reach the database");
                    tokio::time::sleep(STANDBY).await;
                    continue;
                }
            };
            let mut lock = Some(lock);
            let mut changed = Changed::All;
            let mut looked_at_all = std::time::Instant::now();
            let mut pruned_at: Option<std::time::Instant> = None;
            loop {
                if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    pruned_at = Some(std::time::Instant::now());
                    if let Err(error) = self.prune().await {
                        tracing::warn!(%error, "old webhook events were not forgotten");
                    }
                }
                if looked_at_all.elapsed() >= LOOK_AT_ALL_GOALS {
                    changed = Changed::All;
                }
                if changed == Changed::All {
                    looked_at_all = std::time::Instant::now();
                }
                if let Err(error) = self.cycle(&std::mem::take(&mut changed)).await {
                    tracing::warn!(%error, "the webhook sender stopped a round");
                    break;
                }
                // Woken by the next delivery due or the next campaign to end, whichever comes first.
                let mut wait = POLL;
                for due in [self.store.next_delivery_due().await, self.store.next_campaign_end().await] {
                    if let Ok(Some(due)) = due {
                        wait = wait.min((due - Utc::now()).to_std().unwrap_or_default());
                    }
                }
                let sleep = tokio::time::sleep(wait);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        () = self.store.sender_woken() => break,
                        () = &mut sleep => break,
                        heard = changes.recv() => match heard {
                            Ok(campaign_id) => changed.add(campaign_id),
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => changed = Changed::All,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
                        },
                    }
                }
                // Still the one sender: the session holding the lock is alive.
                if let Some(held) = lock.as_mut()
                    && !held.still_held().await
                {
                    lock = None;
                    break;
                }
            }
            if let Some(lock) = lock
                && let Err(error) = lock.release().await
            {
                tracing::warn!(%error, "the webhook sender's lock was not released");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Forgets the events (and their log) older than `KEPT_DAYS` with nothing left to send.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let pruned = self.store.prune_outbox(Utc::now() - chrono::Duration::days(KEPT_DAYS)).await?;
        if pruned > 0 {
            tracing::info!(pruned, days = KEPT_DAYS, "forgot old webhook events");
        }
        Ok(pruned)
    }

    /// One round: deliveries made for new events, ended campaigns closed, goals announced,
    /// what is due sent.
    pub async fn cycle(&self, changed: &Changed) -> Result<(), StoreError> {
        while self.store.dispatch_outbox().await? > 0 {}
        for slug in self.store.close_ended_campaigns(Utc::now()).await? {
            tracing::info!(campaign = %slug, "the campaign has ended: closed");
        }
        // Yearly gifts about to renew: looked for when figures moved (a subscription among
        // them) and every few minutes.
        if *changed != Changed::None {
            let ahead = chrono::Duration::days(supporters::RENEWAL_NOTICE_DAYS);
            let queued = self.store.queue_renewal_notices(Utc::now(), ahead).await?;
            if queued > 0 {
                tracing::info!(queued, "renewal notices queued");
            }
        }
        self.announce_goals(changed).await?;
        self.send_emails().await?;
        loop {
            let found = self.store.due_deliveries(Utc::now(), ROUND * 4).await?;
            let looked = found.len();
            let due = fair_share(found);
            let sent: Vec<Result<(), StoreError>> = futures_util::stream::iter(due)
                .map(|delivery| self.deliver(delivery))
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            for result in sent {
                result?;
            }
            // New events written while sending, or more due than one round holds.
            while self.store.dispatch_outbox().await? > 0 {}
            if i64::try_from(looked).unwrap_or(0) < ROUND * 4 {
                return Ok(());
            }
        }
    }

    /// Records and announces the goals campaigns' figures have reached, once per goal (the
    /// first goal and each stretch goal).
    async fn announce_goals(&self, changed: &Changed) -> Result<(), StoreError> {
        let ids = match changed {
            Changed::All => None,
            Changed::None => return Ok(()),
            Changed::Some(ids) => Some(ids.as_slice()),
        };
        for slug in self.store.campaigns_with_goal_unannounced(ids).await? {
            let Some((campaign, totals, branches)) = self.store.campaign_progress(&slug).await? else {
                continue;
            };
            let raised = totals.counted_minor(&campaign);
            if crate::ledger::goals::newly_reached(&campaign.ladder(), raised).is_empty() {
                continue;
            }
            let recorded = self.store.record_goals_reached(&campaign, &totals, &branches).await?;
            if recorded > 0 {
                tracing::info!(campaign = %slug, goals = recorded, "goal reached");
            }
        }
        Ok(())
    }

    /// Sends one delivery and records how it went. A record that cannot be written puts
    /// the delivery off by its next wait rather than stopping the round: it is not sent again
    /// at once, and the other deliveries go on.
    async fn deliver(&self, delivery: DueDelivery) -> Result<(), StoreError> {
        let attempt = self.send(&delivery).await;
        // The next wait counts from when this attempt ended (a timeout takes its time).
        let ended = Utc::now();
        let next = next_attempt(delivery.attempts + 1, ended, jitter());
        let result = match attempt.status {
            Some(status) if (200..300).contains(&status) => AttemptResult::Delivered,
            _ => match next {
                Some(at) => AttemptResult::Retry(at),
                None => AttemptResult::Failed,
            },
        };
        if result != AttemptResult::Delivered {
            tracing::info!(
                endpoint = delivery.endpoint_id,
                event = %delivery.event_id,
                status = ?attempt.status,
                answer = attempt.answer.as_deref().unwrap_or_default(),
                "a webhook delivery failed"
            );
        }
        let notice = |endpoint: &StoredEndpoint| self.disabled_notice(endpoint);
        match self.store.record_webhook_attempt(&delivery, &attempt, &result, &notice).await {
            Ok(recorded) => {
                if let Some(endpoint) = recorded.endpoint_disabled {
                    tracing::warn!(endpoint = endpoint.id, url = %endpoint.url, "webhook endpoint disabled; admins told");
                }
                Ok(())
            }
            Err(error) if error.is_unavailable() => Err(error),
            Err(error) => {
                tracing::error!(%error, delivery = delivery.id, "a webhook attempt could not be recorded");
                let later = next.unwrap_or_else(|| ended + chrono::Duration::hours(1));
                self.store.postpone_delivery(delivery.id, later).await
            }
        }
    }

    async fn send(&self, delivery: &DueDelivery) -> NewAttempt {
        let at = Utc::now();
        let timestamp = at.timestamp();
        let signature =
            signature::sign(&delivery.secret, &delivery.event_id, timestamp, delivery.body.as_bytes());
        let started = std::time::Instant::now();
        let sent = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await;
        let (status, answer) = match sent {
            Ok(mut response) => {
                let status = i64::from(response.status().as_u16());
                let mut excerpt = Vec::new();
                // The start of the answer only, and no waiting past the timeout for the rest.
                while excerpt.len() < ANSWER_EXCERPT {
                    match response.chunk().await {
                        Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                        Ok(None) | Err(_) => break,
                    }
                }
                excerpt.truncate(ANSWER_EXCERPT);
                let text = String::from_utf8_lossy(&excerpt).into_owned();
                (Some(status), Some(text).filter(|text| !text.is_empty()))
            }
            Err(error) => (None, Some(describe(&error))),
        };
        let answer = answer.map(|text| printable(&text));
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        NewAttempt { at, status, latency_ms, answer }
    }

    /// The email that tells the admins an endpoint was disabled.
    fn disabled_notice(&self, endpoint: &StoredEndpoint) -> (String, String) {
        let body = format!(
            "Deliveries to the webhook endpoint {url} (number {id}) have failed for three days without one \
             succeeding, so appeal has stopped sending to it.\n\n{reason}\n\nIts delivery log, and the button to \
             enable it again and send what it missed, are at {public}/admin/webhooks/{id}\n",
            url = endpoint.url,
            id = endpoint.id,
            reason = endpoint.disabled_reason.as_deref().unwrap_or_default(),
            public = self.public_url,
        );
        ("A webhook endpoint was disabled".to_owned(), body)
    }

    /// Sends the emails queued in the outbox, each tried again later when it fails.
    async fn send_emails(&self) -> Result<(), StoreError> {
        for mut email in self.store.due_emails(Utc::now(), ROUND).await? {
            let mut attachment = None;
            // A statement's email carries its PDF, drawn now from the statement as issued.
            if let Some(supporter) = email
                .supporter
                .as_ref()
                .filter(|s| s.kind == crate::store::SupporterEmailKind::AnnualStatement)
            {
                match supporters::statement(&self.store, &self.mailer, supporter).await {
                    Err(error) => {
                        // Never the whole queue held up by one statement: it is tried again later.
                        tracing::error!(%error, email = email.id, "a statement's email could not be written");
                        self.email_failed(&email, &error.to_string()).await?;
                        continue;
                    }
                    Ok(Some((subject, body, file))) => {
                        self.store.set_email_text(email.id, &subject, &body).await?;
                        (email.subject, email.body) = (subject, body);
                        attachment = Some(file);
                    }
                    Ok(None) => {
                        tracing::info!(email = email.id, "a statement replaced before it went; put aside");
                        self.store.cancel_email(email.id).await?;
                        continue;
                    }
                }
            }
            // A supporter's email is written now: a receipt from its gift, the others from the
            // subscription as it stands.
            else if let Some(supporter) = &email.supporter {
                if supporter.kind == crate::store::SupporterEmailKind::PaymentReminder
                    && let supporters::Reminder::Later(at) =
                        supporters::reminder(supporter, self.payment_tries)
                {
                    self.store.postpone_email(email.id, at).await?;
                    continue;
                }
                match supporters::write(&self.store, &self.mailer, &email.to, supporter).await {
                    Err(error) => {
                        // Nor by one email whose gift or subscription cannot be read now.
                        tracing::error!(%error, email = email.id, "a supporter's email could not be written");
                        self.email_failed(&email, &error.to_string()).await?;
                        continue;
                    }
                    Ok(Some((subject, body))) => {
                        self.store.set_email_text(email.id, &subject, &body).await?;
                        (email.subject, email.body) = (subject, body);
                    }
                    Ok(None) => {
                        tracing::info!(email = email.id, "a supporter's email no longer applies; put aside");
                        self.store.cancel_email(email.id).await?;
                        continue;
                    }
                }
            }
            // Put aside meanwhile (the payment went through while this round was read)?
            if email.supporter.is_some() && !self.store.email_is_due(email.id).await? {
                continue;
            }
            let file =
                attachment.as_ref().map(|(name, bytes): &(String, Vec<u8>)| (name.as_str(), bytes.clone()));
            match self.mailer.send_with(&email.to, &email.subject, &email.body, file).await {
                Ok(()) => self.store.email_attempted(email.id, None, None).await?,
                Err(error) => {
                    tracing::warn!(%error, to = %email.to, "an email could not be sent; it is tried again later");
                    self.email_failed(&email, &error.to_string()).await?;
                    if matches!(error, crate::mail::MailError::Send(_)) {
                        // The mail server is down or hangs: the others wait for the next
                        // round, so that it costs a round one try, not one per email, and
                        // the webhook deliveries after the emails are not held up.
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps the error of an email that failed, and when to try it again.
    async fn email_failed(&self, email: &crate::store::QueuedEmail, error: &str) -> Result<(), StoreError> {
        let receipt =
            email.supporter.as_ref().is_some_and(|s| s.kind == crate::store::SupporterEmailKind::Receipt);
        let next = email_retry_at(email.attempts + 1, receipt, Utc::now(), jitter());
        self.store.email_attempted(email.id, Some(error), next).await
    }
}

/// A round's deliveries out of those due (oldest first): at most `PER_ENDPOINT` to one
/// endpoint and `ROUND` in all, so that an endpoint that hangs until the timeout holds up
/// two of the round's slots, not all of them.
fn fair_share(due: Vec<DueDelivery>) -> Vec<DueDelivery> {
    let mut taken: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let limit = usize::try_from(ROUND).unwrap_or(32);
    let mut round = Vec::new();
    for delivery in due {
        let count = taken.entry(delivery.endpoint_id).or_default();
        if *count < PER_ENDPOINT && round.len() < limit {
            *count += 1;
            round.push(delivery);
        }
    }
    round
}

/// When to try a delivery again after its `attempts`-th attempt failed at `at`, or `None`
/// when its schedule has run out. `jitter` (0.9 to 1.1) spreads retries out.
pub fn next_attempt(attempts: i64, at: DateTime<Utc>, jitter: f64) -> Option<DateTime<Utc>> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let wait = RETRY_SCHEDULE.get(index)?.mul_f64(jitter.clamp(0.9, 1.1));
    Some(at + chrono::Duration::from_std(wait).ok()?)
}

/// When to try an email again after its `attempts`-th failure: on the retry schedule, and for
/// a gift's receipt on past it, at the schedule's last wait, until the mail server takes it
/// (the other emails no longer apply days later).
fn email_retry_at(attempts: i64, receipt: bool, at: DateTime<Utc>, jitter: f64) -> Option<DateTime<Utc>> {
    let last = i64::try_from(RETRY_SCHEDULE.len()).unwrap_or(i64::MAX);
    next_attempt(if receipt { attempts.min(last) } else { attempts }, at, jitter)
}

fn jitter() -> f64 {
    let mut byte = [0_u8; 2];
    getrandom::fill(&mut byte).expect("the operating system provides randomness");
    0.9 + 0.2 * f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX)
}

/// An answer as the log keeps it: control characters (a NUL, which PostgreSQL's text
/// cannot hold) as spaces, line breaks and tabs kept.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && !matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }).collect()
}

/// What went wrong with a request that got no answer, for the delivery log.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receipt is still owed when the schedule is spent; a notice about a payment is not.
    #[test]
    fn a_receipt_is_tried_again_past_the_schedule_other_emails_stop() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T00:00:00Z").expect("instant").with_timezone(&Utc);
        let spent = i64::try_from(RETRY_SCHEDULE.len()).expect("small") + 1;
        assert_eq!(email_retry_at(spent, false, at, 1.0), None);
        assert_eq!(email_retry_at(spent, true, at, 1.0), Some(at + chrono::Duration::hours(13)));
        assert_eq!(email_retry_at(spent + 40, true, at, 1.0), Some(at + chrono::Duration::hours(13)));
        // Within the schedule, both follow it.
        assert_eq!(email_retry_at(1, true, at, 1.0), email_retry_at(1, false, at, 1.0));
        assert_eq!(email_retry_at(1, true, at, 1.0), Some(at + chrono::Duration::seconds(5)));
    }

    #[test]
    fn retries_spread_over_about_three_days_then_stop() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T00:00:00Z").expect("instant").with_timezone(&Utc);
        assert_eq!(next_attempt(1, at, 1.0), Some(at + chrono::Duration::seconds(5)));
        assert_eq!(next_attempt(2, at, 1.0), Some(at + chrono::Duration::minutes(5)));
        assert_eq!(next_attempt(11, at, 1.0), None, "eleven attempts in all");
        assert_eq!(next_attempt(0, at, 1.0), None);
        // About three days in all, never more, however the waits are moved.
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(60 * 3600));
        assert!(total.mul_f64(1.1) <= Duration::from_secs(72 * 3600));
        // Jitter moves a wait by a tenth at most.
        assert_eq!(next_attempt(1, at, 1.1), Some(at + chrono::Duration::milliseconds(5500)));
        assert_eq!(next_attempt(1, at, 9.0), Some(at + chrono::Duration::milliseconds(5500)));
        let spread = jitter();
        assert!((0.9..=1.1).contains(&spread));
        assert_eq!(printable("bad\u{0}answer\n"), "bad answer\n");
    }
}
