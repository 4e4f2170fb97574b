//! `appeal donor export`: everything appeal holds about one person, as JSON.

use std::path::PathBuf;

use clap::Subcommand;

use crate::actions::{self, ActionError};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum DonorCommand {
    /// Write everything held about the person with this email (their merged records
    /// included) as JSON: gifts, checkouts, subscriptions, emails, statements, merges.
    Export {
        #[arg(long)]
        email: String,
        /// Write to this file (it must not exist) instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub(super) async fn run(command: DonorCommand, store: &Store) -> Result<(), ActionError> {
    match command {
        DonorCommand::Export { email, output } => {
            let export = actions::export_donor(store, &email).await?;
            let text = serde_json::to_string_pretty(&export)
                .map_err(|error| ActionError::Output(error.to_string()))?;
            match output {
                None => println!("{text}"),
                Some(path) => {
                    use std::io::Write;
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)
                        .map_err(|error| ActionError::Output(format!("{}: {error}", path.display())))?;
                    file.write_all(text.as_bytes())
                        .and_then(|()| file.write_all(b"\n"))
                        .map_err(|error| ActionError::Output(format!("{}: {error}", path.display())))?;
                    eprintln!("written to {}", path.display());
                }
            }
            Ok(())
        }
    }
}
