//! Card-testing defence on starting a checkout: a honeypot field, per-address and per-email
//! rate limits (429 with Retry-After), and a captcha checked on the server when configured.
//! Every refusal is counted (see /metrics) and logged, so an attack shows.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use secrecy::ExposeSecret;

use crate::config::{CaptchaConfig, CaptchaKind, DefenceConfig, RateLimit};

/// Why a checkout attempt was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    RateLimited { retry_after_seconds: u64 },
    Honeypot,
    Captcha,
}

/// Fixed-window counters per key, in this instance's memory.
#[derive(Debug)]
struct RateLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    fn new(limit: RateLimit) -> Self {
        RateLimiter { limit, windows: Mutex::default() }
    }

    /// The seconds to wait when `key` is at its limit now, without counting an attempt.
    fn blocked(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let period = Duration::from_secs(self.limit.period_seconds);
        let windows = self.windows.lock().ok()?;
        let (start, count) = windows.get(key)?;
        let waited = now.duration_since(*start);
        (waited < period && *count >= self.limit.count)
            .then(|| period.saturating_sub(waited).as_secs().max(1))
    }

    /// Counts one attempt for `key`; refuses with the seconds to wait once over the limit.
    fn hit(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let period = Duration::from_secs(self.limit.period_seconds);
        let mut windows = self.windows.lock().map_err(|_| self.limit.period_seconds)?;
        if windows.len() > 50_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < period);
        }
        let window = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(window.0) >= period {
            *window = (now, 0);
        }
        if window.1 >= self.limit.count {
            let waited = now.duration_since(window.0);
            return Err(period.saturating_sub(waited).as_secs().max(1));
        }
        window.1 += 1;
        Ok(())
    }
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
    trust_forwarded_for: bool,
    http: reqwest::Client,
    pub counters: Counters,
}

impl Defence {
    pub fn new(config: &DefenceConfig) -> Self {
        Defence {
            per_ip: RateLimiter::new(config.checkout_limit_per_ip),
            per_email: RateLimiter::new(config.checkout_limit_per_email),
            captcha: config.captcha.clone(),
            trust_forwarded_for: config.trust_forwarded_for,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
            counters: Counters::default(),
        }
    }

    pub fn captcha(&self) -> Option<&CaptchaConfig> {
        self.captcha.as_ref()
    }

    /// The client's address: the connection's, or behind a trusted proxy the last address
    /// the proxy added to X-Forwarded-For.
    pub fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        if self.trust_forwarded_for
            && let Some(forwarded) = headers.get("x-forwarded-for").and_then(|value| value.to_str().ok())
            && let Some(ip) = forwarded.rsplit(',').next().and_then(|last| last.trim().parse().ok())
        {
            return ip;
        }
        peer.ip()
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
        let limited = self.per_ip.hit(&ip.to_string()).and_then(|()| match email {
            Some(email) if !email.trim().is_empty() => self.per_email.hit(&email.trim().to_lowercase()),
            _ => Ok(()),
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

/// Sign-in throttling: attempts per address, and failures per email (a wrong password five
/// times locks that account's sign-in for fifteen minutes, whoever tries).
#[derive(Debug)]
pub struct LoginThrottle {
    per_ip: RateLimiter,
    failures_per_email: RateLimiter,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            per_ip: RateLimiter::new(RateLimit { count: 20, period_seconds: 900 }),
            failures_per_email: RateLimiter::new(RateLimit { count: 5, period_seconds: 900 }),
        }
    }
}

impl LoginThrottle {
    /// Counts a sign-in attempt; the seconds to wait when it may not be tried now.
    pub fn attempt(&self, ip: IpAddr, email: &str) -> Result<(), u64> {
        if let Some(wait) = self.failures_per_email.blocked(&email.trim().to_lowercase()) {
            return Err(wait);
        }
        self.per_ip.hit(&ip.to_string())
    }

    pub fn failed(&self, email: &str) {
        let _ = self.failures_per_email.hit(&email.trim().to_lowercase());
    }
}

/// What a page needs to show the captcha widget.
pub fn captcha_widget(captcha: &CaptchaConfig) -> (&'static str, &'static str) {
    match captcha.kind {
        CaptchaKind::Turnstile => ("cf-turnstile", "https://challenges.cloudflare.com/turnstile/v0/api.js"),
        CaptchaKind::HCaptcha => ("h-captcha", "https://js.hcaptcha.com/1/api.js"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_refuses_past_its_count_and_says_how_long_to_wait() {
        let limiter = RateLimiter::new(RateLimit { count: 2, period_seconds: 600 });
        assert_eq!(limiter.hit("a"), Ok(()));
        assert_eq!(limiter.hit("a"), Ok(()));
        let wait = limiter.hit("a").expect_err("over the limit");
        assert!((590..=600).contains(&wait), "{wait}");
        assert_eq!(limiter.hit("b"), Ok(()), "other keys are counted apart");
    }
}
