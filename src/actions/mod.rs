//! The writes an admin or treasurer can make: one code path for the HTTP API and the CLI.

mod appeals;
mod deposits;
mod donors;
mod import;
mod matching;
mod people;
mod privacy;
mod rates;
mod recurring;
mod search;
mod sources;
mod statements;
mod stripe_review;
mod wall;
mod webhooks;

pub use appeals::{
    AppealChecked, appeal_progress_document, check_appeals, create_appeal, list_appeals, update_appeal,
};
pub use deposits::{BatchOutcome, BatchReversalInput, BatchReversed, record_batch, reverse_batch};
pub use donors::{
    DONOR_SEARCH_LIMIT, DonorRecord, DonorSummary, donor_record, merge_donors, search_donors, undo_merge,
};
pub use import::{CsvImport, import_csv};
pub use matching::{create_match_offer, match_offers};
pub use privacy::{PersonNamed, export_donor, forget_donor};
pub use rates::{
    RATES_LISTED, RateQuery, RatesImported, add_rate, checkout_settings_in, import_ecb, list_rates,
    preset_in, rate_for,
};
pub use recurring::{MAX_MONTHS, RecurringQuery, RecurringReport, recurring_health};
pub use search::{EntryPage, find_entries};
pub use sources::campaign_sources;
pub use statements::{StatementRun, issue_statements, preview_statement, statement_document, statement_year};
pub use wall::{WallDecisionInput, decide_wall};
pub use webhooks::{
    DeliveryLog, EndpointBody, EndpointInput, LOG_PAGE, ReplayInput, add_webhook, list_webhooks,
    remove_webhook, replay_webhook, update_webhook, webhook, webhook_log,
};

pub use people::{
    PasswordLink, PersonChange, TokenCreated, add_user, change_person, check_password_pair, create_token,
    invite_user, list_tokens, list_users, password_link_holder, reset_password_link, revoke_token,
    set_password_by_link,
};

pub use stripe_review::{
    FlagResolutionInput, FlagResolved, dismiss_stripe_event, resolve_flag, retry_stripe_event,
};

use chrono::Utc;

use crate::access::Actor;
use crate::ledger::campaign::{CampaignInput, validate_campaign};
use crate::ledger::checkout::{CheckoutInput, OtherCurrency, validate_checkout};
use crate::ledger::entry::Entry;
use crate::ledger::entry::{
    OfflineDonationInput, ReversalInput, validate_offline_donation, validate_reversal,
};
use crate::ledger::subscription::Subscription;
use crate::ledger::validation::AmountText;
use crate::ledger::{Campaign, FieldErrors};
use crate::ledger::{Currency, EntryKind, Money, Source};
use crate::payments::Payments;
use crate::payments::amounts;
use crate::payments::client::{SessionRequest, StripeApiError};
use crate::payments::process::ProcessError;
use crate::payments::states::store_subscription_state;
use crate::store::{RecordOutcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field} {message}")]
    Conflict { field: String, message: String },
    #[error(transparent)]
    Store(StoreError),
    #[error("online giving is not set up: STRIPE_SECRET_KEY is not configured")]
    PaymentsNotConfigured,
    #[error(transparent)]
    Stripe(#[from] StripeApiError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("cannot write the output: {0}")]
    Output(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
}

impl From<StoreError> for ActionError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { field, message } => ActionError::Conflict { field, message },
            StoreError::NotFound(what) => ActionError::NotFound(what),
            other => ActionError::Store(other),
        }
    }
}

impl From<FieldErrors> for ActionError {
    fn from(errors: FieldErrors) -> Self {
        ActionError::Invalid(errors)
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_campaign(
    store: &Store,
    input: CampaignInput,
    actor: &Actor,
) -> Result<Campaign, ActionError> {
    let draft = validate_campaign(input, None)?;
    let campaign = store.create_campaign(&draft).await?;
    audit(
        store,
        actor,
        "campaign.create",
        &format!("campaign:{}", campaign.slug),
        None,
        Some(campaign_json(&campaign)),
    )
    .await;
    Ok(campaign)
}

/// Deletes a campaign that holds no money (its ledger empty, or only the demo's examples):
/// one created by mistake, or the demo. A campaign that took money is closed instead.
#[tracing::instrument(skip_all, fields(slug))]
pub async fn delete_campaign(store: &Store, slug: &str, actor: &Actor) -> Result<(), ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    store.delete_campaign(campaign.id).await?;
    let target = format!("campaign:{}", campaign.slug);
    audit(store, actor, "campaign.delete", &target, Some(campaign_json(&campaign)), None).await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(slug))]
pub async fn update_campaign(
    store: &Store,
    slug: &str,
    input: CampaignInput,
    actor: &Actor,
) -> Result<Campaign, ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let draft = validate_campaign(input, Some(&campaign))?;
    let updated = store.update_campaign(campaign.id, &draft).await?;
    let target = format!("campaign:{}", updated.slug);
    audit(
        store,
        actor,
        "campaign.update",
        &target,
        Some(campaign_json(&campaign)),
        Some(campaign_json(&updated)),
    )
    .await;
    Ok(updated)
}

/// Records money raised internally. A repeated `idempotency_key` returns the first entry
/// instead of recording the money twice.
#[tracing::instrument(skip_all, fields(slug, actor = %actor.label))]
pub async fn record_offline_donation(
    store: &Store,
    slug: &str,
    input: OfflineDonationInput,
    actor: &Actor,
    idempotency_key: Option<String>,
) -> Result<RecordOutcome, ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let branches = store.branches(campaign.id).await?;
    if input.match_offer.is_some() {
        require_whole_organization(actor, "Match offers")?;
    }
    let input = scoped_to_branch(input, actor)?;
    let allow_duplicate = input.allow_duplicate;
    // Money in another currency: the kept rates near its day, unless it brings its own.
    let known = match (
        crate::ledger::entry::other_currency(&input, &campaign),
        input.received_on.as_deref().and_then(crate::ledger::validation::parse_day),
    ) {
        (Some(from), Some(day)) if input.rate.as_deref().map(str::trim).is_none_or(str::is_empty) => {
            store.rates_near(&[from, campaign.currency], day).await?
        }
        _ => Vec::new(),
    };
    let mut entry = validate_offline_donation(
        input,
        &campaign,
        &branches,
        Utc::now().date_naive(),
        &actor.label,
        &known,
    )?;
    entry.idempotency_key = idempotency_key.map(|key| format!("offline:{}:{key}", actor.label));
    // A look-alike is looked for under the campaign's lock, so that two sent at once (on two
    // instances) cannot both pass; a replay of the same form answers as the first time.
    let outcome = match store.record_gift(&entry, !allow_duplicate).await {
        Err(StoreError::LooksLike(look)) => match look {
            crate::store::LookAlike::Gift(earlier) => return Err(gift_look_alike(&earlier)),
            crate::store::LookAlike::Deposit(_) => unreachable!("a gift is compared with gifts"),
        },
        outcome => outcome?,
    };
    if let RecordOutcome::Recorded(recorded) = &outcome {
        audit(
            store,
            actor,
            "donation.record",
            &format!("entry:{}", recorded.id),
            None,
            Some(entry_json(recorded)),
        )
        .await;
    }
    Ok(outcome)
}

/// The refusal of an offline gift like `earlier`, naming it.
fn gift_look_alike(earlier: &Entry) -> ActionError {
    ActionError::Conflict {
        field: "reference".to_owned(),
        message: format!(
            "matches entry #{} ({} {} received on {}, recorded by {}): record it anyway with allow_duplicate",
            earlier.id,
            earlier.currency.format_minor(earlier.amount_minor),
            earlier.currency,
            earlier.received_on,
            earlier.recorded_by
        ),
    }
}

/// A branch treasurer's offline money goes to their branch: filled in when missing,
/// refused when it names another.
fn scoped_to_branch(
    mut input: OfflineDonationInput,
    actor: &Actor,
) -> Result<OfflineDonationInput, ActionError> {
    if let Some(own) = &actor.branch {
        match input.branch.as_deref().map(str::trim).filter(|branch| !branch.is_empty()) {
            None => input.branch = Some(own.clone()),
            Some(branch) if branch == own => {}
            Some(other) => {
                return Err(ActionError::Forbidden(format!(
                    "you record money for the branch \"{own}\" only, not \"{other}\""
                )));
            }
        }
    }
    Ok(input)
}

/// Refuses an entry of a branch the actor does not keep.
fn check_branch(actor: &Actor, entry: &Entry) -> Result<(), ActionError> {
    let branch = entry.branch_slug.as_ref().map(|slug| slug.as_str());
    if actor.may_touch_branch(branch) {
        Ok(())
    } else {
        Err(ActionError::Forbidden(format!(
            "entry {} is not of your branch \"{}\"",
            entry.id,
            actor.branch.as_deref().unwrap_or_default()
        )))
    }
}

/// Reverses all or part of an offline donation with a new, negative entry.
#[tracing::instrument(skip_all, fields(entry_id, actor = %actor.label))]
pub async fn reverse_entry(
    store: &Store,
    entry_id: i64,
    input: ReversalInput,
    actor: &Actor,
    idempotency_key: Option<String>,
) -> Result<RecordOutcome, ActionError> {
    let original = store.entry(entry_id).await?.ok_or(ActionError::NotFound("entry"))?;
    check_branch(actor, &original)?;
    // The same reversal asked again (a double click): what it recorded, before checking what
    // is left, which it has itself taken.
    let key = idempotency_key.map(|key| format!("reverse:{}:{key}", actor.label));
    if let Some(key) = &key
        && let Some(existing) = store.entry_by_idempotency_key(key).await?
    {
        return Ok(RecordOutcome::Replayed(existing));
    }
    let remaining = store.remaining_of(original.origin_entry_id).await?;
    let mut entry = validate_reversal(input, &original, remaining, Utc::now().date_naive(), &actor.label)?;
    entry.idempotency_key = key;
    let outcome = store.record_entry(&entry).await?;
    let recorded = outcome.entry();
    let target = format!("entry:{}", recorded.id);
    audit(store, actor, "donation.reverse", &target, Some(entry_json(&original)), Some(entry_json(recorded)))
        .await;
    Ok(outcome)
}

/// A Stripe refusal of the request as it stands becomes a conflict on `field`; anything else
/// (Stripe unreachable, our key refused) stays a failure of the payment provider.
fn refused_on(field: &'static str) -> impl FnOnce(StripeApiError) -> ActionError {
    move |error| match error.refusal() {
        Some(reason) => ActionError::Conflict {
            field: field.to_owned(),
            message: format!("was refused by Stripe: {reason}"),
        },
        None => ActionError::Stripe(error),
    }
}

/// Writes a line to the audit log; a failure there is logged, not shown to the person, whose
/// write has already happened.
pub async fn audit(
    store: &Store,
    actor: &Actor,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    if let Err(error) = store
        .audit(&actor.label, action, target, before.as_ref(), after.as_ref(), actor.address.as_deref())
        .await
    {
        tracing::error!(%error, action, target, "the audit log could not be written");
    }
}

/// What concerns every branch (Stripe's events, outgoing webhooks) is refused to a person
/// who keeps one branch only.
fn require_whole_organization(actor: &Actor, what: &str) -> Result<(), ActionError> {
    match &actor.branch {
        None => Ok(()),
        Some(branch) => Err(ActionError::Forbidden(format!(
            "{what} concern every branch; you keep the branch \"{branch}\" only"
        ))),
    }
}

fn campaign_json(campaign: &Campaign) -> serde_json::Value {
    let currency = campaign.currency;
    serde_json::json!({
        "slug": campaign.slug.as_str(),
        "currency": currency.code(),
        "goal": currency.format_minor(campaign.goal_minor),
        "title": campaign.title,
        "status": campaign.status.as_str(),
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "count_net_of_fees": campaign.count_net_of_fees,
        "count_matches": campaign.count_matches.as_str(),
        "checkout_currencies": campaign.checkout_currencies.iter().map(|other| other.code()).collect::<Vec<_>>(),
    })
}

fn entry_json(entry: &Entry) -> serde_json::Value {
    let currency = entry.currency;
    serde_json::json!({
        "id": entry.id,
        "campaign": entry.campaign_slug.as_str(),
        "branch": entry.branch_slug.as_ref().map(|slug| slug.as_str()),
        "kind": entry.kind.as_str(),
        "amount": currency.format_minor(entry.amount_minor),
        "currency": currency.code(),
        "method": entry.method,
        "received_on": entry.received_on.format("%Y-%m-%d").to_string(),
        "reverses": entry.reverses_entry_id,
        "batch": entry.batch_id,
        "given": entry.presented.map(|(amount, given)| format!("{} {}", given.format_minor(amount), given.code())),
        "rate": entry.rate.as_ref().map(|rate| format!("{} ({} of {})", rate.rate, rate.source, rate.on)),
    })
}

/// A Stripe Checkout Session to send the supporter to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutStarted {
    pub session_id: String,
    pub url: String,
}

/// Checks a supporter's gift, stores it as an intent, and opens a Stripe Checkout Session.
/// Nothing is sent to Stripe when a field is wrong.
#[tracing::instrument(skip_all, fields(slug))]
pub async fn start_checkout(
    store: &Store,
    payments: Option<&Payments>,
    slug: &str,
    input: CheckoutInput,
    public_url: &str,
) -> Result<CheckoutStarted, ActionError> {
    let campaign = store
        .campaign_by_slug(slug)
        .await?
        .filter(|campaign| campaign.status.is_public())
        .ok_or(ActionError::NotFound("campaign"))?;
    let payments = payments.ok_or(ActionError::PaymentsNotConfigured)?;
    let branches = store.branches(campaign.id).await?;
    let catalog = crate::web::i18n::catalog();
    let codes: Vec<&str> = catalog.languages().iter().map(|language| language.code.as_str()).collect();
    // A gift in another currency the campaign offers: its limits converted at the kept rate.
    let other = match input.currency.as_deref().map(Currency::from_code) {
        Some(Ok(chosen)) if campaign.checkout_currencies.contains(&chosen) => {
            match rates::checkout_settings_in(store, &campaign, chosen).await? {
                Some((settings, _)) => Some(OtherCurrency { currency: chosen, settings }),
                // Without a kept rate its limits are unknown: not offered today.
                None => {
                    return Err(ActionError::Invalid(FieldErrors::single(
                        "currency",
                        format!(
                            "cannot be given in today: no {} to {} rate is kept for the last {} days",
                            campaign.currency.code(),
                            chosen.code(),
                            crate::ledger::rates::RATE_LOOKBACK_DAYS
                        ),
                    )));
                }
            }
        }
        _ => None,
    };
    let step = crate::payments::amounts::charge_step_minor;
    let draft = validate_checkout(input, &campaign, &branches, Utc::now(), &codes, other, step)?;
    let language = catalog.get(draft.locale.as_str()).unwrap_or_else(|| catalog.fallback());
    let intent_id = format!("ci_{}", crate::access::hex(&random_bytes::<12>()));
    store.insert_intent(&intent_id, &draft).await?;
    let request = SessionRequest {
        intent_id: &intent_id,
        campaign: &campaign,
        branch_slug: draft.branch_slug.as_deref(),
        interval: draft.interval,
        currency: draft.currency,
        total_minor: draft.total_minor(),
        email: draft.donor.email.as_deref(),
        stripe_locale: &language.stripe_locale,
        language: language.code.clone(),
        success_url: format!("{public_url}/c/{slug}/thanks?session_id={{CHECKOUT_SESSION_ID}}"),
        cancel_url: format!("{public_url}/c/{slug}?cancelled=1"),
    };
    let session = payments.api.create_checkout_session(&request).await?;
    store.open_intent(&intent_id, &session.id).await?;
    let url =
        session.url.ok_or_else(|| StripeApiError::Unavailable("Stripe gave no checkout URL".to_owned()))?;
    Ok(CheckoutStarted { session_id: session.id, url })
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// A refund asked of Stripe. The ledger moves when Stripe reports it (`charge.refunded`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequested {
    pub refund_id: String,
    /// In the gift's (the campaign's) currency.
    pub amount_minor: i64,
    /// What Stripe is asked to give back, in the charge's own currency.
    pub charged: (i64, crate::ledger::Currency),
    pub status: Option<String>,
    pub entry: Entry,
}

/// What a refund asks for: an amount (default: all that is left) and why, which Stripe keeps
/// on the refund and the ledger on its entry.
#[derive(Debug, Default)]
pub struct RefundInput {
    pub amount: Option<AmountText>,
    pub reason: Option<String>,
}

/// Asks Stripe to refund all or part of an online donation.
#[tracing::instrument(skip_all, fields(entry_id))]
pub async fn refund_donation(
    store: &Store,
    payments: Option<&Payments>,
    entry_id: i64,
    input: RefundInput,
    actor: &Actor,
    request_key: Option<String>,
) -> Result<RefundRequested, ActionError> {
    let entry = store.entry(entry_id).await?.ok_or(ActionError::NotFound("entry"))?;
    check_branch(actor, &entry)?;
    let RefundInput { amount, reason } = input;
    let mut errors = FieldErrors::new();
    let reason = crate::ledger::validation::optional_text(
        &mut errors,
        "reason",
        reason,
        crate::ledger::entry::REASON_MAX_CHARS,
    );
    let charge = match (&entry.kind, &entry.source, &entry.stripe.charge) {
        (EntryKind::Donation, Source::Online, Some(charge)) => Some(charge.clone()),
        (EntryKind::Donation, Source::Offline, _) => {
            errors.add("entry", "is offline money: reverse it instead of refunding through Stripe");
            None
        }
        _ => {
            errors.add("entry", "is not an online donation");
            None
        }
    };
    let remaining = store.remaining_of(entry.origin_entry_id).await?;
    if charge.is_some() && remaining <= 0 {
        errors.add("entry", "is already fully refunded");
    }
    let amount_minor = match amount {
        Some(AmountText(text)) => {
            errors.check("amount", Money::parse_positive(&text, entry.currency)).map(Money::minor)
        }
        None => Some(remaining),
    };
    if let Some(amount) = amount_minor
        && remaining > 0
        && amount > remaining
    {
        errors.add(
            "amount",
            format!("must not exceed what is left to refund ({})", entry.currency.format_minor(remaining)),
        );
    }
    let (Some(charge), Some(amount_minor)) = (charge, amount_minor) else {
        return Err(ActionError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ActionError::Invalid(errors));
    }
    let payments = payments.ok_or(ActionError::PaymentsNotConfigured)?;
    // Stripe refunds in the charge's currency: when the donor paid in another one, what it
    // still holds of the charge bounds the refund.
    let gift = amounts::GiftAmounts {
        amount_minor: entry.amount_minor,
        currency: entry.currency,
        presented: entry.presented,
    };
    let refundable_api = match entry.presented {
        Some(_) => {
            let held = payments.api.charge(&charge).await?;
            held.amount - held.amount_refunded
        }
        // What is left is already checked above, in the same currency.
        None => i64::MAX,
    };
    let api_amount = amounts::refund_request(amount_minor, remaining, &gift, refundable_api)
        .map_err(|error| ActionError::Invalid(FieldErrors::single("amount", error)))?;
    let charged_currency = entry.presented.map_or(entry.currency, |(_, currency)| currency);
    let (charged_minor, _) = amounts::from_stripe(api_amount, charged_currency.code())
        .ok_or_else(|| ActionError::Output(format!("{charged_currency} is not a known currency")))?;
    // The key comes from the request (a form's one-time token, the API's Idempotency-Key):
    // the same request sent twice asks Stripe once, while two refunds of the same amount in
    // a row are two refunds.
    let request_key = request_key.unwrap_or_else(|| crate::access::hex(&random_bytes::<12>()));
    let key = format!("refund-{entry_id}-{request_key}");
    // Stripe refuses what it no longer holds (a refund asked for twice before the first is
    // confirmed): that is a conflict on the amount, not a gateway failure.
    let refund = payments
        .api
        .create_refund(&charge, api_amount, reason.as_deref(), &key)
        .await
        .map_err(refused_on("amount"))?;
    let after = serde_json::json!({
        "refund": refund.id,
        "reason": reason,
        "amount": entry.currency.format_minor(amount_minor),
        "charged": format!("{} {charged_currency}", charged_currency.format_minor(charged_minor)),
    });
    audit(
        store,
        actor,
        "donation.refund",
        &format!("entry:{entry_id}"),
        Some(entry_json(&entry)),
        Some(after),
    )
    .await;
    Ok(RefundRequested {
        refund_id: refund.id,
        amount_minor,
        charged: (charged_minor, charged_currency),
        status: refund.status,
        entry,
    })
}

/// Stops a subscription, at the end of its paid period or now. Nothing is refunded.
#[tracing::instrument(skip_all, fields(subscription_id))]
pub async fn cancel_subscription(
    store: &Store,
    payments: Option<&Payments>,
    subscription_id: &str,
    at_period_end: bool,
    actor: &Actor,
    request_key: Option<String>,
) -> Result<Subscription, ActionError> {
    let before = store.subscription(subscription_id).await?.ok_or(ActionError::NotFound("subscription"))?;
    if actor.branch.is_some() {
        let branch = match before.branch_id {
            Some(id) => store
                .branches(before.campaign_id)
                .await?
                .into_iter()
                .find(|b| b.id == id)
                .map(|b| b.slug.to_string()),
            None => None,
        };
        if !actor.may_touch_branch(branch.as_deref()) {
            return Err(ActionError::Forbidden("this subscription is not of your branch".to_owned()));
        }
    }
    let payments = payments.ok_or(ActionError::PaymentsNotConfigured)?;
    // The same request sent twice asks Stripe once (the key comes from the request).
    let request_key = request_key.unwrap_or_else(|| crate::access::hex(&random_bytes::<12>()));
    let current = if at_period_end {
        let key = format!("cancel-at-period-end-{subscription_id}-{request_key}");
        payments
            .api
            .cancel_subscription_at_period_end(subscription_id, &key)
            .await
            .map_err(refused_on("subscription"))?
    } else {
        let key = format!("cancel-now-{subscription_id}-{request_key}");
        payments
            .api
            .cancel_subscription_now(subscription_id, &key)
            .await
            .map_err(refused_on("subscription"))?
    };
    store_subscription_state(store, &current).await?;
    let after = store.subscription(subscription_id).await?.ok_or(ActionError::NotFound("subscription"))?;
    let state = |subscription: &Subscription| serde_json::json!({"status": subscription.status, "cancel_at_period_end": subscription.cancel_at_period_end});
    let target = format!("subscription:{subscription_id}");
    audit(store, actor, "subscription.cancel", &target, Some(state(&before)), Some(state(&after))).await;
    Ok(after)
}
