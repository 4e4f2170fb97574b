//! Card-testing defence on starting a checkout: a honeypot field, per-address and per-email
//! rate limits (429 with Retry-After), and a captcha checked on the server when configured.
//! Every refusal is counted (see /metrics) and logged, so an attack shows.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use secrecy::ExposeSecret;

use super::limits::{MAX_KEY_BYTES, RateLimiter, address_key};
use crate::config::{CaptchaConfig, CaptchaKind, DefenceConfig, RateLimit};
use crate::ledger::validation::parse_email;

/// Why a checkout attempt was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    RateLimited { retry_after_seconds: u64 },
    Honeypot,
    Captcha,
}

/// Refusals and starts, for /metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub checkouts_started: AtomicU64,
    pub rate_limited: AtomicU64,
    pub honeypot: AtomicU64,
    pub captcha: AtomicU64,
}

#[derive(Debug)]
pub struct Defence {
    per_ip: RateLimiter,
    per_email: RateLimiter,
    captcha: Option<CaptchaConfig>,
    /// Behind proxies: how many of the last X-Forwarded-For addresses they added.
    forwarded_hops: Option<usize>,
    ipv6_prefix: u8,
    http: reqwest::Client,
    pub counters: Counters,
}

impl Defence {
    pub fn new(config: &DefenceConfig) -> Self {
        Defence {
            per_ip: RateLimiter::new(config.checkout_limit_per_ip),
            per_email: RateLimiter::new(config.checkout_limit_per_email),
            captcha: config.captcha.clone(),
            forwarded_hops: config.forwarded_hops,
            ipv6_prefix: config.ipv6_prefix,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
            counters: Counters::default(),
        }
    }

    pub fn captcha(&self) -> Option<&CaptchaConfig> {
        self.captcha.as_ref()
    }

    /// The client's address: the connection's or, behind `hops` trusted proxies, the address
    /// that many places from the right of X-Forwarded-For (every header line, in order): each
    /// proxy appends the address it saw, so only the last `hops` entries can be trusted.
    pub fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        let Some(hops) = self.forwarded_hops else {
            return peer.ip();
        };
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        forwarded
            .len()
            .checked_sub(hops)
            .and_then(|index| forwarded[index].parse().ok())
            .unwrap_or_else(|| peer.ip())
    }

    /// What per-address limits count a client by: an IPv6 client by its network.
    pub fn limit_key(&self, ip: IpAddr) -> IpAddr {
        address_key(ip, self.ipv6_prefix)
    }

    /// Checks one attempt to start a checkout, honeypot first, then the limits, then the captcha.
    pub async fn check_checkout(
        &self,
        ip: IpAddr,
        email: Option<&str>,
        honeypot: Option<&str>,
        captcha_token: Option<&str>,
    ) -> Result<(), Rejection> {
        if honeypot.is_some_and(|value| !value.trim().is_empty()) {
            self.counters.honeypot.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%ip, reason = "honeypot", "checkout refused");
            return Err(Rejection::Honeypot);
        }
        // Only an address that could be one is counted: anything else is refused by the
        // checkout's own checks, and must not fill the table.
        let email = email.and_then(|email| parse_email(email).ok());
        let limited = self.per_ip.hit(&self.limit_key(ip).to_string()).and_then(|()| match &email {
            Some(email) => self.per_email.hit(&email.to_lowercase()),
            None => Ok(()),
        });
        if let Err(retry_after_seconds) = limited {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%ip, reason = "rate_limited", retry_after_seconds, "checkout refused");
            return Err(Rejection::RateLimited { retry_after_seconds });
        }
        if let Some(captcha) = &self.captcha
            && !self.verify_captcha(captcha, ip, captcha_token).await
        {
            self.counters.captcha.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%ip, reason = "captcha", "checkout refused");
            return Err(Rejection::Captcha);
        }
        self.counters.checkouts_started.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counts one request for a self-service link against the same per-address and
    /// per-email limits as checkouts, without the honeypot and captcha of the donation form
    /// (the page has neither), so that it counts no refusal of theirs.
    pub fn check_manage(&self, ip: IpAddr, email: &str) -> Result<(), Rejection> {
        let email = parse_email(email).ok();
        let limited = self.per_ip.hit(&self.limit_key(ip).to_string()).and_then(|()| match &email {
            Some(email) => self.per_email.hit(&email.to_lowercase()),
            None => Ok(()),
        });
        limited.map_err(|retry_after_seconds| {
            tracing::warn!(%ip, reason = "rate_limited", retry_after_seconds, "self-service link refused");
            Rejection::RateLimited { retry_after_seconds }
        })
    }

    async fn verify_captcha(&self, captcha: &CaptchaConfig, ip: IpAddr, token: Option<&str>) -> bool {
        let Some(token) = token.filter(|token| !token.trim().is_empty()) else {
            return false;
        };
        let ip = ip.to_string();
        let form =
            [("secret", captcha.secret_key.expose_secret()), ("response", token), ("remoteip", ip.as_str())];
        let answer = self.http.post(&captcha.verify_url).form(&form).send().await;
        match answer {
            Ok(response) => match response.json::<serde_json::Value>().await {
                Ok(body) => body.get("success").and_then(serde_json::Value::as_bool).unwrap_or(false),
                Err(error) => {
                    tracing::error!(%error, "the captcha service answered something unreadable");
                    false
                }
            },
            Err(error) => {
                tracing::error!(%error, "the captcha service cannot be reached");
                false
            }
        }
    }
}

/// Sign-in throttling: failed attempts per address (twenty in fifteen minutes), and per
/// account (five wrong passwords lock its sign-in for fifteen minutes, whoever tries). An
/// attempt counts as failed before its password is checked, so that many tried at once
/// cannot all slip under the limits; a sign-in that succeeds clears both counts.
#[derive(Debug)]
pub struct LoginThrottle {
    failures_per_ip: RateLimiter,
    failures_per_email: RateLimiter,
    /// Throttled attempts are written to the audit log once a minute per address at most, so
    /// that a flood of them cannot flood the log.
    throttled_reports: RateLimiter,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            failures_per_ip: RateLimiter::new(RateLimit { count: 20, period_seconds: 900 }),
            failures_per_email: RateLimiter::new(RateLimit { count: 5, period_seconds: 900 }),
            throttled_reports: RateLimiter::new(RateLimit { count: 1, period_seconds: 60 }),
        }
    }
}

impl LoginThrottle {
    /// Counts a sign-in attempt as failed until it succeeds; the seconds to wait when it may
    /// not be tried now. `ip` is the client's limit key.
    pub fn attempt(&self, ip: IpAddr, email: &str) -> Result<(), u64> {
        let email = Self::email_key(email);
        if let Some(wait) = email.as_deref().and_then(|email| self.failures_per_email.blocked(email)) {
            return Err(wait);
        }
        self.failures_per_ip.hit(&ip.to_string())?;
        if let Some(email) = &email {
            self.failures_per_email.hit(email)?;
        }
        Ok(())
    }

    /// Whether a throttled attempt from `ip` is to be written to the audit log now.
    pub fn report_throttled(&self, ip: IpAddr) -> bool {
        self.throttled_reports.hit(&ip.to_string()).is_ok()
    }

    /// The attempt was right after all.
    pub fn succeeded(&self, ip: IpAddr, email: &str) {
        self.failures_per_ip.clear(&ip.to_string());
        if let Some(email) = Self::email_key(email) {
            self.failures_per_email.clear(&email);
        }
    }

    /// An account is counted by its e-mail, which is at most 254 characters.
    fn email_key(email: &str) -> Option<String> {
        let email = email.trim();
        (!email.is_empty() && email.len() <= MAX_KEY_BYTES).then(|| email.to_lowercase())
    }
}

/// What a page needs to show the captcha widget.
pub fn captcha_widget(captcha: &CaptchaConfig) -> (&'static str, &'static str) {
    match captcha.kind {
        CaptchaKind::Turnstile => ("cf-turnstile", "https://challenges.cloudflare.com/turnstile/v0/api.js"),
        CaptchaKind::HCaptcha => ("h-captcha", "https://js.hcaptcha.com/1/api.js"),
    }
}
