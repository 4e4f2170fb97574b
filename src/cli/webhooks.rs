//! The command line's outgoing webhook endpoints: add, list, remove.

use clap::Subcommand;

use crate::access::Actor;
use crate::actions::{self, ActionError, EndpointInput};
use crate::config::Config;
use crate::store::Store;
use crate::webhooks::{Changed, SENDER_JOB, Sender};

#[derive(Debug, Subcommand)]
pub(super) enum WebhookCommand {
    /// Register an endpoint; prints its signing secret once.
    Add {
        /// Where to send: https, or http to localhost.
        #[arg(long)]
        url: String,
        /// An event type to send (repeat for more): donation.recorded, donation.reversed,
        /// subscription.started, subscription.updated, subscription.ended,
        /// campaign.goal_reached, payout.reconciled, batch.posted.
        #[arg(long = "event", required = true)]
        events: Vec<String>,
    },
    /// Every endpoint with its event types and state (never its secret).
    List,
    /// Remove an endpoint with its delivery log.
    Remove {
        #[arg(long)]
        id: i64,
    },
    /// Do one round of what the sender inside `serve` does, now: make the deliveries of new
    /// events, announce goals reached, send what is due and the queued emails. Stands back
    /// when another instance's sender is at work.
    Deliver,
}

pub(super) async fn run(
    command: WebhookCommand,
    store: &Store,
    config: &Config,
    actor: &Actor,
) -> Result<(), ActionError> {
    match command {
        WebhookCommand::Deliver => {
            let mailer = crate::mail::Mailer::from_config(&config.mail, &config.site, &config.public_url)
                .map_err(|error| ActionError::Output(format!("the mail settings are not usable: {error}")))?;
            let Some(lock) = store.try_job_lock(SENDER_JOB).await? else {
                println!("another instance's sender is at work; nothing done");
                return Ok(());
            };
            let sender = Sender::new(store.clone(), mailer, &config.public_url, config.webhook_timeout)
                .with_payment_tries(config.payment_tries);
            let round = match sender.prune().await {
                Ok(_) => sender.cycle(&Changed::All).await,
                Err(error) => Err(error),
            };
            lock.release().await?;
            round?;
            println!("one round done: what was due is sent or scheduled again; see /admin/webhooks");
        }
        WebhookCommand::Add { url, events } => {
            let input = EndpointInput { url: Some(url), events: Some(events), enabled: None };
            let endpoint = actions::add_webhook(store, &input, actor).await?;
            println!("{}", endpoint.secret);
            eprintln!(
                "Endpoint {} added: {} gets {}. Its signing secret is above; keep it now, it cannot be shown again.",
                endpoint.id,
                endpoint.url,
                kinds(&endpoint.events)
            );
        }
        WebhookCommand::List => {
            println!("{:<6} {:<9} {:<48} EVENTS", "ID", "STATE", "URL");
            for endpoint in store.webhook_endpoints().await? {
                let state = if endpoint.enabled { "enabled" } else { "disabled" };
                println!("{:<6} {state:<9} {:<48} {}", endpoint.id, endpoint.url, kinds(&endpoint.events));
            }
        }
        WebhookCommand::Remove { id } => {
            actions::remove_webhook(store, id, actor).await?;
            println!("endpoint {id} is removed; nothing more is sent to it");
        }
    }
    Ok(())
}

fn kinds(events: &[crate::ledger::outgoing::EventKind]) -> String {
    events.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", ")
}
