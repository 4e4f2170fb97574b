//! The command line's imports: history from a spreadsheet.

use clap::{Args, Subcommand};

use crate::access::Actor;
use crate::actions::{self, ActionError, CsvImport};
use crate::ledger::FieldErrors;
use crate::ledger::batch::ColumnMap;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub(super) enum ImportCommand {
    /// Offline history from a spreadsheet saved as CSV: every row booked as a gift, in one
    /// deposit that holds them all, or nothing when any row is wrong.
    Csv(CsvArgs),
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

pub(super) async fn run(command: ImportCommand, store: &Store, actor: &Actor) -> Result<(), ActionError> {
    match command {
        ImportCommand::Csv(args) => import_csv(store, args, actor).await,
    }
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
