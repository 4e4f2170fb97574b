//! Configuration from the environment (and `.env` when present), secrets wrapped.

use std::env;
use std::fmt;
use std::net::SocketAddr;

use secrecy::SecretString;

use crate::store::redact_url;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://appeal.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

#[derive(Clone)]
pub struct Config {
    /// May hold a password: shown only through [`redact_url`].
    pub database_url: String,
    pub bind: SocketAddr,
    pub public_url: String,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub stripe: Option<StripeConfig>,
}

/// Stripe's keys. Without a secret key the server runs with online giving turned off.
#[derive(Clone)]
pub struct StripeConfig {
    pub secret_key: SecretString,
    /// Several during a rotation; empty when webhooks are not set up yet.
    pub webhook_secrets: Vec<SecretString>,
    pub api_base: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} {message}")]
    Invalid { name: &'static str, message: String },
}

impl Config {
    /// Reads `.env` if there is one, then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is the normal case in production.
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| env::var(name).ok().filter(|value| !value.trim().is_empty()))
    }

    /// Builds the configuration from any source of variables (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database_url = lookup("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                message: "must start with sqlite: or postgres://".to_owned(),
            });
        }
        let bind_text = lookup("APPEAL_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind_text.parse().map_err(|_| ConfigError::Invalid {
            name: "APPEAL_BIND",
            message: format!("must be an address and port such as {DEFAULT_BIND}, not {bind_text:?}"),
        })?;
        let public_url = lookup("APPEAL_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        if url::Url::parse(&public_url).is_err() {
            return Err(ConfigError::Invalid {
                name: "APPEAL_PUBLIC_URL",
                message: format!(
                    "must be an absolute URL such as https://give.example.org, not {public_url:?}"
                ),
            });
        }
        let log_format = match lookup("APPEAL_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APPEAL_LOG_FORMAT",
                    message: format!("must be pretty or json, not {other:?}"),
                });
            }
        };
        let stripe = lookup("STRIPE_SECRET_KEY").map(|secret_key| StripeConfig {
            secret_key: SecretString::from(secret_key.trim().to_owned()),
            webhook_secrets: lookup("STRIPE_WEBHOOK_SECRET")
                .map(|secrets| {
                    secrets
                        .split(',')
                        .map(str::trim)
                        .filter(|secret| !secret.is_empty())
                        .map(|secret| SecretString::from(secret.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            api_base: lookup("STRIPE_API_BASE").unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_owned()),
        });
        if let Some(stripe) = &stripe
            && url::Url::parse(&stripe.api_base).is_err()
        {
            return Err(ConfigError::Invalid {
                name: "STRIPE_API_BASE",
                message: format!("must be an absolute URL, not {:?}", stripe.api_base),
            });
        }
        Ok(Config {
            stripe,
            database_url,
            bind,
            public_url,
            log_filter: lookup("APPEAL_LOG").unwrap_or_else(|| "info,sqlx=warn".to_owned()),
            log_format,
        })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("log_filter", &self.log_filter)
            .field("log_format", &self.log_format)
            .field("stripe", &self.stripe)
            .finish()
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[hidden]")
            .field("webhook_secrets", &format!("[{} hidden]", self.webhook_secrets.len()))
            .field("api_base", &self.api_base)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_design() {
        let config = config(&[]).expect("defaults are valid");
        assert_eq!(config.database_url, "sqlite://appeal.db");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.log_format, LogFormat::Pretty);
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = config(&[("DATABASE_URL", "postgres://appeal:hunter2@db/appeal")]).expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn stripe_secrets_are_read_but_never_printed() {
        let config = config(&[
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new"),
        ])
        .expect("valid");
        let stripe = config.stripe.as_ref().expect("Stripe is configured");
        assert_eq!(stripe.webhook_secrets.len(), 2);
        assert_eq!(stripe.api_base, "https://api.stripe.com");
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk_test_123") && !printed.contains("whsec_"), "{printed}");
        assert!(self::config(&[]).expect("valid").stripe.is_none());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config(&[("APPEAL_BIND", "nowhere")]).expect_err("invalid bind");
        assert!(error.to_string().starts_with("APPEAL_BIND"));
        let error = config(&[("DATABASE_URL", "mysql://x")]).expect_err("unsupported engine");
        assert!(error.to_string().starts_with("DATABASE_URL"));
    }
}
