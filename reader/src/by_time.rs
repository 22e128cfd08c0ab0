//! Finding a partition's first record at or after a time (Kafka's ListOffsets by
//! timestamp, and HTTP fetches from a time): walk the index from the log start, skip
//! every entry whose newest record is older, and read only the entry that holds it.

use silt_core::coordinator::PartitionOffsets;

use crate::{ReadError, Reader};

/// Index entries per lookup.
const LOOKUP_ENTRIES: u32 = 16;
/// Lookups one search may make.
const MAX_LOOKUPS: usize = 4096;

impl Reader {
    /// The offset and time of the first record of `topic`'s `partition` whose time is at
    /// least `timestamp`, below the high watermark of `offsets`; `None` when no record is
    /// that new.
    pub async fn first_at_or_after(
        &self,
        topic: &str,
        partition: u32,
        offsets: &PartitionOffsets,
        timestamp: i64,
    ) -> Result<Option<(u64, i64)>, ReadError> {
        let mut next = offsets.log_start_offset;
        for _ in 0..MAX_LOOKUPS {
            if next >= offsets.high_watermark {
                break;
            }
            let lookup = self
                .coordinator()
                .lookup(topic, partition, next, LOOKUP_ENTRIES)
                .await?;
            if lookup.entries.is_empty() {
                break;
            }
            for entry in &lookup.entries {
                if entry.max_timestamp >= timestamp {
                    let records = self
                        .read_entry_with_retries(entry, topic, partition, next)
                        .await?;
                    if let Some((offset, record)) = records
                        .iter()
                        .find(|(offset, record)| *offset >= next && record.timestamp >= timestamp)
                    {
                        return Ok(Some((*offset, record.timestamp)));
                    }
                    // A compacted file's row group holds part of the entry: look again.
                    if let Some((last, _)) = records.last()
                        && *last + 1 < entry.end_offset()
                    {
                        next = *last + 1;
                        break;
                    }
                }
                next = entry.end_offset();
            }
        }
        Ok(None)
    }
}
