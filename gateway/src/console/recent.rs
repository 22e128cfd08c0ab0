//! The console's recent history: every second a sample of this gateway's rates
//! (records and bytes produced and fetched, object-store requests and bytes, cache hit
//! rate) and its acknowledgement latency over that second, kept for five minutes in a
//! ring, so the console draws live charts without Prometheus.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use silt_core::metrics::Window;
use silt_core::now_ms;
use silt_reader::Reader;

use crate::metrics::Metrics;

/// How often a sample is taken.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// Samples kept: five minutes.
const CAPACITY: usize = 300;

/// One interval's rates.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    pub produce_records_per_s: f64,
    pub produce_bytes_per_s: f64,
    pub fetch_records_per_s: f64,
    pub puts_per_s: f64,
    pub gets_per_s: f64,
    pub bytes_written_per_s: f64,
    pub bytes_read_per_s: f64,
    /// Hits over lookups of the chunk cache in the interval; none without lookups.
    pub cache_hit_rate: Option<f64>,
    pub ack_p50_ms: Option<f64>,
    pub ack_p99_ms: Option<f64>,
}

/// The counters a sample differences.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    produced_records: u64,
    produced_bytes: u64,
    fetched_records: u64,
    puts: u64,
    gets: u64,
    bytes_written: u64,
    bytes_read: u64,
    hits: u64,
    misses: u64,
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Totals {
    fn read(metrics: &Metrics, reader: &Reader) -> Totals {
        let cache = reader.cache().stats();
        let mut totals = Totals {
            produced_records: load(&metrics.records_produced),
            produced_bytes: load(&metrics.bytes_produced),
            fetched_records: load(&metrics.records_fetched),
            hits: load(&cache.memory_hits) + load(&cache.disk_hits),
            misses: load(&cache.misses),
            ..Totals::default()
        };
        if let Some(store) = metrics.store_counts() {
            totals.puts = load(&store.puts);
            totals.gets = load(&store.gets);
            totals.bytes_written = load(&store.bytes_written);
            totals.bytes_read = load(&store.bytes_read);
        }
        totals
    }
}

/// The ring of recent samples.
#[derive(Debug, Default)]
pub struct Recent {
    samples: Mutex<VecDeque<Sample>>,
}

impl Recent {
    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .map(|samples| samples.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn push(&self, sample: Sample) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == CAPACITY {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    }

    /// Takes a sample every [`INTERVAL`] until `shutdown` turns true.
    pub fn spawn(
        self: &Arc<Self>,
        metrics: Arc<Metrics>,
        reader: Arc<Reader>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let recent = Arc::clone(self);
        tokio::spawn(async move {
            let mut window = Window::default();
            let mut last = Totals::read(&metrics, &reader);
            // Primes the window: the first sample covers one interval only.
            metrics.produce_seconds.quantiles_since(&mut window, &[]);
            let mut at = Instant::now();
            let mut ticks = tokio::time::interval(INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let now = Totals::read(&metrics, &reader);
                let seconds = at.elapsed().as_secs_f64().max(1e-3);
                at = Instant::now();
                let latency = metrics
                    .produce_seconds
                    .quantiles_since(&mut window, &[0.5, 0.99]);
                recent.push(sample(&last, &now, seconds, &latency));
                last = now;
            }
        });
    }
}

fn sample(last: &Totals, now: &Totals, seconds: f64, latency: &[Option<f64>]) -> Sample {
    let rate = |before: u64, after: u64| after.saturating_sub(before) as f64 / seconds;
    let hits = now.hits.saturating_sub(last.hits);
    let lookups = hits + now.misses.saturating_sub(last.misses);
    let ms = |index: usize| {
        latency
            .get(index)
            .copied()
            .flatten()
            .map(|seconds| seconds * 1000.0)
    };
    Sample {
        at_ms: now_ms(),
        produce_records_per_s: rate(last.produced_records, now.produced_records),
        produce_bytes_per_s: rate(last.produced_bytes, now.produced_bytes),
        fetch_records_per_s: rate(last.fetched_records, now.fetched_records),
        puts_per_s: rate(last.puts, now.puts),
        gets_per_s: rate(last.gets, now.gets),
        bytes_written_per_s: rate(last.bytes_written, now.bytes_written),
        bytes_read_per_s: rate(last.bytes_read, now.bytes_read),
        cache_hit_rate: (lookups > 0).then(|| hits as f64 / lookups as f64),
        ack_p50_ms: ms(0),
        ack_p99_ms: ms(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_the_rates_over_its_interval() {
        let last = Totals {
            produced_records: 100,
            puts: 3,
            hits: 5,
            misses: 5,
            ..Totals::default()
        };
        let now = Totals {
            produced_records: 300,
            puts: 7,
            hits: 8,
            misses: 6,
            ..Totals::default()
        };
        let sample = sample(&last, &now, 2.0, &[Some(0.004), None]);
        assert_eq!(sample.produce_records_per_s, 100.0);
        assert_eq!(sample.puts_per_s, 2.0);
        assert_eq!(sample.cache_hit_rate, Some(0.75));
        assert_eq!(sample.ack_p50_ms, Some(4.0));
        assert_eq!(sample.ack_p99_ms, None);
        let idle = super::sample(&now, &now, 1.0, &[]);
        assert_eq!((idle.cache_hit_rate, idle.fetch_records_per_s), (None, 0.0));
    }

    #[test]
    fn the_ring_keeps_five_minutes() {
        let recent = Recent::default();
        for at_ms in 0..(CAPACITY as i64 + 20) {
            recent.push(Sample {
                at_ms,
                ..Sample::default()
            });
        }
        let samples = recent.samples();
        assert_eq!(samples.len(), CAPACITY);
        assert_eq!(samples.first().map(|s| s.at_ms), Some(20));
    }
}
