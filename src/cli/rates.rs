//! `appeal rates add|list|import|lookup`: exchange rates, kept and sourced.

use std::path::PathBuf;

use clap::Subcommand;

use crate::access::Actor;
use crate::actions::{self, ActionError, RateQuery};
use crate::ledger::rates::RateInput;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    /// Keep a rate: 1 BASE = RATE QUOTE on DATE, from SOURCE (one of the same pair, day and
    /// source is replaced).
    Add {
        #[arg(long)]
        base: String,
        #[arg(long)]
        quote: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        #[arg(long)]
        rate: String,
        /// Where it comes from: a bank's statement, a published rate.
        #[arg(long)]
        source: String,
    },
    /// The rates kept, newest day first (at most 1,000).
    List {
        #[arg(long)]
        base: Option<String>,
        #[arg(long)]
        quote: Option<String>,
        /// From this day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// To this day, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
    },
    /// Keep every rate of a European Central Bank reference-rate file (eurofxref.csv,
    /// eurofxref-hist.csv or their XML forms, downloaded beforehand: appeal fetches nothing).
    Import {
        #[arg(long, value_name = "FILE")]
        ecb: PathBuf,
    },
    /// The rate that turns FROM into TO on DATE (the latest of that day or the week before:
    /// straight, inverted, or across the euro).
    Lookup {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
    },
}

fn line(rate: &crate::ledger::rates::Rate) -> String {
    format!("{}  1 {} = {} {}  ({})", rate.day, rate.base.code(), rate.rate, rate.quote.code(), rate.source)
}

pub(super) async fn run(command: RatesCommand, store: &Store, actor: &Actor) -> Result<(), ActionError> {
    match command {
        RatesCommand::Add { base, quote, date, rate, source } => {
            let input = RateInput {
                base: Some(base),
                quote: Some(quote),
                date: Some(date),
                rate: Some(rate),
                source: Some(source),
            };
            let kept = actions::add_rate(store, input, actor).await?;
            println!("kept {}", line(&kept));
        }
        RatesCommand::List { base, quote, from, to } => {
            let rates = actions::list_rates(store, &RateQuery { base, quote, from, to }, actor).await?;
            if rates.is_empty() {
                println!("no rates kept");
            }
            for rate in &rates {
                println!("{}", line(rate));
            }
        }
        RatesCommand::Import { ecb } => {
            let text = std::fs::read_to_string(&ecb)
                .map_err(|error| ActionError::Output(format!("{}: {error}", ecb.display())))?;
            let progress = super::progress::Progress::new();
            let on_progress = |done: usize, total: usize| progress.show("rates", done, total);
            let imported = actions::import_ecb(store, &text, actor, &on_progress).await?;
            let span = match (imported.first, imported.last) {
                (Some(first), Some(last)) if first != last => format!("{first} to {last}"),
                (Some(day), _) => day.to_string(),
                _ => String::new(),
            };
            println!(
                "imported {} ECB rates of {} day(s), {span}: {} new or changed",
                imported.rates, imported.days, imported.changed
            );
        }
        RatesCommand::Lookup { from, to, date } => {
            let rate = actions::rate_for(store, Some(&from), Some(&to), Some(&date), actor).await?;
            println!("{}", line(&rate));
        }
    }
    Ok(())
}
