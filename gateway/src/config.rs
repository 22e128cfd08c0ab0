use serde::{Deserialize, Serialize};
use silt_core::segment::Compression;

use crate::listener::ConnectionLimits;

/// Tunables of one gateway. Every field has a default; `silt gateway` reads them from a
/// TOML file, `SILT_*` variables and flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Longest time a record waits in the open batch before it is flushed.
    pub linger_ms: u64,
    /// While no flush is in progress, waiting records are flushed at once, but no
    /// sooner than this after the previous flush began unless they fill an eighth of
    /// `max_batch_bytes`: at most 1000 / this PUTs per second from a trickle of records,
    /// and at most 8 PUTs per `max_batch_bytes` beyond. At or above `linger_ms`,
    /// batches wait for the linger (or `max_batch_bytes`) only.
    pub min_flush_interval_ms: u64,
    /// The open batch is flushed once it holds this many bytes.
    pub max_batch_bytes: usize,
    /// Bytes accepted but not yet acknowledged, beyond which produce requests get 429.
    pub max_buffered_bytes: usize,
    /// Largest encoded record.
    pub max_record_bytes: usize,
    /// Largest produce request body.
    pub max_body_bytes: usize,
    /// Segment flushes in flight at once (their commits still happen in order).
    pub max_inflight_flushes: usize,
    /// Longest `wait_ms` a fetch may ask for.
    pub max_wait_ms: u64,
    /// Compression of segment chunks.
    pub compression: Compression,
    /// Caps and timeouts of the HTTP and Kafka listeners' connections.
    pub connections: ConnectionLimits,
    /// Authentication and authorization of clients.
    pub auth: crate::auth::AuthConfig,
    /// TLS on the HTTP and Kafka listeners (off when absent).
    pub tls: Option<crate::tls::TlsConfig>,
    /// SQL queries: their threads and limits.
    pub query: silt_query::QueryConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            linger_ms: 50,
            min_flush_interval_ms: 10,
            max_batch_bytes: 4 << 20,
            max_buffered_bytes: 256 << 20,
            max_record_bytes: 1 << 20,
            max_body_bytes: 32 << 20,
            max_inflight_flushes: 4,
            max_wait_ms: 30_000,
            compression: Compression::Lz4,
            connections: ConnectionLimits::default(),
            auth: crate::auth::AuthConfig::default(),
            tls: None,
            query: silt_query::QueryConfig::default(),
        }
    }
}
