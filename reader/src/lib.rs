//! Silt's read path as a library: find the index entries that hold an offset range,
//! read each chunk with one ranged GET through a foyer hybrid cache (memory + local
//! disk), verify and decode it, and return records from the offset on.

mod cache;
mod error;
mod fetch;
pub mod storage;
pub mod table;

pub use cache::{CacheConfig, CacheStats, ChunkCache};
pub use error::ReadError;
pub use fetch::{FetchRequest, FetchResult, FetchedRecord, Reader};

#[cfg(test)]
mod tests;
