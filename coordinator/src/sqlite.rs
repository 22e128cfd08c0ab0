//! The embedded metadata store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed segment survives a crash of the process or the machine.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, CoordinatorError, EntryFormat, IndexEntry, PartitionOffsets,
    ProducerIdentity, ProducerStamp, SegmentCommit, TableCommit, TableFile, TableRange, Topic,
    TopicConfig,
};
use tracing::instrument;

use crate::error::StoreError;
use crate::producers::{self, Decision, KafkaPartitionState, LastChunk, ProducerState};
use crate::store::{
    MetadataStore, SegmentOutcome, Snapshot, StoredGroup, StoredOffset, StoredState, TopicRow,
};

mod admin;
mod group_offsets;
mod topic_configs;

const SCHEMA_VERSION: i64 = 10;
/// The version that adds topic names' collision keys (see `topic_keys`).
const TOPIC_KEYS_VERSION: usize = 8;
const READ_CONNECTIONS: usize = 2;

const MIGRATION_1: &str = "
CREATE TABLE topics (
    topic_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    retention_ms INTEGER,
    retention_bytes INTEGER,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE partitions (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    log_start_offset INTEGER NOT NULL,
    high_watermark INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE segments (
    segment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key TEXT NOT NULL UNIQUE,
    object_size INTEGER NOT NULL,
    committed_at_ms INTEGER NOT NULL,
    outcomes TEXT NOT NULL
);
CREATE TABLE index_entries (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    base_offset INTEGER NOT NULL,
    record_count INTEGER NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segments (segment_id),
    byte_offset INTEGER NOT NULL,
    byte_len INTEGER NOT NULL,
    min_timestamp INTEGER NOT NULL,
    max_timestamp INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition, base_offset)
) WITHOUT ROWID;
";

const MIGRATION_2: &str = "
CREATE TABLE producers (
    producer_id INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    last_topic_id INTEGER,
    last_chunks TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX producers_by_update ON producers (updated_at_ms);
";

const MIGRATION_3: &str = "
CREATE TABLE groups (
    group_name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_offsets (
    group_name TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (group_name, topic_id, partition)
) WITHOUT ROWID;
";

/// Compacted files: index entries and objects say what they point into.
const MIGRATION_4: &str = "
ALTER TABLE index_entries ADD COLUMN format INTEGER NOT NULL DEFAULT 0;
ALTER TABLE segments ADD COLUMN format INTEGER NOT NULL DEFAULT 0;
";

const FORMAT_PARQUET: i64 = 1;

/// Topics may declare a value schema for typed columns.
const MIGRATION_5: &str = "ALTER TABLE topics ADD COLUMN value_schema TEXT;";

/// Kafka's idempotent producers: sequences per producer and partition.
const MIGRATION_6: &str = "
CREATE TABLE kafka_sequences (
    producer_id INTEGER NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition)
) WITHOUT ROWID;
";

/// Rows that a deleted topic left behind (before deleting a topic deleted them too):
/// a restore may give a later topic the same id, and they must not attach to it.
const MIGRATION_7: &str = "
DELETE FROM group_offsets WHERE topic_id NOT IN (SELECT topic_id FROM topics);
DELETE FROM kafka_sequences WHERE topic_id NOT IN (SELECT topic_id FROM topics);
";

/// Schema changes in order; the database's `user_version` says how many are applied.
const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
    crate::topic_keys::COLUMNS,
    group_offsets::MIGRATION,
    topic_configs::MIGRATION,
];

/// SQLite-backed [`MetadataStore`]: one writer connection and a few readers.
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
}

fn configure(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    migrate_to(connection, MIGRATIONS.len())
}

/// Applies the migrations up to version `target`.
pub(crate) fn migrate_to(connection: &mut Connection, target: usize) -> Result<(), StoreError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "database schema version {version} is newer than this build supports ({SCHEMA_VERSION})"
        )));
    }
    let pending = MIGRATIONS.iter().enumerate().take(target);
    for (index, migration) in pending.skip(version.max(0) as usize) {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute_batch(migration)?;
        if index + 1 == TOPIC_KEYS_VERSION {
            crate::topic_keys::sqlite_migrate(&transaction)?;
        }
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrate(&mut writer)?;
        let readers = (0..READ_CONNECTIONS)
            .map(|_| {
                let reader = Connection::open(path)?;
                configure(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
        })
    }

    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut connection = writer
                .lock()
                .map_err(|_| StoreError::Task("writer lock poisoned".into()))?;
            work(&mut connection)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let guard = readers
                .iter()
                .find_map(|reader| reader.try_lock().ok())
                .map(Ok)
                .unwrap_or_else(|| {
                    readers[0]
                        .lock()
                        .map_err(|_| StoreError::Task("reader lock poisoned".into()))
                })?;
            work(&guard)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Invalid(format!("negative {what}: {value}")))
}

fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} out of range: {value}")))
}

fn read_topic(row: &rusqlite::Row<'_>) -> Result<TopicRow, rusqlite::Error> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn topic_from_row(
    (topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema): TopicRow,
) -> Result<Topic, StoreError> {
    let value_schema = value_schema
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|error| StoreError::Invalid(format!("value schema of topic {name}: {error}")))?;
    Ok(Topic {
        topic_id,
        name,
        partitions: to_u32(partitions, "partition count")?,
        retention_ms,
        retention_bytes,
        created_at_ms,
        value_schema,
        configs: Default::default(),
    })
}

fn load_producer(
    connection: &Connection,
    producer_id: i64,
) -> Result<Option<ProducerState>, StoreError> {
    let row: Option<(i64, i64, Option<i64>, String)> = connection
        .prepare_cached("SELECT epoch, last_sequence, last_topic_id, last_chunks FROM producers WHERE producer_id = ?1")?
        .query_row([producer_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .optional()?;
    let Some((epoch, last_sequence, last_topic_id, last_chunks)) = row else {
        return Ok(None);
    };
    Ok(Some(ProducerState {
        epoch: i32::try_from(epoch)
            .map_err(|_| StoreError::Invalid(format!("producer epoch {epoch}")))?,
        last_sequence,
        last_topic_id,
        last_chunks: serde_json::from_str(&last_chunks).map_err(|error| {
            StoreError::Invalid(format!("producer {producer_id} chunks: {error}"))
        })?,
    }))
}

fn save_producer(
    connection: &Connection,
    stamp: &ProducerStamp,
    topic_id: i64,
    landed: &[LastChunk],
    now_ms: i64,
) -> Result<(), StoreError> {
    let chunks =
        serde_json::to_string(landed).map_err(|error| StoreError::Invalid(error.to_string()))?;
    connection
        .prepare_cached(
            "UPDATE producers SET last_sequence = ?2, last_topic_id = ?3, last_chunks = ?4, updated_at_ms = ?5
             WHERE producer_id = ?1",
        )?
        .execute(params![stamp.producer_id, stamp.sequence, topic_id, chunks, now_ms])?;
    Ok(())
}

fn load_kafka_sequences(
    connection: &Connection,
    producer_id: i64,
    topic_id: i64,
    partition: u32,
) -> Result<Option<KafkaPartitionState>, StoreError> {
    let row: Option<(i64, String)> = connection
        .prepare_cached(
            "SELECT epoch, batches FROM kafka_sequences WHERE producer_id = ?1 AND topic_id = ?2 AND partition = ?3",
        )?
        .query_row(params![producer_id, topic_id, partition], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(epoch, batches)| producers::kafka_state_from_row(producer_id, epoch, &batches))
        .transpose()
}

fn save_kafka_sequences(
    connection: &Connection,
    producer_id: i64,
    topic_id: i64,
    partition: u32,
    state: &KafkaPartitionState,
    now_ms: i64,
) -> Result<(), StoreError> {
    let batches = serde_json::to_string(&state.batches)
        .map_err(|error| StoreError::Invalid(error.to_string()))?;
    connection
        .prepare_cached(
            "INSERT INTO kafka_sequences (producer_id, topic_id, partition, epoch, batches) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (producer_id, topic_id, partition) DO UPDATE SET epoch = excluded.epoch, batches = excluded.batches",
        )?
        .execute(params![producer_id, topic_id, partition, state.epoch, batches])?;
    connection
        .prepare_cached("UPDATE producers SET updated_at_ms = ?2 WHERE producer_id = ?1")?
        .execute(params![producer_id, now_ms])?;
    Ok(())
}

/// Commits one segment inside the caller's transaction.
fn commit_segment(
    transaction: &Connection,
    commit: SegmentCommit,
    committed_at_ms: i64,
) -> Result<SegmentOutcome, StoreError> {
    let previous: Option<String> = transaction
        .query_row(
            "SELECT outcomes FROM segments WHERE object_key = ?1",
            [&commit.object_key],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(previous) = previous {
        let outcomes = serde_json::from_str(&previous).map_err(|error| {
            StoreError::Invalid(format!("stored outcomes of {}: {error}", commit.object_key))
        })?;
        return Ok((outcomes, Vec::new()));
    }
    transaction.execute(
        "INSERT INTO segments (object_key, object_size, committed_at_ms, outcomes) VALUES (?1, ?2, ?3, '[]')",
        params![commit.object_key, commit.object_size as i64, committed_at_ms],
    )?;
    let segment_id = transaction.last_insert_rowid();
    let mut outcomes = Vec::with_capacity(commit.chunks.len());
    let mut advanced: Vec<(i64, PartitionOffsets)> = Vec::new();
    {
        let mut select_partition = transaction.prepare_cached(
            "SELECT p.log_start_offset, p.high_watermark FROM partitions p JOIN topics t USING (topic_id)
             WHERE p.topic_id = ?1 AND p.partition = ?2 AND t.name = ?3",
        )?;
        let mut insert_entry = transaction.prepare_cached(
            "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id, byte_offset,
             byte_len, min_timestamp, max_timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut update_partition = transaction.prepare_cached(
            "UPDATE partitions SET high_watermark = ?3 WHERE topic_id = ?1 AND partition = ?2",
        )?;
        let mut append = |chunk: &ChunkCommit,
                          advanced: &mut Vec<(i64, PartitionOffsets)>|
         -> Result<Option<u64>, StoreError> {
            let current: Option<(i64, i64)> = select_partition
                .query_row(
                    params![chunk.topic_id, chunk.partition, chunk.topic],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((log_start_offset, high_watermark)) = current else {
                return Ok(None);
            };
            let base_offset = high_watermark;
            let new_high_watermark = base_offset + i64::from(chunk.record_count);
            insert_entry.execute(params![
                chunk.topic_id,
                chunk.partition,
                base_offset,
                chunk.record_count,
                segment_id,
                chunk.byte_offset as i64,
                chunk.byte_len,
                chunk.min_timestamp,
                chunk.max_timestamp
            ])?;
            update_partition.execute(params![
                chunk.topic_id,
                chunk.partition,
                new_high_watermark
            ])?;
            let offsets = PartitionOffsets {
                partition: chunk.partition,
                log_start_offset: to_u64(log_start_offset, "log start offset")?,
                high_watermark: to_u64(new_high_watermark, "high watermark")?,
            };
            match advanced
                .iter_mut()
                .find(|(topic_id, o)| *topic_id == chunk.topic_id && o.partition == chunk.partition)
            {
                Some((_, existing)) => *existing = offsets,
                None => advanced.push((chunk.topic_id, offsets)),
            }
            Ok(Some(to_u64(base_offset, "offset")?))
        };
        // Chunks of one idempotent request are adjacent and share its stamp.
        let mut start = 0;
        while start < commit.chunks.len() {
            let (stamp, request) = (commit.chunks[start].producer, commit.chunks[start].request);
            let kafka = commit.chunks[start].kafka;
            let end = match stamp {
                _ if kafka.is_some() => start + 1,
                None => start + 1,
                Some(_) => {
                    start
                        + commit.chunks[start..]
                            .iter()
                            .take_while(|chunk| chunk.producer == stamp && chunk.request == request)
                            .count()
                }
            };
            let group = &commit.chunks[start..end];
            start = end;
            let mut kafka_state = None;
            let decision = match (&stamp, &kafka) {
                (_, Some(kafka)) => {
                    let chunk = &group[0];
                    let producer = load_producer(transaction, kafka.producer_id)?;
                    kafka_state = load_kafka_sequences(
                        transaction,
                        kafka.producer_id,
                        chunk.topic_id,
                        chunk.partition,
                    )?;
                    producers::decide_kafka(
                        producer.as_ref(),
                        kafka_state.as_ref(),
                        kafka,
                        chunk.partition,
                        chunk.record_count,
                    )
                }
                (None, None) => Decision::Append,
                (Some(stamp), None) => {
                    let state = load_producer(transaction, stamp.producer_id)?;
                    producers::decide(state.as_ref(), stamp, group[0].topic_id)
                }
            };
            match decision {
                Decision::Append => {
                    let mut landed = Vec::with_capacity(group.len());
                    for chunk in group {
                        match append(chunk, &mut advanced)? {
                            Some(base_offset) => {
                                outcomes.push(ChunkOutcome::Committed { base_offset });
                                landed.push(LastChunk {
                                    partition: chunk.partition,
                                    base_offset,
                                    record_count: chunk.record_count,
                                });
                            }
                            None => outcomes.push(ChunkOutcome::Rejected {
                                error_code: "topic_not_found".into(),
                                message: format!(
                                    "topic {:?} partition {} no longer exists",
                                    chunk.topic, chunk.partition
                                ),
                            }),
                        }
                    }
                    if let Some(stamp) = stamp
                        && !landed.is_empty()
                    {
                        save_producer(
                            transaction,
                            &stamp,
                            group[0].topic_id,
                            &landed,
                            committed_at_ms,
                        )?;
                    }
                    if let (Some(kafka), [landed]) = (kafka, landed.as_slice()) {
                        let state = producers::kafka_appended(
                            kafka_state,
                            &kafka,
                            landed.record_count,
                            landed.base_offset,
                        );
                        save_kafka_sequences(
                            transaction,
                            kafka.producer_id,
                            group[0].topic_id,
                            landed.partition,
                            &state,
                            committed_at_ms,
                        )?;
                    }
                }
                Decision::Duplicate(last_chunks) => {
                    for chunk in group {
                        let original = last_chunks.iter().find(|last| {
                            last.partition == chunk.partition
                                && last.record_count == chunk.record_count
                        });
                        outcomes.push(match original {
                            Some(last) => ChunkOutcome::Committed {
                                base_offset: last.base_offset,
                            },
                            None => ChunkOutcome::Rejected {
                                error_code: "sequence_reused".into(),
                                message:
                                    "a retry must carry the same records as the request it repeats"
                                        .into(),
                            },
                        });
                    }
                }
                Decision::Reject {
                    error_code,
                    message,
                } => {
                    for _ in group {
                        outcomes.push(ChunkOutcome::Rejected {
                            error_code: error_code.into(),
                            message: message.clone(),
                        });
                    }
                }
            }
        }
    }
    let encoded =
        serde_json::to_string(&outcomes).map_err(|error| StoreError::Invalid(error.to_string()))?;
    transaction.execute(
        "UPDATE segments SET outcomes = ?2 WHERE segment_id = ?1",
        params![segment_id, encoded],
    )?;
    Ok((outcomes, advanced))
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn load_group(&self, group: &str) -> Result<Option<StoredGroup>, StoreError> {
        let group = group.to_owned();
        self.read(move |connection| group_offsets::load_group(connection, &group))
            .await
    }

    async fn save_generation(&self, group: &str, generation: u64) -> Result<(), StoreError> {
        let group = group.to_owned();
        self.write(move |connection| {
            connection.execute(
                "INSERT INTO groups (group_name, generation) VALUES (?1, ?2)
                 ON CONFLICT (group_name) DO UPDATE SET generation = excluded.generation",
                params![group, generation as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn alter_topic(&self, topic: Topic) -> Result<(), StoreError> {
        self.write(move |connection| admin::alter_topic(connection, topic))
            .await
    }

    async fn delete_group(&self, group: &str) -> Result<bool, StoreError> {
        let group = group.to_owned();
        self.write(move |connection| admin::delete_group(connection, &group))
            .await
    }

    async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: Vec<(i64, u32)>,
    ) -> Result<(), StoreError> {
        let group = group.to_owned();
        self.write(move |connection| admin::delete_group_offsets(connection, &group, partitions))
            .await
    }

    async fn commit_group_offsets(
        &self,
        group: &str,
        offsets: Vec<StoredOffset>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let group = group.to_owned();
        self.write(move |connection| group_offsets::commit(connection, &group, offsets, now_ms))
            .await
    }

    #[instrument(skip(self, commit), fields(object_key = %commit.object_key, ranges = commit.ranges.len()))]
    async fn commit_table(&self, commit: TableCommit, now_ms: i64) -> Result<(), StoreError> {
        self.write(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: Option<i64> = transaction
                .query_row("SELECT segment_id FROM segments WHERE object_key = ?1", [&commit.object_key], |row| row.get(0))
                .optional()?;
            if exists.is_some() {
                return Ok(());
            }
            let live: Option<i64> = transaction
                .query_row("SELECT topic_id FROM topics WHERE topic_id = ?1 AND name = ?2", params![commit.topic_id, commit.topic], |row| row.get(0))
                .optional()?;
            if live.is_none() {
                return Err(CoordinatorError::TopicNotFound(commit.topic).into());
            }
            transaction.execute(
                "INSERT INTO segments (object_key, object_size, committed_at_ms, outcomes, format) VALUES (?1, ?2, ?3, '[]', ?4)",
                params![commit.object_key, commit.object_size as i64, now_ms, FORMAT_PARQUET],
            )?;
            let table_id = transaction.last_insert_rowid();
            for range in &commit.ranges {
                let end = range.base_offset + range.record_count;
                let conflict = |why: String| -> StoreError {
                    CoordinatorError::InvalidArgument(format!(
                        "partition {} offsets {}..{end} cannot be replaced: {why}",
                        range.partition, range.base_offset
                    ))
                    .into()
                };
                let covered: Vec<(i64, i64, i64, String)> = transaction
                    .prepare_cached(
                        "SELECT base_offset, record_count, index_entries.format, object_key FROM index_entries
                         JOIN segments USING (segment_id)
                         WHERE topic_id = ?1 AND partition = ?2 AND base_offset >= ?3 AND base_offset < ?4 ORDER BY base_offset",
                    )?
                    .query_map(params![commit.topic_id, range.partition, range.base_offset as i64, end as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let mut next = range.base_offset as i64;
                for (base, count, format, object_key) in &covered {
                    // A compacted file's entries are replaced only by a rewrite that read it.
                    let replaceable = *format != FORMAT_PARQUET || commit.replaces.contains(object_key);
                    if *base != next || !replaceable {
                        return Err(conflict(format!("the index changed at offset {base}")));
                    }
                    next = base + count;
                }
                if next != end as i64 || range.record_count > u64::from(u32::MAX) {
                    return Err(conflict(format!("segment entries end at {next}")));
                }
                transaction.execute(
                    "DELETE FROM index_entries WHERE topic_id = ?1 AND partition = ?2 AND base_offset >= ?3 AND base_offset < ?4",
                    params![commit.topic_id, range.partition, range.base_offset as i64, end as i64],
                )?;
                transaction.execute(
                    "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id, byte_offset,
                     byte_len, min_timestamp, max_timestamp, format) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?9, ?6, ?7, ?8)",
                    params![
                        commit.topic_id,
                        range.partition,
                        range.base_offset as i64,
                        range.record_count as i64,
                        table_id,
                        range.min_timestamp,
                        range.max_timestamp,
                        FORMAT_PARQUET,
                        range.byte_size.min(u64::from(u32::MAX)) as i64
                    ],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    async fn truncate_before(
        &self,
        topic_id: i64,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, StoreError> {
        self.write(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<(i64, i64)> = transaction
                .query_row(
                    "SELECT log_start_offset, high_watermark FROM partitions WHERE topic_id = ?1 AND partition = ?2",
                    params![topic_id, partition],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((start, high_watermark)) = current else {
                return Err(CoordinatorError::InvalidArgument(format!("no partition {partition} in topic {topic_id}")).into());
            };
            let new_start = (log_start_offset as i64).clamp(start, high_watermark);
            transaction.execute(
                "UPDATE partitions SET log_start_offset = ?3 WHERE topic_id = ?1 AND partition = ?2",
                params![topic_id, partition, new_start],
            )?;
            transaction.execute(
                "DELETE FROM index_entries WHERE topic_id = ?1 AND partition = ?2 AND base_offset + record_count <= ?3",
                params![topic_id, partition, new_start],
            )?;
            transaction.commit()?;
            Ok(PartitionOffsets {
                partition,
                log_start_offset: to_u64(new_start, "log start offset")?,
                high_watermark: to_u64(high_watermark, "high watermark")?,
            })
        })
        .await
    }

    async fn list_tables(&self, topic_id: i64) -> Result<Vec<TableFile>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT s.object_key, s.object_size, e.partition, e.base_offset, e.record_count, e.min_timestamp,
                        e.max_timestamp, e.byte_len
                 FROM index_entries e JOIN segments s USING (segment_id)
                 WHERE e.topic_id = ?1 AND e.format = ?2 ORDER BY s.segment_id, e.partition",
            )?;
            let rows = statement.query_map(params![topic_id, FORMAT_PARQUET], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })?;
            let mut tables: Vec<TableFile> = Vec::new();
            for row in rows {
                let (object_key, object_size, partition, base_offset, record_count, min_timestamp, max_timestamp, bytes) = row?;
                let range = TableRange {
                    partition: to_u32(partition, "partition")?,
                    base_offset: to_u64(base_offset, "offset")?,
                    record_count: to_u64(record_count, "record count")?,
                    min_timestamp,
                    max_timestamp,
                    byte_size: to_u64(bytes, "byte size")?,
                };
                match tables.last_mut() {
                    Some(table) if table.object_key == object_key => table.ranges.push(range),
                    _ => tables.push(TableFile {
                        object_key,
                        object_size: to_u64(object_size, "object size")?,
                        ranges: vec![range],
                    }),
                }
            }
            Ok(tables)
        })
        .await
    }

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT s.object_key FROM segments s WHERE s.committed_at_ms < ?1
                 AND NOT EXISTS (SELECT 1 FROM index_entries e WHERE e.segment_id = s.segment_id)
                 ORDER BY s.segment_id LIMIT ?2",
            )?;
            let keys = statement.query_map(params![committed_before_ms, limit], |row| {
                row.get::<_, String>(0)
            })?;
            Ok(keys.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn forget_object(&self, object_key: &str) -> Result<bool, StoreError> {
        let object_key = object_key.to_owned();
        self.write(move |connection| {
            let deleted = connection.execute(
                "DELETE FROM segments WHERE object_key = ?1
                 AND NOT EXISTS (SELECT 1 FROM index_entries e WHERE e.segment_id = segments.segment_id)",
                [&object_key],
            )?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn known_objects(&self, object_keys: Vec<String>) -> Result<Vec<String>, StoreError> {
        self.read(move |connection| {
            let mut statement =
                connection.prepare_cached("SELECT 1 FROM segments WHERE object_key = ?1")?;
            let mut known = Vec::new();
            for key in object_keys {
                if statement.exists([&key])? {
                    known.push(key);
                }
            }
            Ok(known)
        })
        .await
    }

    async fn list_groups(&self) -> Result<Vec<String>, StoreError> {
        self.read(|connection| {
            let mut statement =
                connection.prepare_cached("SELECT group_name FROM groups ORDER BY group_name")?;
            let names = statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(names)
        })
        .await
    }

    #[instrument(skip(self))]
    async fn init_producer(
        &self,
        producer_id: Option<i64>,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<ProducerIdentity, StoreError> {
        self.write(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            transaction.execute("DELETE FROM producers WHERE updated_at_ms < ?1", [expire_before_ms])?;
            transaction.execute(
                "DELETE FROM kafka_sequences WHERE producer_id NOT IN (SELECT producer_id FROM producers)",
                [],
            )?;
            let identity = match producer_id {
                None => {
                    transaction.execute(
                        "INSERT INTO producers (epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms)
                         VALUES (0, -1, NULL, '[]', ?1)",
                        [now_ms],
                    )?;
                    ProducerIdentity { producer_id: transaction.last_insert_rowid(), epoch: 0 }
                }
                Some(producer_id) => {
                    let epoch: Option<i64> = transaction
                        .query_row("SELECT epoch FROM producers WHERE producer_id = ?1", [producer_id], |row| row.get(0))
                        .optional()?;
                    let Some(epoch) = epoch else {
                        return Err(CoordinatorError::UnknownProducer(producer_id).into());
                    };
                    let epoch = epoch + 1;
                    transaction.execute(
                        "UPDATE producers SET epoch = ?2, last_sequence = -1, last_topic_id = NULL, last_chunks = '[]',
                         updated_at_ms = ?3 WHERE producer_id = ?1",
                        params![producer_id, epoch, now_ms],
                    )?;
                    transaction.execute("DELETE FROM kafka_sequences WHERE producer_id = ?1", [producer_id])?;
                    let epoch = i32::try_from(epoch).map_err(|_| StoreError::Invalid(format!("producer epoch {epoch}")))?;
                    ProducerIdentity { producer_id, epoch }
                }
            };
            transaction.commit()?;
            Ok(identity)
        })
        .await
    }

    #[instrument(skip(self))]
    async fn load(&self) -> Result<StoredState, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema FROM topics ORDER BY name",
            )?;
            let topics = statement.query_map([], read_topic)?.collect::<Result<Vec<_>, _>>()?;
            let mut partitions_statement = connection.prepare(
                "SELECT partition, log_start_offset, high_watermark FROM partitions WHERE topic_id = ?1 ORDER BY partition",
            )?;
            let mut state = StoredState::default();
            let mut configs = topic_configs::load_all(connection)?;
            for row in topics {
                let mut topic = topic_from_row(row)?;
                topic.configs = configs.remove(&topic.topic_id).unwrap_or_default();
                let partitions = partitions_statement
                    .query_map([topic.topic_id], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?)))?
                    .map(|row| {
                        let (partition, log_start_offset, high_watermark) = row?;
                        Ok(PartitionOffsets {
                            partition: to_u32(partition, "partition")?,
                            log_start_offset: to_u64(log_start_offset, "log start offset")?,
                            high_watermark: to_u64(high_watermark, "high watermark")?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                if partitions.len() != topic.partitions as usize {
                    return Err(StoreError::Invalid(format!(
                        "topic {} has {} partition rows, expected {}",
                        topic.name,
                        partitions.len(),
                        topic.partitions
                    )));
                }
                state.topics.push((topic, partitions));
            }
            Ok(state)
        })
        .await
    }

    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(
        &self,
        config: TopicConfig,
        created_at_ms: i64,
    ) -> Result<Topic, StoreError> {
        self.write(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let collision_key = crate::topic_keys::sqlite_check(&transaction, &config.name)?;
            transaction.execute(
                "INSERT INTO topics (name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema,
                 collision_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    config.name,
                    config.partitions,
                    config.retention_ms,
                    config.retention_bytes,
                    created_at_ms,
                    config.value_schema.as_ref().map(|schema| schema.to_string()),
                    collision_key
                ],
            )?;
            let topic_id = transaction.last_insert_rowid();
            topic_configs::save(&transaction, topic_id, &config.configs)?;
            {
                let mut insert = transaction.prepare(
                    "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark) VALUES (?1, ?2, 0, 0)",
                )?;
                for partition in 0..config.partitions {
                    insert.execute(params![topic_id, partition])?;
                }
            }
            transaction.commit()?;
            Ok(Topic {
                topic_id,
                name: config.name,
                partitions: config.partitions,
                retention_ms: config.retention_ms,
                retention_bytes: config.retention_bytes,
                created_at_ms,
                value_schema: config.value_schema,
                configs: config.configs,
            })
        })
        .await
    }

    #[instrument(skip(self))]
    async fn delete_topic(
        &self,
        name: &str,
        generations: Vec<(String, u64)>,
    ) -> Result<Topic, StoreError> {
        let name = name.to_owned();
        self.write(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row = transaction
                .query_row(
                    "SELECT topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema FROM topics WHERE name = ?1",
                    [&name],
                    read_topic,
                )
                .optional()?;
            let Some(row) = row else {
                return Err(CoordinatorError::TopicNotFound(name).into());
            };
            let mut topic = topic_from_row(row)?;
            topic.configs = topic_configs::load(&transaction, topic.topic_id)?;
            topic_configs::delete(&transaction, topic.topic_id)?;
            for table in ["index_entries", "partitions", "group_offsets", "kafka_sequences", "topics"] {
                transaction.execute(&format!("DELETE FROM {table} WHERE topic_id = ?1"), [topic.topic_id])?;
            }
            for (group, generation) in generations {
                transaction.execute(
                    "UPDATE groups SET generation = ?2 WHERE group_name = ?1",
                    params![group, generation as i64],
                )?;
            }
            transaction.commit()?;
            Ok(topic)
        })
        .await
    }

    #[instrument(skip(self, commits), fields(segments = commits.len()))]
    async fn commit_segments(
        &self,
        commits: Vec<SegmentCommit>,
        committed_at_ms: i64,
    ) -> Result<Vec<SegmentOutcome>, StoreError> {
        self.write(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcomes = commits
                .into_iter()
                .map(|commit| commit_segment(&transaction, commit, committed_at_ms))
                .collect::<Result<Vec<_>, _>>()?;
            transaction.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn snapshot(&self, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
        self.read(move |connection| sqlite_snapshot(connection, taken_at_ms))
            .await
    }

    async fn restore(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        if snapshot.format != crate::store::SNAPSHOT_FORMAT {
            return Err(StoreError::Invalid(format!(
                "snapshot format {} is not supported (supported: {})",
                snapshot.format,
                crate::store::SNAPSHOT_FORMAT
            )));
        }
        self.write(move |connection| sqlite_restore(connection, snapshot))
            .await
    }

    async fn index_entries(
        &self,
        topic_id: i64,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT e.base_offset, e.record_count, s.object_key, e.byte_offset, e.byte_len, e.max_timestamp, e.format, s.object_size
                 FROM index_entries e JOIN segments s USING (segment_id)
                 WHERE e.topic_id = ?1 AND e.partition = ?2 AND e.base_offset >= coalesce((
                     SELECT max(base_offset) FROM index_entries
                     WHERE topic_id = ?1 AND partition = ?2 AND base_offset <= ?3), 0)
                 ORDER BY e.base_offset LIMIT ?4",
            )?;
            let rows = statement.query_map(params![topic_id, partition, offset as i64, max_entries], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })?;
            rows.map(|row| {
                let (base_offset, record_count, object_key, byte_offset, byte_len, max_timestamp, format, object_size) = row?;
                Ok(IndexEntry {
                    base_offset: to_u64(base_offset, "offset")?,
                    record_count: to_u32(record_count, "record count")?,
                    object_key,
                    byte_offset: to_u64(byte_offset, "byte offset")?,
                    byte_len: to_u32(byte_len, "byte length")?,
                    max_timestamp,
                    format: if format == FORMAT_PARQUET { EntryFormat::Parquet } else { EntryFormat::Segment },
                    object_size: to_u64(object_size, "object size")?,
                })
            })
            .collect()
        })
        .await
    }
}

/// Gap left after the highest restored producer id, so that a producer registered after
/// the snapshot (and so forgotten by the restore) can never share an id with a new one.
pub(crate) const RESTORED_PRODUCER_ID_GAP: i64 = 1_000_000;

fn rows<T>(
    connection: &Connection,
    sql: &str,
    read: impl FnMut(&rusqlite::Row<'_>) -> Result<T, rusqlite::Error>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare(sql)?;
    let rows = statement.query_map([], read)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn sqlite_snapshot(connection: &Connection, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
    let transaction = connection.unchecked_transaction()?;
    let snapshot = Snapshot {
        format: crate::store::SNAPSHOT_FORMAT,
        taken_at_ms,
        topics: rows(
            &transaction,
            "SELECT topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema
             FROM topics ORDER BY topic_id",
            read_topic,
        )?,
        partitions: rows(
            &transaction,
            "SELECT topic_id, partition, log_start_offset, high_watermark FROM partitions
             ORDER BY topic_id, partition",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?,
        segments: rows(
            &transaction,
            "SELECT segment_id, object_key, object_size, committed_at_ms, outcomes, format FROM segments
             ORDER BY segment_id",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)),
        )?,
        index_entries: rows(
            &transaction,
            "SELECT topic_id, partition, base_offset, record_count, segment_id, byte_offset, byte_len,
                    min_timestamp, max_timestamp, format
             FROM index_entries ORDER BY topic_id, partition, base_offset",
            |row| {
                let mut entry = [0i64; 10];
                for (column, value) in entry.iter_mut().enumerate() {
                    *value = row.get(column)?;
                }
                Ok(entry)
            },
        )?,
        producers: rows(
            &transaction,
            "SELECT producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms
             FROM producers ORDER BY producer_id",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)),
        )?,
        kafka_sequences: rows(
            &transaction,
            "SELECT producer_id, topic_id, partition, epoch, batches FROM kafka_sequences
             ORDER BY producer_id, topic_id, partition",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
        )?,
        groups: rows(
            &transaction,
            "SELECT group_name, generation FROM groups ORDER BY group_name",
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?,
        group_offsets: rows(
            &transaction,
            "SELECT group_name, topic_id, partition, committed_offset, updated_at_ms FROM group_offsets
             ORDER BY group_name, topic_id, partition",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
        )?,
        group_offset_metadata: group_offsets::snapshot_rows(&transaction)?,
        topic_configs: topic_configs::snapshot_rows(&transaction)?,
    };
    transaction.finish()?;
    Ok(snapshot)
}

fn sqlite_restore(connection: &mut Connection, snapshot: Snapshot) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let used: i64 = transaction.query_row(
        "SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM segments)",
        [],
        |row| row.get(0),
    )?;
    if used > 0 {
        return Err(CoordinatorError::InvalidArgument(
            "the metadata store is not empty: restore only rebuilds an empty store".into(),
        )
        .into());
    }
    for (topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema) in
        &snapshot.topics
    {
        transaction.execute(
            "INSERT INTO topics (topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms,
             value_schema) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema],
        )?;
    }
    crate::topic_keys::sqlite_assign(&transaction)?;
    for (topic_id, partition, log_start_offset, high_watermark) in &snapshot.partitions {
        transaction.execute(
            "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
             VALUES (?1, ?2, ?3, ?4)",
            params![topic_id, partition, log_start_offset, high_watermark],
        )?;
    }
    for (segment_id, object_key, object_size, committed_at_ms, outcomes, format) in
        &snapshot.segments
    {
        transaction.execute(
            "INSERT INTO segments (segment_id, object_key, object_size, committed_at_ms, outcomes, format)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![segment_id, object_key, object_size, committed_at_ms, outcomes, format],
        )?;
    }
    {
        let mut insert = transaction.prepare(
            "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id, byte_offset,
             byte_len, min_timestamp, max_timestamp, format) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for entry in &snapshot.index_entries {
            insert.execute(rusqlite::params_from_iter(entry.iter()))?;
        }
    }
    for (producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms) in
        &snapshot.producers
    {
        transaction.execute(
            "INSERT INTO producers (producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms],
        )?;
    }
    for (producer_id, topic_id, partition, epoch, batches) in &snapshot.kafka_sequences {
        transaction.execute(
            "INSERT INTO kafka_sequences (producer_id, topic_id, partition, epoch, batches)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![producer_id, topic_id, partition, epoch, batches],
        )?;
    }
    // Inserting and deleting a row with an explicit id moves AUTOINCREMENT past it.
    let next_producer = snapshot
        .producers
        .iter()
        .map(|row| row.0)
        .max()
        .unwrap_or(0)
        + RESTORED_PRODUCER_ID_GAP;
    transaction.execute(
        "INSERT INTO producers (producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms)
         VALUES (?1, 0, -1, NULL, '[]', 0)",
        [next_producer],
    )?;
    transaction.execute(
        "DELETE FROM producers WHERE producer_id = ?1",
        [next_producer],
    )?;
    for (group_name, generation) in &snapshot.groups {
        transaction.execute(
            "INSERT INTO groups (group_name, generation) VALUES (?1, ?2)",
            params![group_name, generation],
        )?;
    }
    let topic_ids: std::collections::HashSet<i64> =
        snapshot.topics.iter().map(|row| row.0).collect();
    // Offsets of a deleted topic (older snapshots kept them) must not attach to a later
    // topic that reuses its id.
    for (group_name, topic_id, partition, committed_offset, updated_at_ms) in snapshot
        .group_offsets
        .iter()
        .filter(|row| topic_ids.contains(&row.1))
    {
        transaction.execute(
            "INSERT INTO group_offsets (group_name, topic_id, partition, committed_offset, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![group_name, topic_id, partition, committed_offset, updated_at_ms],
        )?;
    }
    group_offsets::restore_rows(&transaction, &snapshot.group_offset_metadata, &topic_ids)?;
    topic_configs::restore_rows(&transaction, &snapshot.topic_configs, &topic_ids)?;
    transaction.commit()?;
    Ok(())
}
