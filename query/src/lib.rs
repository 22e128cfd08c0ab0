//! SQL over Silt's topics, with Apache DataFusion. Each topic is a table with the
//! columns of its compacted Parquet files (`partition`, `offset`, `timestamp`, `key`,
//! `value`, `headers`, `attributes`, and the typed columns of its value schema); a
//! query reads the compacted files and the records not yet compacted, so a record is
//! visible as soon as its produce was acknowledged, and never twice.
//!
//! Queries run on their own threads (a runtime of their own), each with a row limit,
//! a memory limit and a timeout, so that a heavy query cannot starve produce and fetch.

mod bounds;
mod error;
pub mod output;
mod retention;
mod session;
mod table;
mod tail;

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use object_store::ObjectStore;
use silt_core::Coordinator;
use silt_reader::Reader;
use tokio::sync::Semaphore;
use tracing::{Instrument, info, info_span};

pub use bounds::Bounds;
pub use error::QueryError;
pub use table::TopicTable;

/// Limits and threads of the query engine.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// Threads that run queries (apart from the threads serving produce and fetch);
    /// by default half the machine's cores, at least one.
    pub threads: usize,
    /// Queries that run at once; more wait for a turn (within their timeout).
    pub max_concurrent: usize,
    /// Rows a query may answer at most; a request may ask for fewer.
    pub max_rows: usize,
    /// Memory one query's operators (sorts, joins, aggregations) may take.
    pub memory_limit_bytes: usize,
    /// Longest a query may run in milliseconds, waiting for its turn included; a
    /// request may ask for less.
    pub timeout_ms: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            threads: std::thread::available_parallelism()
                .map_or(1, |cores| cores.get() / 2)
                .max(1),
            max_concurrent: 4,
            max_rows: 100_000,
            memory_limit_bytes: 512 << 20,
            timeout_ms: 30_000,
        }
    }
}

/// Whether the caller may read a topic.
pub type MayRead = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// One query.
pub struct QueryRequest {
    pub sql: String,
    /// At most [`QueryConfig::max_rows`].
    pub max_rows: Option<usize>,
    pub timeout: Option<Duration>,
    pub may_read: MayRead,
}

/// A query's answer, whole (at most its row limit).
#[derive(Debug)]
pub struct QueryAnswer {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryAnswer {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Plans and runs queries over the topics of one bucket.
pub struct QueryEngine {
    parts: Arc<session::Parts>,
    config: QueryConfig,
    turns: Arc<Semaphore>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl QueryEngine {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        coordinator: Arc<dyn Coordinator>,
        reader: Arc<Reader>,
        config: QueryConfig,
    ) -> Result<QueryEngine, QueryError> {
        let store_url = ObjectStoreUrl::parse("silt://bucket/")?;
        let base: Arc<RuntimeEnv> = RuntimeEnvBuilder::new().build_arc()?;
        base.register_object_store(store_url.as_ref(), store);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("silt-query")
            .enable_all()
            .build()
            .map_err(|error| QueryError::Internal(format!("starting query threads: {error}")))?;
        Ok(QueryEngine {
            parts: Arc::new(session::Parts {
                coordinator,
                reader,
                store_url,
                base,
                target_partitions: config.threads.max(1),
            }),
            turns: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            config,
            runtime: Some(runtime),
        })
    }

    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// Runs `request` on the query threads and answers all its rows, or why not.
    pub async fn run(&self, request: QueryRequest) -> Result<QueryAnswer, QueryError> {
        let max_rows = request
            .max_rows
            .unwrap_or(self.config.max_rows)
            .min(self.config.max_rows);
        let timeout = request
            .timeout
            .unwrap_or(Duration::from_millis(self.config.timeout_ms))
            .min(Duration::from_millis(self.config.timeout_ms));
        let parts = Arc::clone(&self.parts);
        let turns = Arc::clone(&self.turns);
        let memory = self.config.memory_limit_bytes;
        let span = info_span!("query", max_rows, timeout_ms = timeout.as_millis() as u64);
        let work = async move {
            let _turn = turns
                .acquire_owned()
                .await
                .map_err(|_| QueryError::Internal("the query engine is stopping".into()))?;
            let started = std::time::Instant::now();
            let answer =
                session::execute(&parts, &request.sql, request.may_read, max_rows, memory).await?;
            info!(
                rows = answer.rows(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "query answered"
            );
            Ok(answer)
        };
        let timed = async move {
            tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| QueryError::Timeout(timeout))?
        }
        .instrument(span);
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| QueryError::Internal("the query engine is stopping".into()))?;
        // Dropped with the request (a client gone): the query stops too.
        let mut handle = AbortOnDrop(runtime.spawn(timed));
        match (&mut handle.0).await {
            Ok(answer) => answer,
            Err(error) => Err(QueryError::Internal(format!("query task: {error}"))),
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for QueryEngine {
    fn drop(&mut self) {
        // Queries still running stop; dropping a runtime may not block here.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests;
