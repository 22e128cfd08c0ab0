//! Why a query was not answered, each with the status class a client gets.

use std::time::Duration;

use datafusion::error::DataFusionError;
use silt_core::ErrorKind;
use silt_core::coordinator::CoordinatorError;
use silt_reader::ReadError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum QueryError {
    /// Bad SQL, an unknown table or column, a type mismatch, a failing expression.
    #[error("{0}")]
    Invalid(String),
    #[error("not authorized to read topic {0}")]
    Forbidden(String),
    #[error("the query answers more than {0} rows; add a LIMIT or aggregate")]
    RowLimit(usize),
    #[error("the query needs more than its memory limit: {0}")]
    MemoryLimit(String),
    #[error("the query ran longer than its timeout of {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            QueryError::Invalid(_)
            | QueryError::RowLimit(_)
            | QueryError::MemoryLimit(_)
            | QueryError::Timeout(_) => ErrorKind::InvalidInput,
            QueryError::Forbidden(_) => ErrorKind::Forbidden,
            QueryError::Unavailable(_) => ErrorKind::Unavailable,
            QueryError::Coordinator(error) => error.kind(),
            QueryError::Internal(_) => ErrorKind::Internal,
        }
    }

    pub fn error_code(&self) -> &'static str {
        match self {
            QueryError::Invalid(_) => "invalid_query",
            QueryError::Forbidden(_) => "forbidden",
            QueryError::RowLimit(_) => "query_row_limit",
            QueryError::MemoryLimit(_) => "query_memory_limit",
            QueryError::Timeout(_) => "query_timeout",
            QueryError::Unavailable(_) => "storage_unavailable",
            QueryError::Coordinator(error) => error.error_code(),
            QueryError::Internal(_) => "internal",
        }
    }
}

impl From<DataFusionError> for QueryError {
    fn from(error: DataFusionError) -> Self {
        // The cause, through DataFusion's context and shared wrappers.
        let root = error.find_root();
        if let DataFusionError::External(inner) = root {
            if let Some(query) = inner.downcast_ref::<QueryError>() {
                return match query {
                    QueryError::Forbidden(topic) => QueryError::Forbidden(topic.clone()),
                    other => QueryError::Internal(other.to_string()),
                };
            }
            if let Some(read) = inner.downcast_ref::<ReadError>() {
                return match read.kind() {
                    ErrorKind::InvalidInput => QueryError::Invalid(read.to_string()),
                    ErrorKind::Unavailable => QueryError::Unavailable(read.to_string()),
                    _ => QueryError::Internal(read.to_string()),
                };
            }
        }
        match root {
            DataFusionError::ResourcesExhausted(message) => {
                QueryError::MemoryLimit(message.clone())
            }
            DataFusionError::Internal(message) => QueryError::Internal(message.clone()),
            DataFusionError::ObjectStore(inner) => QueryError::Unavailable(inner.to_string()),
            DataFusionError::IoError(inner) => QueryError::Internal(inner.to_string()),
            // The statement, its names and types, and what its expressions do with the
            // data are the caller's.
            _ => QueryError::Invalid(root.to_string()),
        }
    }
}
