//! Supporters' emails about their subscriptions, written when the background sender sends
//! them: the subscription as it stands, in the language of the checkout that started it, and
//! for a failed payment a fresh one-time link to change the card (made only when the email
//! goes out, so that a notice never sent leaves no link behind).

use chrono::{DateTime, Utc};

use crate::mail::{Mailer, SubscriptionFacts};
use crate::store::{Store, StoreError, SupporterEmail, SupporterEmailKind};
use crate::web::i18n::catalog;

/// How long the link in a failed-payment notice works: Stripe's retries take about as long.
pub const FAILED_PAYMENT_LINK_DAYS: i64 = 14;

/// The subject and body of a supporter's email; `None` when it can no longer be written
/// (its subscription or donor gone), and it is put aside.
pub(super) async fn write(
    store: &Store,
    mailer: &Mailer,
    to: &str,
    email: &SupporterEmail,
) -> Result<Option<(String, String)>, StoreError> {
    let Some(subscription) = store.subscription(&email.subscription_id).await? else {
        return Ok(None);
    };
    let context = store.receipt_context(subscription.campaign_id, subscription.intent_id.as_deref()).await?;
    let language = context
        .as_ref()
        .and_then(|(_, locale)| locale.as_deref())
        .and_then(|locale| catalog().get(locale))
        .unwrap_or_else(|| catalog().fallback());
    let campaign = match &context {
        Some((campaign, _)) => campaign.title.get(&language.code).to_owned(),
        None => return Ok(None),
    };
    let recovered = email.kind == SupporterEmailKind::PaymentRecovered;
    let link = match (&subscription.customer, recovered) {
        (Some(customer), false) => {
            let mut bytes = [0_u8; 32];
            getrandom::fill(&mut bytes).expect("the operating system provides randomness");
            let token = crate::access::hex(&bytes);
            let expires = Utc::now() + chrono::Duration::days(FAILED_PAYMENT_LINK_DAYS);
            store
                .insert_manage_token(
                    &crate::access::hash_token(&token),
                    to,
                    customer,
                    &language.code,
                    expires,
                )
                .await?;
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
    };
    Ok(Some(mailer.subscription_text(language, &facts, recovered)))
}
