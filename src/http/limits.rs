//! Rate limits that an attacker can neither sidestep nor grow: clients are counted by their
//! address (an IPv6 client by its network, a /64 by default, since one household or one
//! server holds billions of addresses), keys are checked before they are counted, and every
//! table of counters is bounded, evicting its oldest windows in constant time.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// How many keys one limiter remembers at most. Past it the oldest window is forgotten: a
/// flood of new keys costs the flooder, not the memory.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The longest key a limiter takes (an e-mail address is at most 254 characters).
pub const MAX_KEY_BYTES: usize = 254;

/// The part of an address a limit counts: IPv4 whole, IPv6 by its first `ipv6_prefix` bits.
pub fn address_key(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u32::from(ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// Fixed-window counters per key, in this instance's memory, bounded.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    capacity: usize,
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    /// Each key's window: when it started and how many it has counted.
    counts: HashMap<String, (Instant, u32)>,
    /// Keys in the order their windows started; an entry is stale once its key's window
    /// started again (or was forgotten).
    order: VecDeque<(String, Instant)>,
}

impl Windows {
    /// Forgets the oldest windows until one more fits.
    fn make_room(&mut self, capacity: usize) {
        while self.counts.len() >= capacity {
            let Some((key, started)) = self.order.pop_front() else { return };
            if self.counts.get(&key).is_some_and(|(start, _)| *start == started) {
                self.counts.remove(&key);
            }
        }
    }

    /// Starts a new window for `key`.
    fn start(&mut self, key: &str, now: Instant) {
        self.counts.insert(key.to_owned(), (now, 0));
        self.order.push_back((key.to_owned(), now));
        // Renewed windows leave stale entries behind: drop them now and then, which costs
        // one pass for as many renewals as the table holds.
        if self.order.len() > 2 * self.counts.len().max(1) + 16 {
            let counts = &self.counts;
            self.order.retain(|(key, started)| counts.get(key).is_some_and(|(start, _)| start == started));
        }
    }
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(limit: RateLimit, capacity: usize) -> Self {
        RateLimiter { limit, capacity: capacity.max(1), windows: Mutex::default() }
    }

    fn period(&self) -> Duration {
        Duration::from_secs(self.limit.period_seconds)
    }

    /// The seconds to wait when `key` is at its limit now, without counting an attempt.
    pub fn blocked(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let windows = self.windows.lock().ok()?;
        let (start, count) = windows.counts.get(key)?;
        let waited = now.duration_since(*start);
        (waited < self.period() && *count >= self.limit.count)
            .then(|| self.period().saturating_sub(waited).as_secs().max(1))
    }

    /// Counts one attempt for `key`; refuses with the seconds to wait once over the limit.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let period = self.period();
        let mut windows = self.windows.lock().map_err(|_| self.limit.period_seconds)?;
        let expired = match windows.counts.get(key) {
            None => {
                windows.make_room(self.capacity);
                true
            }
            Some((start, _)) => now.duration_since(*start) >= period,
        };
        if expired {
            windows.start(key, now);
        }
        let window = windows.counts.get_mut(key).expect("started just above");
        if window.1 >= self.limit.count {
            let waited = now.duration_since(window.0);
            return Err(period.saturating_sub(waited).as_secs().max(1));
        }
        window.1 += 1;
        Ok(())
    }

    /// Forgets `key`'s count (a sign-in that succeeded).
    pub fn clear(&self, key: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.counts.remove(key);
        }
    }

    /// How many keys it remembers now.
    pub fn len(&self) -> usize {
        self.windows.lock().map(|windows| windows.counts.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        limiter.clear("a");
        assert_eq!(limiter.hit("a"), Ok(()), "a cleared key starts again");
    }

    #[test]
    fn a_hundred_thousand_keys_stay_within_the_bound() {
        let limiter = RateLimiter::with_capacity(RateLimit { count: 5, period_seconds: 600 }, 1_000);
        for n in 0..100_000 {
            let _ = limiter.hit(&format!("key-{n}"));
            assert!(limiter.len() <= 1_000, "at {n}: {}", limiter.len());
        }
        assert_eq!(limiter.len(), 1_000);
        // The newest keys are remembered, the oldest forgotten.
        assert!(limiter.windows.lock().expect("lock").counts.contains_key("key-99999"));
        assert!(!limiter.windows.lock().expect("lock").counts.contains_key("key-0"));
        assert!(limiter.windows.lock().expect("lock").order.len() <= 2 * 1_000 + 16);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("an address");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
        assert_eq!(address_key(a, 64), address_key(b, 64));
        assert_ne!(address_key(a, 64), address_key(other, 64));
        assert_eq!(address_key(a, 64).to_string(), "2001:db8:1:2::");
        assert_eq!(address_key(a, 128), a);
        let v4: IpAddr = "203.0.113.7".parse().expect("an address");
        assert_eq!(address_key(v4, 64), v4);
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().expect("an address");
        assert_eq!(address_key(mapped, 64), v4);
    }
}
