//! Silt's shared vocabulary: records, the segment format, object keys, topic names,
//! partitioning, and the coordinator's API with the client trait every component uses.

pub mod clock;
pub mod coordinator;
pub mod error;
pub mod groups;
pub mod kafka_batch;
pub mod keys;
pub mod metrics;
pub mod names;
pub mod partitioner;
pub mod record;
pub mod schema;
pub mod security;
pub mod segment;
pub mod topic_configs;
pub mod transactions;

pub use coordinator::Coordinator;
pub use error::ErrorKind;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
