//! The small set of error kinds that decide retries and HTTP status codes.

/// What a caller can do about an error. Richer per-crate enums map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was malformed or violated a limit; retrying it unchanged fails again.
    InvalidInput,
    /// The named thing (topic, partition, group) does not exist.
    NotFound,
    /// The request conflicts with current state (e.g. the topic already exists).
    Conflict,
    /// A dependency (object store, metadata store) failed transiently; retry later.
    Unavailable,
    /// Stored data failed validation (checksum, magic, version).
    Corrupt,
    /// A bug or an unexpected state.
    Internal,
    /// The caller may not do this (an ACL is missing).
    Forbidden,
}
