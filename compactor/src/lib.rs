//! Silt's compactor: rewrites old segment chunks of a topic into large Parquet files
//! (`tables/<topic>/date=YYYY-MM-DD/<id>.parquet`, zstd, one partition per row group,
//! sorted by partition and offset, with column statistics), then swaps the index in
//! one coordinator transaction so readers see either the chunks or the file, never a
//! gap. Consumers replaying old offsets read the same records from the file.

mod clean;
pub mod iceberg;
mod key_compaction;
mod stats;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use silt_core::Coordinator;
use silt_core::coordinator::{CoordinatorError, EntryFormat, IndexEntry, TableCommit, TableRange};
use silt_core::keys::{
    SEGMENTS_DIR, TABLES_DIR, iceberg_metadata_topic, table_object_key, table_topic,
};
use silt_core::schema::ValueSchema;
use silt_core::transactions::{Isolation, TxnOutcome};
use silt_core::{ErrorKind, now_ms};
use silt_reader::skipped;
use silt_reader::table::TableRow;
use silt_reader::{ReadError, Reader};
use thiserror::Error;
use tracing::{info, instrument, warn};

use crate::iceberg::{IcebergConfig, IcebergError, IcebergTables};
use crate::writer::TableWriter;

pub use stats::CompactorStats;

/// How the compactor picks and sizes its work.
#[derive(Debug, Clone)]
pub struct CompactorConfig {
    /// Segment chunks whose newest record is younger than this stay as they are.
    pub min_age_ms: i64,
    /// A file is closed once it holds about this many bytes of records.
    pub target_file_bytes: usize,
    /// Most rows in one row group.
    pub row_group_rows: usize,
    /// For crash tests only: wait this long between writing a file and swapping the
    /// index, so a test can kill the process in between.
    pub pause_before_swap_ms: u64,
    /// For crash tests only: wait this long between swapping the index and committing
    /// the Iceberg table.
    pub pause_before_iceberg_ms: u64,
    /// Most distinct keys one key compaction of a partition maps (about 48 bytes each);
    /// a partition with more is cleaned over several runs.
    pub key_map_keys: usize,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        CompactorConfig {
            min_age_ms: 10 * 60 * 1000,
            target_file_bytes: 128 << 20,
            row_group_rows: 64 * 1024,
            pause_before_swap_ms: 0,
            pause_before_iceberg_ms: 0,
            key_map_keys: 1 << 20,
        }
    }
}

#[derive(Debug, Error)]
pub enum CompactError {
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("writing parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building a record batch: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("iceberg table: {0}")]
    Iceberg(#[from] IcebergError),
    #[error("writing {object_key}: {source}")]
    Storage {
        object_key: String,
        source: object_store::Error,
    },
}

impl CompactError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CompactError::Coordinator(error) => error.kind(),
            CompactError::Read(error) => error.kind(),
            CompactError::Parquet(_) | CompactError::Arrow(_) => ErrorKind::Internal,
            CompactError::Storage { .. } | CompactError::Iceberg(_) => ErrorKind::Unavailable,
        }
    }
}

/// What one compaction run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionSummary {
    /// Records dropped by retention (`retention_ms`, `retention_bytes`).
    pub expired_records: u64,
    pub files: Vec<String>,
    pub records: u64,
    /// Bytes of encoded records read from segments.
    pub record_bytes: u64,
    /// Bytes of the Parquet files written.
    pub parquet_bytes: u64,
    /// Records that key compaction removed (superseded, keyless, expired tombstones).
    pub records_removed: u64,
}

/// S3 reports `LastModified` to the second, so an orphan must look this much older than
/// the grace period before it goes, so a fresh PUT is never mistaken for an old one.
const LAST_MODIFIED_PRECISION_MS: i64 = 1000;

/// What one garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcSummary {
    /// Committed objects no index entry referenced any more (compacted or expired).
    pub unreferenced_deleted: u64,
    /// Objects in the bucket the coordinator never committed (failed commits, refused swaps).
    pub orphans_deleted: u64,
    /// Unreferenced compacted files kept because a retained Iceberg snapshot lists them.
    pub kept_for_snapshots: u64,
    /// Iceberg metadata files (old versions, manifests) deleted.
    pub iceberg_files_deleted: u64,
    /// Iceberg snapshots expired.
    pub snapshots_expired: u64,
}

pub struct Compactor {
    store: Arc<dyn ObjectStore>,
    coordinator: Arc<dyn Coordinator>,
    reader: Arc<Reader>,
    config: CompactorConfig,
    stats: CompactorStats,
    /// Where each partition's next key compaction starts mapping keys.
    dirty_starts: clean::DirtyStarts,
    /// Each topic's Iceberg table, when the compactor keeps them.
    iceberg: Option<IcebergTables>,
}

/// One partition's eligible chunks.
struct Pending {
    partition: u32,
    entries: Vec<IndexEntry>,
}

impl Compactor {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        coordinator: Arc<dyn Coordinator>,
        reader: Arc<Reader>,
        config: CompactorConfig,
    ) -> Self {
        Compactor {
            store,
            coordinator,
            reader,
            config,
            stats: CompactorStats::default(),
            dirty_starts: clean::DirtyStarts::default(),
            iceberg: None,
        }
    }

    /// Keeps each compacted topic as an Iceberg table in the bucket.
    pub fn with_iceberg(mut self, config: IcebergConfig) -> Self {
        self.iceberg = Some(IcebergTables::new(Arc::clone(&self.store), config));
        self
    }

    /// Brings `topic`'s Iceberg table in step with the index. A failure is logged and
    /// left to the next run, which repairs it: the index is already right.
    async fn sync_iceberg(&self, topic: &str) {
        let Some(iceberg) = &self.iceberg else {
            return;
        };
        let result = async {
            let info = self.coordinator.get_topic(topic).await?;
            let live = self.coordinator.list_tables(topic).await?;
            iceberg.sync(&info, &live).await?;
            Ok::<(), CompactError>(())
        }
        .await;
        if let Err(error) = result {
            CompactorStats::add(&self.stats.iceberg_commits_failed, 1);
            warn!(topic, %error, "could not commit the Iceberg table; the next run will");
        }
    }

    /// What this compactor has done since start-up.
    pub fn stats(&self) -> &CompactorStats {
        &self.stats
    }

    /// Compacts every eligible chunk of `topic`; with `now`, regardless of age.
    #[instrument(skip(self))]
    pub async fn compact_topic(
        &self,
        topic: &str,
        now: bool,
    ) -> Result<CompactionSummary, CompactError> {
        let started = std::time::Instant::now();
        let result = self.compact_topic_once(topic, now).await;
        self.stats.run_seconds.record_duration(started.elapsed());
        match &result {
            Ok(_) => self
                .stats
                .last_success_ms
                .store(u64::try_from(now_ms()).unwrap_or(0), Ordering::Relaxed),
            Err(_) => CompactorStats::add(&self.stats.runs_failed, 1),
        }
        result
    }

    async fn compact_topic_once(
        &self,
        topic: &str,
        now: bool,
    ) -> Result<CompactionSummary, CompactError> {
        let expired_records = self.enforce_retention(topic).await?;
        CompactorStats::add(&self.stats.records_expired, expired_records);
        // Retention's removals, and whatever a crash left uncommitted.
        self.sync_iceberg(topic).await;
        let mut summary = CompactionSummary {
            expired_records,
            ..CompactionSummary::default()
        };
        let cutoff = if now {
            i64::MAX
        } else {
            now_ms().saturating_sub(self.config.min_age_ms)
        };
        loop {
            let pending = self.eligible(topic, cutoff).await?;
            if pending.is_empty() {
                // Then key compaction, over the compacted files (none for other topics).
                self.clean_topic(topic, &mut summary).await?;
                return Ok(summary);
            }
            let before = summary.clone();
            self.write_file(topic, pending, &mut summary).await?;
            let stats = &self.stats;
            CompactorStats::add(&stats.files_written, 1);
            CompactorStats::add(&stats.records_compacted, summary.records - before.records);
            CompactorStats::add(
                &stats.record_bytes_read,
                summary.record_bytes - before.record_bytes,
            );
            CompactorStats::add(
                &stats.parquet_bytes_written,
                summary.parquet_bytes - before.parquet_bytes,
            );
        }
    }

    /// Deletes objects that nothing references: committed objects whose index entries
    /// were all compacted or expired, and objects the coordinator never committed. Only
    /// objects older than `grace_ms` go, so reads that looked an object up just before
    /// it became unreferenced can finish, and a gateway's PUT is never collected before
    /// its commit.
    #[instrument(skip(self))]
    pub async fn collect_garbage(&self, grace_ms: i64) -> Result<GcSummary, CompactError> {
        let before = now_ms().saturating_sub(grace_ms);
        let mut summary = GcSummary::default();
        let protected = self.iceberg_maintenance(grace_ms, &mut summary).await?;
        let mut kept: std::collections::HashSet<String> = std::collections::HashSet::new();
        loop {
            let keys = self.coordinator.unreferenced_objects(before, 256).await?;
            if keys.iter().all(|key| kept.contains(key)) {
                break;
            }
            for key in keys {
                // A file an Iceberg snapshot still lists waits until that one expires.
                if protected.contains(&key) {
                    if kept.insert(key) {
                        summary.kept_for_snapshots += 1;
                    }
                    continue;
                }
                self.delete(&key).await?;
                if self.coordinator.forget_object(&key).await? {
                    summary.unreferenced_deleted += 1;
                    CompactorStats::add(&self.stats.objects_deleted, 1);
                }
            }
        }
        for prefix in [SEGMENTS_DIR, TABLES_DIR] {
            let listed: Vec<ObjectMeta> = self
                .store
                .list(Some(&ObjectPath::from(prefix)))
                .try_collect()
                .await
                .map_err(|source| CompactError::Storage {
                    object_key: prefix.to_owned(),
                    source,
                })?;
            // Iceberg metadata is never committed to the index: Iceberg's rules clean it.
            let old: Vec<String> = listed
                .into_iter()
                .filter(|meta| {
                    meta.last_modified.timestamp_millis() + LAST_MODIFIED_PRECISION_MS < before
                })
                .map(|meta| meta.location.to_string())
                .filter(|key| iceberg_metadata_topic(key).is_none())
                .collect();
            for batch in old.chunks(500) {
                let known = self.coordinator.known_objects(batch.to_vec()).await?;
                for key in batch.iter().filter(|key| !known.contains(key)) {
                    self.delete(key).await?;
                    summary.orphans_deleted += 1;
                    CompactorStats::add(&self.stats.objects_deleted, 1);
                    info!(object_key = %key, "deleted an object no commit refers to");
                }
            }
        }
        Ok(summary)
    }

    /// Expires old Iceberg snapshots of the topics that may have some and of those with
    /// unreferenced compacted files, and deletes Iceberg metadata files no version needs
    /// (and the tables of deleted topics) older than `grace_ms`. Answers the compacted
    /// files retained snapshots still list.
    async fn iceberg_maintenance(
        &self,
        grace_ms: i64,
        summary: &mut GcSummary,
    ) -> Result<std::collections::HashSet<String>, CompactError> {
        let mut protected = std::collections::HashSet::new();
        let Some(iceberg) = &self.iceberg else {
            return Ok(protected);
        };
        let topics = self.coordinator.list_topics().await?;
        let names: std::collections::HashSet<String> =
            topics.iter().map(|topic| topic.name.clone()).collect();
        let mut due: std::collections::HashSet<String> = iceberg.due_topics().into_iter().collect();
        let unreferenced = self
            .coordinator
            .unreferenced_objects(i64::MAX, 1024)
            .await?;
        due.extend(
            unreferenced
                .iter()
                .filter_map(|key| table_topic(key))
                .map(str::to_owned),
        );
        for topic in topics.iter().filter(|topic| due.contains(&topic.name)) {
            let maintained = iceberg.maintain(topic, grace_ms).await?;
            summary.snapshots_expired += maintained.snapshots_expired as u64;
            summary.iceberg_files_deleted += maintained.metadata_files_deleted;
            protected.extend(maintained.protected);
        }
        summary.iceberg_files_deleted += iceberg.forget_deleted_topics(&names, grace_ms).await?;
        Ok(protected)
    }

    async fn delete(&self, key: &str) -> Result<(), CompactError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(CompactError::Storage {
                object_key: key.to_owned(),
                source,
            }),
        }
    }

    /// Drops, per partition, the oldest whole index entries that are past the topic's
    /// `retention_ms` (every record older) or beyond its `retention_bytes` (the newer
    /// entries alone hold at least that much), by moving the log start. Returns the
    /// records dropped.
    #[instrument(skip(self))]
    pub async fn enforce_retention(&self, topic: &str) -> Result<u64, CompactError> {
        let description = self.coordinator.describe_topic(topic).await?;
        // cleanup.policy=compact alone keeps records by key, not by age or size.
        if !description.topic.configs.cleanup_policy().deletes() {
            return Ok(0);
        }
        let retention_ms = description.topic.retention_ms.filter(|ms| *ms > 0);
        let retention_bytes = description
            .topic
            .retention_bytes
            .filter(|bytes| *bytes > 0)
            .map(|bytes| bytes as u64);
        if retention_ms.is_none() && retention_bytes.is_none() {
            return Ok(0);
        }
        let cutoff = retention_ms.map(|ms| now_ms().saturating_sub(ms));
        let mut dropped = 0;
        for offsets in description.partitions {
            let mut entries = Vec::new();
            let mut offset = offsets.log_start_offset;
            while offset < offsets.high_watermark {
                let lookup = self
                    .coordinator
                    .lookup(topic, offsets.partition, offset, 256)
                    .await?;
                let Some(last) = lookup.entries.last() else {
                    break;
                };
                offset = last.end_offset();
                entries.extend(lookup.entries);
            }
            let mut remaining: u64 = entries.iter().map(|entry| u64::from(entry.byte_len)).sum();
            let mut new_start = offsets.log_start_offset;
            for entry in &entries {
                let expired = cutoff.is_some_and(|cutoff| entry.max_timestamp < cutoff);
                // As Kafka does: an entry goes only if the newer ones still hold the limit.
                let oversized = retention_bytes
                    .is_some_and(|limit| remaining - u64::from(entry.byte_len) >= limit);
                if !expired && !oversized {
                    break;
                }
                remaining -= u64::from(entry.byte_len);
                new_start = entry.end_offset();
            }
            if new_start > offsets.log_start_offset {
                let moved = self
                    .coordinator
                    .truncate_before(topic, offsets.partition, new_start)
                    .await?;
                dropped += moved.log_start_offset - offsets.log_start_offset;
                info!(
                    topic,
                    partition = offsets.partition,
                    log_start_offset = moved.log_start_offset,
                    "retention moved the log start"
                );
            }
        }
        Ok(dropped)
    }

    /// Per partition, the segment entries from the oldest uncompacted offset on whose
    /// records are all older than `cutoff`, up to about one file's worth, and below the
    /// partition's last stable offset (a transaction still open stops them, so a table
    /// holds only transactions that ended).
    async fn eligible(&self, topic: &str, cutoff: i64) -> Result<Vec<Pending>, CompactError> {
        let description = self.coordinator.describe_topic(topic).await?;
        let mut pending = Vec::new();
        let mut budget = self.config.target_file_bytes as u64;
        for offsets in description.partitions {
            let mut offset = offsets.log_start_offset;
            let mut entries = Vec::new();
            'partition: while offset < offsets.high_watermark && budget > 0 {
                let lookup = self
                    .coordinator
                    .lookup(topic, offsets.partition, offset, 64)
                    .await?;
                if lookup.entries.is_empty() {
                    break;
                }
                for entry in lookup.entries {
                    offset = entry.end_offset();
                    if entry.end_offset() > offsets.last_stable_offset()
                        || entry.txn.is_some_and(|txn| txn.outcome == TxnOutcome::Open)
                    {
                        break 'partition;
                    }
                    if entry.format == EntryFormat::Parquet {
                        if entries.is_empty() {
                            continue;
                        }
                        break 'partition;
                    }
                    if entry.max_timestamp > cutoff {
                        break 'partition;
                    }
                    budget = budget.saturating_sub(u64::from(entry.byte_len));
                    entries.push(entry);
                    if budget == 0 {
                        break 'partition;
                    }
                }
            }
            if !entries.is_empty() {
                pending.push(Pending {
                    partition: offsets.partition,
                    entries,
                });
            }
            if budget == 0 {
                break;
            }
        }
        Ok(pending)
    }

    async fn write_file(
        &self,
        topic: &str,
        pending: Vec<Pending>,
        summary: &mut CompactionSummary,
    ) -> Result<(), CompactError> {
        let topic_info = self.coordinator.get_topic(topic).await?;
        // A schema that no longer parses cannot have been accepted; compact untyped then.
        let value_schema = topic_info
            .value_schema
            .as_ref()
            .and_then(|schema| ValueSchema::parse(schema).ok());
        let mut writer = self
            .table_writer(&topic_info, value_schema.as_ref())
            .await?;
        let mut ranges = Vec::with_capacity(pending.len());
        let mut min_timestamp = i64::MAX;
        for partition in pending {
            let mut rows: Vec<TableRow> = Vec::new();
            let mut range = TableRange {
                partition: partition.partition,
                base_offset: partition.entries[0].base_offset,
                record_count: 0,
                min_timestamp: i64::MAX,
                max_timestamp: i64::MIN,
                byte_size: 0,
            };
            let groups_before = writer.flushed_row_groups().len();
            for entry in &partition.entries {
                // Markers and aborted transactions' records leave gaps in the table,
                // which readers step over: it holds committed records only.
                if skipped(entry, Isolation::ReadCommitted) {
                    continue;
                }
                for (offset, record) in self.reader.read_segment_entry(entry).await? {
                    range.record_count += 1;
                    range.min_timestamp = range.min_timestamp.min(record.timestamp);
                    range.max_timestamp = range.max_timestamp.max(record.timestamp);
                    summary.record_bytes += record.encoded_len as u64;
                    rows.push(TableRow {
                        partition: partition.partition,
                        offset,
                        record,
                    });
                    if rows.len() >= self.config.row_group_rows {
                        writer.write_rows(&rows)?;
                        rows.clear();
                    }
                }
            }
            if !rows.is_empty() {
                writer.write_rows(&rows)?;
            }
            summary.records += range.record_count;
            // The range covers every offset of its entries, gaps included.
            if let Some(last) = partition.entries.last() {
                range.record_count = last.end_offset() - range.base_offset;
                if range.min_timestamp > range.max_timestamp {
                    // Nothing but gaps: the entries' time stands for the range's.
                    range.min_timestamp = last.max_timestamp;
                    range.max_timestamp = last.max_timestamp;
                }
            }
            // One partition per row group, so statistics find a partition's rows.
            writer.flush()?;
            range.byte_size = writer.flushed_row_groups()[groups_before..]
                .iter()
                .map(|group| group.compressed_size().max(0) as u64)
                .sum();
            min_timestamp = min_timestamp.min(range.min_timestamp);
            ranges.push(range);
        }
        let (object_key, object_size) = self
            .put_table(
                topic,
                topic_info.topic_id,
                writer,
                min_timestamp,
                ranges,
                Vec::new(),
            )
            .await?;
        info!(
            topic,
            object_key, object_size, "compacted segment chunks into a table file"
        );
        summary.parquet_bytes += object_size;
        summary.files.push(object_key);
        Ok(())
    }

    /// Writes the file (never over another) and swaps it into the index for `ranges`,
    /// in place of segment chunks and of the compacted files in `replaces`. Answers its
    /// key and size.
    async fn put_table(
        &self,
        topic: &str,
        topic_id: i64,
        writer: TableWriter,
        min_timestamp: i64,
        ranges: Vec<TableRange>,
        replaces: Vec<String>,
    ) -> Result<(String, u64), CompactError> {
        let bytes = writer.into_inner()?;
        let object_key = table_object_key(topic, min_timestamp, uuid::Uuid::now_v7());
        let object_size = bytes.len() as u64;
        self.store
            .put_opts(
                &ObjectPath::from(object_key.as_str()),
                PutPayload::from(bytes),
                PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                },
            )
            .await
            .map_err(|source| CompactError::Storage {
                object_key: object_key.clone(),
                source,
            })?;
        if self.config.pause_before_swap_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(
                self.config.pause_before_swap_ms,
            ))
            .await;
        }
        let commit = TableCommit {
            topic_id,
            topic: topic.to_owned(),
            object_key: object_key.clone(),
            object_size,
            ranges,
            replaces,
        };
        self.coordinator.commit_table(commit).await?;
        if self.config.pause_before_iceberg_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(
                self.config.pause_before_iceberg_ms,
            ))
            .await;
        }
        self.sync_iceberg(topic).await;
        Ok((object_key, object_size))
    }
}
