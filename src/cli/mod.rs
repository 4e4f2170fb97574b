//! The command line: `appeal serve` by default, and every treasurer write the API offers.

mod appeals;
mod campaigns;
mod donations;
mod donors;
mod import;
mod matches;
mod people;
mod progress;
mod rates;
mod statements;
mod stripe;
mod webhooks;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::access::{Actor, Scope};
use crate::actions::{self, ActionError};
use crate::app::Application;
use crate::config::Config;
use crate::ledger::validation::AmountText;
use crate::payments::Payments;
use crate::store::{SchemaState, Store, StoreError, SubscriptionFilter};
use crate::{demo, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "appeal",
    version,
    about = "Donations and fundraising campaigns: an exact ledger and live progress."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and pages (the default).
    Serve {
        /// Add a demo campaign with some money raised internally, if it is not there yet.
        #[arg(long)]
        demo: bool,
    },
    /// A consistent copy of the SQLite database, taken while instances serve it.
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        output: std::path::PathBuf,
    },
    /// Put a backup in place of the SQLite database (refused while an instance serves it; the
    /// database replaced is kept beside it).
    Restore {
        /// A file made by `appeal backup`.
        #[arg(long)]
        input: std::path::PathBuf,
    },
    /// Apply database migrations and exit.
    Migrate {
        /// Change nothing: say whether the database is current (exit 0), behind this binary
        /// (exit 2: run `appeal migrate`) or ahead of it (exit 3: a newer appeal migrated it).
        #[arg(long)]
        check: bool,
    },
    /// Create and list campaigns.
    #[command(subcommand)]
    Campaign(campaigns::CampaignCommand),
    /// Record and reverse money raised internally.
    #[command(subcommand)]
    Donation(donations::DonationCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(people::TokenCommand),
    /// Manage the people who sign in to the dashboard.
    #[command(subcommand)]
    User(people::UserCommand),
    /// Bring in history kept elsewhere.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Manage the endpoints that outgoing webhooks are sent to.
    #[command(subcommand)]
    Webhook(webhooks::WebhookCommand),
    /// Match offers: a matcher adds to each qualifying gift, up to a cap.
    #[command(subcommand)]
    Match(matches::MatchCommand),
    /// Recompute every total from the ledger; with --stripe, also compare Stripe's balance
    /// transactions of the period with the ledger. Exits non-zero naming any difference.
    Check {
        /// Also compare Stripe's side with the ledger.
        #[arg(long)]
        stripe: bool,
        /// The period for --stripe: 30d, 72h...
        #[arg(long, default_value = "30d")]
        since: String,
    },
    /// What appeal holds about a donor.
    #[command(subcommand)]
    Donor(donors::DonorCommand),
    /// Issue the year's annual statements, a donor each (a corrected donor's replaced, naming
    /// the one replaced); with --send, email those never sent.
    Statements(statements::StatementArgs),
    /// Exchange rates, kept and sourced: add one, list them, import the ECB's, look one up.
    #[command(subcommand)]
    Rates(rates::RatesCommand),
    /// Appeals: campaigns of this instance and of other sections' instances, one total in one
    /// currency.
    #[command(subcommand)]
    Appeals(appeals::AppealsCommand),
    /// List and cancel recurring subscriptions (cancelling refunds nothing).
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// Post an offline deposit from a CSV file, only if its count and total match.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Reconcile Stripe's payouts against the ledger.
    #[command(subcommand)]
    Payout(PayoutCommand),
    /// Export the ledger as CSV, beancount or ledger (hledger) for a date range.
    Export(ExportArgs),
    /// What Stripe reported that needs a look: failed events and flags.
    #[command(subcommand)]
    Stripe(stripe::StripeCommand),
    /// Apply Stripe events of the last days that were never delivered, and try again those
    /// that failed. Exits non-zero while any event still fails.
    Reconcile {
        /// How far back to look: 72h, 7d, 90m.
        #[arg(long, default_value = "72h")]
        since: String,
    },
}

#[derive(Debug, Subcommand)]
enum PayoutCommand {
    /// Every payout with its reconciliation: Stripe's amount, our entries, the difference.
    List,
    /// One payout line by line; exits 1 when it does not reconcile.
    Report {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum BatchCommand {
    /// Import a deposit: a CSV with a header row (amount, method, and optionally received_on,
    /// donor_name, donor_email, reference, branch, anonymous, message).
    Import(BatchImportArgs),
}

#[derive(Debug, Args)]
struct BatchImportArgs {
    #[arg(long)]
    campaign: String,
    #[arg(long)]
    file: std::path::PathBuf,
    /// The deposit slip's number or a description.
    #[arg(long)]
    reference: String,
    /// YYYY-MM-DD; also the date of rows without one.
    #[arg(long)]
    deposited_on: String,
    /// How many entries the deposit holds.
    #[arg(long)]
    count: i64,
    /// The deposit's total.
    #[arg(long)]
    total: String,
    /// Check and list the rows without posting.
    #[arg(long)]
    preview: bool,
    /// Post it even though an earlier deposit has the same slip, or the same date and total.
    #[arg(long)]
    allow_duplicate: bool,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// csv (the default), beancount or ledger.
    #[arg(long)]
    format: Option<String>,
    /// First day, YYYY-MM-DD, in APPEAL_TIMEZONE (included).
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (included); defaults to today.
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    campaign: Option<String>,
    #[arg(long)]
    branch: Option<String>,
    /// Only the entries of one Stripe payout (po_...).
    #[arg(long)]
    payout: Option<String>,
    /// received (the default) or payout: date entries by the payout's arrival.
    #[arg(long)]
    basis: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum SubscriptionCommand {
    /// List subscriptions with their status.
    List {
        #[arg(long)]
        campaign: Option<String>,
        /// active, past_due, canceled...
        #[arg(long)]
        status: Option<String>,
    },
    /// Cancel a subscription at the end of its paid period (or now with --now), without refund.
    Cancel {
        /// The Stripe subscription id, sub_...
        #[arg(long)]
        id: String,
        #[arg(long)]
        now: bool,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_filter, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command.unwrap_or(Command::Serve { demo: false }), &config))
}

async fn run(command: Command, config: &Config) -> ExitCode {
    match command {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate { check: true } => check_schema(config).await,
        Command::Backup { output } => backup(config, &output).await,
        Command::Restore { input } => restore(config, &input).await,
        // Only `serve` and `migrate` may create a database; the other commands work on one
        // that exists.
        command => match open_store(config, matches!(command, Command::Migrate { .. })).await {
            Ok(store) => {
                let code = run_with_store(command, &store, config).await;
                store.close().await;
                code
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn serve(config: &Config, with_demo: bool) -> ExitCode {
    for warning in &config.setup_warnings {
        tracing::warn!("{warning}");
    }
    let config = &Config { demo: with_demo, ..config.clone() };
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if with_demo {
        match demo::seed(application.store()).await {
            Ok(true) => tracing::info!(slug = demo::DEMO_SLUG, "added the demo campaign"),
            Ok(false) => {}
            Err(error) => {
                eprintln!("error: cannot add the demo campaign: {error}");
                return ExitCode::FAILURE;
            }
        }
        tracing::info!(
            "demo: open {}/ or {}/api/v1/campaigns/{}/progress",
            config.public_url,
            config.public_url,
            demo::DEMO_SLUG
        );
    }
    match application.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `appeal backup`: on an existing database, which it neither creates nor migrates.
async fn backup(config: &Config, output: &std::path::Path) -> ExitCode {
    let store = match Store::connect_existing(&config.database_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let done = store.backup_into(output).await;
    store.close().await;
    match done {
        Ok(entries) => {
            println!("backed up {entries} ledger entries to {}", output.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn restore(config: &Config, input: &std::path::Path) -> ExitCode {
    match crate::store::restore(&config.database_url, input).await {
        Ok(restored) => {
            println!(
                "restored {entries} ledger entries from {}",
                input.display(),
                entries = restored.entries
            );
            if let Some(kept) = restored.kept {
                println!("the database it replaced is kept as {}", kept.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `appeal migrate --check`: where the database stands, as words and an exit code.
async fn check_schema(config: &Config) -> ExitCode {
    let store = match Store::connect_existing(&config.database_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let state = store.schema_state().await;
    store.close().await;
    match state {
        Ok(SchemaState::Current { version }) => {
            println!("current: every migration up to {version} is applied");
            ExitCode::SUCCESS
        }
        Ok(SchemaState::Behind { applied, pending }) => {
            let from = applied.map_or_else(|| "none".to_owned(), |version| version.to_string());
            println!(
                "behind: migrations {pending:?} are to apply (the database is at {from}); run `appeal migrate`"
            );
            ExitCode::from(2)
        }
        Ok(SchemaState::Ahead { known, unknown }) => {
            println!(
                "ahead: the database holds migrations {unknown:?} from a newer appeal; this binary knows up to {known}"
            );
            ExitCode::from(3)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(config: &Config, may_create: bool) -> Result<Store, StoreError> {
    let store = if may_create {
        Store::connect(&config.database_url).await?
    } else {
        Store::connect_existing(&config.database_url).await?
    };
    store.migrate().await?;
    Ok(store)
}

async fn run_with_store(command: Command, store: &Store, config: &Config) -> ExitCode {
    let actor = Actor::command_line();
    let payments = match config.stripe.as_ref().map(Payments::from_config).transpose() {
        Ok(payments) => payments,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let payments = payments.as_ref();
    let result = match command {
        Command::Serve { .. } | Command::Backup { .. } | Command::Restore { .. } => {
            unreachable!("handled before the store is opened")
        }
        Command::Migrate { .. } => {
            println!("migrations applied");
            Ok(())
        }
        Command::Campaign(command) => campaigns::run(command, store, &actor).await,
        Command::Donation(command) => donations::run(command, store, payments, &actor).await,
        Command::Token(command) => people::run_token(command, store, &actor).await,
        Command::Webhook(command) => webhooks::run(command, store, config, &actor).await,
        Command::Match(command) => matches::run(command, store, &actor).await,
        Command::Statements(args) => statements::run(args, store, config, &actor).await,
        Command::Donor(command) => donors::run(command, store, &actor).await,
        Command::Rates(command) => rates::run(command, store, &actor).await,
        Command::Appeals(command) => appeals::run(command, store, config, &actor).await,
        Command::Import(command) => import::run(command, store, payments, &actor).await,
        Command::Check { stripe, since } => {
            let totals = check(store).await;
            if !stripe {
                return totals;
            }
            let stripe_side = stripe::check_stripe(store, payments, &since).await;
            return if totals == ExitCode::SUCCESS { stripe_side } else { totals };
        }
        Command::Subscription(SubscriptionCommand::List { campaign, status }) => {
            list_subscriptions(store, campaign, status).await
        }
        Command::Subscription(SubscriptionCommand::Cancel { id, now }) => {
            actions::cancel_subscription(store, payments, &id, !now, &actor, None).await.map(|subscription| {
                let when = if now { "now" } else { "at the end of the paid period" };
                println!(
                    "subscription {} cancelled {when} (status {}); nothing was refunded",
                    subscription.id, subscription.status
                );
            })
        }
        Command::Reconcile { since } => return stripe::reconcile(store, payments, &since).await,
        Command::Stripe(command) => return stripe::run(command, store, payments, &actor).await,
        Command::Export(args) => export(store, config, args).await,
        Command::User(command) => people::run_user(command, store, &actor).await,
        Command::Batch(BatchCommand::Import(args)) => import_batch(store, args, &actor).await,
        Command::Payout(PayoutCommand::List) => stripe::list_payouts(store).await,
        Command::Payout(PayoutCommand::Report { id }) => return stripe::payout_report(store, &id).await,
    };
    report_action(result)
}

/// The exit code of a write: 2 with one `error: <field> <message>` line per bad field.
fn report_action(result: Result<(), ActionError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(ActionError::Invalid(errors)) => {
            for (field, message) in errors.iter() {
                eprintln!("error: {field} {message}");
            }
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn check(store: &Store) -> ExitCode {
    let totals = check_totals(store).await;
    let appeals = check_appeals(store).await;
    if totals == ExitCode::SUCCESS { appeals } else { totals }
}

/// Every appeal's converted total recomputed from the ledger and the rates table.
async fn check_appeals(store: &Store) -> ExitCode {
    let checked = match actions::check_appeals(store).await {
        Ok(checked) => checked,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut code = ExitCode::SUCCESS;
    for appeal in &checked {
        let progress = &appeal.progress;
        for (what, served, recomputed) in &appeal.mismatches {
            println!(
                "MISMATCH appeal {}: {what} is served as {served} but the ledger and rates say {recomputed}",
                appeal.slug
            );
            code = ExitCode::FAILURE;
        }
        // A member without a rate is a gap to fill, not figures that disagree: said, not failed.
        for member in progress
            .members
            .iter()
            .filter(|member| member.raised.is_some() && member.raised_converted.is_none())
        {
            println!(
                "WARNING appeal {}: {} is not counted: {} (add a rate: appeal rates add, or fix one in the appeal)",
                appeal.slug,
                member.name,
                member.problem.as_deref().unwrap_or("no rate")
            );
        }
        if appeal.mismatches.is_empty() {
            let counted = progress.members.iter().filter(|member| member.raised_converted.is_some()).count();
            println!(
                "ok: appeal {} totals {} {} from {counted} of {} members, recomputed from the ledger and the rates",
                appeal.slug,
                progress.raised,
                progress.currency,
                progress.members.len()
            );
        }
    }
    code
}

async fn check_totals(store: &Store) -> ExitCode {
    match store.check_totals().await {
        Ok(found) if found.is_empty() => {
            println!("ok: every kept total agrees with the ledger");
            ExitCode::SUCCESS
        }
        Ok(found) => {
            for difference in &found {
                println!(
                    "MISMATCH campaign {}: {} kept {} but the ledger says {}",
                    difference.campaign, difference.figure, difference.kept, difference.ledger
                );
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn list_subscriptions(
    store: &Store,
    campaign: Option<String>,
    status: Option<String>,
) -> Result<(), ActionError> {
    let campaign_id = match campaign {
        Some(slug) => Some(store.campaign_by_slug(&slug).await?.ok_or(ActionError::NotFound("campaign"))?.id),
        None => None,
    };
    let listed =
        store.list_subscriptions(&Scope::everything(), &SubscriptionFilter { campaign_id, status }).await?;
    println!("{:<28} {:<16} {:<10} {:>14} {:>14}  DONOR", "ID", "CAMPAIGN", "STATUS", "AMOUNT", "MONTHLY");
    for (subscription, slug) in listed {
        let currency = subscription.currency;
        println!(
            "{:<28} {:<16} {:<10} {:>14} {:>14}  {}",
            subscription.id,
            slug.as_str(),
            subscription.status,
            format!(
                "{}/{}",
                currency.format_minor(subscription.amount_minor),
                subscription.interval.as_str()
            ),
            currency.format_minor(subscription.monthly_minor()),
            subscription.donor_name.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn export(store: &Store, config: &Config, args: ExportArgs) -> Result<(), ActionError> {
    use std::io::Write;
    let input = crate::export::ExportInput {
        format: args.format,
        from: args.from,
        to: args.to,
        campaign: args.campaign,
        branch: args.branch,
        payout: args.payout,
        basis: args.basis,
    };
    // A file or a pipe: wait for it as long as it takes.
    let stall = std::time::Duration::from_secs(24 * 3600);
    let mut export = crate::export::start(store, input, config.timezone, &Scope::everything(), stall).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|error| ActionError::Output(format!("{}: {error}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    while let Some(chunk) = export.chunks.recv().await {
        out.write_all(chunk?.as_bytes()).map_err(|error| ActionError::Output(error.to_string()))?;
    }
    out.flush().map_err(|error| ActionError::Output(error.to_string()))?;
    if let Some(path) = &args.output {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn import_batch(store: &Store, args: BatchImportArgs, actor: &Actor) -> Result<(), ActionError> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|error| ActionError::Invalid(crate::ledger::FieldErrors::single("file", error)))?;
    let input = crate::ledger::batch::BatchInput {
        reference: Some(args.reference),
        deposited_on: Some(args.deposited_on),
        declared_count: Some(args.count),
        declared_total: Some(AmountText(args.total)),
        entries: crate::ledger::batch::entries_from_csv(&text)?,
        allow_duplicate: args.allow_duplicate,
    };
    let names = crate::ledger::batch::RowNames::CsvLines;
    let outcome =
        actions::record_batch(store, &args.campaign, input, actor, names, args.preview, None).await?;
    print_batch(&outcome);
    Ok(())
}

/// A deposit's lines, then what was posted (or, in a preview, would be).
fn print_batch(outcome: &actions::BatchOutcome) {
    let currency = outcome.currency;
    for entry in &outcome.entries {
        println!(
            "{:>12} {} {:<14} {}",
            currency.format_minor(entry.amount_minor),
            entry.received_on,
            entry.method,
            entry.donor.name.as_deref().unwrap_or("")
        );
    }
    match outcome.batch_id {
        Some(batch) => println!(
            "posted batch {batch}: {} entries, {} {currency}",
            outcome.recorded.len(),
            currency.format_minor(outcome.total_minor)
        ),
        None => println!(
            "preview: {} entries, {} {currency}; nothing posted",
            outcome.entries.len(),
            currency.format_minor(outcome.total_minor)
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_command_says_what_it_does_in_its_own_words() {
        let help = Cli::command().render_help().to_string();
        let line = |name: &str| {
            help.lines()
                .find(|line| line.trim_start().starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} is listed: {help}"))
                .to_owned()
        };
        assert!(line("migrate").contains("Apply database migrations"), "{help}");
        assert!(
            line("backup").contains("A consistent copy") && !line("backup").contains("migrations"),
            "{help}"
        );
        for command in Cli::command().get_subcommands() {
            assert!(command.get_about().is_some(), "{} has no description", command.get_name());
        }
    }
}
