//! What every request handler shares: the gateway's configuration, its coordinator,
//! reader, batcher and metrics, and how it learns that it is shutting down.

use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use serde_json::Value;
use silt_core::Coordinator;
use silt_reader::Reader;

use crate::batcher::BatcherHandle;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: GatewayConfig,
    pub coordinator: Arc<dyn Coordinator>,
    pub reader: Arc<Reader>,
    pub batcher: BatcherHandle,
    pub metrics: Arc<Metrics>,
    pub sticky: Arc<AtomicU32>,
    /// Turns true when the server begins shutting down: open streams then end, and
    /// long-polls and Kafka joins are answered at once ([`AppState::stopping`]).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Administrative operations that live outside the gateway (compaction).
    pub admin: Option<Arc<dyn TopicAdmin>>,
    /// The transactional ids of requests that are transactions of their own.
    pub request_transactions: Arc<crate::request_txns::RequestTransactions>,
    /// Who callers are and what they may do.
    pub security: Arc<crate::auth::Security>,
    /// TLS on the HTTP and Kafka listeners, if on.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// The Iceberg catalog of the bucket's topic tables, if served.
    pub iceberg: Option<Arc<silt_reader::iceberg::Catalog>>,
    /// The console's samples of this gateway's recent rates.
    pub recent: Arc<crate::console::recent::Recent>,
    /// SQL over the topics.
    pub query: Arc<silt_query::QueryEngine>,
}

impl AppState {
    /// Completes once the server begins shutting down (never, if nothing can tell it
    /// to): a request that waits (a long-poll, a Kafka join) waits for this too, and
    /// answers with what it has.
    pub async fn stopping(&self) {
        let mut shutdown = self.shutdown.clone();
        if shutdown.wait_for(|stop| *stop).await.is_err() && !*shutdown.borrow() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether the server is shutting down.
    pub fn is_stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Operations on a topic that another component performs for the gateway's API.
#[async_trait::async_trait]
pub trait TopicAdmin: Send + Sync + 'static {
    /// Compacts everything eligible in `topic` now; answers with a summary.
    async fn compact(&self, topic: &str) -> Result<Value, ApiError>;

    /// Deletes unreferenced objects older than `grace_ms`; answers with a summary.
    async fn collect_garbage(&self, grace_ms: i64) -> Result<Value, ApiError>;

    /// Prometheus samples of the component (compaction progress), for `/metrics`.
    fn metrics_text(&self) -> String {
        String::new()
    }
}
