//! The fuzz suite: property tests on every parser that takes outside input, and generated
//! bodies sent to every JSON endpoint and mutated Stripe events sent to the webhook.
//!
//! Runs are seeded and so repeatable: `APPEAL_FUZZ_SEED` explores other inputs and
//! `APPEAL_FUZZ_CASES` scales how many (the defaults keep the suite to seconds).

mod http;
mod parsers;
mod webhooks;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

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

/// Something to put where a field was: another type, an extreme number, deep nesting.
pub fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!(-0.5)),
        ".{0,12}".prop_map(Value::from),
        Just(json!({})),
        Just(json!([])),
        (1_usize..100).prop_map(|depth| (0..depth).fold(json!(1), |inner, _| json!([inner]))),
    ]
}

/// Replaces the `pick`-th node of `value` (in document order) with `with`, or removes it from
/// its object when `with` is `None`.
pub fn mutate(value: &mut Value, pick: &mut usize, with: &Option<Value>) -> bool {
    let children: Vec<&mut Value> = match value {
        Value::Object(map) => map.values_mut().collect(),
        Value::Array(items) => items.iter_mut().collect(),
        _ => return false,
    };
    for child in children {
        if *pick == 0 {
            *child = with.clone().unwrap_or(Value::Null);
            return true;
        }
        *pick -= 1;
        if mutate(child, pick, with) {
            return true;
        }
    }
    false
}

/// Removes the key `pick` (modulo the keys of the top object) from `value`.
pub fn remove_key(value: &mut Value, pick: usize) {
    if let Value::Object(map) = value
        && !map.is_empty()
    {
        let key = map.keys().nth(pick % map.len()).cloned().unwrap_or_default();
        map.remove(&key);
    }
}
