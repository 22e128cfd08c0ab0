//! Read-ahead for a catch-up: while readers of a topic read several of its partitions
//! (a consumer group catching up), a fetch that stopped before a segment chunk that is
//! not cached starts reading that segment's topic range in the background, so that the
//! next fetch finds it in the cache instead of waiting for its GETs. At most
//! [`READ_AHEADS`] run at once; a demand read of the same segment waits on the
//! segment's gate for the read-ahead and is then served from the cache.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use silt_core::coordinator::{EntryFormat, IndexEntry};
use tracing::debug;

use super::Reader;

/// Read-aheads in flight at once (each holds one segment's topic range in memory).
pub(super) const READ_AHEADS: usize = 2;

impl Reader {
    /// Starts reading `entry`'s chunk (with the rest of `topic`'s chunks in its segment)
    /// in the background when `topic` is being caught up on several partitions, the
    /// chunk is not cached and a read-ahead slot is free; returns at once.
    pub fn read_ahead(self: &Arc<Self>, entry: &IndexEntry, topic: &str) {
        if entry.format != EntryFormat::Segment
            || !self.reads_whole_segment(entry)
            || !self.several_partitions_reading(topic)
        {
            return;
        }
        let Ok(permit) = Arc::clone(&self.read_ahead_permits).try_acquire_owned() else {
            return;
        };
        let reader = Arc::clone(self);
        let entry = entry.clone();
        let topic = topic.to_owned();
        tokio::spawn(async move {
            let _permit = permit;
            let cached = reader
                .cache
                .peek(&entry.object_key, entry.byte_offset, entry.byte_len)
                .await;
            if cached.is_some() {
                return;
            }
            reader.read_aheads.fetch_add(1, Ordering::Relaxed);
            if let Err(error) = reader.read_chunk_frame(&entry, Some(&topic)).await {
                debug!(%error, object_key = %entry.object_key, "read-ahead failed; a fetch will read it");
            }
        });
    }

    /// Segment reads started ahead of a fetch.
    pub fn read_aheads(&self) -> u64 {
        self.read_aheads.load(Ordering::Relaxed)
    }

    /// No read-ahead is running.
    #[cfg(test)]
    pub(crate) fn read_ahead_permits_free(&self) -> bool {
        self.read_ahead_permits.available_permits() == READ_AHEADS
    }
}
