//! The Prometheus text format, shared by every component's `/metrics`: `# HELP` and
//! `# TYPE` lines, single samples, histograms, and reading a sample back (for
//! `silt bench` and tests). Histogram values go into an HDR histogram (3 significant
//! digits) and are rendered as cumulative buckets at fixed bounds, with an exact sum
//! and count.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket bounds of durations, in microseconds (1 ms … 30 s).
const SECONDS_BOUNDS: &[u64] = &[
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000,
];

/// Bucket bounds of sizes, in bytes (1 KiB … 64 MiB).
const BYTES_BOUNDS: &[u64] = &[
    1 << 10,
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
];

/// Bucket bounds of counts (1 … 10,000).
const COUNT_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 10_000];

/// What a [`Histogram`] held when last looked at, for quantiles over an interval.
#[derive(Debug, Default)]
pub struct Window {
    last: Option<hdrhistogram::Histogram<u64>>,
}

#[derive(Debug)]
pub struct Histogram {
    values: Mutex<hdrhistogram::Histogram<u64>>,
    sum: AtomicU64,
    bounds: &'static [u64],
    /// Recorded units per rendered unit (1e6 for microseconds → seconds).
    divisor: f64,
}

impl Histogram {
    fn new(bounds: &'static [u64], divisor: f64) -> Self {
        let values = hdrhistogram::Histogram::new(3)
            .unwrap_or_else(|_| unreachable!("3 significant digits are in range"));
        Histogram {
            values: Mutex::new(values),
            sum: AtomicU64::new(0),
            bounds,
            divisor,
        }
    }

    /// Durations, rendered in seconds.
    pub fn seconds() -> Self {
        Histogram::new(SECONDS_BOUNDS, 1e6)
    }

    /// Sizes in bytes.
    pub fn bytes() -> Self {
        Histogram::new(BYTES_BOUNDS, 1.0)
    }

    /// Counts (records, chunks, commits).
    pub fn counts() -> Self {
        Histogram::new(COUNT_BOUNDS, 1.0)
    }

    pub fn record(&self, value: u64) {
        self.sum.fetch_add(value, Ordering::Relaxed);
        if let Ok(mut values) = self.values.lock() {
            // Auto-resizing: fails only past u64's range, where saturating is right.
            if values.record(value).is_err() {
                values.saturating_record(value);
            }
        }
    }

    pub fn record_duration(&self, elapsed: Duration) {
        self.record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// The `quantiles` (in rendered units: seconds for durations) of what was recorded
    /// since `window` last looked, or `None` each when nothing was.
    pub fn quantiles_since(&self, window: &mut Window, quantiles: &[f64]) -> Vec<Option<f64>> {
        let none = vec![None; quantiles.len()];
        let Ok(values) = self.values.lock() else {
            return none;
        };
        let current = values.clone();
        drop(values);
        let mut delta = current.clone();
        if let Some(last) = &window.last
            && delta.subtract(last).is_err()
        {
            delta = current.clone();
        }
        window.last = Some(current);
        if delta.is_empty() {
            return none;
        }
        quantiles
            .iter()
            .map(|quantile| Some(delta.value_at_quantile(*quantile) as f64 / self.divisor))
            .collect()
    }

    /// Appends the histogram as `name_bucket`, `name_sum` and `name_count` samples;
    /// `labels` (e.g. `operation="put"`) go on every sample. Write `# HELP`/`# TYPE`
    /// once per name with [`header`].
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let (counts, total) = match self.values.lock() {
            Ok(values) => {
                let mut counts = vec![0u64; self.bounds.len()];
                for recorded in values.iter_recorded() {
                    let value = values.lowest_equivalent(recorded.value_iterated_to());
                    for (bound, count) in self.bounds.iter().zip(counts.iter_mut()) {
                        if value <= *bound {
                            *count += recorded.count_at_value();
                        }
                    }
                }
                (counts, values.len())
            }
            Err(_) => return,
        };
        let separator = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(counts) {
            let le = *bound as f64 / self.divisor;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{separator}le=\"{le}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {total}"
        );
        let braces = |labels: &str| {
            if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            }
        };
        let sum = self.sum.load(Ordering::Relaxed) as f64 / self.divisor;
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {total}", braces(labels));
    }
}

/// `# HELP` and `# TYPE` lines of a metric; `kind` is `counter`, `gauge` or `histogram`.
pub fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `# HELP` and `# TYPE` lines of a histogram.
pub fn header(out: &mut String, name: &str, help: &str) {
    describe(out, name, "histogram", help);
}

/// A metric with one sample and no labels.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    describe(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Counters with one sample each: (name, help, counter).
pub fn counters(out: &mut String, counters: &[(&str, &str, &AtomicU64)]) {
    for (name, help, counter) in counters {
        single(out, name, "counter", help, counter.load(Ordering::Relaxed));
    }
}

/// One sample of a labelled series, `name{labels} value`.
pub fn labelled(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

/// The value of `series` (a name with its labels, exactly as rendered) in `text`.
pub fn read_sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .filter(|rest| rest.starts_with(' '))
            .and_then(|rest| rest.trim().parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_sum_and_count() {
        let histogram = Histogram::seconds();
        for millis in [1u64, 3, 3, 40, 2_000] {
            histogram.record_duration(Duration::from_millis(millis));
        }
        let mut out = String::new();
        header(&mut out, "silt_flush_duration_seconds", "Flushes");
        histogram.render(&mut out, "silt_flush_duration_seconds", "");
        let sample = |series: &str| -> f64 {
            read_sample(&out, series).unwrap_or_else(|| panic!("{series} missing in\n{out}"))
        };
        assert_eq!(
            sample("silt_flush_duration_seconds_bucket{le=\"0.001\"}"),
            1.0
        );
        assert_eq!(
            sample("silt_flush_duration_seconds_bucket{le=\"0.005\"}"),
            3.0
        );
        assert_eq!(
            sample("silt_flush_duration_seconds_bucket{le=\"0.05\"}"),
            4.0
        );
        assert_eq!(sample("silt_flush_duration_seconds_bucket{le=\"1\"}"), 4.0);
        assert_eq!(
            sample("silt_flush_duration_seconds_bucket{le=\"2.5\"}"),
            5.0
        );
        assert_eq!(
            sample("silt_flush_duration_seconds_bucket{le=\"+Inf\"}"),
            5.0
        );
        assert_eq!(sample("silt_flush_duration_seconds_count"), 5.0);
        assert!((sample("silt_flush_duration_seconds_sum") - 2.047).abs() < 1e-9);

        let sizes = Histogram::bytes();
        sizes.record(3000);
        let mut out = String::new();
        sizes.render(&mut out, "silt_flush_bytes", "gateway=\"a\"");
        assert!(
            out.contains("silt_flush_bytes_bucket{gateway=\"a\",le=\"4096\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("silt_flush_bytes_bucket{gateway=\"a\",le=\"1024\"} 0"),
            "{out}"
        );
        assert!(
            out.contains("silt_flush_bytes_sum{gateway=\"a\"} 3000"),
            "{out}"
        );
    }
}
