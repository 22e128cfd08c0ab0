//! Every operation of the metadata store, written once over a database's [`Tx`]: the
//! backends ([`super::sqlite`], [`super::postgres`]) open connections and transactions
//! and run these. What a commit decides is [`super::plan`]'s; these read the rows it
//! needs and write the rows it returns.
//!
//! [`Tx`]: super::db::Tx

pub mod commit;
pub mod groups;
pub mod objects;
pub mod security;
pub mod snapshot;
pub mod topics;
pub mod transactions;

use crate::error::StoreError;

pub(crate) use crate::store::rows::{to_u32, to_u64};

/// An offset as the index stores it (offsets past `i64::MAX` stand at its end).
pub(crate) fn stored_offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

pub(crate) fn json_error(error: serde_json::Error) -> StoreError {
    StoreError::Invalid(error.to_string())
}
