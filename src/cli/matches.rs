//! The command line's match offers: add one, list a campaign's. The matcher's payment is
//! recorded with `appeal donation add --match ID`.

use clap::Subcommand;

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::ledger::matching::MatchOfferInput;
use crate::ledger::validation::AmountText;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub(super) enum MatchCommand {
    /// Record a match offer: the matcher adds RATIO times each qualifying gift, up to CAP.
    Add {
        #[arg(long)]
        campaign: String,
        /// Who matches (left out: anonymous).
        #[arg(long)]
        matcher: Option<String>,
        /// "1" (the default) doubles each gift; "0.5" adds half.
        #[arg(long)]
        ratio: Option<String>,
        /// The most the matcher adds in all.
        #[arg(long)]
        cap: String,
        /// RFC 3339; default: now.
        #[arg(long)]
        starts_at: Option<String>,
        /// RFC 3339.
        #[arg(long)]
        ends_at: String,
        /// Which gifts qualify (repeat): online, offline, first_installments; new_donors narrows
        /// them to donors new to the campaign. Default: online and offline.
        #[arg(long = "qualifies")]
        qualifies: Vec<String>,
    },
    /// A campaign's offers with what each matched and was paid.
    List {
        #[arg(long)]
        campaign: String,
    },
}

pub(super) async fn run(command: MatchCommand, store: &Store, actor: &Actor) -> Result<(), ActionError> {
    match command {
        MatchCommand::Add { campaign, matcher, ratio, cap, starts_at, ends_at, qualifies } => {
            let input = MatchOfferInput {
                matcher,
                ratio: ratio.map(AmountText),
                cap: Some(AmountText(cap)),
                starts_at,
                ends_at: Some(ends_at),
                qualifies: (!qualifies.is_empty()).then_some(qualifies),
            };
            let (campaign, offer) = actions::create_match_offer(store, &campaign, input, actor).await?;
            println!(
                "match offer {} recorded on {}: {} × each gift up to {} {}, until {}",
                offer.id,
                campaign.slug,
                offer.ratio.normalize(),
                campaign.currency.format_minor(offer.cap_minor),
                campaign.currency,
                crate::ledger::progress::timestamp(offer.ends_at)
            );
        }
        MatchCommand::List { campaign } => {
            let (campaign, offers) = actions::match_offers(store, &campaign).await?;
            let money = |minor: i64| campaign.currency.format_minor(minor);
            println!(
                "{:<5} {:<28} {:>6} {:>12} {:>12} {:>12} {:<21} QUALIFIES",
                "ID", "MATCHER", "RATIO", "CAP", "MATCHED", "PAID", "ENDS"
            );
            for offer in offers {
                println!(
                    "{:<5} {:<28} {:>6} {:>12} {:>12} {:>12} {:<21} {}",
                    offer.id,
                    offer.matcher.as_deref().unwrap_or("(anonymous)"),
                    offer.ratio.normalize().to_string(),
                    money(offer.cap_minor),
                    money(offer.matched_minor),
                    money(offer.paid_minor),
                    crate::ledger::progress::timestamp(offer.ends_at),
                    offer.qualifies.words().join(",")
                );
            }
        }
    }
    Ok(())
}
