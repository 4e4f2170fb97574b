//! Supporters' emails, written when the background sender sends them: a gift's receipt from
//! the gift as the ledger keeps it; about a subscription, the subscription as it stands; in
//! the language of the checkout that started it, and for a failed payment with a fresh
//! one-time link to change the card (made only when the email goes out, so that a notice
//! never sent leaves no link behind).

use chrono::{DateTime, Utc};

use crate::mail::{Mailer, SubscriptionFacts, language_and_title};
use crate::store::{Store, StoreError, SupporterEmail, SupporterEmailKind};
use crate::web::i18n::catalog;

/// How long the link in a failed-payment notice or a renewal notice works: Stripe's retries
/// take about as long, and a yearly gift renews a week after its notice.
pub const LINK_DAYS: i64 = 14;
/// A yearly gift's notice goes this long before it renews.
pub const RENEWAL_NOTICE_DAYS: i64 = 7;

/// What to do with a reminder that is due: a day before Stripe's next try, which may not be
/// its last (`tries` in all).
pub(super) enum Reminder {
    Send,
    /// Not the last try: look again after it (a failure moves the reminder on; a success puts
    /// it aside).
    Later(DateTime<Utc>),
}

pub(super) fn reminder(email: &SupporterEmail, tries: usize) -> Reminder {
    let attempts = email.data["attempt_count"].as_i64().unwrap_or(0);
    let next = email.data["next_attempt"].as_i64().and_then(|at| DateTime::<Utc>::from_timestamp(at, 0));
    let last = usize::try_from(attempts + 1).unwrap_or(0) >= tries;
    match next {
        // After that try (its failure moves the reminder on), and never in the past: a
        // reminder whose next failure is never reported waits, it is not looked at in a loop.
        Some(next) if !last => {
            Reminder::Later((next + chrono::Duration::days(1)).max(Utc::now() + chrono::Duration::hours(1)))
        }
        _ => Reminder::Send,
    }
}

/// The subject and body of a supporter's email; `None` when it can no longer be written
/// (its subscription, gift or donor gone), and it is put aside.
pub(super) async fn write(
    store: &Store,
    mailer: &Mailer,
    to: &str,
    email: &SupporterEmail,
) -> Result<Option<(String, String)>, StoreError> {
    if email.kind == SupporterEmailKind::Receipt {
        return receipt(store, mailer, email).await;
    }
    let Some(subscription) = store.subscription(&email.subscription_id).await? else {
        return Ok(None);
    };
    // A failure told late (after its invoice was paid, or once the subscription ended) no
    // longer applies, nor does a reminder whose try has long passed unreported.
    if matches!(email.kind, SupporterEmailKind::PaymentFailed | SupporterEmailKind::PaymentReminder) {
        let invoice = email.data["invoice"].as_str().unwrap_or_default();
        let stale = email.data["next_attempt"]
            .as_i64()
            .and_then(|at| DateTime::<Utc>::from_timestamp(at, 0))
            .is_some_and(|next| next + chrono::Duration::days(2) < Utc::now());
        if subscription.has_ended()
            || store.invoice_is_recorded(invoice).await?
            || (email.kind == SupporterEmailKind::PaymentReminder && stale)
        {
            return Ok(None);
        }
    }
    let context = store.receipt_context(subscription.campaign_id, subscription.intent_id.as_deref()).await?;
    let (language, Some(campaign)) = language_and_title(context.as_ref(), None) else {
        return Ok(None);
    };
    let link = match (&subscription.customer, email.kind) {
        (
            Some(customer),
            SupporterEmailKind::PaymentFailed
            | SupporterEmailKind::PaymentReminder
            | SupporterEmailKind::RenewalNotice,
        ) => {
            let expires = Utc::now() + chrono::Duration::days(LINK_DAYS);
            let token = store.issue_manage_token(to, customer, &language.code, expires).await?;
            Some(mailer.manage_link(language, &token))
        }
        _ => None,
    };
    let next_attempt =
        email.data["next_attempt"].as_i64().and_then(|at| DateTime::<Utc>::from_timestamp(at, 0));
    let facts = SubscriptionFacts {
        donor_name: subscription.donor_name.clone(),
        amount_minor: subscription.amount_minor,
        currency: subscription.currency,
        campaign,
        next_attempt,
        link,
        renews_on: subscription.current_period_end,
    };
    Ok(Some(mailer.subscription_text(language, &facts, email.kind)))
}

/// A gift's receipt, written from the gift as the ledger keeps it.
async fn receipt(
    store: &Store,
    mailer: &Mailer,
    email: &SupporterEmail,
) -> Result<Option<(String, String)>, StoreError> {
    let Some(entry) = email.data["entry"].as_i64() else { return Ok(None) };
    let Some(entry) = store.entry(entry).await? else { return Ok(None) };
    let language = email.data["language"].as_str().and_then(|code| catalog().get(code));
    Ok(Some(mailer.receipt(store, &entry, language).await?))
}

/// The email of an annual statement: its subject, body and the PDF (named by its number);
/// `None` when it no longer applies (replaced before it went), and it is put aside.
pub(super) async fn statement(
    store: &Store,
    mailer: &Mailer,
    email: &SupporterEmail,
) -> Result<Option<(String, String, (String, Vec<u8>))>, StoreError> {
    let Some(id) = email.data["statement"].as_i64() else { return Ok(None) };
    let Some(statement) = store.statement(id).await? else { return Ok(None) };
    if statement.replaced_by.is_some() {
        return Ok(None);
    }
    let site = mailer.site();
    let pdf = match crate::export::statement::issued_pdf(
        &statement,
        &site.organization,
        &site.organization_details,
    ) {
        Ok(pdf) => pdf,
        Err(error) => return Err(StoreError::Corrupt(error.to_string())),
    };
    let (subject, body) = mailer.statement_text(&statement);
    let name =
        format!("statement-{}.pdf", crate::ledger::statements::number_text(statement.year, statement.number));
    Ok(Some((subject, body, (name, pdf))))
}
