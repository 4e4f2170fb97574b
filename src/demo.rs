//! The demo campaign that `appeal serve --demo` adds, so a newcomer sees a live bar at once.

use chrono::Utc;

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::ledger::campaign::CampaignInput;
use crate::ledger::entry::OfflineDonationInput;
use crate::store::Store;

pub const DEMO_SLUG: &str = "demo";

/// Adds the demo campaign and some money raised internally, unless it exists already.
pub async fn seed(store: &Store) -> Result<bool, ActionError> {
    if store.campaign_by_slug(DEMO_SLUG).await?.is_some() {
        return Ok(false);
    }
    let input: CampaignInput = serde_json::from_value(serde_json::json!({
        "slug": DEMO_SLUG,
        "currency": "CAD",
        "goal": "100000.00",
        "title": { "en": "Spring appeal: a new office", "fr": "Campagne du printemps : un nouveau local" },
        "description": {
            "en": "We have raised most of it internally. Help us reach the target!",
            "fr": "Nous en avons amassé l'essentiel à l'interne. Aidez-nous à atteindre l'objectif !"
        },
        "status": "active",
        "monthly_ask": "25%",
        "branches": [
            { "slug": "montreal", "name": "Montréal", "goal": "40000.00" },
            { "slug": "quebec", "name": "Québec", "goal": "25000.00" },
            { "slug": "gatineau", "name": "Gatineau" }
        ]
    }))
    .expect("the demo campaign is valid JSON");
    let actor =
        Actor { label: "demo".to_owned(), role: crate::access::Role::Admin, branch: None, address: None };
    actions::create_campaign(store, input, &actor).await?;
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let gifts = [
        ("52000.00", "bank_transfer", Some("montreal"), Some("Montréal section")),
        ("21500.00", "cheque", Some("quebec"), Some("Québec section")),
        ("12000.00", "etransfer", Some("gatineau"), None),
        ("4500.00", "cash", None, None),
    ];
    for (amount, method, branch, donor_name) in gifts {
        let input = OfflineDonationInput {
            amount: Some(crate::ledger::validation::AmountText(amount.to_owned())),
            method: Some(method.to_owned()),
            received_on: Some(today.clone()),
            donor_name: donor_name.map(str::to_owned),
            branch: branch.map(str::to_owned),
            ..OfflineDonationInput::default()
        };
        actions::record_offline_donation(store, DEMO_SLUG, input, &actor, None).await?;
    }
    Ok(true)
}
