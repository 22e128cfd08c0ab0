//! What the compactor has done since start-up, for `/metrics`: compaction progress
//! (files, records and bytes as each file is swapped in), retention, garbage collection,
//! and how long runs take.

use std::sync::atomic::{AtomicU64, Ordering};

use silt_core::metrics::{Histogram, counters, header, single};

#[derive(Debug)]
pub struct CompactorStats {
    pub files_written: AtomicU64,
    pub records_compacted: AtomicU64,
    pub record_bytes_read: AtomicU64,
    pub parquet_bytes_written: AtomicU64,
    pub records_expired: AtomicU64,
    /// Records key compaction removed (superseded, keyless, expired tombstones).
    pub records_removed: AtomicU64,
    pub objects_deleted: AtomicU64,
    pub runs_failed: AtomicU64,
    /// Iceberg commits that failed after an index swap (the next run repairs them).
    pub iceberg_commits_failed: AtomicU64,
    /// When the last run over a topic succeeded (ms since the epoch; 0: never).
    pub last_success_ms: AtomicU64,
    pub run_seconds: Histogram,
}

impl Default for CompactorStats {
    fn default() -> Self {
        let zero = || AtomicU64::new(0);
        CompactorStats {
            files_written: zero(),
            records_compacted: zero(),
            record_bytes_read: zero(),
            parquet_bytes_written: zero(),
            records_expired: zero(),
            records_removed: zero(),
            objects_deleted: zero(),
            runs_failed: zero(),
            iceberg_commits_failed: zero(),
            last_success_ms: zero(),
            run_seconds: Histogram::seconds(),
        }
    }
}

impl CompactorStats {
    pub(crate) fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let table: [(&str, &str, &AtomicU64); 9] = [
            (
                "silt_compactor_files_written_total",
                "Parquet files written and swapped into the index",
                &self.files_written,
            ),
            (
                "silt_compactor_records_compacted_total",
                "Records moved from segments into Parquet",
                &self.records_compacted,
            ),
            (
                "silt_compactor_record_bytes_read_total",
                "Bytes of encoded records read from segments for compaction",
                &self.record_bytes_read,
            ),
            (
                "silt_compactor_parquet_bytes_written_total",
                "Bytes of Parquet files written",
                &self.parquet_bytes_written,
            ),
            (
                "silt_compactor_records_expired_total",
                "Records dropped by retention",
                &self.records_expired,
            ),
            (
                "silt_compactor_records_removed_by_key_total",
                "Records key compaction removed (superseded by a later record of their key, keyless, or expired tombstones)",
                &self.records_removed,
            ),
            (
                "silt_compactor_objects_deleted_total",
                "Objects deleted by garbage collection",
                &self.objects_deleted,
            ),
            (
                "silt_compactor_runs_failed_total",
                "Compaction or collection runs that failed (retried at the next interval)",
                &self.runs_failed,
            ),
            (
                "silt_compactor_iceberg_commits_failed_total",
                "Iceberg table commits that failed after an index swap (repaired by the next run)",
                &self.iceberg_commits_failed,
            ),
        ];
        counters(&mut out, &table);
        single(
            &mut out,
            "silt_compactor_last_success_seconds",
            "gauge",
            "When a compaction run last succeeded (Unix time)",
            self.last_success_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        let name = "silt_compactor_run_duration_seconds";
        header(&mut out, name, "Compaction runs over one topic");
        self.run_seconds.render(&mut out, name, "");
        out
    }
}
