//! The command line's imports: history from a spreadsheet.

use clap::{Args, Subcommand};

use crate::access::Actor;
use crate::actions::{self, ActionError, CsvImport};
use crate::ledger::FieldErrors;
use crate::ledger::batch::ColumnMap;
use crate::payments::Payments;
use crate::payments::import::{ImportFilter, import_stripe as import_stripe_history};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub(super) enum ImportCommand {
    /// Offline history from a spreadsheet saved as CSV: every row booked as a gift, in one
    /// deposit that holds them all, or nothing when any row is wrong.
    Csv(CsvArgs),
    /// An existing Stripe account's history: paid charges with their refunds and disputes,
    /// subscriptions with their paid invoices, booked to one campaign through the same code
    /// as Stripe's events (running it again, or while webhooks arrive, books each once).
    Stripe(StripeArgs),
}

#[derive(Debug, Args)]
pub(super) struct StripeArgs {
    #[arg(long)]
    campaign: String,
    /// The first day to import, YYYY-MM-DD (UTC).
    #[arg(long)]
    since: String,
    /// Only payments and subscriptions carrying this metadata, written key=value.
    #[arg(long)]
    metadata: Option<String>,
    /// Only payments and subscriptions whose description holds this text (any case).
    #[arg(long)]
    description: Option<String>,
    /// Say what would be booked; book nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub(super) struct CsvArgs {
    #[arg(long)]
    campaign: String,
    #[arg(long)]
    file: std::path::PathBuf,
    /// Which column holds each field: "amount=Amount,date=Date,name=Donor,email=E-mail,
    /// method=Paid by,reference=Receipt,branch=Branch,note=Comment,anonymous=Anonymous".
    /// amount and date are required.
    #[arg(long)]
    map: String,
    /// The method of every row, when no column gives one: cash, cheque, etransfer,
    /// bank_transfer or other.
    #[arg(long)]
    method: Option<String>,
    /// How the file writes dates, as chrono's format: "%d/%m/%Y", "%m/%d/%Y"... (default
    /// YYYY-MM-DD).
    #[arg(long)]
    date_format: Option<String>,
    /// Names the deposit the rows are booked in (default "Import of <file name>").
    #[arg(long)]
    reference: Option<String>,
    /// Check every row and list them; book nothing.
    #[arg(long)]
    dry_run: bool,
    /// Book it even though the same import (its reference) was booked before.
    #[arg(long)]
    allow_duplicate: bool,
}

pub(super) async fn run(
    command: ImportCommand,
    store: &Store,
    payments: Option<&Payments>,
    actor: &Actor,
) -> Result<(), ActionError> {
    match command {
        ImportCommand::Csv(args) => import_csv(store, args, actor).await,
        ImportCommand::Stripe(args) => import_stripe(store, payments, args).await,
    }
}

async fn import_stripe(
    store: &Store,
    payments: Option<&Payments>,
    args: StripeArgs,
) -> Result<(), ActionError> {
    let mut errors = FieldErrors::new();
    let since = errors.check(
        "since",
        crate::ledger::validation::parse_day(&args.since)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|at| at.and_utc().timestamp())
            .ok_or("must be a day written YYYY-MM-DD, such as 2025-01-01"),
    );
    let metadata = match args.metadata.as_deref().map(|pair| pair.split_once('=')) {
        None => None,
        Some(Some((key, value))) if !key.trim().is_empty() => {
            Some((key.trim().to_owned(), value.trim().to_owned()))
        }
        Some(_) => {
            errors.add("metadata", "must be written key=value");
            None
        }
    };
    let campaign = store.campaign_by_slug(&args.campaign).await?;
    if campaign.is_none() {
        errors.add("campaign", "is not a known campaign");
    }
    let (Some(since), Some(campaign)) = (since, campaign) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let payments = payments.ok_or(ActionError::PaymentsNotConfigured)?;
    let filter = ImportFilter { metadata, description: args.description };
    eprintln!(
        "reading the Stripe account's subscriptions and charges since {}{}",
        args.since,
        if args.dry_run { " (a dry run: nothing is booked)" } else { "" }
    );
    let progress = super::progress::Progress::new();
    let on_progress = |stage: &str, done: usize, total: usize| progress.show(stage, done, total);
    let report =
        import_stripe_history(store, &payments.api, &campaign, since, &filter, args.dry_run, &on_progress)
            .await?;
    for line in &report.lines {
        println!("{line}");
    }
    let verb = if args.dry_run { "would be booked" } else { "booked" };
    println!(
        "{} gifts {verb}, {} in the ledger already, {} refunds and disputes booked, {} subscriptions, {} skipped",
        report.booked, report.present, report.reversals, report.subscriptions, report.skipped
    );
    Ok(())
}

async fn import_csv(store: &Store, args: CsvArgs, actor: &Actor) -> Result<(), ActionError> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|error| ActionError::Invalid(FieldErrors::single("file", error)))?;
    let mut map = ColumnMap::parse(&args.map)?;
    map.method = args.method;
    map.date_format = args.date_format;
    let name = args
        .file
        .file_name()
        .map_or_else(|| args.file.display().to_string(), |name| name.to_string_lossy().into_owned());
    let import = CsvImport {
        reference: args.reference.unwrap_or_else(|| format!("Import of {name}")),
        map,
        dry_run: args.dry_run,
        allow_duplicate: args.allow_duplicate,
    };
    let outcome = actions::import_csv(store, &args.campaign, &text, import, actor).await?;
    super::print_batch(&outcome);
    Ok(())
}
