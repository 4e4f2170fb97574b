//! How requests reach Stripe's API: reqwest, over connections kept open between calls.
//!
//! async-stripe's own client builds its hyper client with no idle connections kept, so
//! every call to Stripe (one per webhook event, at least) opened a new TCP connection and
//! made a new TLS handshake. This transport sends the same requests (the typed builders
//! still make them: path, query, form body) with the same headers, retries as the request's
//! strategy says (`Stripe-Should-Retry`, the idempotency key), and answers with the same
//! errors, through a pool of kept-alive connections.

use axum::body::Bytes;
use stripe::StripeError;
use stripe_client_core::{CustomizedStripeRequest, Outcome, RequestStrategy, StripeClient, StripeMethod};

/// Sent as `User-Agent`, as async-stripe's client does.
const USER_AGENT: &str = concat!("Stripe/v1 RustBindings/appeal-", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Debug)]
pub struct Transport {
    http: reqwest::Client,
    /// Ends with `/`.
    api_base: String,
    authorization: String,
    strategy: RequestStrategy,
}

impl Transport {
    pub fn new(secret_key: &str, api_base: &str, strategy: RequestStrategy) -> Result<Self, StripeError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .timeout(std::time::Duration::from_secs(80))
            .build()
            .map_err(|error| StripeError::ConfigError(error.to_string()))?;
        let api_base = if api_base.ends_with('/') { api_base.to_owned() } else { format!("{api_base}/") };
        Ok(Transport { http, api_base, authorization: format!("Bearer {secret_key}"), strategy })
    }

    async fn attempt(&self, request: &reqwest::Request) -> Result<(u16, Option<bool>, Bytes), StripeError> {
        let request = request
            .try_clone()
            .ok_or_else(|| StripeError::ClientError("a request that cannot be sent twice".into()))?;
        let response = self.http.execute(request).await.map_err(client_error)?;
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let body = response.bytes().await.map_err(client_error)?;
        Ok((status, retry, body))
    }
}

fn client_error(error: reqwest::Error) -> StripeError {
    if error.is_timeout() { StripeError::Timeout } else { StripeError::ClientError(error.to_string()) }
}

impl StripeClient for Transport {
    type Err = StripeError;

    async fn execute(&self, request: CustomizedStripeRequest) -> Result<Bytes, StripeError> {
        let (request, config) = request.into_pieces();
        let mut url = format!("{}v1{}", self.api_base, request.path);
        if let Some(query) = &request.query {
            url.push('?');
            url.push_str(query);
        }
        let method = match request.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let strategy = config.request_strategy.unwrap_or_else(|| self.strategy.clone());
        let mut builder = self
            .http
            .request(method, url)
            .header("authorization", &self.authorization)
            .header("stripe-version", stripe_client_core::VERSION.as_str());
        if let Some(account) = &config.account_id {
            builder = builder.header("stripe-account", account.as_str());
        }
        if let Some(key) = strategy.get_key() {
            builder = builder.header("idempotency-key", key.as_str());
        }
        if let Some(timeout) = config.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(body) = request.body {
            builder = builder.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let prepared = builder.build().map_err(client_error)?;

        let mut tries = 0;
        let (mut last_status, mut last_retry) = (None, None);
        let mut last_error = StripeError::ClientError("invalid strategy".into());
        loop {
            match strategy.test(last_status, last_retry, tries) {
                Outcome::Stop => return Err(last_error),
                Outcome::Continue(pause) => {
                    if let Some(pause) = pause {
                        tokio::time::sleep(pause).await;
                    }
                }
            }
            tries += 1;
            let (status, retry, body) = match self.attempt(&prepared).await {
                Ok(answer) => answer,
                Err(error) => {
                    last_error = error;
                    continue;
                }
            };
            if (200..300).contains(&status) {
                return Ok(body);
            }
            let text = std::str::from_utf8(&body)
                .map_err(|_| StripeError::JSONDeserialize("Response was not valid UTF-8".into()))?;
            last_error = miniserde::json::from_str::<stripe_shared::Error>(text)
                .map(|error| StripeError::Stripe(error.error, status))
                .unwrap_or_else(|_| StripeError::JSONDeserialize("error deserializing Stripe error".into()));
            last_status = Some(status);
            last_retry = retry;
        }
    }
}
