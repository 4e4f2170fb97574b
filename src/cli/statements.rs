//! `appeal statements`: the year's annual statements, issued (and with `--send` emailed),
//! their PDFs written to a folder when asked.

use std::path::PathBuf;

use clap::Args;

use crate::access::Actor;
use crate::actions::{self, ActionError};
use crate::config::Config;
use crate::export::statement::issued_pdf;
use crate::ledger::statements::number_text;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct StatementArgs {
    /// The calendar year, in the organization's time zone.
    #[arg(long)]
    year: i32,
    /// Queue the email of every statement in force never sent (the background sender of
    /// `serve` sends them, the PDF attached).
    #[arg(long)]
    send: bool,
    /// Only the gifts to this campaign (its slug); statements made for every campaign otherwise.
    #[arg(long)]
    campaign: Option<String>,
    /// Write each statement in force of the year to this folder as PDF.
    #[arg(long)]
    pdf: Option<PathBuf>,
}

pub(super) async fn run(
    args: StatementArgs,
    store: &Store,
    config: &Config,
    actor: &Actor,
) -> Result<(), ActionError> {
    let progress = super::progress::Progress::new();
    let on_progress = |done: usize, total: usize| progress.show("statements", done, total);
    let run = actions::issue_statements(
        store,
        config.timezone,
        args.year,
        args.campaign.as_deref(),
        args.send,
        actor,
        &on_progress,
    )
    .await?;
    for statement in &run.issued {
        let total: i64 = statement.body.totals.iter().map(|total| total.total_minor).sum();
        println!(
            "issued {} to {} ({} lines, {} in minor units)",
            number_text(statement.year, statement.number),
            statement.body.addressee().unwrap_or(&statement.donor_key),
            statement.body.lines.len(),
            total
        );
    }
    for statement in &run.replaced {
        println!(
            "issued {} replacing {} for {}",
            number_text(statement.year, statement.number),
            statement.replaces_number.map_or_else(String::new, |number| number_text(statement.year, number)),
            statement.body.addressee().unwrap_or(&statement.donor_key),
        );
    }
    println!(
        "{}: {} issued, {} replaced, {} unchanged{}",
        args.year,
        run.issued.len(),
        run.replaced.len(),
        run.unchanged,
        if args.send { format!(", {} emails queued", run.queued) } else { String::new() }
    );
    if let Some(folder) = args.pdf {
        std::fs::create_dir_all(&folder).map_err(|error| ActionError::Output(error.to_string()))?;
        let mut written = 0;
        for statement in store.statements(args.year).await? {
            if statement.replaced_by.is_some() {
                continue;
            }
            let pdf = issued_pdf(&statement, &config.site.organization, &config.site.organization_details)
                .map_err(|error| ActionError::Output(error.to_string()))?;
            let path =
                folder.join(format!("statement-{}.pdf", number_text(statement.year, statement.number)));
            std::fs::write(&path, pdf)
                .map_err(|error| ActionError::Output(format!("{}: {error}", path.display())))?;
            written += 1;
        }
        println!("{written} PDFs written to {}", folder.display());
    }
    Ok(())
}
