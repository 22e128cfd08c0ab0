//! Silt's coordinator: the single owner of offset metadata (topics, high watermarks,
//! the index of which object holds which offsets). It never stores record data.
//!
//! [`CoordinatorService`] implements [`silt_core::Coordinator`] over any
//! [`MetadataStore`]; [`SqliteStore`] is the embedded default.

mod assignment;
mod error;
mod groups;
mod producers;
mod service;
mod sqlite;
mod store;

pub use error::StoreError;
pub use service::CoordinatorService;
pub use sqlite::SqliteStore;
pub use store::{MetadataStore, StoredState};

use std::path::Path;
use std::sync::Arc;

/// Opens the embedded coordinator on a SQLite file, creating it if needed.
pub async fn open_sqlite(path: &Path) -> Result<Arc<CoordinatorService<SqliteStore>>, StoreError> {
    let store = SqliteStore::open(path)?;
    Ok(Arc::new(CoordinatorService::start(store).await?))
}
