//! Finding entries, for the API, the dashboard and the command line alike.

use super::ActionError;
use crate::access::Actor;
use crate::ledger::entry::Entry;
use crate::ledger::search::{EntrySearchInput, validate_search};
use crate::ledger::{Campaign, FieldErrors};
use crate::store::{EntryFilter, Store};

/// A page of entries, newest first, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPage {
    pub campaign: Option<Campaign>,
    pub entries: Vec<Entry>,
    /// The `before` of the next page, when there may be one.
    pub next_before: Option<i64>,
}

/// The entries `actor` may see that match `input`.
pub async fn find_entries(
    store: &Store,
    actor: &Actor,
    input: &EntrySearchInput,
) -> Result<EntryPage, ActionError> {
    let campaign = match input.campaign.as_deref().map(str::trim).filter(|slug| !slug.is_empty()) {
        None => None,
        Some(slug) => Some(store.campaign_by_slug(slug).await?.ok_or_else(|| {
            ActionError::Invalid(FieldErrors::single("campaign", "is not a known campaign"))
        })?),
    };
    let search = validate_search(input, campaign.as_ref().map(|campaign| campaign.currency))?;
    let limit = search.limit;
    let filter = EntryFilter { campaign_id: campaign.as_ref().map(|campaign| campaign.id), search };
    let entries = store.list_entries(&actor.scope(), &filter).await?;
    let next_before = (entries.len() as i64 == limit).then(|| entries.last().map(|entry| entry.id)).flatten();
    Ok(EntryPage { campaign, entries, next_before })
}
