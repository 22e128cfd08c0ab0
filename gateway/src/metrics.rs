//! Counters exposed at `/metrics` in the Prometheus text format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use silt_core::metrics::{Histogram, counters, describe, header, labelled, single};
use silt_reader::Reader;
use silt_reader::storage::StoreCounts;

use crate::listener::ListenerStats;

#[derive(Debug)]
pub struct Metrics {
    pub produce_requests: AtomicU64,
    pub records_produced: AtomicU64,
    pub bytes_produced: AtomicU64,
    pub produce_rejected_backpressure: AtomicU64,
    pub flushes: AtomicU64,
    pub flush_failures: AtomicU64,
    pub segment_bytes_written: AtomicU64,
    pub fetch_requests: AtomicU64,
    pub records_fetched: AtomicU64,
    pub buffered_bytes: AtomicU64,
    pub kafka_batches_encoded: AtomicU64,
    pub kafka_batch_cache_hits: AtomicU64,
    pub kafka_chunks_served_as_sent: AtomicU64,
    /// From a produce request's arrival to its answer (HTTP), durable or refused.
    pub produce_seconds: Histogram,
    /// Encoding and writing a segment object (PUT retries included).
    pub flush_write_seconds: Histogram,
    /// Committing a written segment to the coordinator.
    pub flush_commit_seconds: Histogram,
    /// From the first record of a batch to the answer of its producers.
    pub flush_seconds: Histogram,
    /// Bytes of each segment object written.
    pub flush_bytes: Histogram,
    /// Records of each segment object written.
    pub flush_records: Histogram,
    /// Connections of the HTTP listener.
    pub http_listener: Arc<ListenerStats>,
    /// Connections of the Kafka listener.
    pub kafka_listener: Arc<ListenerStats>,
    store_counts: OnceLock<Arc<StoreCounts>>,
    faults_injected: OnceLock<Arc<AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let zero = || AtomicU64::new(0);
        Metrics {
            produce_requests: zero(),
            records_produced: zero(),
            bytes_produced: zero(),
            produce_rejected_backpressure: zero(),
            flushes: zero(),
            flush_failures: zero(),
            segment_bytes_written: zero(),
            fetch_requests: zero(),
            records_fetched: zero(),
            buffered_bytes: zero(),
            kafka_batches_encoded: zero(),
            kafka_batch_cache_hits: zero(),
            kafka_chunks_served_as_sent: zero(),
            produce_seconds: Histogram::seconds(),
            flush_write_seconds: Histogram::seconds(),
            flush_commit_seconds: Histogram::seconds(),
            flush_seconds: Histogram::seconds(),
            flush_bytes: Histogram::bytes(),
            flush_records: Histogram::counts(),
            http_listener: Arc::default(),
            kafka_listener: Arc::default(),
            store_counts: OnceLock::new(),
            faults_injected: OnceLock::new(),
        }
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    /// Reports the object store requests counted by a `CountingStore`.
    pub fn attach_store_counts(&self, counts: Arc<StoreCounts>) {
        let _ = self.store_counts.set(counts);
    }

    /// The object store's request counts, when attached.
    pub fn store_counts(&self) -> Option<&Arc<StoreCounts>> {
        self.store_counts.get()
    }

    /// Reports the faults a fault-injecting store has injected.
    pub fn attach_fault_count(&self, injected: Arc<AtomicU64>) {
        let _ = self.faults_injected.set(injected);
    }

    pub fn render(&self, reader: &Reader) -> String {
        let cache = reader.cache().stats();
        let table: [(&str, &str, &AtomicU64); 12] = [
            (
                "silt_produce_requests_total",
                "Produce requests received",
                &self.produce_requests,
            ),
            (
                "silt_records_produced_total",
                "Records acknowledged to producers",
                &self.records_produced,
            ),
            (
                "silt_bytes_produced_total",
                "Encoded record bytes acknowledged",
                &self.bytes_produced,
            ),
            (
                "silt_produce_backpressure_total",
                "Produce requests refused with 429",
                &self.produce_rejected_backpressure,
            ),
            (
                "silt_flushes_total",
                "Segment objects written and committed",
                &self.flushes,
            ),
            (
                "silt_flush_failures_total",
                "Flushes whose write or commit failed",
                &self.flush_failures,
            ),
            (
                "silt_segment_bytes_written_total",
                "Bytes of segment objects written",
                &self.segment_bytes_written,
            ),
            (
                "silt_fetch_requests_total",
                "Fetch requests served",
                &self.fetch_requests,
            ),
            (
                "silt_records_fetched_total",
                "Records returned by fetches",
                &self.records_fetched,
            ),
            (
                "silt_kafka_batches_encoded_total",
                "Stored chunks encoded as Kafka record batches for fetches",
                &self.kafka_batches_encoded,
            ),
            (
                "silt_kafka_batch_cache_hits_total",
                "Kafka fetches served a chunk's batch from the cache",
                &self.kafka_batch_cache_hits,
            ),
            (
                "silt_kafka_chunks_served_as_sent_total",
                "Kafka fetches served a chunk of record batches as producers sent them",
                &self.kafka_chunks_served_as_sent,
            ),
        ];
        let mut out = String::new();
        counters(&mut out, &table);
        single(
            &mut out,
            "silt_buffered_bytes",
            "gauge",
            "Bytes accepted and not yet acknowledged",
            self.buffered_bytes.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "silt_object_reads_total",
            "counter",
            "Object store reads by fetches that missed the cache (chunk ranges, whole segments, Parquet)",
            reader.object_reads(),
        );
        single(
            &mut out,
            "silt_whole_segment_reads_total",
            "counter",
            "Cache misses served by reading the chunk's whole segment, caching all its chunks",
            reader.whole_segment_reads(),
        );
        single(
            &mut out,
            "silt_topic_range_reads_total",
            "counter",
            "Cache misses served by reading the topic's range of the chunk's segment (its index first), caching the topic's chunks",
            reader.topic_range_reads(),
        );
        single(
            &mut out,
            "silt_read_aheads_total",
            "counter",
            "Segment reads started ahead of a catch-up's next fetch (its topic's range, cached)",
            reader.read_aheads(),
        );
        self.render_listeners(&mut out);
        if let Some(injected) = self.faults_injected.get() {
            single(
                &mut out,
                "silt_faults_injected_total",
                "counter",
                "Object store faults injected (testing only)",
                injected.load(Ordering::Relaxed),
            );
        }
        if let Some(counts) = self.store_counts.get() {
            let name = "silt_object_store_requests_total";
            describe(
                &mut out,
                name,
                "counter",
                "Object store requests by operation",
            );
            for (operation, value) in [
                ("put", counts.puts()),
                ("get", counts.gets()),
                ("delete", counts.deletes.load(Ordering::Relaxed)),
                ("list", counts.lists.load(Ordering::Relaxed)),
            ] {
                labelled(&mut out, name, &format!("operation=\"{operation}\""), value);
            }
            let name = "silt_object_store_bytes_total";
            describe(
                &mut out,
                name,
                "counter",
                "Bytes written by PUTs and asked for by GETs",
            );
            for (operation, counter) in
                [("put", &counts.bytes_written), ("get", &counts.bytes_read)]
            {
                let value = counter.load(Ordering::Relaxed);
                labelled(&mut out, name, &format!("operation=\"{operation}\""), value);
            }
            single(
                &mut out,
                "silt_object_store_failures_total",
                "counter",
                "Object store requests that failed",
                counts.failures.load(Ordering::Relaxed),
            );
            let name = "silt_object_store_request_duration_seconds";
            header(
                &mut out,
                name,
                "Object store request latency (successful PUTs and GETs)",
            );
            counts
                .put_seconds
                .render(&mut out, name, "operation=\"put\"");
            counts
                .get_seconds
                .render(&mut out, name, "operation=\"get\"");
        }
        let name = "silt_cache_requests_total";
        describe(
            &mut out,
            name,
            "counter",
            "Chunk cache lookups by where they were answered",
        );
        for (result, counter) in [
            ("memory_hit", &cache.memory_hits),
            ("disk_hit", &cache.disk_hits),
            ("miss", &cache.misses),
        ] {
            let value = counter.load(Ordering::Relaxed);
            labelled(&mut out, name, &format!("result=\"{result}\""), value);
        }
        for (name, help, histogram) in [
            (
                "silt_produce_duration_seconds",
                "Produce requests (HTTP), from arrival to answer",
                &self.produce_seconds,
            ),
            (
                "silt_flush_duration_seconds",
                "Batches, from their first record to their producers' answer",
                &self.flush_seconds,
            ),
            (
                "silt_flush_write_duration_seconds",
                "Encoding and writing a segment object",
                &self.flush_write_seconds,
            ),
            (
                "silt_flush_commit_duration_seconds",
                "Committing a segment to the coordinator",
                &self.flush_commit_seconds,
            ),
            (
                "silt_flush_bytes",
                "Bytes of each segment object",
                &self.flush_bytes,
            ),
            (
                "silt_flush_records",
                "Records of each segment object",
                &self.flush_records,
            ),
        ] {
            header(&mut out, name, help);
            histogram.render(&mut out, name, "");
        }
        out
    }
}

impl Metrics {
    fn render_listeners(&self, out: &mut String) {
        let listeners = [
            ("http", &self.http_listener),
            ("kafka", &self.kafka_listener),
        ];
        type Series = (
            &'static str,
            &'static str,
            &'static str,
            fn(&ListenerStats) -> &AtomicU64,
        );
        let series: [Series; 6] = [
            (
                "silt_connections_open",
                "gauge",
                "Open connections",
                |stats| &stats.open,
            ),
            (
                "silt_connections_accepted_total",
                "counter",
                "Connections accepted under the cap",
                |stats| &stats.accepted,
            ),
            (
                "silt_connections_refused_total",
                "counter",
                "Connections closed at once because the listener was at its cap",
                |stats| &stats.refused,
            ),
            (
                "silt_connections_idle_timeouts_total",
                "counter",
                "Connections closed after the idle timeout",
                |stats| &stats.idle_timeouts,
            ),
            (
                "silt_connections_header_timeouts_total",
                "counter",
                "Connections closed because a request's header came too slowly",
                |stats| &stats.header_timeouts,
            ),
            (
                "silt_connections_body_timeouts_total",
                "counter",
                "Requests refused because their body came too slowly",
                |stats| &stats.body_timeouts,
            ),
        ];
        for (name, kind, help, counter) in series {
            describe(out, name, kind, help);
            for (listener, stats) in listeners {
                let value = counter(stats).load(Ordering::Relaxed);
                labelled(out, name, &format!("listener=\"{listener}\""), value);
            }
        }
    }
}
