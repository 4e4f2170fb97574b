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
    pub site: SiteConfig,
    /// The organization's time zone: exports date online money in it.
    pub timezone: chrono_tz::Tz,
    pub mail: MailConfig,
    pub defence: DefenceConfig,
    /// What a first install has left to set before going live (logged by `serve`, shown on
    /// the dashboard's home page, and on the public pages of `serve --demo`).
    pub setup_warnings: Vec<SetupWarning>,
    /// `serve --demo`: the public pages say what is left to set. Not read from the environment.
    pub demo: bool,
    /// On SIGTERM, how long `/readyz` answers 503 while requests are still served, so that a
    /// load balancer stops sending before the instance stops listening.
    pub drain: std::time::Duration,
    /// How long an outgoing webhook's endpoint has to answer.
    pub webhook_timeout: std::time::Duration,
    /// How often `serve` asks each remote appeal member (another instance's campaign) for its
    /// figures; one never heard from, whose last answer failed, or not heard from for three
    /// times as long is shown stale.
    pub remote_every: std::time::Duration,
    /// How many times Stripe tries an installment in all (the account's retry settings): the
    /// donor is reminded before the last.
    pub payment_tries: usize,
}

/// Something a first install has left to set before it takes real gifts.
#[derive(Clone, Debug, PartialEq)]
pub enum SetupWarning {
    /// Listening for other machines without `APPEAL_PUBLIC_URL`.
    PublicUrl { bind: SocketAddr },
    /// No `SMTP_URL`: mail is written as files in this folder.
    NoSmtp { outbox: std::path::PathBuf },
    /// No `APPEAL_MAIL_FROM`: mail comes from this placeholder.
    DefaultSender { from: String },
}

impl SetupWarning {
    /// The key of its short wording for supporters' pages, in their language.
    pub fn i18n_key(&self) -> &'static str {
        match self {
            SetupWarning::PublicUrl { .. } => "setup.public_url",
            SetupWarning::NoSmtp { .. } => "setup.smtp",
            SetupWarning::DefaultSender { .. } => "setup.mail_from",
        }
    }
}

/// For the operator: what is wrong and what to set.
impl std::fmt::Display for SetupWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupWarning::PublicUrl { bind } => write!(
                f,
                "appeal listens on {bind} for other machines, but APPEAL_PUBLIC_URL is not set: links in e-mails and \
                 Stripe's return pages will point at http://{bind}. Set it to the address people reach (https://give.example.org)."
            ),
            SetupWarning::NoSmtp { outbox } => write!(
                f,
                "SMTP_URL is not set: receipts and links are written as files in {} instead of being sent.",
                outbox.display()
            ),
            SetupWarning::DefaultSender { from } => write!(
                f,
                "APPEAL_MAIL_FROM is not set: e-mails come from {from}, which donors' mail servers refuse. Set it to an \
                 address of the organization's domain."
            ),
        }
    }
}

/// Who the organization is, as pages and receipts name it.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    pub organization: String,
    /// Postal address and charity number, printed on receipts.
    pub organization_details: String,
    /// Donors' messages wait for staff to show them on the public wall.
    pub hold_messages: bool,
}

/// Where supporters' emails go: SMTP when `SMTP_URL` is set, else .eml files in a folder.
#[derive(Clone)]
pub struct MailConfig {
    pub smtp_url: Option<SecretString>,
    pub from: String,
    pub outbox_dir: std::path::PathBuf,
}

/// Card-testing defence and stream limits.
#[derive(Clone, Debug)]
pub struct DefenceConfig {
    pub checkout_limit_per_ip: RateLimit,
    pub checkout_limit_per_email: RateLimit,
    pub captcha: Option<CaptchaConfig>,
    /// Behind reverse proxies: how many of them append to X-Forwarded-For; the client is the
    /// address that many places from its right.
    pub forwarded_hops: Option<usize>,
    /// Per-address limits count an IPv6 client by its first this-many bits (a /64).
    pub ipv6_prefix: u8,
    pub max_streams_per_ip: usize,
    /// Live streams this instance holds at most, all clients together.
    pub max_streams: usize,
    /// Connections this instance holds at most; past it, a 503.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open.
    pub header_timeout: std::time::Duration,
    /// How long an export download may go unread before it gives its connection back.
    pub export_stall: std::time::Duration,
}

/// Connections one instance holds at most, unless `APPEAL_MAX_CONNECTIONS` says.
pub const DEFAULT_MAX_CONNECTIONS: usize = 20_000;
/// Seconds a client may take to send a request's headers (and an idle connection stays).
pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u64 = 10;
/// Seconds an export download may go unread before it gives its connection back.
pub const DEFAULT_EXPORT_STALL_SECONDS: u64 = 30;
/// Seconds `/readyz` answers 503 after SIGTERM before the instance stops listening: a few
/// health checks of a load balancer.
pub const DEFAULT_DRAIN_SECONDS: u64 = 5;
pub const DEFAULT_WEBHOOK_TIMEOUT_SECONDS: u64 = 15;
/// How often remote appeal members are asked for their figures, unless `APPEAL_REMOTE_EVERY` says.
pub const DEFAULT_REMOTE_EVERY_SECONDS: u64 = 30;

/// At most `count` attempts per `period_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub period_seconds: u64,
}

impl RateLimit {
    /// "10/10m", "5/1h", "5/h", "100/30s".
    pub fn parse(text: &str) -> Option<Self> {
        let (count, period) = text.trim().split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|&count| count > 0)?;
        let period = period.trim();
        let period_seconds = if period.starts_with(|c: char| c.is_ascii_digit()) {
            parse_duration(period)?
        } else {
            parse_duration(&format!("1{period}"))?
        };
        Some(RateLimit { count, period_seconds: u64::try_from(period_seconds).ok()? })
    }
}

/// A duration as people write it, in seconds: "72h", "7d", "90m", "3600s" (positive).
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let number: i64 = number.parse().ok()?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    number.checked_mul(unit_seconds).filter(|&seconds| seconds > 0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptchaKind {
    Turnstile,
    HCaptcha,
}

/// A captcha checked on the server when its keys are set.
#[derive(Clone)]
pub struct CaptchaConfig {
    pub kind: CaptchaKind,
    pub site_key: String,
    pub secret_key: SecretString,
    pub verify_url: String,
}

/// Stripe's keys. Without a secret key the server runs with online giving turned off.
#[derive(Clone)]
pub struct StripeConfig {
    pub secret_key: SecretString,
    /// Several during a rotation; empty when webhooks are not set up yet.
    pub webhook_secrets: Vec<SecretString>,
    pub api_base: String,
    /// How often `serve` reconciles with Stripe by itself (`None`: never, cron does it).
    pub reconcile_every: Option<std::time::Duration>,
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
        let bind: SocketAddr = bind_text.parse().map_err(|_| ConfigError::Invalid {
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
        let reconcile_every = match lookup("APPEAL_RECONCILE_EVERY").as_deref().map(str::trim) {
            None => Some(std::time::Duration::from_secs(3600)),
            Some("off") => None,
            Some(text) => Some(
                parse_duration(text)
                    .and_then(|seconds| u64::try_from(seconds).ok())
                    .map(std::time::Duration::from_secs)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "APPEAL_RECONCILE_EVERY",
                        message: format!("must be a duration such as 1h or 30m, or off, not {text:?}"),
                    })?,
            ),
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
            reconcile_every,
        });
        if let Some(stripe) = &stripe
            && url::Url::parse(&stripe.api_base).is_err()
        {
            return Err(ConfigError::Invalid {
                name: "STRIPE_API_BASE",
                message: format!("must be an absolute URL, not {:?}", stripe.api_base),
            });
        }
        let limit = |name: &'static str, default: &str| -> Result<RateLimit, ConfigError> {
            let text = lookup(name).unwrap_or_else(|| default.to_owned());
            RateLimit::parse(&text).ok_or_else(|| ConfigError::Invalid {
                name,
                message: format!("must read like {default} (attempts per period), not {text:?}"),
            })
        };
        let captcha = match (lookup("TURNSTILE_SECRET_KEY"), lookup("HCAPTCHA_SECRET_KEY")) {
            (Some(secret), _) => Some(CaptchaConfig {
                kind: CaptchaKind::Turnstile,
                site_key: lookup("TURNSTILE_SITE_KEY").unwrap_or_default(),
                secret_key: SecretString::from(secret),
                verify_url: lookup("APPEAL_CAPTCHA_VERIFY_URL").unwrap_or_else(|| {
                    "https://challenges.cloudflare.com/turnstile/v0/siteverify".to_owned()
                }),
            }),
            (None, Some(secret)) => Some(CaptchaConfig {
                kind: CaptchaKind::HCaptcha,
                site_key: lookup("HCAPTCHA_SITE_KEY").unwrap_or_default(),
                secret_key: SecretString::from(secret),
                verify_url: lookup("APPEAL_CAPTCHA_VERIFY_URL")
                    .unwrap_or_else(|| "https://api.hcaptcha.com/siteverify".to_owned()),
            }),
            (None, None) => None,
        };
        let count = |name: &'static str, default: usize| -> Result<usize, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(text) => {
                    text.trim().parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| ConfigError::Invalid {
                        name,
                        message: format!("must be a positive whole number, not {text:?}"),
                    })
                }
            }
        };
        let duration =
            |name: &'static str, default_seconds: u64| -> Result<std::time::Duration, ConfigError> {
                match lookup(name) {
                    None => Ok(std::time::Duration::from_secs(default_seconds)),
                    Some(text) => parse_duration(&text)
                        .and_then(|seconds| u64::try_from(seconds).ok())
                        .map(std::time::Duration::from_secs)
                        .ok_or_else(|| ConfigError::Invalid {
                            name,
                            message: format!("must be a duration such as 30s, not {text:?}"),
                        }),
                }
            };
        let forwarded_hops = match lookup("APPEAL_TRUST_FORWARDED_FOR").as_deref().map(str::trim) {
            None | Some("false" | "0") => None,
            Some("true") => Some(1),
            Some(text) => Some(text.parse::<usize>().ok().filter(|&hops| hops > 0).ok_or_else(|| {
                ConfigError::Invalid {
                    name: "APPEAL_TRUST_FORWARDED_FOR",
                    message: format!("must be true, false or how many proxies append to it, not {text:?}"),
                }
            })?),
        };
        let ipv6_prefix = match lookup("APPEAL_IPV6_PREFIX") {
            None => 64,
            Some(text) => {
                text.trim().parse::<u8>().ok().filter(|bits| (32..=128).contains(bits)).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "APPEAL_IPV6_PREFIX",
                        message: format!("must be a prefix length from 32 to 128, not {text:?}"),
                    }
                })?
            }
        };
        let max_streams_per_ip = count("APPEAL_MAX_STREAMS_PER_IP", crate::live::DEFAULT_MAX_STREAMS_PER_IP)?;
        let defence = DefenceConfig {
            checkout_limit_per_ip: limit("APPEAL_CHECKOUT_LIMIT_IP", "10/10m")?,
            checkout_limit_per_email: limit("APPEAL_CHECKOUT_LIMIT_EMAIL", "5/1h")?,
            captcha,
            forwarded_hops,
            ipv6_prefix,
            max_streams_per_ip,
            max_streams: count("APPEAL_MAX_STREAMS", crate::live::DEFAULT_MAX_STREAMS)?,
            max_connections: count("APPEAL_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)?,
            header_timeout: duration("APPEAL_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT_SECONDS)?,
            export_stall: duration("APPEAL_EXPORT_STALL_TIMEOUT", DEFAULT_EXPORT_STALL_SECONDS)?,
        };
        let drain = duration("APPEAL_DRAIN_TIME", DEFAULT_DRAIN_SECONDS)?;
        let webhook_timeout = duration("APPEAL_WEBHOOK_TIMEOUT", DEFAULT_WEBHOOK_TIMEOUT_SECONDS)?;
        // At most once a second, whatever is written.
        let remote_every = duration("APPEAL_REMOTE_EVERY", DEFAULT_REMOTE_EVERY_SECONDS)?
            .max(std::time::Duration::from_secs(1));
        // Stripe's recommended Smart Retries policy: 8 tries within 2 weeks.
        let payment_tries = count("APPEAL_PAYMENT_TRIES", 8)?;
        let site = SiteConfig {
            organization: lookup("APPEAL_ORG_NAME").unwrap_or_else(|| "appeal".to_owned()),
            organization_details: lookup("APPEAL_ORG_DETAILS").unwrap_or_default(),
            hold_messages: match lookup("APPEAL_HOLD_MESSAGES").as_deref().map(str::trim) {
                None | Some("" | "false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "APPEAL_HOLD_MESSAGES",
                        message: format!("must be true or false, not {other:?}"),
                    });
                }
            },
        };
        let mail = MailConfig {
            smtp_url: lookup("SMTP_URL").map(SecretString::from),
            from: lookup("APPEAL_MAIL_FROM")
                .unwrap_or_else(|| format!("{} <noreply@localhost>", site.organization)),
            outbox_dir: lookup("APPEAL_MAIL_DIR").unwrap_or_else(|| "mail-outbox".to_owned()).into(),
        };
        let mut setup_warnings = Vec::new();
        if !bind.ip().is_loopback() && lookup("APPEAL_PUBLIC_URL").is_none() {
            setup_warnings.push(SetupWarning::PublicUrl { bind });
        }
        if mail.smtp_url.is_none() {
            setup_warnings.push(SetupWarning::NoSmtp { outbox: mail.outbox_dir.clone() });
        }
        if lookup("APPEAL_MAIL_FROM").is_none() {
            setup_warnings.push(SetupWarning::DefaultSender { from: mail.from.clone() });
        }
        let timezone_name = lookup("APPEAL_TIMEZONE").unwrap_or_else(|| "UTC".to_owned());
        let timezone = timezone_name.trim().parse::<chrono_tz::Tz>().map_err(|_| ConfigError::Invalid {
            name: "APPEAL_TIMEZONE",
            message: format!("must be an IANA time zone such as America/Toronto, not {timezone_name:?}"),
        })?;
        Ok(Config {
            setup_warnings,
            demo: false,
            drain,
            webhook_timeout,
            remote_every,
            payment_tries,
            timezone,
            site,
            mail,
            defence,
            stripe,
            database_url,
            bind,
            public_url,
            log_filter: lookup("APPEAL_LOG").unwrap_or_else(|| "info,sqlx=error".to_owned()),
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
            .field("site", &self.site)
            .field("timezone", &self.timezone)
            .field("mail", &self.mail)
            .field("defence", &self.defence)
            .finish()
    }
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "[hidden]"))
            .field("from", &self.from)
            .field("outbox_dir", &self.outbox_dir)
            .finish()
    }
}

impl fmt::Debug for CaptchaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptchaConfig")
            .field("kind", &self.kind)
            .field("site_key", &self.site_key)
            .field("secret_key", &"[hidden]")
            .field("verify_url", &self.verify_url)
            .finish()
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[hidden]")
            .field("webhook_secrets", &format!("[{} hidden]", self.webhook_secrets.len()))
            .field("api_base", &self.api_base)
            .field("reconcile_every", &self.reconcile_every)
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
    fn a_first_install_is_told_what_is_left_to_set() {
        let warnings: Vec<String> = config(&[("APPEAL_BIND", "0.0.0.0:8080")])
            .expect("valid")
            .setup_warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("APPEAL_PUBLIC_URL") && warnings[0].contains("0.0.0.0:8080"));
        assert!(warnings[1].contains("SMTP_URL") && warnings[1].contains("mail-outbox"));
        assert!(warnings[2].contains("APPEAL_MAIL_FROM") && warnings[2].contains("noreply@localhost"));
        let loopback = config(&[]).expect("valid").setup_warnings;
        assert!(
            !loopback.iter().any(|warning| matches!(warning, SetupWarning::PublicUrl { .. })),
            "on loopback the default is right"
        );
        let live = config(&[
            ("APPEAL_BIND", "0.0.0.0:8080"),
            ("APPEAL_PUBLIC_URL", "https://give.example.org"),
            ("SMTP_URL", "smtp://mail.example.org:587"),
            ("APPEAL_MAIL_FROM", "Dons <dons@example.org>"),
        ]);
        assert!(live.expect("valid").setup_warnings.is_empty());
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
    fn rate_limits_read_like_people_write_them() {
        assert_eq!(RateLimit::parse("10/10m"), Some(RateLimit { count: 10, period_seconds: 600 }));
        assert_eq!(RateLimit::parse("5/h"), Some(RateLimit { count: 5, period_seconds: 3600 }));
        assert_eq!(RateLimit::parse("0/1m"), None);
        assert_eq!(RateLimit::parse("ten per minute"), None);
        let config = config(&[]).expect("defaults");
        assert_eq!(config.defence.checkout_limit_per_ip, RateLimit { count: 10, period_seconds: 600 });
        let error = self::config(&[("APPEAL_CHECKOUT_LIMIT_IP", "lots")]).expect_err("invalid");
        assert!(error.to_string().starts_with("APPEAL_CHECKOUT_LIMIT_IP"));
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("72h"), Some(259_200));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("90m"), Some(5_400));
        assert_eq!(parse_duration("72"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("0h"), None);
    }

    #[test]
    fn serve_reconciles_hourly_unless_told_otherwise() {
        let with_stripe = [("STRIPE_SECRET_KEY", "sk_test_x")];
        let every = |extra: &[(&str, &str)]| {
            let vars: Vec<(&str, &str)> = with_stripe.iter().chain(extra).copied().collect();
            config(&vars).expect("valid").stripe.expect("stripe").reconcile_every
        };
        assert_eq!(every(&[]), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(every(&[("APPEAL_RECONCILE_EVERY", "15m")]), Some(std::time::Duration::from_secs(900)));
        assert_eq!(every(&[("APPEAL_RECONCILE_EVERY", "off")]), None);
        let error =
            config(&[("STRIPE_SECRET_KEY", "sk"), ("APPEAL_RECONCILE_EVERY", "often")]).expect_err("bad");
        assert!(error.to_string().starts_with("APPEAL_RECONCILE_EVERY"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config(&[("APPEAL_BIND", "nowhere")]).expect_err("invalid bind");
        assert!(error.to_string().starts_with("APPEAL_BIND"));
        let error = config(&[("DATABASE_URL", "mysql://x")]).expect_err("unsupported engine");
        assert!(error.to_string().starts_with("DATABASE_URL"));
    }
}
