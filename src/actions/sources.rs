//! The sources report of a campaign, for the API and the dashboard alike.

use super::ActionError;
use crate::access::Actor;
use crate::ledger::Campaign;
use crate::ledger::attribution::SourceFigures;
use crate::store::Store;

/// What each `ref` brought to the campaign named `slug`, as `actor` may see it (a branch
/// treasurer sees their branch's gifts).
pub async fn campaign_sources(
    store: &Store,
    slug: &str,
    actor: &Actor,
) -> Result<(Campaign, Vec<SourceFigures>), ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let sources = store.sources(&campaign, &actor.scope()).await?;
    Ok((campaign, sources))
}
