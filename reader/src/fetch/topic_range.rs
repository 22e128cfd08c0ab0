//! Catch-up reads that fetch only what they deliver: a segment lays its chunks out by
//! topic and partition, so a topic's chunks are one contiguous byte range. A miss by a
//! reader of several of a topic's partitions reads the segment's index from the end of
//! the object, then that range with one GET, and caches each of the topic's chunks;
//! other topics' chunks in the same segment are not read. Segments smaller than
//! [`TOPIC_RANGE_MIN_OBJECT`], or whose topic range is most of the object, are read
//! whole with one GET instead.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use silt_core::coordinator::IndexEntry;
use silt_core::segment::{SegmentIndex, SegmentTail, decode_segment_tail};
use tracing::{debug, trace};

use super::Reader;
use crate::ReadError;

/// Segments at least this large are read by topic range; smaller ones whole.
pub(super) const TOPIC_RANGE_MIN_OBJECT: u64 = 1 << 20;
/// The end of a segment read first for its index (which names where the index starts
/// if it is longer).
const INDEX_TAIL_BYTES: u64 = 16 << 10;

impl Reader {
    /// `topic`'s chunks of `entry`'s segment, read as one range (or the whole segment
    /// when that is about as much), cached; answers `entry`'s frame.
    pub(super) async fn read_topic_chunks(
        &self,
        entry: &IndexEntry,
        topic: &str,
    ) -> Result<Bytes, ReadError> {
        if entry.object_size < TOPIC_RANGE_MIN_OBJECT {
            return self.read_whole_segment(entry).await;
        }
        let index = match self.read_segment_index(entry).await {
            Ok(index) => index,
            Err(error) => {
                debug!(%error, object_key = %entry.object_key, "segment index unreadable; reading the chunk alone");
                let frame = self.read_range(entry).await?;
                return Ok(self.cache_frame(entry, frame));
            }
        };
        let mine: Vec<(u64, u32)> = index
            .chunks
            .iter()
            .filter(|chunk| chunk.topic == topic)
            .map(|chunk| (chunk.offset, chunk.len))
            .collect();
        let start = mine.iter().map(|(offset, _)| *offset).min();
        let end = mine
            .iter()
            .map(|(offset, len)| offset.saturating_add(u64::from(*len)))
            .max();
        let entry_end = entry.byte_offset + u64::from(entry.byte_len);
        let (Some(start), Some(end)) = (start, end) else {
            let frame = self.read_range(entry).await?;
            return Ok(self.cache_frame(entry, frame));
        };
        if start > entry.byte_offset || end < entry_end || end > entry.object_size {
            // The index does not agree with the entry: its own range is safe.
            let frame = self.read_range(entry).await?;
            return Ok(self.cache_frame(entry, frame));
        }
        if (end - start).saturating_mul(10) >= entry.object_size.saturating_mul(9) {
            return self.read_whole_segment(entry).await;
        }
        trace!(object_key = %entry.object_key, start, end, topic, "topic range read");
        self.object_reads.fetch_add(1, Ordering::Relaxed);
        self.topic_range_reads.fetch_add(1, Ordering::Relaxed);
        let range = self.get_range(entry, start..end).await?;
        let mut frame = None;
        for (offset, len) in mine {
            let from = (offset - start) as usize;
            let Some(bytes) = range.get(from..from + len as usize) else {
                continue;
            };
            // Copied out, so that a cached chunk does not pin the whole range.
            let copied = Bytes::copy_from_slice(bytes);
            if (offset, len) == (entry.byte_offset, entry.byte_len) {
                frame = Some(copied.clone());
            }
            self.cache.insert(&entry.object_key, offset, len, copied);
        }
        frame.ok_or_else(|| {
            ReadError::Inconsistent(format!(
                "{}'s index has no chunk at {}+{}",
                entry.object_key, entry.byte_offset, entry.byte_len
            ))
        })
    }

    /// The index of `entry`'s segment, from the end of the object (one GET, two when
    /// the index is longer than the tail read first).
    async fn read_segment_index(&self, entry: &IndexEntry) -> Result<SegmentIndex, ReadError> {
        let size = entry.object_size;
        let tail_len = size.min(INDEX_TAIL_BYTES);
        self.object_reads.fetch_add(1, Ordering::Relaxed);
        let tail = self.get_range(entry, size - tail_len..size).await?;
        let corrupt = |source| ReadError::Corrupt {
            object_key: entry.object_key.clone(),
            byte_offset: size - tail_len,
            byte_len: tail_len as u32,
            source,
        };
        match decode_segment_tail(&tail, size).map_err(corrupt)? {
            SegmentTail::Index(index) => Ok(index),
            SegmentTail::Needs(range) => {
                self.object_reads.fetch_add(1, Ordering::Relaxed);
                let bytes = self.get_range(entry, range).await?;
                match decode_segment_tail(&bytes, size).map_err(corrupt)? {
                    SegmentTail::Index(index) => Ok(index),
                    SegmentTail::Needs(_) => Err(ReadError::Inconsistent(format!(
                        "{}'s index is not where its trailer says",
                        entry.object_key
                    ))),
                }
            }
        }
    }

    async fn get_range(
        &self,
        entry: &IndexEntry,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, ReadError> {
        self.store
            .get_range(&ObjectPath::from(entry.object_key.as_str()), range)
            .await
            .map_err(|source| ReadError::Storage {
                object_key: entry.object_key.clone(),
                source,
            })
    }
}
