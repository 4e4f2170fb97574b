//! Stripe: outgoing calls, webhook signatures, and Stripe's events turned into ledger writes.

pub mod amounts;
pub mod client;
mod gifts;
pub mod import;
pub mod objects;
pub mod process;
pub mod reconcile;
mod reversals;
pub mod signature;
pub mod states;
mod transport;

use secrecy::SecretString;

use crate::config::StripeConfig;
use client::{StripeApi, StripeApiError};

/// Online giving, when Stripe is configured: the API client and the webhook secrets.
#[derive(Clone, Debug)]
pub struct Payments {
    pub api: StripeApi,
    pub webhook_secrets: Vec<SecretString>,
}

impl Payments {
    pub fn from_config(config: &StripeConfig) -> Result<Self, StripeApiError> {
        Ok(Payments {
            api: StripeApi::new(&config.secret_key, &config.api_base)?,
            webhook_secrets: config.webhook_secrets.clone(),
        })
    }
}
