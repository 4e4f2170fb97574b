//! The command line: `appeal serve` by default, and every treasurer write the API offers.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::app::Application;
use crate::config::Config;
use crate::ledger::campaign::{CampaignInput, Localized};
use crate::ledger::entry::{OfflineDonationInput, ReversalInput};
use crate::ledger::progress::timestamp;
use crate::ledger::validation::{AmountText, Field};
use crate::store::{RecordOutcome, Store, StoreError};
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
    /// Apply database migrations and exit.
    Migrate,
    /// Create and list campaigns.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Record and reverse money raised internally.
    #[command(subcommand)]
    Donation(DonationCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Recompute every total from the ledger; exit non-zero naming any that differs.
    Check,
}

#[derive(Debug, Subcommand)]
enum CampaignCommand {
    /// Create a campaign.
    Create(Box<CampaignCreateArgs>),
    /// List every campaign, drafts included.
    List,
}

#[derive(Debug, Args)]
struct CampaignCreateArgs {
    #[arg(long)]
    slug: String,
    /// The English title.
    #[arg(long)]
    title: String,
    #[arg(long)]
    title_fr: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    description_fr: Option<String>,
    /// The target, in major units: 100000 or 100000.00.
    #[arg(long)]
    goal: String,
    /// ISO 4217 code, such as CAD.
    #[arg(long)]
    currency: String,
    /// RFC 3339, such as 2026-11-01T00:00:00-04:00.
    #[arg(long)]
    starts_at: Option<String>,
    /// RFC 3339, such as 2026-12-31T23:59:59-05:00.
    #[arg(long)]
    ends_at: Option<String>,
    /// draft, active (the default) or closed.
    #[arg(long)]
    status: Option<String>,
    /// A branch sub-goal as slug:name or slug:name:goal; repeat for each branch.
    #[arg(long = "branch")]
    branches: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum DonationCommand {
    /// Record money raised internally (cash, cheque, e-transfer, bank transfer).
    Add(DonationAddArgs),
    /// Reverse all or part of an offline donation with a new negative entry.
    Reverse(DonationReverseArgs),
}

#[derive(Debug, Args)]
struct DonationAddArgs {
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
    #[arg(long)]
    anonymous: bool,
}

#[derive(Debug, Args)]
struct DonationReverseArgs {
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

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// admin, treasurer or viewer.
        #[arg(long)]
        role: String,
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
        command => match open_store(config).await {
            Ok(store) => {
                let code = run_with_store(command, &store).await;
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

async fn open_store(config: &Config) -> Result<Store, StoreError> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn run_with_store(command: Command, store: &Store) -> ExitCode {
    let actor = Actor::command_line();
    let result = match command {
        Command::Serve { .. } => unreachable!("serve is handled before the store is opened"),
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Campaign(CampaignCommand::Create(args)) => create_campaign(store, args).await,
        Command::Campaign(CampaignCommand::List) => list_campaigns(store).await,
        Command::Donation(DonationCommand::Add(args)) => add_donation(store, args, &actor).await,
        Command::Donation(DonationCommand::Reverse(args)) => reverse_donation(store, args, &actor).await,
        Command::Token(TokenCommand::Create { name, role }) => {
            actions::create_token(store, &name, &role).await.map(|token| {
                println!("{token}");
                eprintln!(
                    "Token \"{name}\" created with role {role}. Keep it now: it cannot be shown again."
                );
            })
        }
        Command::Check => return check(store).await,
    };
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

async fn create_campaign(store: &Store, args: Box<CampaignCreateArgs>) -> Result<(), ActionError> {
    let mut branches = Vec::new();
    for (index, spec) in args.branches.iter().enumerate() {
        let mut parts = spec.splitn(3, ':');
        let (Some(slug), Some(name)) = (parts.next(), parts.next()) else {
            return Err(ActionError::Invalid(crate::ledger::FieldErrors::single(
                format!("branches[{index}]"),
                "must be written slug:name or slug:name:goal",
            )));
        };
        branches.push(crate::ledger::campaign::BranchInput {
            slug: Some(slug.to_owned()),
            name: Some(name.to_owned()),
            goal: parts.next().map(|goal| AmountText(goal.to_owned())),
        });
    }
    let optional = |value: Option<String>| value.map_or(Field::Missing, Field::Value);
    let input = CampaignInput {
        slug: Field::Value(args.slug),
        currency: Field::Value(args.currency),
        goal: Field::Value(AmountText(args.goal)),
        title: Field::Value(Localized { en: args.title, fr: args.title_fr.unwrap_or_default() }),
        description: Field::Value(Localized {
            en: args.description.unwrap_or_default(),
            fr: args.description_fr.unwrap_or_default(),
        }),
        starts_at: optional(args.starts_at),
        ends_at: optional(args.ends_at),
        status: optional(args.status),
        count_net_of_fees: Field::Missing,
        branches: Field::Value(branches),
    };
    let campaign = actions::create_campaign(store, input).await?;
    println!(
        "created campaign {} ({}, goal {} {})",
        campaign.slug,
        campaign.status.as_str(),
        campaign.currency.format_minor(campaign.goal_minor),
        campaign.currency
    );
    Ok(())
}

async fn list_campaigns(store: &Store) -> Result<(), ActionError> {
    let campaigns = store.list_campaigns(true).await?;
    println!("{:<24} {:<7} {:>16} {:>16} {:>7}  TITLE", "SLUG", "STATUS", "RAISED", "GOAL", "%");
    for campaign in campaigns {
        let Some((campaign, totals, branches)) = store.campaign_progress(campaign.slug.as_str()).await?
        else {
            continue;
        };
        let progress = crate::ledger::progress::Progress::new(&campaign, &totals, &branches);
        println!(
            "{:<24} {:<7} {:>16} {:>16} {:>7.1}  {}",
            campaign.slug.as_str(),
            progress.status,
            format!("{} {}", progress.raised, progress.currency),
            format!("{} {}", progress.goal, progress.currency),
            progress.percent,
            campaign.title.get("en")
        );
    }
    Ok(())
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
        anonymous: Some(args.anonymous),
        message: None,
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
    let outcome = actions::reverse_entry(store, args.entry, input, actor).await?;
    print_entry("reversed with", &outcome);
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
}

async fn check(store: &Store) -> ExitCode {
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
