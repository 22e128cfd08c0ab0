//! Key compaction of topics with `cleanup.policy` `compact` (or `compact,delete`), by
//! the rules of [`crate::key_compaction`], in three passes over each partition's
//! compacted files, so that memory holds one map of keys and one batch of rows:
//!
//! 1. map: read only the `key` and `offset` columns (and what a decision needs) of the
//!    cleanable files, from where the last run stopped mapping, and note each key's
//!    latest offset, until the map is full;
//! 2. plan: read the same columns of every cleanable file from the log start and find
//!    the files (index entries) that lose a record;
//! 3. rewrite: read those entries' rows, keep what the rules keep, write them into new
//!    files, and swap each in with one `commit_table` that names the files it replaces.
//!
//! Records keep their offsets; the offsets of removed records become gaps that reads
//! step over. The index entries keep their ranges, so a range may hold no record at
//! all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::ParquetRecordBatchStream;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use silt_core::coordinator::{EntryFormat, IndexEntry, PartitionOffsets, TableRange, Topic};
use silt_core::now_ms;
use silt_core::record::ATTR_VALUE_NULL;
use silt_core::schema::ValueSchema;
use silt_reader::table::{KeyColumns, TableFile, TableRow, batch_to_rows, row_groups_for};
use tracing::{debug, info, instrument};

use crate::key_compaction::{self, Inserted, KeyMap, RecordFacts, Retention};
use crate::{CompactError, CompactionSummary, Compactor, CompactorStats};

/// The columns a decision needs: no value, no headers.
const FACT_COLUMNS: [&str; 5] = ["partition", "offset", "timestamp", "key", "attributes"];
/// Entries asked for per index lookup.
const LOOKUP_ENTRIES: u32 = 256;

/// Where each partition's next key compaction starts mapping keys, by (topic id,
/// partition). It lives in memory: a restarted compactor maps from the log start
/// again, which costs time and changes nothing.
#[derive(Debug, Default)]
pub(crate) struct DirtyStarts(Mutex<HashMap<(i64, u32), u64>>);

impl DirtyStarts {
    fn get(&self, topic_id: i64, partition: u32) -> Option<u64> {
        self.0.lock().ok()?.get(&(topic_id, partition)).copied()
    }

    fn set(&self, topic_id: i64, partition: u32, offset: u64) {
        if let Ok(mut starts) = self.0.lock() {
            starts.insert((topic_id, partition), offset);
        }
    }
}

/// The facts of each row of `batch` that belongs to `partition` within `entry`.
fn facts<'a>(
    batch: &'a RecordBatch,
    partition: u32,
    entry: &IndexEntry,
) -> Result<Vec<RecordFacts<'a>>, CompactError> {
    let KeyColumns {
        partitions,
        offsets,
        timestamps,
        keys,
        attributes,
    } = KeyColumns::of(batch)?;
    let in_entry = entry.base_offset..entry.end_offset();
    Ok((0..batch.num_rows())
        .filter(|&row| partitions.value(row) as u32 == partition)
        .filter(|&row| in_entry.contains(&(offsets.value(row) as u64)))
        .map(|row| RecordFacts {
            offset: offsets.value(row) as u64,
            key: (!keys.is_null(row)).then(|| keys.value(row)),
            tombstone: attributes.value(row) as u8 & ATTR_VALUE_NULL != 0,
            timestamp: timestamps.value(row),
        })
        .collect())
}

/// Footers of the files one cleaning reads, each loaded once.
#[derive(Default)]
struct Footers(HashMap<String, ArrowReaderMetadata>);

impl Compactor {
    /// Key compaction of every partition of `topic`, when its cleanup policy compacts.
    #[instrument(skip(self, summary))]
    pub(crate) async fn clean_topic(
        &self,
        topic: &str,
        summary: &mut CompactionSummary,
    ) -> Result<(), CompactError> {
        let description = self.coordinator.describe_topic(topic).await?;
        if !description.topic.configs.cleanup_policy().compacts() {
            return Ok(());
        }
        for offsets in &description.partitions {
            self.clean_partition(&description.topic, offsets, summary)
                .await?;
        }
        Ok(())
    }

    /// The partition's index entries from its log start, up to its first segment chunk.
    async fn compacted_entries(
        &self,
        topic: &str,
        offsets: &PartitionOffsets,
    ) -> Result<Vec<IndexEntry>, CompactError> {
        let mut entries = Vec::new();
        let mut offset = offsets.log_start_offset;
        while offset < offsets.high_watermark {
            let lookup = self
                .coordinator
                .lookup(topic, offsets.partition, offset, LOOKUP_ENTRIES)
                .await?;
            let Some(last) = lookup.entries.last() else {
                break;
            };
            offset = last.end_offset();
            for entry in lookup.entries {
                if entry.format != EntryFormat::Parquet {
                    return Ok(entries);
                }
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// The rows of `entry`'s row groups, all columns or only [`FACT_COLUMNS`].
    async fn entry_batches(
        &self,
        footers: &mut Footers,
        entry: &IndexEntry,
        partition: u32,
        facts_only: bool,
    ) -> Result<ParquetRecordBatchStream<TableFile>, CompactError> {
        let path = ObjectPath::from(entry.object_key.as_str());
        let mut input = TableFile::new(Arc::clone(&self.store), path);
        let metadata = match footers.0.get(&entry.object_key) {
            Some(metadata) => metadata.clone(),
            None => {
                let metadata =
                    ArrowReaderMetadata::load_async(&mut input, ArrowReaderOptions::default())
                        .await?;
                footers.0.insert(entry.object_key.clone(), metadata.clone());
                metadata
            }
        };
        let groups = row_groups_for(
            metadata.metadata(),
            partition,
            entry.base_offset,
            entry.end_offset(),
        );
        let mask = ProjectionMask::columns(metadata.parquet_schema(), FACT_COLUMNS);
        let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(input, metadata)
            .with_row_groups(groups.into_iter().map(|(group, _)| group).collect());
        if facts_only {
            builder = builder.with_projection(mask);
        }
        Ok(builder.build()?)
    }

    #[instrument(skip(self, topic, summary), fields(topic = %topic.name, partition = offsets.partition))]
    async fn clean_partition(
        &self,
        topic: &Topic,
        offsets: &PartitionOffsets,
        summary: &mut CompactionSummary,
    ) -> Result<(), CompactError> {
        let partition = offsets.partition;
        let now = now_ms();
        let configs = topic.configs;
        let mut entries = self.compacted_entries(&topic.name, offsets).await?;
        entries.truncate(key_compaction::cleanable(
            &entries,
            now,
            configs.min_compaction_lag_ms(),
        ));
        let Some(end) = entries.last().map(IndexEntry::end_offset) else {
            return Ok(());
        };
        let dirty_start = self
            .dirty_starts
            .get(topic.topic_id, partition)
            .filter(|start| (offsets.log_start_offset..end).contains(start))
            .unwrap_or(offsets.log_start_offset);
        let mut footers = Footers::default();

        // 1. Map each key's latest offset, from the first offset not mapped before.
        let mut map = KeyMap::new(self.config.key_map_keys);
        let mut map_end = end;
        'map: for entry in entries.iter().filter(|e| e.end_offset() > dirty_start) {
            let mut batches = self
                .entry_batches(&mut footers, entry, partition, true)
                .await?;
            while let Some(batch) = batches.try_next().await? {
                for record in facts(&batch, partition, entry)? {
                    if record.offset < dirty_start {
                        continue;
                    }
                    if let Some(key) = record.key
                        && map.insert(key, record.offset) == Inserted::Full
                    {
                        map_end = record.offset;
                        break 'map;
                    }
                }
            }
        }
        let mapped = map.len();
        let retention = Retention::new(map, map_end, now, configs.delete_retention_ms());

        // 2. Find the entries that lose a record.
        let mut dirty = Vec::new();
        for entry in entries.iter().filter(|e| e.base_offset < map_end) {
            let mut batches = self
                .entry_batches(&mut footers, entry, partition, true)
                .await?;
            let mut loses = false;
            while let Some(batch) = batches.try_next().await? {
                if facts(&batch, partition, entry)?
                    .iter()
                    .any(|record| !retention.keeps(record))
                {
                    loses = true;
                    break;
                }
            }
            if loses {
                dirty.push(entry.clone());
            }
        }
        debug!(
            mapped,
            map_end,
            dirty = dirty.len(),
            "key compaction planned"
        );

        // 3. Rewrite them, about one file's worth at a time.
        let value_schema = topic
            .value_schema
            .as_ref()
            .and_then(|schema| ValueSchema::parse(schema).ok());
        let mut start = 0;
        while start < dirty.len() {
            let mut budget = self.config.target_file_bytes as u64;
            let mut stop = start;
            while stop < dirty.len() && (stop == start || budget > 0) {
                budget = budget.saturating_sub(u64::from(dirty[stop].byte_len));
                stop += 1;
            }
            self.rewrite(
                topic,
                partition,
                &dirty[start..stop],
                &retention,
                value_schema.as_ref(),
                &mut footers,
                summary,
            )
            .await?;
            start = stop;
        }
        self.dirty_starts.set(topic.topic_id, partition, map_end);
        Ok(())
    }

    /// Rewrites `entries` (in offset order) of one partition into one new file, keeping
    /// what `retention` keeps; adjacent entries become one range.
    #[allow(clippy::too_many_arguments)]
    async fn rewrite(
        &self,
        topic: &Topic,
        partition: u32,
        entries: &[IndexEntry],
        retention: &Retention,
        value_schema: Option<&ValueSchema>,
        footers: &mut Footers,
        summary: &mut CompactionSummary,
    ) -> Result<(), CompactError> {
        let mut writer = self.table_writer(topic, value_schema).await?;
        let mut ranges: Vec<TableRange> = Vec::new();
        let mut removed = 0u64;
        let mut min_timestamp = i64::MAX;
        let mut index = 0;
        while index < entries.len() {
            // A run of adjacent entries is one range of the new file.
            let mut last = index;
            while last + 1 < entries.len()
                && entries[last + 1].base_offset == entries[last].end_offset()
            {
                last += 1;
            }
            let run = &entries[index..=last];
            let mut range = TableRange {
                partition,
                base_offset: run[0].base_offset,
                record_count: run[last - index].end_offset() - run[0].base_offset,
                min_timestamp: i64::MAX,
                max_timestamp: i64::MIN,
                byte_size: 0,
            };
            let groups_before = writer.flushed_row_groups().len();
            for entry in run {
                let mut batches = self.entry_batches(footers, entry, partition, false).await?;
                while let Some(batch) = batches.try_next().await? {
                    let rows: Vec<TableRow> = batch_to_rows(&batch)?
                        .into_iter()
                        .filter(|row| {
                            row.partition == partition
                                && (entry.base_offset..entry.end_offset()).contains(&row.offset)
                        })
                        .collect();
                    let before = rows.len();
                    let kept: Vec<TableRow> = rows
                        .into_iter()
                        .filter(|row| {
                            retention.keeps(&RecordFacts {
                                offset: row.offset,
                                key: row.record.key.as_deref(),
                                tombstone: row.record.value_is_null(),
                                timestamp: row.record.timestamp,
                            })
                        })
                        .collect();
                    removed += (before - kept.len()) as u64;
                    for row in &kept {
                        range.min_timestamp = range.min_timestamp.min(row.record.timestamp);
                        range.max_timestamp = range.max_timestamp.max(row.record.timestamp);
                    }
                    if !kept.is_empty() {
                        writer.write_rows(&kept)?;
                    }
                }
            }
            // One partition range per row group set, so statistics find its rows.
            writer.flush()?;
            range.byte_size = writer.flushed_row_groups()[groups_before..]
                .iter()
                .map(|group| group.compressed_size().max(0) as u64)
                .sum();
            if range.max_timestamp == i64::MIN {
                // Nothing kept: the range still covers its offsets, and ages as before.
                let newest = run.iter().map(|entry| entry.max_timestamp).max();
                range.max_timestamp = newest.unwrap_or(0);
                range.min_timestamp = range.max_timestamp;
            }
            min_timestamp = min_timestamp.min(range.min_timestamp);
            ranges.push(range);
            index = last + 1;
        }
        let mut replaces: Vec<String> = entries.iter().map(|e| e.object_key.clone()).collect();
        replaces.sort();
        replaces.dedup();
        let (object_key, object_size) = self
            .put_table(
                &topic.name,
                topic.topic_id,
                writer,
                min_timestamp,
                ranges,
                replaces,
            )
            .await?;
        info!(
            topic = %topic.name,
            partition,
            object_key,
            object_size,
            removed,
            "key compaction rewrote compacted files"
        );
        CompactorStats::add(&self.stats.records_removed, removed);
        summary.records_removed += removed;
        summary.parquet_bytes += object_size;
        summary.files.push(object_key);
        Ok(())
    }
}
