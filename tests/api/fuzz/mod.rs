//! The fuzz suite: property tests on every parser that takes outside input, and generated
//! bodies sent to every JSON endpoint and mutated Stripe events sent to the webhook.
//!
//! Runs are seeded and so repeatable: `APPEAL_FUZZ_SEED` explores other inputs and
//! `APPEAL_FUZZ_CASES` scales how many (the defaults keep the suite to seconds).

// mod http;
mod parsers;
// mod webhooks;

use proptest::test_runner::{Config, RngSeed};

/// The seed every generator starts from.
pub fn seed() -> u64 {
    std::env::var("APPEAL_FUZZ_SEED").ok().and_then(|text| text.parse().ok()).unwrap_or(0x00a9_9ea1)
}

/// `cases` scaled by `APPEAL_FUZZ_CASES` (a multiplier, default 1).
pub fn cases(cases: u32) -> u32 {
    let scale: u32 = std::env::var("APPEAL_FUZZ_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(1);
    cases.saturating_mul(scale.max(1))
}

/// A property test's configuration: seeded, no regression files, `cases` cases.
pub fn config(cases_wanted: u32) -> Config {
    Config {
        cases: cases(cases_wanted),
        rng_seed: RngSeed::Fixed(seed()),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Stripe's own example objects for the types appeal reads (from its API fixtures).
pub fn stripe_objects() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(include_str!("stripe_objects.json")) {
        Ok(serde_json::Value::Object(objects)) => objects,
        _ => panic!("stripe_objects.json holds an object of objects"),
    }
}
