//! Match offers: recorded and listed by treasurers of the whole organization (an offer
//! matches gifts to every branch).

use chrono::Utc;

use super::{ActionError, audit, require_whole_organization};
use crate::access::Actor;
use crate::ledger::Campaign;
use crate::ledger::matching::{MatchOffer, MatchOfferInput, validate_match_offer};
use crate::store::Store;

/// Records a match offer on the campaign `slug`.
#[tracing::instrument(skip_all, fields(slug))]
pub async fn create_match_offer(
    store: &Store,
    slug: &str,
    input: MatchOfferInput,
    actor: &Actor,
) -> Result<(Campaign, MatchOffer), ActionError> {
    require_whole_organization(actor, "Match offers")?;
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let draft = validate_match_offer(input, campaign.currency, Utc::now())?;
    let offer = store.create_match_offer(campaign.id, &draft, &actor.label).await?;
    let currency = campaign.currency;
    let recorded = serde_json::json!({
        "id": offer.id,
        "matcher": offer.matcher,
        "ratio": offer.ratio.to_string(),
        "cap": currency.format_minor(offer.cap_minor),
        "starts_at": offer.starts_at,
        "ends_at": offer.ends_at,
        "qualifies": offer.qualifies.words(),
    });
    audit(store, actor, "match.create", &format!("campaign:{slug}"), None, Some(recorded)).await;
    Ok((campaign, offer))
}

/// The campaign's match offers, oldest first.
pub async fn match_offers(store: &Store, slug: &str) -> Result<(Campaign, Vec<MatchOffer>), ActionError> {
    let campaign = store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?;
    let offers = store.match_offers(campaign.id).await?;
    Ok((campaign, offers))
}
