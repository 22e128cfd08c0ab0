use silt_core::ErrorKind;
use silt_core::coordinator::CoordinatorError;
use silt_core::segment::SegmentError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReadError {
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    #[error("object store read of {object_key} failed: {source}")]
    Storage {
        object_key: String,
        source: object_store::Error,
    },
    #[error("object {object_key} at bytes {byte_offset}+{byte_len} is corrupt: {source}")]
    Corrupt {
        object_key: String,
        byte_offset: u64,
        byte_len: u32,
        source: SegmentError,
    },
    #[error("compacted file {object_key} cannot be read: {message}")]
    Table { object_key: String, message: String },
    #[error("index is inconsistent: {0}")]
    Inconsistent(String),
    #[error("chunk cache failed: {0}")]
    Cache(String),
}

impl ReadError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReadError::Coordinator(error) => error.kind(),
            ReadError::Storage { .. } | ReadError::Table { .. } => ErrorKind::Unavailable,
            ReadError::Corrupt { .. } => ErrorKind::Corrupt,
            ReadError::Inconsistent(_) | ReadError::Cache(_) => ErrorKind::Internal,
        }
    }
}
