//! The writes an admin or treasurer can make: one code path for the HTTP API and the CLI.

use chrono::Utc;

use crate::access::{Actor, Role, generate_token, hash_token};
use crate::ledger::campaign::{CampaignInput, validate_campaign};
use crate::ledger::entry::{
    OfflineDonationInput, ReversalInput, validate_offline_donation, validate_reversal,
};
use crate::ledger::{Campaign, FieldErrors};
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
pub async fn create_campaign(store: &Store, input: CampaignInput) -> Result<Campaign, ActionError> {
    let draft = validate_campaign(input, None)?;
    Ok(store.create_campaign(&draft).await?)
}

#[tracing::instrument(skip_all, fields(slug))]
pub async fn update_campaign(
    store: &Store,
    slug: &str,
    input: CampaignInput,
) -> Result<Campaign, ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let draft = validate_campaign(input, Some(&campaign))?;
    Ok(store.update_campaign(campaign.id, &draft).await?)
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
    let mut entry =
        validate_offline_donation(input, &campaign, &branches, Utc::now().date_naive(), &actor.label)?;
    entry.idempotency_key = idempotency_key.map(|key| format!("offline:{}:{key}", actor.label));
    Ok(store.record_entry(&entry).await?)
}

/// Reverses all or part of an offline donation with a new, negative entry.
#[tracing::instrument(skip_all, fields(entry_id, actor = %actor.label))]
pub async fn reverse_entry(
    store: &Store,
    entry_id: i64,
    input: ReversalInput,
    actor: &Actor,
) -> Result<RecordOutcome, ActionError> {
    let original = store.entry(entry_id).await?.ok_or(ActionError::NotFound("entry"))?;
    let remaining = store.remaining_of(original.origin_entry_id).await?;
    let entry = validate_reversal(input, &original, remaining, Utc::now().date_naive(), &actor.label)?;
    Ok(store.record_entry(&entry).await?)
}

/// Creates an API token and returns it; this is the only time it can be seen.
#[tracing::instrument(skip_all, fields(name, role))]
pub async fn create_token(store: &Store, name: &str, role: &str) -> Result<String, ActionError> {
    let mut errors = FieldErrors::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "must be 1 to 100 characters");
    }
    let role = errors.check("role", Role::parse(role));
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return Err(ActionError::Invalid(errors));
    };
    let token = generate_token();
    store.insert_token(name, role.as_str(), &hash_token(&token)).await?;
    Ok(token)
}
