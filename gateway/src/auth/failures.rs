//! Failed authentications by address: counted for `/metrics`, logged with the peer, and
//! answered more slowly as they repeat (a guesser from one address gets one try per few
//! seconds), in memory bounded by [`MAX_TRACKED`] addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Failures an address may have before answers to it slow down.
const FREE_FAILURES: u32 = 3;
/// The longest an answer to a failing address waits.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// An address's failures are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(300);
/// Addresses tracked at most; beyond, the quietest are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Failures per address, and totals per listener.
#[derive(Default)]
pub struct Failures {
    by_address: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    pub http: AtomicU64,
    pub kafka: AtomicU64,
    pub successes: AtomicU64,
}

impl Failures {
    /// Records a failure from `address`; answers how long to wait before answering it.
    pub fn failed(&self, address: Option<IpAddr>, kafka: bool) -> Duration {
        let counter = if kafka { &self.kafka } else { &self.http };
        counter.fetch_add(1, Ordering::Relaxed);
        let Some(address) = address else {
            return Duration::ZERO;
        };
        let Ok(mut tracked) = self.by_address.lock() else {
            return MAX_DELAY;
        };
        let now = Instant::now();
        if tracked.len() >= MAX_TRACKED && !tracked.contains_key(&address) {
            tracked.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
            if tracked.len() >= MAX_TRACKED {
                // Still full: forget the oldest half.
                let mut lasts: Vec<Instant> = tracked.values().map(|(_, last)| *last).collect();
                lasts.sort();
                let cut = lasts[lasts.len() / 2];
                tracked.retain(|_, (_, last)| *last > cut);
            }
        }
        let entry = tracked.entry(address).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        delay(entry.0)
    }

    /// Records a success from `address`: its failures are forgotten.
    pub fn succeeded(&self, address: Option<IpAddr>) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        if let (Some(address), Ok(mut tracked)) = (address, self.by_address.lock()) {
            tracked.remove(&address);
        }
    }
}

/// The wait after the `count`-th failure in a row: none for the first few, then
/// doubling from 250 ms up to [`MAX_DELAY`].
fn delay(count: u32) -> Duration {
    if count <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES - 1).min(8);
    (Duration::from_millis(250) * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_slow_down_and_a_success_forgets_them() {
        let failures = Failures::default();
        let address: Option<IpAddr> = "10.1.2.3".parse().ok();
        let waits: Vec<Duration> = (0..8).map(|_| failures.failed(address, false)).collect();
        assert_eq!(waits[..3], [Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(250));
        assert_eq!(waits[4], Duration::from_millis(500));
        assert_eq!(waits[6], Duration::from_secs(2));
        assert_eq!(waits[7], Duration::from_secs(4));
        assert_eq!(failures.failed(address, true), MAX_DELAY);
        assert_eq!(failures.failed(address, true), MAX_DELAY);
        assert_eq!(failures.http.load(Ordering::Relaxed), 8);
        assert_eq!(failures.kafka.load(Ordering::Relaxed), 2);
        // Another address is not slowed by this one.
        assert_eq!(
            failures.failed("10.9.9.9".parse().ok(), false),
            Duration::ZERO
        );
        failures.succeeded(address);
        assert_eq!(failures.failed(address, false), Duration::ZERO);
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let failures = Failures::default();
        for n in 0..(MAX_TRACKED as u32 + 500) {
            failures.failed(Some(IpAddr::from(n.to_be_bytes())), false);
        }
        let tracked = failures.by_address.lock().expect("lock").len();
        assert!(tracked <= MAX_TRACKED, "{tracked}");
    }
}
