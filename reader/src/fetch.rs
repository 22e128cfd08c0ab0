use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use silt_core::Coordinator;
use silt_core::ErrorKind;
use silt_core::coordinator::{EntryFormat, IndexEntry, PartitionOffsets};
use silt_core::record::StoredRecord;
use silt_core::segment::{
    Compression, DecodedChunk, SegmentError, decode_chunk, decode_segment_index, encode_chunk,
};

mod read_ahead;
mod topic_range;
use silt_core::transactions::{Isolation, TxnOutcome};
use tokio::sync::Semaphore;
use tracing::{debug, instrument, trace};

use futures::TryStreamExt;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};

use crate::cache::{ChunkCache, ViewCost};
use crate::error::ReadError;
use crate::table;

/// Index entries asked for per coordinator lookup.
const LOOKUP_BATCH: u32 = 16;
/// Tries per entry read before a fetch fails with `storage_unavailable`.
const READ_ATTEMPTS: u32 = 4;
/// Cache-key byte length marking a decoded row group of a compacted file.
const ROW_GROUP_MARK: u32 = u32::MAX;
/// A decoded row group is cached in parts of this many records, so that a fetch inside a
/// large row group decodes one part, not the whole group.
const ROW_GROUP_PART_RECORDS: u64 = 4096;
/// Footers of compacted files kept in memory.
const MAX_CACHED_FOOTERS: usize = 1024;
/// Lookups one fetch may make before it returns what it has.
const MAX_LOOKUPS_PER_FETCH: usize = 8;
/// Segments up to this size are read whole on a cache miss (by default).
pub const DEFAULT_WHOLE_SEGMENT_BYTES: u64 = 16 << 20;
/// A segment is read whole only if it is at most this many times the chunk asked for,
/// so that one partition of thousands is not read at the price of all of them.
const MAX_READ_AMPLIFICATION: u64 = 256;
/// Whole-segment reads in flight at once, which bounds the memory they hold.
const WHOLE_SEGMENT_READS: usize = 8;
/// Misses of two partitions of a topic this close together show readers of several of
/// its partitions, and keep whole-segment reads on for the topic this long after.
const DEMAND_WINDOW: Duration = Duration::from_secs(10);
/// Topics whose recent misses are remembered.
const MAX_TRACKED_TOPICS: usize = 4096;

/// The last cache miss on a topic's segment chunks, and whether its readers read
/// several partitions.
#[derive(Debug, Clone, Copy)]
struct TopicMisses {
    partition: u32,
    at: Instant,
    several_until: Option<Instant>,
}

impl TopicMisses {
    /// Whether misses on several partitions were seen recently enough to still count.
    fn still_several(&self, now: Instant) -> bool {
        self.several_until.is_some_and(|until| until > now)
    }
}

#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub max_records: usize,
    /// Bytes of encoded records to return at most; the first record always returns.
    pub max_bytes: usize,
    /// `ReadCommitted` stops at the last stable offset and skips aborted transactions'
    /// records; transactions' markers are never records.
    pub isolation: Isolation,
}

#[derive(Debug, Clone)]
pub struct FetchedRecord {
    pub offset: u64,
    pub record: StoredRecord,
}

#[derive(Debug, Clone)]
pub struct FetchResult {
    pub records: Vec<FetchedRecord>,
    /// The offset to fetch next.
    pub next_offset: u64,
    pub offsets: PartitionOffsets,
}

/// Whether a reader at `isolation` steps over an entry without reading it: a
/// transaction's marker, or the records of an aborted transaction for `read_committed`.
pub fn skipped(entry: &IndexEntry, isolation: Isolation) -> bool {
    entry.format == EntryFormat::Marker
        || (isolation == Isolation::ReadCommitted
            && entry
                .txn
                .is_some_and(|txn| txn.outcome == TxnOutcome::Aborted))
}

/// Serves fetches from the coordinator's index and the object store.
pub struct Reader {
    store: Arc<dyn ObjectStore>,
    coordinator: Arc<dyn Coordinator>,
    cache: ChunkCache,
    object_reads: AtomicU64,
    whole_segment_reads: AtomicU64,
    /// Misses served by reading a topic's range of a segment.
    topic_range_reads: AtomicU64,
    /// Parsed footers of compacted files (immutable once written).
    table_footers: Mutex<HashMap<String, ArrowReaderMetadata>>,
    /// Segments at most this large are read whole on a miss; 0 reads only the chunk.
    whole_segment_bytes: u64,
    /// One gate per segment being read whole, so that concurrent misses on its chunks
    /// wait for one GET instead of sending one each.
    segment_gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    whole_segment_permits: Semaphore,
    misses: Mutex<HashMap<String, TopicMisses>>,
    read_ahead_permits: Arc<Semaphore>,
    read_aheads: AtomicU64,
}

impl Reader {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        coordinator: Arc<dyn Coordinator>,
        cache: ChunkCache,
    ) -> Self {
        Reader {
            store,
            coordinator,
            cache,
            object_reads: AtomicU64::new(0),
            whole_segment_reads: AtomicU64::new(0),
            topic_range_reads: AtomicU64::new(0),
            table_footers: Mutex::default(),
            whole_segment_bytes: DEFAULT_WHOLE_SEGMENT_BYTES,
            segment_gates: Mutex::default(),
            whole_segment_permits: Semaphore::new(WHOLE_SEGMENT_READS),
            misses: Mutex::default(),
            read_ahead_permits: Arc::new(Semaphore::new(read_ahead::READ_AHEADS)),
            read_aheads: AtomicU64::new(0),
        }
    }

    /// Sets the size up to which a segment is read whole when one of its chunks misses
    /// the cache while readers read several partitions of its topic, and all its chunks
    /// cached; 0 reads just the chunk asked for.
    pub fn with_whole_segment_reads(mut self, max_bytes: u64) -> Self {
        self.whole_segment_bytes = max_bytes;
        self
    }

    pub(crate) fn coordinator(&self) -> &dyn Coordinator {
        self.coordinator.as_ref()
    }

    pub fn cache(&self) -> &ChunkCache {
        &self.cache
    }

    /// GETs this reader has sent to the object store.
    pub fn object_reads(&self) -> u64 {
        self.object_reads.load(Ordering::Relaxed)
    }

    /// Of those, the GETs of whole segments.
    pub fn whole_segment_reads(&self) -> u64 {
        self.whole_segment_reads.load(Ordering::Relaxed)
    }

    /// Misses served by reading the topic's range of a segment.
    pub fn topic_range_reads(&self) -> u64 {
        self.topic_range_reads.load(Ordering::Relaxed)
    }

    /// Reads records from `request.offset` on. An offset at the high watermark returns
    /// no records; one outside `[log_start_offset, high_watermark]` is an error.
    #[instrument(skip(self), fields(topic = %request.topic, partition = request.partition, offset = request.offset))]
    pub async fn fetch(&self, request: &FetchRequest) -> Result<FetchResult, ReadError> {
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let mut next_offset = request.offset;
        let mut offsets = None;
        'lookups: for _ in 0..MAX_LOOKUPS_PER_FETCH {
            let lookup = self
                .coordinator
                .lookup(&request.topic, request.partition, next_offset, LOOKUP_BATCH)
                .await?;
            offsets.get_or_insert(lookup.offsets);
            let end = lookup.offsets.readable_end(request.isolation);
            if lookup.entries.is_empty() {
                if next_offset < lookup.offsets.high_watermark {
                    return Err(ReadError::Inconsistent(format!(
                        "no index entry holds offset {next_offset} below the high watermark {}",
                        lookup.offsets.high_watermark
                    )));
                }
                break;
            }
            for entry in &lookup.entries {
                if entry.base_offset > next_offset {
                    return Err(ReadError::Inconsistent(format!(
                        "index gap: expected offset {next_offset}, next entry starts at {}",
                        entry.base_offset
                    )));
                }
                if records.len() >= request.max_records || entry.base_offset >= end {
                    break 'lookups;
                }
                if skipped(entry, request.isolation) {
                    next_offset = entry.end_offset();
                    continue;
                }
                let entry_records = self
                    .read_entry_with_retries(entry, &request.topic, request.partition, next_offset)
                    .await?;
                // A key compaction leaves gaps in a compacted file's offsets: its records
                // keep their offsets, and a fetch steps over the removed ones.
                let gaps = entry.format == EntryFormat::Parquet;
                let mut read_any = false;
                for (offset, record) in entry_records {
                    if offset < next_offset {
                        continue;
                    }
                    if offset >= entry.end_offset() || (offset != next_offset && !gaps) {
                        return Err(ReadError::Inconsistent(format!(
                            "{} holds offset {offset} where {next_offset} was expected",
                            entry.object_key
                        )));
                    }
                    let full = records.len() >= request.max_records
                        || (!records.is_empty() && bytes + record.encoded_len > request.max_bytes);
                    if full {
                        break 'lookups;
                    }
                    bytes += record.encoded_len;
                    records.push(FetchedRecord { offset, record });
                    next_offset = offset + 1;
                    read_any = true;
                }
                if next_offset < entry.end_offset() {
                    if gaps && !read_any {
                        // Nothing is left in the entry from here: its end was compacted away.
                        next_offset = entry.end_offset();
                        continue;
                    }
                    // A compacted file is read a row group at a time: look up again for more.
                    continue 'lookups;
                }
            }
            if next_offset >= end {
                break;
            }
        }
        let offsets =
            offsets.ok_or_else(|| ReadError::Inconsistent("fetch made no lookup".into()))?;
        Ok(FetchResult {
            records,
            next_offset,
            offsets,
        })
    }

    /// The decoded records of one index entry of `topic`'s `partition` (from `from` on,
    /// for a compacted file's row groups; a segment chunk returns all its records), from
    /// the cache or one GET, retrying transient object store failures with backoff.
    pub async fn read_entry_with_retries(
        &self,
        entry: &IndexEntry,
        topic: &str,
        partition: u32,
        from: u64,
    ) -> Result<Vec<(u64, StoredRecord)>, ReadError> {
        retried(|| async {
            match entry.format {
                EntryFormat::Segment => self.read_segment(entry, Some((topic, partition))).await,
                EntryFormat::Parquet => self.read_table(entry, partition, from).await,
                EntryFormat::Marker => Ok(Vec::new()),
            }
        })
        .await
    }

    /// The records of a segment-chunk index entry, with their offsets, from the cache or
    /// one ranged GET of the chunk (for a reader that goes partition by partition, such
    /// as a compaction, whose reads of whole segments would be evicted before use).
    pub async fn read_segment_entry(
        &self,
        entry: &IndexEntry,
    ) -> Result<Vec<(u64, StoredRecord)>, ReadError> {
        self.read_segment(entry, None).await
    }

    /// A segment chunk's records; a miss for a fetch of `(topic, partition)` may read
    /// the whole segment.
    async fn read_segment(
        &self,
        entry: &IndexEntry,
        fetching: Option<(&str, u32)>,
    ) -> Result<Vec<(u64, StoredRecord)>, ReadError> {
        let chunk = self.read_chunk(entry, fetching).await?;
        let records = chunk
            .all_records()
            .map_err(|source| corrupt(entry, source))?;
        Ok(records
            .into_iter()
            .enumerate()
            .map(|(position, record)| (entry.base_offset + position as u64, record))
            .collect())
    }

    /// A segment chunk, verified and decompressed; a miss for a fetch of `(topic,
    /// partition)` may read the whole segment.
    async fn read_chunk(
        &self,
        entry: &IndexEntry,
        fetching: Option<(&str, u32)>,
    ) -> Result<DecodedChunk, ReadError> {
        let frame = match self
            .cache
            .get(&entry.object_key, entry.byte_offset, entry.byte_len)
            .await
        {
            Some(frame) => frame,
            None => self.read_missed_frame(entry, fetching).await?,
        };
        Self::checked_chunk(entry, &frame)
    }

    /// The frame of a segment chunk that was not in the cache, read from the object
    /// store (retried while it is unavailable) for a fetch of `(topic, partition)`,
    /// which may read the whole segment.
    pub async fn read_missed_frame_with_retries(
        &self,
        entry: &IndexEntry,
        topic: &str,
        partition: u32,
    ) -> Result<Bytes, ReadError> {
        retried(|| self.read_missed_frame(entry, Some((topic, partition)))).await
    }

    async fn read_missed_frame(
        &self,
        entry: &IndexEntry,
        fetching: Option<(&str, u32)>,
    ) -> Result<Bytes, ReadError> {
        let topic_wide = fetching
            .filter(|(topic, partition)| {
                self.reads_whole_segment(entry) && self.several_partitions_read(topic, *partition)
            })
            .map(|(topic, _)| topic);
        self.read_chunk_frame(entry, topic_wide).await
    }

    /// The chunk in `frame`, verified, decompressed and checked against its index entry.
    pub fn checked_chunk(entry: &IndexEntry, frame: &Bytes) -> Result<DecodedChunk, ReadError> {
        let chunk = decode_chunk(frame).map_err(|source| corrupt(entry, source))?;
        if chunk.record_count != entry.record_count {
            return Err(ReadError::Inconsistent(format!(
                "chunk at {}#{} holds {} records, index says {}",
                entry.object_key, entry.byte_offset, chunk.record_count, entry.record_count
            )));
        }
        Ok(chunk)
    }

    /// Records of `partition` from the first row group of a compacted file that holds
    /// `from`, found by the column statistics in the file's (cached) footer.
    async fn read_table(
        &self,
        entry: &IndexEntry,
        partition: u32,
        from: u64,
    ) -> Result<Vec<(u64, StoredRecord)>, ReadError> {
        let path = ObjectPath::from(entry.object_key.as_str());
        let storage = |source: parquet::errors::ParquetError| ReadError::Table {
            object_key: entry.object_key.clone(),
            message: source.to_string(),
        };
        let metadata = match self.table_metadata(&entry.object_key) {
            Some(metadata) => metadata,
            None => {
                self.object_reads.fetch_add(1, Ordering::Relaxed);
                let mut input = table::TableFile::new(Arc::clone(&self.store), path.clone());
                let metadata =
                    ArrowReaderMetadata::load_async(&mut input, ArrowReaderOptions::default())
                        .await
                        .map_err(storage)?;
                self.remember_table_metadata(&entry.object_key, metadata.clone());
                metadata
            }
        };
        let groups =
            table::row_groups_for(metadata.metadata(), partition, from, entry.end_offset());
        // None when a key compaction removed every record of the range from `from` on.
        let Some(&(group, first_offset)) = groups.first() else {
            return Ok(Vec::new());
        };
        // A decoded row group is kept in the chunk cache as chunk frames of
        // `ROW_GROUP_PART_RECORDS` records each, keyed by the file, the row group (a byte
        // length no segment chunk has marks it) and the part.
        let corrupt = |source| ReadError::Corrupt {
            object_key: entry.object_key.clone(),
            byte_offset: group as u64,
            byte_len: ROW_GROUP_MARK,
            source,
        };
        let part = from.saturating_sub(first_offset) / ROW_GROUP_PART_RECORDS;
        if let Some(frame) = self
            .cache
            .get_view(
                &entry.object_key,
                group as u64,
                ROW_GROUP_MARK,
                &format!("part-{part}"),
            )
            .await
        {
            let records = decode_chunk(&frame)
                .and_then(|chunk| chunk.all_records())
                .map_err(corrupt)?;
            let part_offset = first_offset + part * ROW_GROUP_PART_RECORDS;
            return Ok(records
                .into_iter()
                .enumerate()
                .map(|(i, record)| (part_offset + i as u64, record))
                .collect());
        }
        self.object_reads.fetch_add(1, Ordering::Relaxed);
        let input = table::TableFile::new(Arc::clone(&self.store), path);
        let mut batches = ParquetRecordBatchStreamBuilder::new_with_metadata(input, metadata)
            .with_row_groups(vec![group])
            .build()
            .map_err(storage)?;
        let mut rows = Vec::new();
        while let Some(batch) = batches.try_next().await.map_err(storage)? {
            let decoded = table::batch_to_rows(&batch).map_err(|error| ReadError::Table {
                object_key: entry.object_key.clone(),
                message: error.to_string(),
            })?;
            rows.extend(
                decoded
                    .into_iter()
                    .filter(|row| row.partition == partition)
                    .map(|row| (row.offset, row.record)),
            );
        }
        let contiguous = rows
            .first()
            .is_some_and(|(offset, _)| *offset == first_offset)
            && rows.windows(2).all(|pair| pair[1].0 == pair[0].0 + 1);
        if contiguous {
            for (part, rows) in rows.chunks(ROW_GROUP_PART_RECORDS as usize).enumerate() {
                let frame = encode_chunk(
                    &table::encode_rows(rows),
                    rows.len() as u32,
                    Compression::Lz4,
                );
                self.cache.insert_view(
                    &entry.object_key,
                    group as u64,
                    ROW_GROUP_MARK,
                    &format!("part-{part}"),
                    ViewCost::Read,
                    frame,
                );
            }
        }
        Ok(rows)
    }

    fn table_metadata(&self, object_key: &str) -> Option<ArrowReaderMetadata> {
        self.table_footers.lock().ok()?.get(object_key).cloned()
    }

    fn remember_table_metadata(&self, object_key: &str, metadata: ArrowReaderMetadata) {
        if let Ok(mut footers) = self.table_footers.lock() {
            // Footers are small, but the cache must stay bounded.
            if footers.len() >= MAX_CACHED_FOOTERS {
                footers.clear();
            }
            footers.insert(object_key.to_owned(), metadata);
        }
    }

    /// Whether a miss on `entry` may read its whole segment, by its size: consumers
    /// catching up on a topic's partitions then cost one GET per segment, not one per
    /// chunk.
    fn reads_whole_segment(&self, entry: &IndexEntry) -> bool {
        entry.object_size > 0
            && entry.object_size <= self.whole_segment_bytes
            && entry.object_size <= u64::from(entry.byte_len).saturating_mul(MAX_READ_AMPLIFICATION)
    }

    /// Notes a miss on `topic`'s `partition` and tells whether the topic's readers read
    /// several of its partitions: another partition missed within [`DEMAND_WINDOW`], or
    /// did so before and misses kept coming. A consumer of one partition among many is
    /// then served just its chunks, and a group catching up on all of them whole segments.
    fn several_partitions_read(&self, topic: &str, partition: u32) -> bool {
        let Ok(mut misses) = self.misses.lock() else {
            return false;
        };
        let now = Instant::now();
        let last = misses.get(topic).copied();
        let several = last.is_some_and(|last| {
            last.still_several(now)
                || (last.partition != partition && now.duration_since(last.at) < DEMAND_WINDOW)
        });
        if last.is_none() && misses.len() >= MAX_TRACKED_TOPICS {
            misses.clear();
        }
        let several_until = if several {
            Some(now + DEMAND_WINDOW)
        } else {
            last.and_then(|last| last.several_until)
        };
        misses.insert(
            topic.to_owned(),
            TopicMisses {
                partition,
                at: now,
                several_until,
            },
        );
        several
    }

    /// Whether `topic`'s readers are reading several of its partitions now, as the last
    /// misses showed ([`Self::several_partitions_read`]), without noting a miss.
    fn several_partitions_reading(&self, topic: &str) -> bool {
        let Ok(misses) = self.misses.lock() else {
            return false;
        };
        misses
            .get(topic)
            .is_some_and(|last| last.still_several(Instant::now()))
    }

    /// The chunk frame of a segment entry that missed the cache, read (and cached) with
    /// the rest of its topic's chunks in the segment, or on its own.
    async fn read_chunk_frame(
        &self,
        entry: &IndexEntry,
        topic_wide: Option<&str>,
    ) -> Result<Bytes, ReadError> {
        let Some(topic) = topic_wide else {
            let frame = self.read_range(entry).await?;
            return Ok(self.cache_frame(entry, frame));
        };
        let gate = {
            let mut gates = self
                .segment_gates
                .lock()
                .map_err(|_| ReadError::Inconsistent("segment gates poisoned".into()))?;
            Arc::clone(gates.entry(entry.object_key.clone()).or_default())
        };
        let held = gate.lock().await;
        // A read of the segment that held the gate before us has cached this chunk.
        let result = match self
            .cache
            .peek(&entry.object_key, entry.byte_offset, entry.byte_len)
            .await
        {
            Some(frame) => Ok(frame),
            None => self.read_topic_chunks(entry, topic).await,
        };
        drop(held);
        if let Ok(mut gates) = self.segment_gates.lock() {
            // The map's reference and ours: nobody else waits on this gate.
            if Arc::strong_count(&gate) <= 2 {
                gates.remove(&entry.object_key);
            }
        }
        result
    }

    /// Puts `entry`'s chunk frame in the cache and hands it back.
    fn cache_frame(&self, entry: &IndexEntry, frame: Bytes) -> Bytes {
        self.cache.insert(
            &entry.object_key,
            entry.byte_offset,
            entry.byte_len,
            frame.clone(),
        );
        frame
    }

    /// Reads a whole segment with one GET, caches every chunk in it, and returns the
    /// frame of `entry`'s chunk. A segment whose footer cannot be read still serves the
    /// chunk's byte range, which its own checksum guards.
    async fn read_whole_segment(&self, entry: &IndexEntry) -> Result<Bytes, ReadError> {
        let _permit = self
            .whole_segment_permits
            .acquire()
            .await
            .map_err(|_| ReadError::Inconsistent("whole-segment reads closed".into()))?;
        trace!(object_key = %entry.object_key, size = entry.object_size, "whole-segment read");
        self.object_reads.fetch_add(1, Ordering::Relaxed);
        self.whole_segment_reads.fetch_add(1, Ordering::Relaxed);
        let storage = |source| ReadError::Storage {
            object_key: entry.object_key.clone(),
            source,
        };
        let path = ObjectPath::from(entry.object_key.as_str());
        let object = self
            .store
            .get(&path)
            .await
            .map_err(storage)?
            .bytes()
            .await
            .map_err(storage)?;
        let chunk = |offset: u64, len: u32| {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(len as usize)?;
            // Copied out, so that a cached chunk does not pin the whole object.
            object.get(start..end).map(Bytes::copy_from_slice)
        };
        let others = decode_segment_index(&object).map_or_else(
            |error| {
                debug!(%error, object_key = %entry.object_key, "segment footer unreadable; using the chunk's range");
                Vec::new()
            },
            |index| index.chunks,
        );
        for location in others.iter().filter(|location| {
            (location.offset, location.len) != (entry.byte_offset, entry.byte_len)
        }) {
            if let Some(frame) = chunk(location.offset, location.len) {
                self.cache
                    .insert(&entry.object_key, location.offset, location.len, frame);
            }
        }
        let frame = chunk(entry.byte_offset, entry.byte_len).ok_or_else(|| {
            ReadError::Inconsistent(format!(
                "{} ({} bytes) has no chunk at {}+{}",
                entry.object_key,
                object.len(),
                entry.byte_offset,
                entry.byte_len
            ))
        })?;
        Ok(self.cache_frame(entry, frame))
    }

    async fn read_range(&self, entry: &IndexEntry) -> Result<Bytes, ReadError> {
        trace!(object_key = %entry.object_key, byte_offset = entry.byte_offset, "ranged read");
        self.object_reads.fetch_add(1, Ordering::Relaxed);
        let path = ObjectPath::from(entry.object_key.as_str());
        let range = entry.byte_offset..entry.byte_offset + u64::from(entry.byte_len);
        self.store
            .get_range(&path, range)
            .await
            .map_err(|source| ReadError::Storage {
                object_key: entry.object_key.clone(),
                source,
            })
    }
}

/// `read` until it succeeds, fails for good, or has failed [`READ_ATTEMPTS`] times with
/// the store unavailable.
async fn retried<T, F: Future<Output = Result<T, ReadError>>>(
    mut read: impl FnMut() -> F,
) -> Result<T, ReadError> {
    let mut attempt = 0;
    loop {
        match read().await {
            Err(error) if error.kind() == ErrorKind::Unavailable && attempt + 1 < READ_ATTEMPTS => {
                attempt += 1;
                debug!(%error, attempt, "read failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
            other => return other,
        }
    }
}

/// A chunk of `entry` that failed to decode.
fn corrupt(entry: &IndexEntry, source: SegmentError) -> ReadError {
    ReadError::Corrupt {
        object_key: entry.object_key.clone(),
        byte_offset: entry.byte_offset,
        byte_len: entry.byte_len,
        source,
    }
}
