//! Signatures of outgoing webhooks, as the Standard Webhooks specification has them:
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, under a secret
//! written `whsec_<base64 key>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: 32 random bytes, `whsec_` and base64.
pub fn new_secret() -> String {
    let mut key = [0_u8; 32];
    getrandom::fill(&mut key).expect("the operating system provides randomness");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` value of one message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    // Our own secrets are always base64; any other key is used as it is written.
    let key = STANDARD.decode(encoded).unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks reference implementations: a
    /// receiver's library verifies what we sign only if this comes out exactly.
    #[test]
    fn the_specifications_test_vector_is_reproduced() {
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#,
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn new_secrets_are_prefixed_random_keys() {
        let one = new_secret();
        let two = new_secret();
        assert!(one.starts_with("whsec_"));
        assert_ne!(one, two);
        let key = STANDARD.decode(one.trim_start_matches("whsec_")).expect("base64");
        assert_eq!(key.len(), 32);
    }
}
