//! Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, an
//! HMAC-SHA256 of `"{t}.{body}"` under the endpoint's secret, within a tolerance of 300 s.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How old a signed delivery may be, in seconds.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the 300-second tolerance")]
    Stale,
    #[error("no signature matches the webhook secret")]
    Mismatch,
}

/// Checks `header` over `body` against every secret (several during a rotation).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(decode_hex(value).ok_or(SignatureError::Malformed)?),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // Checked: a timestamp far from now (t=-9223372036854775808) is stale, not an overflow.
    if now.checked_sub(timestamp).and_then(i64::checked_abs).is_none_or(|age| age > TOLERANCE_SECONDS) {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        if signatures.iter().any(|signature| mac.clone().verify_slice(signature).is_ok()) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::hex;

    fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    }

    fn secrets(values: &[&str]) -> Vec<SecretString> {
        values.iter().map(|value| SecretString::from(value.to_string())).collect()
    }

    #[test]
    fn a_good_signature_passes_with_any_of_the_secrets() {
        let body = br#"{"id":"evt_1"}"#;
        let header = format!("t=1000,v1={}", sign("whsec_new", 1000, body));
        assert_eq!(verify(Some(&header), body, &secrets(&["whsec_old", "whsec_new"]), 1100), Ok(()));
        let two = format!("t=1000,v1={},v1={}", sign("whsec_x", 1000, body), sign("whsec_old", 1000, body));
        assert_eq!(verify(Some(&two), body, &secrets(&["whsec_old"]), 1000), Ok(()));
    }

    #[test]
    fn bad_signatures_are_refused_for_a_reason() {
        let body = br#"{"id":"evt_1"}"#;
        let good = format!("t=1000,v1={}", sign("whsec_a", 1000, body));
        let secrets = secrets(&["whsec_a"]);
        assert_eq!(verify(None, body, &secrets, 1000), Err(SignatureError::Missing));
        assert_eq!(verify(Some("nonsense"), body, &secrets, 1000), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=1000"), body, &secrets, 1000), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&good), body, &secrets, 1000 + 600), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&good), br#"{"id":"evt_2"}"#, &secrets, 1000), Err(SignatureError::Mismatch));
        let wrong = format!("t=1000,v1={}", sign("whsec_b", 1000, body));
        assert_eq!(verify(Some(&wrong), body, &secrets, 1000), Err(SignatureError::Mismatch));
    }
}
