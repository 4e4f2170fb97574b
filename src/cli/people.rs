//! The command line's people and tokens: who may sign in or call the API, for how long.

use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::access::Actor;
use crate::actions::{self, ActionError, PersonChange};
use crate::store::{Store, TokenClosed};

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Add a person; prints a generated password once, unless --password-stdin gives one.
    Add {
        #[arg(long)]
        email: String,
        /// admin, treasurer or viewer.
        #[arg(long)]
        role: String,
        /// A branch slug: they see and record only that branch.
        #[arg(long)]
        branch: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Everyone who signs in, with their role, branch and whether they are disabled.
    List,
    /// Stop a person signing in and end their open sessions (they can be enabled again).
    Disable { email: String },
    /// Let a disabled person sign in again.
    Enable { email: String },
    /// Remove a person for good. What they recorded keeps their name in the ledger and the
    /// audit log.
    Remove { email: String },
}

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
    /// Create an API token and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// admin, treasurer or viewer.
        #[arg(long)]
        role: String,
        /// How long it works: 90d, 12h... (default: until revoked).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Every token by name, with its role, creation, expiry and status (never the token).
    List,
    /// Stop a token working, now and for good; it keeps its name in the audit log.
    Revoke { name: String },
}

pub(super) async fn run_user(command: UserCommand, store: &Store, actor: &Actor) -> Result<(), ActionError> {
    let (email, change) = match command {
        UserCommand::Add { email, role, branch, password_stdin } => {
            return add_user(store, &email, &role, branch.as_deref(), password_stdin, actor).await;
        }
        UserCommand::List => return list_users(store).await,
        UserCommand::Disable { email } => (email, PersonChange::Disable),
        UserCommand::Enable { email } => (email, PersonChange::Enable),
        UserCommand::Remove { email } => (email, PersonChange::Remove),
    };
    let before = actions::change_person(store, &email, change, actor).await?;
    let email = before.email;
    match change {
        PersonChange::Disable if before.disabled_at.is_some() => println!("{email} was already disabled"),
        PersonChange::Disable => println!("{email} is disabled; their open sessions have ended"),
        PersonChange::Enable if before.disabled_at.is_none() => println!("{email} was not disabled"),
        PersonChange::Enable => println!("{email} may sign in again"),
        PersonChange::Remove => {
            println!(
                "{email} is removed; what they recorded keeps their name in the ledger and the audit log"
            )
        }
    }
    Ok(())
}

pub(super) async fn run_token(
    command: TokenCommand,
    store: &Store,
    actor: &Actor,
) -> Result<(), ActionError> {
    match command {
        TokenCommand::Create { name, role, expires_in } => {
            let created = actions::create_token(store, &name, &role, expires_in.as_deref(), actor).await?;
            println!("{}", created.token);
            let lasts = match created.expires_at {
                Some(at) => format!("expires on {}", minute(at)),
                None => "works until revoked".to_owned(),
            };
            eprintln!(
                "Token \"{name}\" created with role {role}; it {lasts}. Keep it now: it cannot be shown again."
            );
        }
        TokenCommand::List => {
            let now = Utc::now();
            println!("{:<24} {:<9} {:<17} {:<17} STATUS", "NAME", "ROLE", "CREATED", "EXPIRES");
            for token in actions::list_tokens(store).await? {
                let status = match token.closed(now) {
                    None => "active".to_owned(),
                    Some(TokenClosed::Expired(_)) => "expired".to_owned(),
                    Some(TokenClosed::Revoked(at)) => format!("revoked {}", minute(at)),
                };
                let expires = token.expires_at.map_or_else(|| "never".to_owned(), minute);
                println!(
                    "{:<24} {:<9} {:<17} {:<17} {status}",
                    token.name,
                    token.role,
                    minute(token.created_at),
                    expires
                );
            }
        }
        TokenCommand::Revoke { name } => {
            let before = actions::revoke_token(store, &name, actor).await?;
            match before.revoked_at {
                Some(at) => println!("token {} was already revoked on {}", before.name, minute(at)),
                None => println!("token {} is revoked; it no longer works", before.name),
            }
        }
    }
    Ok(())
}

/// An instant to the minute, in UTC, as the lists show it.
fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

async fn list_users(store: &Store) -> Result<(), ActionError> {
    println!("{:<32} {:<9} {:<16} {:<17} STATUS", "EMAIL", "ROLE", "BRANCH", "ADDED");
    for user in actions::list_users(store).await? {
        let status =
            user.disabled_at.map_or_else(|| "active".to_owned(), |at| format!("disabled {}", minute(at)));
        let branch = user.branch.as_deref().unwrap_or("(all)");
        println!(
            "{:<32} {:<9} {:<16} {:<17} {status}",
            user.email,
            user.role,
            branch,
            minute(user.created_at)
        );
    }
    Ok(())
}

async fn add_user(
    store: &Store,
    email: &str,
    role: &str,
    branch: Option<&str>,
    password_stdin: bool,
    actor: &Actor,
) -> Result<(), ActionError> {
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|error| ActionError::Output(error.to_string()))?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        let mut bytes = [0_u8; 12];
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        (crate::access::hex(&bytes), true)
    };
    actions::add_user(store, email, role, branch, &password, actor).await?;
    if generated {
        println!("{password}");
        eprintln!(
            "{email} can sign in at /admin/login with the password above, shown once; they should change it."
        );
    } else {
        println!("added {email} ({role})");
    }
    Ok(())
}
