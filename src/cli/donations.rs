//! `appeal donation`: find, record, reverse and refund entries.

use clap::{Args, Subcommand};

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::ledger::entry::{OfflineDonationInput, ReversalInput};
use crate::ledger::progress::timestamp;
use crate::ledger::validation::AmountText;
use crate::payments::Payments;
use crate::store::{RecordOutcome, Store};

#[derive(Debug, Subcommand)]
pub(super) enum DonationCommand {
    /// Find entries: by donor, reference, amount or number (--q), dates, method, branch,
    /// kind or deposit; newest first, a page at a time (--before the last one listed).
    List(DonationListArgs),
    /// Record money raised internally (cash, cheque, e-transfer, bank transfer).
    Add(DonationAddArgs),
    /// Reverse all or part of an offline donation with a new negative entry.
    Reverse(DonationReverseArgs),
    /// Refund all or part of an online donation through Stripe.
    Refund {
        /// The id of the donation entry.
        #[arg(long)]
        entry: i64,
        /// Defaults to everything not yet refunded.
        #[arg(long)]
        amount: Option<String>,
        /// Why: kept on the refund at Stripe and on its ledger entry.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(super) struct DonationListArgs {
    #[arg(long)]
    campaign: Option<String>,
    /// A donor's name or e-mail, a reference, an amount or an entry number ("#42").
    #[arg(long)]
    q: Option<String>,
    /// YYYY-MM-DD, received on or after.
    #[arg(long)]
    from: Option<String>,
    /// YYYY-MM-DD, received on or before.
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    method: Option<String>,
    #[arg(long)]
    branch: Option<String>,
    /// donation, refund, adjustment, dispute, dispute_won or refund_failed.
    #[arg(long)]
    kind: Option<String>,
    /// A deposit's number.
    #[arg(long)]
    batch: Option<i64>,
    /// How many (default 50, at most 500).
    #[arg(long)]
    limit: Option<i64>,
    /// Entries older than this one.
    #[arg(long)]
    before: Option<i64>,
}

#[derive(Debug, Args)]
pub(super) struct DonationAddArgs {
    #[arg(long)]
    campaign: String,
    #[arg(long)]
    amount: String,
    /// cash, cheque, etransfer, bank_transfer or other.
    #[arg(long)]
    method: String,
    /// YYYY-MM-DD.
    #[arg(long)]
    received_on: String,
    #[arg(long)]
    donor_name: Option<String>,
    #[arg(long)]
    donor_email: Option<String>,
    #[arg(long)]
    branch: Option<String>,
    #[arg(long)]
    reference: Option<String>,
    /// Show the donor's name on the public wall (they agreed); anonymous otherwise.
    #[arg(long)]
    show_name: bool,
    /// Record it even though an earlier gift has the same reference, amount and date.
    #[arg(long)]
    allow_duplicate: bool,
    /// The push it came from, for the sources report (`branch-meeting-nov`).
    #[arg(long = "ref")]
    source_ref: Option<String>,
    /// A matcher's payment: the id of the match offer it settles (`appeal match list`).
    #[arg(long = "match")]
    match_offer: Option<i64>,
    /// The currency the money came in, when not the campaign's (EUR): the amount is in it, and
    /// it counts at --rate, else at the kept rate for --received-on (`appeal rates`).
    #[arg(long)]
    currency: Option<String>,
    /// With --currency: how many of the campaign's currency one unit of it was worth.
    #[arg(long)]
    rate: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct DonationReverseArgs {
    /// The id of the donation entry.
    #[arg(long)]
    entry: i64,
    #[arg(long)]
    reason: String,
    /// Defaults to everything not yet reversed.
    #[arg(long)]
    amount: Option<String>,
    /// refund or adjustment (the default).
    #[arg(long)]
    kind: Option<String>,
}

pub(super) async fn run(
    command: DonationCommand,
    store: &Store,
    payments: Option<&Payments>,
    actor: &Actor,
) -> Result<(), ActionError> {
    match command {
        DonationCommand::List(args) => list_donations(store, args, actor).await,
        DonationCommand::Add(args) => add_donation(store, args, actor).await,
        DonationCommand::Reverse(args) => reverse_donation(store, args, actor).await,
        DonationCommand::Refund { entry, amount, reason } => {
            let input = actions::RefundInput { amount: amount.map(AmountText), reason };
            actions::refund_donation(store, payments, entry, input, actor, None).await.map(|refund| {
                let (charged_minor, charged_currency) = refund.charged;
                println!(
                    "asked Stripe to refund {} {} of entry {} ({} {} charged; refund {}); the ledger moves when Stripe confirms it",
                    refund.entry.currency.format_minor(refund.amount_minor),
                    refund.entry.currency,
                    refund.entry.id,
                    charged_currency.format_minor(charged_minor),
                    charged_currency,
                    refund.refund_id
                );
            })
        }
    }
}

async fn add_donation(store: &Store, args: DonationAddArgs, actor: &Actor) -> Result<(), ActionError> {
    let input = OfflineDonationInput {
        amount: Some(AmountText(args.amount)),
        method: Some(args.method),
        received_on: Some(args.received_on),
        donor_name: args.donor_name,
        donor_email: args.donor_email,
        reference: args.reference,
        branch: args.branch,
        anonymous: Some(!args.show_name),
        message: None,
        allow_duplicate: args.allow_duplicate,
        source_ref: args.source_ref,
        match_offer: args.match_offer,
        currency: args.currency,
        rate: args.rate,
    };
    let outcome = actions::record_offline_donation(store, &args.campaign, input, actor, None).await?;
    print_entry("recorded", &outcome);
    Ok(())
}

async fn reverse_donation(
    store: &Store,
    args: DonationReverseArgs,
    actor: &Actor,
) -> Result<(), ActionError> {
    let input = ReversalInput {
        amount: args.amount.map(AmountText),
        reason: Some(args.reason),
        kind: args.kind,
        received_on: None,
    };
    let outcome = actions::reverse_entry(store, args.entry, input, actor, None).await?;
    print_entry("reversed with", &outcome);
    Ok(())
}

async fn list_donations(store: &Store, args: DonationListArgs, actor: &Actor) -> Result<(), ActionError> {
    let input = crate::ledger::search::EntrySearchInput {
        campaign: args.campaign,
        q: args.q,
        from: args.from,
        to: args.to,
        method: args.method,
        branch: args.branch,
        kind: args.kind,
        batch: args.batch,
        limit: args.limit,
        before: args.before,
    };
    let page = actions::find_entries(store, actor, &input).await?;
    println!(
        "{:>7} {:<10} {:<13} {:>14} {:<9} {:<14} {:<12} {:<24} REFERENCE",
        "ID", "DATE", "KIND", "AMOUNT", "CURRENCY", "METHOD", "BRANCH", "DONOR"
    );
    for entry in &page.entries {
        println!(
            "{:>7} {:<10} {:<13} {:>14} {:<9} {:<14} {:<12} {:<24} {}",
            entry.id,
            entry.received_on,
            entry.kind.as_str(),
            crate::web::i18n::catalog().fallback().money(entry.amount_minor, entry.currency),
            entry.currency,
            entry.method,
            entry.branch_slug.as_ref().map_or("", |slug| slug.as_str()),
            entry.donor.name.as_deref().unwrap_or(""),
            entry.reference.as_deref().unwrap_or("")
        );
    }
    if let Some(before) = page.next_before {
        eprintln!("more: --before {before}");
    }
    Ok(())
}

fn print_entry(verb: &str, outcome: &RecordOutcome) {
    let entry = outcome.entry();
    println!(
        "{verb} entry {} ({}): {} {} to {} on {}, recorded {}",
        entry.id,
        entry.kind.as_str(),
        entry.currency.format_minor(entry.amount_minor),
        entry.currency,
        entry.campaign_slug,
        entry.received_on,
        timestamp(entry.recorded_at)
    );
    if let (Some((amount, currency)), Some(rate)) = (entry.presented, &entry.rate) {
        println!(
            "  given as {} {currency}, at 1 {currency} = {} {} ({} of {})",
            currency.format_minor(amount),
            rate.rate,
            entry.currency,
            rate.source,
            rate.on
        );
    }
}
