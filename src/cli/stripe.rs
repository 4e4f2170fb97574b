//! The command line's Stripe side: reconcile, check --stripe, payouts, and what Stripe
//! reported that needs a treasurer (failed events, flags).

use std::process::ExitCode;

use clap::Subcommand;

use super::report_action;
use crate::access::{Actor, Scope};
use crate::actions::{self, ActionError, FlagResolutionInput};
use crate::config::parse_duration;
use crate::ledger::validation::AmountText;
use crate::payments::Payments;
use crate::payments::reconcile::{compare_with_stripe, reconcile as reconcile_events};
use crate::store::{FailedEvent, Flag, FlagFilter, FlagKind, Store, StoreError};

#[derive(Debug, Subcommand)]
pub(super) enum StripeCommand {
    /// Events that failed to apply: failing (tried again) and quarantined (waiting for you).
    Events,
    /// Apply a failed or quarantined event again, now.
    Retry {
        #[arg(long)]
        event: String,
    },
    /// Set a failed event aside for good, saying why.
    Dismiss {
        #[arg(long)]
        event: String,
        #[arg(long)]
        reason: String,
    },
    /// Flags: over-reversed gifts, and money that cannot be counted in its campaign's currency.
    Flags {
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
    },
    /// Acknowledge a flag with a reason or, for money that could not be counted, record it
    /// at the amount it counts for (from the bank statement).
    Resolve {
        #[arg(long)]
        flag: i64,
        #[arg(long)]
        reason: String,
        /// In the campaign's currency, positive.
        #[arg(long)]
        amount: Option<String>,
        /// What Stripe kept of it (default 0).
        #[arg(long)]
        fee: Option<String>,
    },
}

pub(super) async fn run(
    command: StripeCommand,
    store: &Store,
    payments: Option<&Payments>,
    actor: &Actor,
) -> ExitCode {
    let result = match command {
        StripeCommand::Events => match store.failed_events(&actor.scope()).await {
            Ok(events) => {
                print_failed_events(&events);
                if events.is_empty() {
                    println!("ok: no Stripe event is failing");
                }
                return if events.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
            }
            Err(error) => Err(error.into()),
        },
        StripeCommand::Retry { event } => actions::retry_stripe_event(store, payments, &event, actor)
            .await
            .map(|outcome| println!("{event}: {}", outcome.as_str())),
        StripeCommand::Dismiss { event, reason } => {
            actions::dismiss_stripe_event(store, &event, Some(reason), actor)
                .await
                .map(|()| println!("{event}: dismissed"))
        }
        StripeCommand::Flags { all } => {
            match store.flags(&actor.scope(), &FlagFilter { all, ..FlagFilter::default() }).await {
                Ok(flags) => {
                    for flag in &flags {
                        let state = match (&flag.resolved_at, &flag.resolution) {
                            (Some(_), Some(resolution)) => format!(" [resolved: {resolution}]"),
                            _ => String::new(),
                        };
                        println!("{}{state}", flag_line(flag));
                    }
                    Ok(())
                }
                Err(error) => Err(error.into()),
            }
        }
        StripeCommand::Resolve { flag, reason, amount, fee } => {
            let input = FlagResolutionInput {
                reason: Some(reason),
                amount: amount.map(AmountText),
                fee: fee.map(AmountText),
            };
            actions::resolve_flag(store, payments, flag, input, actor).await.map(|resolved| {
                match resolved.entry {
                    Some(entry) => println!(
                        "flag #{flag} resolved: recorded entry {} ({}) of {} {}",
                        entry.id,
                        entry.kind.as_str(),
                        entry.currency.format_minor(entry.amount_minor),
                        entry.currency
                    ),
                    None => println!("flag #{flag} resolved"),
                }
            })
        }
    };
    report_action(result)
}

/// One flag on one line, as `check --stripe` and `stripe flags` print it.
fn flag_line(flag: &Flag) -> String {
    let label = match flag.kind {
        FlagKind::OverReversed => {
            format!("OVER-REVERSED gift #{}", flag.entry_id.map_or_else(String::new, |id| id.to_string()))
        }
        FlagKind::Uncounted => "UNCOUNTED".to_owned(),
    };
    format!("{label} (campaign {}, flag #{}): {}", flag.campaign_slug, flag.id, flag.detail)
}

fn print_failed_events(events: &[FailedEvent]) {
    for event in events {
        println!(
            "{} {} {} ({} attempts): {}",
            event.status.to_ascii_uppercase(),
            event.id,
            event.kind,
            event.attempts,
            event.last_error
        );
    }
}

/// Every failed event and open flag: what keeps `check --stripe` and `reconcile` from
/// passing. Returns whether there was any.
async fn print_outstanding(store: &Store) -> Result<bool, StoreError> {
    let everything = Scope::everything();
    let events = store.failed_events(&everything).await?;
    let flags = store.flags(&everything, &FlagFilter::default()).await?;
    print_failed_events(&events);
    for flag in &flags {
        println!("{}", flag_line(flag));
    }
    Ok(!events.is_empty() || !flags.is_empty())
}

pub(super) async fn check_stripe(store: &Store, payments: Option<&Payments>, since: &str) -> ExitCode {
    let Some(seconds) = parse_duration(since) else {
        eprintln!("error: since must be a duration such as 30d or 72h");
        return ExitCode::from(2);
    };
    let Some(payments) = payments else {
        eprintln!("error: {}", ActionError::PaymentsNotConfigured);
        return ExitCode::FAILURE;
    };
    let outstanding = match print_outstanding(store).await {
        Ok(outstanding) => outstanding,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match compare_with_stripe(store, &payments.api, seconds).await {
        Ok(comparison) => {
            for (transaction, kind, net) in &comparison.unrecorded {
                println!(
                    "UNRECORDED Stripe {kind} {transaction} (net {net}): no ledger entry; run appeal reconcile"
                );
            }
            for (transaction, entry, ledger, stripe) in &comparison.different {
                println!(
                    "MISMATCH entry {entry} ({transaction}): the ledger says net {ledger}, Stripe says {stripe}"
                );
            }
            for (transaction, entry) in &comparison.unknown_to_stripe {
                println!(
                    "UNKNOWN entry {entry} names {transaction}, which Stripe does not list for the period"
                );
            }
            if comparison.agrees() && !outstanding {
                println!("ok: {} Stripe transactions agree with the ledger", comparison.compared);
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

pub(super) async fn reconcile(store: &Store, payments: Option<&Payments>, since: &str) -> ExitCode {
    let Some(seconds) = parse_duration(since) else {
        eprintln!("error: since must be a duration such as 72h, 7d or 90m");
        return ExitCode::from(2);
    };
    let Some(payments) = payments else {
        eprintln!("error: {}", ActionError::PaymentsNotConfigured);
        return ExitCode::FAILURE;
    };
    match reconcile_events(store, &payments.api, seconds).await {
        Ok(report) if report.skipped => {
            println!("another instance is reconciling now; nothing done");
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for (id, kind) in &report.applied {
                println!("applied {id} {kind}");
            }
            for (id, kind) in &report.deferred {
                println!("waiting {id} {kind} (its payment is not in the ledger yet)");
            }
            for (id, kind, error) in &report.failed {
                println!("FAILED {id} {kind}: {error}");
            }
            print_failed_events(&report.outstanding);
            println!(
                "reconciled {} events: {} applied, {} waiting, {} failed, the rest already recorded",
                report.seen,
                report.applied.len(),
                report.deferred.len(),
                report.failed.len()
            );
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                println!(
                    "{} events still fail: see appeal stripe events, then retry or dismiss them",
                    report.outstanding.len()
                );
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

pub(super) async fn list_payouts(store: &Store) -> Result<(), ActionError> {
    println!(
        "{:<28} {:<10} {:<8} {:>14} {:>14} {:>12}  STATE",
        "PAYOUT", "ARRIVAL", "STATUS", "STRIPE", "ENTRIES", "DIFFERENCE"
    );
    for payout in store.payouts().await? {
        if let Some(report) = store.payout_report(&Scope::everything(), &payout.id).await? {
            let body = crate::http::admin::payout_body(&report);
            println!(
                "{:<28} {:<10} {:<8} {:>14} {:>14} {:>12}  {}",
                payout.id,
                payout.arrival_date,
                payout.status,
                body.amount,
                body.entries_total,
                body.difference,
                if report.reconciled() { "reconciled" } else { "NEEDS A LOOK" }
            );
        }
    }
    Ok(())
}

pub(super) async fn payout_report(store: &Store, id: &str) -> ExitCode {
    match store.payout_report(&Scope::everything(), id).await {
        Ok(Some(report)) => {
            let body = crate::http::admin::payout_body(&report);
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            for flag in &report.flags {
                println!("{}", flag_line(flag));
            }
            if report.reconciled() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Ok(None) => {
            eprintln!("error: payout not found");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
