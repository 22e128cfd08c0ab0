//! Silt's read path as a library: find the index entries that hold an offset range,
//! read each chunk through a foyer hybrid cache (memory + local disk), on a miss with
//! one GET of its whole segment (which caches the segment's other chunks too) or of its
//! byte range, verify and decode it, and return records from the offset on.

mod by_time;
mod cache;
mod error;
mod fetch;
pub mod iceberg;
pub mod storage;
pub mod table;

pub use cache::{CacheConfig, CacheStats, ChunkCache, ViewCost};
pub use error::ReadError;
pub use fetch::{
    DEFAULT_WHOLE_SEGMENT_BYTES, FetchRequest, FetchResult, FetchedRecord, Reader, skipped,
};

#[cfg(test)]
mod tests;
