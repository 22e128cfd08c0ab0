//! Time as the coordinator and the compactor read it: the wall clock for what is stored
//! (commit times, producer expiry, retention) and a monotonic instant for what only
//! lives in memory (group sessions). Tests move a [`ManualClock`] instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// A monotonic instant.
    fn now(&self) -> Instant;
}

/// The machine's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]); both of its readings
/// move together.
#[derive(Debug)]
pub struct ManualClock {
    start_ms: i64,
    start: Instant,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    /// A clock that reads the machine's time now, and stays there.
    pub fn new() -> ManualClock {
        ManualClock {
            start_ms: crate::now_ms(),
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut elapsed = self
            .elapsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *elapsed += by;
    }

    fn elapsed(&self) -> Duration {
        *self
            .elapsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.start_ms
            .saturating_add(i64::try_from(self.elapsed().as_millis()).unwrap_or(i64::MAX))
    }

    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_both_readings_together() {
        let clock = ManualClock::new();
        let (ms, instant) = (clock.now_ms(), clock.now());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!((clock.now_ms(), clock.now()), (ms, instant));
        clock.advance(Duration::from_secs(3));
        assert_eq!(clock.now_ms(), ms + 3000);
        assert_eq!(clock.now() - instant, Duration::from_secs(3));
    }
}
