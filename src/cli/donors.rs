//! `appeal donor export`: everything appeal holds about one person, as JSON; `appeal donor
//! forget`: erasing them.

use std::path::PathBuf;

use clap::Subcommand;

use crate::access::Actor;
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
    /// Erase the person with this email (their merged records included) everywhere appeal
    /// keeps them: name, email, address and messages. Their amounts stay in the ledger under
    /// a donor that names no one. Cannot be undone.
    Forget {
        #[arg(long)]
        email: String,
        /// Do not ask: forget at once (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

pub(super) async fn run(command: DonorCommand, store: &Store, actor: &Actor) -> Result<(), ActionError> {
    match command {
        DonorCommand::Forget { email, yes } => {
            if !yes {
                confirm(&email)?;
            }
            let forgotten = actions::forget_donor(store, actions::PersonNamed::Email(&email), actor).await?;
            println!(
                "forgotten: {} record(s); erased from {} ledger entr{}, {} statement(s), {} checkout(s), \
                 {} subscription(s), {} email(s), {} self-service link(s), {} Stripe event(s), \
                 {} outgoing webhook event(s), {} audit entr{}",
                forgotten.records.len(),
                forgotten.entries,
                if forgotten.entries == 1 { "y" } else { "ies" },
                forgotten.statements,
                forgotten.checkouts,
                forgotten.subscriptions,
                forgotten.emails,
                forgotten.self_service_links,
                forgotten.stripe_events,
                forgotten.webhook_events,
                forgotten.audit_entries,
                if forgotten.audit_entries == 1 { "y" } else { "ies" },
            );
            println!(
                "Stripe keeps its own copy of their details: erase the customer in the Stripe Dashboard too."
            );
            Ok(())
        }
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

/// Asks on the terminal for the email again; refuses without a terminal (use `--yes`).
fn confirm(email: &str) -> Result<(), ActionError> {
    use std::io::{BufRead, IsTerminal, Write};
    let refuse = |why: &str| ActionError::Invalid(crate::ledger::FieldErrors::single("yes", why.to_owned()));
    if !std::io::stdin().is_terminal() {
        return Err(refuse("is required when standard input is not a terminal: forgetting cannot be undone"));
    }
    eprint!("Forgetting {email} cannot be undone. Type the email again to go on: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|error| ActionError::Output(error.to_string()))?;
    if answer.trim().eq_ignore_ascii_case(email.trim()) {
        Ok(())
    } else {
        Err(refuse("was not given, and the email typed again differs: nothing was forgotten"))
    }
}
