use silt_core::coordinator::CoordinatorError;
use thiserror::Error;

/// Failures of a metadata store backend.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("metadata store task failed: {0}")]
    Task(String),
    #[error("metadata store holds invalid data: {0}")]
    Invalid(String),
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
}

impl From<StoreError> for CoordinatorError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Coordinator(error) => error,
            StoreError::Sqlite(error) => CoordinatorError::Unavailable(error.to_string()),
            StoreError::Postgres(error) => CoordinatorError::Unavailable(error.to_string()),
            StoreError::Task(message) => CoordinatorError::Internal(message),
            StoreError::Invalid(message) => CoordinatorError::Internal(message),
        }
    }
}
