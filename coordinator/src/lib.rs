//! Silt's coordinator: the single owner of offset metadata (topics, high watermarks,
//! the index of which object holds which offsets). It never stores record data.
//!
//! [`CoordinatorService`] implements [`silt_core::Coordinator`] over any
//! [`MetadataStore`]; [`SqliteStore`] is the embedded default and [`PostgresStore`] the production one. [`http::router`] serves
//! a coordinator to other processes, which reach it with [`RemoteCoordinator`].

mod assignment;
mod catalog;
mod client;
mod error;
mod groups;
pub mod http;
mod kafka_calls;
mod kafka_groups;
mod mirror;
mod producers;
pub mod protocol;
mod service;
mod store;
mod topic_keys;

pub use client::RemoteCoordinator;
pub use error::StoreError;
pub use service::{CommitStats, CoordinatorService, DEFAULT_PRODUCER_IDLE_EXPIRY_MS};
pub use store::postgres::PostgresStore;
pub use store::sqlite::SqliteStore;
pub use store::{MetadataStore, Snapshot, StoredState};

use std::path::Path;
use std::sync::Arc;

/// Opens the embedded coordinator on a SQLite file, creating it if needed.
pub async fn open_sqlite(path: &Path) -> Result<Arc<CoordinatorService>, StoreError> {
    open_sqlite_with(path, DEFAULT_PRODUCER_IDLE_EXPIRY_MS).await
}

/// [`open_sqlite`], forgetting idempotent producers idle for `producer_idle_expiry_ms`.
pub async fn open_sqlite_with(
    path: &Path,
    producer_idle_expiry_ms: i64,
) -> Result<Arc<CoordinatorService>, StoreError> {
    let store = SqliteStore::open(path)?;
    let service = Arc::new(
        CoordinatorService::start(store)
            .await?
            .with_producer_idle_expiry_ms(producer_idle_expiry_ms),
    );
    CoordinatorService::spawn_transaction_timeouts(&service);
    Ok(service)
}

/// Opens the coordinator on PostgreSQL at `url`: waits until it leads (other replicas
/// may lead first), migrates, loads. The receiver turns `true` when the leader's
/// database connection is lost, after which the coordinator must stop serving.
pub async fn open_postgres_with(
    url: &str,
    producer_idle_expiry_ms: i64,
) -> Result<(Arc<CoordinatorService>, tokio::sync::watch::Receiver<bool>), StoreError> {
    let store = PostgresStore::connect(url).await?;
    let lost = store.lost();
    let service = Arc::new(
        CoordinatorService::start(store)
            .await?
            .with_producer_idle_expiry_ms(producer_idle_expiry_ms),
    );
    CoordinatorService::spawn_transaction_timeouts(&service);
    Ok((service, lost))
}
