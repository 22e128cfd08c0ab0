//! The production metadata store: PostgreSQL, with the same tables and semantics as the
//! embedded SQLite store.
//!
//! Several coordinator replicas may point at one database. Exactly one leads: it holds
//! a session-level advisory lock on its writer connection, and every change goes through
//! that same connection, so a leader whose connection is lost can no longer change
//! anything (its lock is gone with it) and [`PostgresStore::lost`] tells it to stop
//! serving. The others wait in [`PostgresStore::connect`] until the lock is free.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use silt_core::coordinator::{
    ChunkOutcome, CoordinatorError, EntryFormat, IndexEntry, PartitionOffsets, ProducerIdentity,
    ProducerStamp, SegmentCommit, TableCommit, TableFile, TableRange, Topic, TopicConfig,
};
use tokio::sync::{Mutex, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, IsolationLevel, NoTls, Row, Statement, Transaction};
use tracing::{error, info, instrument, warn};

use crate::error::StoreError;
use crate::producers::{self, Decision, KafkaPartitionState, LastChunk, ProducerState};
use crate::sqlite::RESTORED_PRODUCER_ID_GAP;
use crate::store::{
    MetadataStore, SNAPSHOT_FORMAT, SegmentOutcome, Snapshot, StoredGroup, StoredOffset,
    StoredState,
};

mod admin;
mod group_offsets;
mod topic_configs;

/// The advisory lock that makes a coordinator the leader ("SILTLEAD").
const LEADER_LOCK: i64 = 0x5349_4c54_4c45_4144;
/// How often a standby asks for the leader lock.
const STANDBY_POLL: Duration = Duration::from_millis(250);
const READ_CONNECTIONS: usize = 2;
const FORMAT_PARQUET: i64 = 1;

/// Schema changes in order; `silt_schema_migrations` records which are applied. The
/// first builds the schema the SQLite store reaches at its version 5; the second adds
/// Kafka producers' sequences (SQLite's version 6).
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE topics (
    topic_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions BIGINT NOT NULL,
    retention_ms BIGINT,
    retention_bytes BIGINT,
    created_at_ms BIGINT NOT NULL,
    value_schema TEXT
);
CREATE TABLE partitions (
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    log_start_offset BIGINT NOT NULL,
    high_watermark BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition)
);
CREATE TABLE segments (
    segment_id BIGSERIAL PRIMARY KEY,
    object_key TEXT NOT NULL UNIQUE,
    object_size BIGINT NOT NULL,
    committed_at_ms BIGINT NOT NULL,
    outcomes TEXT NOT NULL,
    format BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE index_entries (
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    base_offset BIGINT NOT NULL,
    record_count BIGINT NOT NULL,
    segment_id BIGINT NOT NULL REFERENCES segments (segment_id),
    byte_offset BIGINT NOT NULL,
    byte_len BIGINT NOT NULL,
    min_timestamp BIGINT NOT NULL,
    max_timestamp BIGINT NOT NULL,
    format BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition, base_offset)
);
CREATE INDEX index_entries_by_segment ON index_entries (segment_id);
CREATE TABLE producers (
    producer_id BIGSERIAL PRIMARY KEY,
    epoch BIGINT NOT NULL,
    last_sequence BIGINT NOT NULL,
    last_topic_id BIGINT,
    last_chunks TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX producers_by_update ON producers (updated_at_ms);
CREATE TABLE groups (
    group_name TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
CREATE TABLE group_offsets (
    group_name TEXT NOT NULL,
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    committed_offset BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (group_name, topic_id, partition)
);
",
    "
CREATE TABLE kafka_sequences (
    producer_id BIGINT NOT NULL,
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition)
);
",
    // Rows that deleted topics left behind (SQLite's version 7).
    "
DELETE FROM group_offsets WHERE topic_id NOT IN (SELECT topic_id FROM topics);
DELETE FROM kafka_sequences WHERE topic_id NOT IN (SELECT topic_id FROM topics);
",
    // Topic names' collision keys (SQLite's version 8), then `topic_keys::postgres_migrate`.
    crate::topic_keys::COLUMNS,
    // Commit metadata and leader epochs with group offsets (SQLite's version 9).
    group_offsets::MIGRATION,
    // Topic configs (SQLite's version 10).
    topic_configs::MIGRATION,
];
/// The version that adds topic names' collision keys.
const TOPIC_KEYS_VERSION: usize = 4;

/// PostgreSQL-backed [`MetadataStore`]: a writer connection that holds the leader lock,
/// and a few pipelined reader connections.
pub struct PostgresStore {
    writer: Mutex<Client>,
    readers: Vec<Client>,
    next_reader: AtomicUsize,
    lost: watch::Receiver<bool>,
    config: tokio_postgres::Config,
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Invalid(format!("negative {what}: {value}")))
}

fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} out of range: {value}")))
}

/// Opens one connection; `lost` (if given) is set when it ends.
async fn open(
    config: &tokio_postgres::Config,
    lost: Option<watch::Sender<bool>>,
) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            error!(%error, "metadata database connection failed");
        }
        if let Some(lost) = lost {
            lost.send_replace(true);
        }
    });
    Ok(client)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), waits until
    /// this process holds the leader lock (logging once that it is a standby), then
    /// applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| StoreError::Invalid(format!("metadata database URL: {error}")))?;
        config
            .application_name("silt-coordinator")
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
        let (lost_sender, lost) = watch::channel(false);
        let mut writer = open(&config, Some(lost_sender)).await?;
        let mut announced = false;
        loop {
            let row = writer
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                .await?;
            if row.try_get::<_, bool>(0)? {
                break;
            }
            if !announced {
                info!(
                    "another coordinator leads; this one is a standby until it can take the leader lock"
                );
                announced = true;
            }
            tokio::time::sleep(STANDBY_POLL).await;
        }
        info!("this coordinator holds the leader lock");
        migrate(&mut writer).await?;
        let mut readers = Vec::with_capacity(READ_CONNECTIONS);
        for _ in 0..READ_CONNECTIONS {
            readers.push(open(&config, None).await?);
        }
        Ok(PostgresStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            lost,
            config,
        })
    }

    /// Becomes `true` when the leader's connection is gone: the lock went with it, so
    /// another coordinator may lead now and this one must stop serving.
    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.clone()
    }

    fn reader(&self) -> &Client {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        &self.readers[index]
    }
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    migrate_to(client, MIGRATIONS.len()).await
}

/// Applies the migrations up to version `target`.
pub(crate) async fn migrate_to(client: &mut Client, target: usize) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS silt_schema_migrations (
                version BIGINT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let applied: i64 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM silt_schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    if applied > MIGRATIONS.len() as i64 {
        return Err(StoreError::Invalid(format!(
            "database schema version {applied} is newer than this build supports ({})",
            MIGRATIONS.len()
        )));
    }
    let pending = MIGRATIONS.iter().enumerate().take(target);
    for (index, migration) in pending.skip(applied as usize) {
        let transaction = client.transaction().await?;
        transaction.batch_execute(migration).await?;
        if index + 1 == TOPIC_KEYS_VERSION {
            crate::topic_keys::postgres_migrate(&transaction).await?;
        }
        transaction
            .execute(
                "INSERT INTO silt_schema_migrations (version) VALUES ($1)",
                &[&(index as i64 + 1)],
            )
            .await?;
        transaction.commit().await?;
        info!(version = index + 1, "metadata schema migrated");
    }
    Ok(())
}

fn topic_from_row(row: &Row) -> Result<Topic, StoreError> {
    let name: String = row.try_get(1)?;
    let value_schema = row
        .try_get::<_, Option<String>>(6)?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|error| StoreError::Invalid(format!("value schema of topic {name}: {error}")))?;
    Ok(Topic {
        topic_id: row.try_get(0)?,
        partitions: to_u32(row.try_get(2)?, "partition count")?,
        retention_ms: row.try_get(3)?,
        retention_bytes: row.try_get(4)?,
        created_at_ms: row.try_get(5)?,
        value_schema,
        name,
        configs: Default::default(),
    })
}

const TOPIC_COLUMNS: &str =
    "topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema";

async fn load_producer(
    transaction: &Transaction<'_>,
    producer_id: i64,
) -> Result<Option<ProducerState>, StoreError> {
    let Some(row) = transaction
        .query_opt(
            "SELECT epoch, last_sequence, last_topic_id, last_chunks FROM producers WHERE producer_id = $1",
            &[&producer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let epoch: i64 = row.try_get(0)?;
    let last_chunks: String = row.try_get(3)?;
    Ok(Some(ProducerState {
        epoch: i32::try_from(epoch)
            .map_err(|_| StoreError::Invalid(format!("producer epoch {epoch}")))?,
        last_sequence: row.try_get(1)?,
        last_topic_id: row.try_get(2)?,
        last_chunks: serde_json::from_str(&last_chunks).map_err(|error| {
            StoreError::Invalid(format!("producer {producer_id} chunks: {error}"))
        })?,
    }))
}

async fn load_kafka_sequences(
    transaction: &Transaction<'_>,
    producer_id: i64,
    topic_id: i64,
    partition: u32,
) -> Result<Option<KafkaPartitionState>, StoreError> {
    let Some(row) = transaction
        .query_opt(
            "SELECT epoch, batches FROM kafka_sequences
             WHERE producer_id = $1 AND topic_id = $2 AND partition = $3",
            &[&producer_id, &topic_id, &i64::from(partition)],
        )
        .await?
    else {
        return Ok(None);
    };
    let batches: String = row.try_get(1)?;
    producers::kafka_state_from_row(producer_id, row.try_get(0)?, &batches).map(Some)
}

async fn save_kafka_sequences(
    transaction: &Transaction<'_>,
    producer_id: i64,
    topic_id: i64,
    partition: u32,
    state: &KafkaPartitionState,
    now_ms: i64,
) -> Result<(), StoreError> {
    let batches = serde_json::to_string(&state.batches)
        .map_err(|error| StoreError::Invalid(error.to_string()))?;
    transaction
        .execute(
            "INSERT INTO kafka_sequences (producer_id, topic_id, partition, epoch, batches)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (producer_id, topic_id, partition)
             DO UPDATE SET epoch = excluded.epoch, batches = excluded.batches",
            &[
                &producer_id,
                &topic_id,
                &i64::from(partition),
                &i64::from(state.epoch),
                &batches,
            ],
        )
        .await?;
    transaction
        .execute(
            "UPDATE producers SET updated_at_ms = $2 WHERE producer_id = $1",
            &[&producer_id, &now_ms],
        )
        .await?;
    Ok(())
}

/// The statements a segment commit runs per chunk, prepared once per transaction.
struct CommitStatements {
    select_partition: Statement,
    insert_entry: Statement,
    update_partition: Statement,
}

async fn commit_segment(
    transaction: &Transaction<'_>,
    statements: &CommitStatements,
    commit: SegmentCommit,
    committed_at_ms: i64,
) -> Result<SegmentOutcome, StoreError> {
    if let Some(previous) = transaction
        .query_opt(
            "SELECT outcomes FROM segments WHERE object_key = $1",
            &[&commit.object_key],
        )
        .await?
    {
        let previous: String = previous.try_get(0)?;
        let outcomes = serde_json::from_str(&previous).map_err(|error| {
            StoreError::Invalid(format!("stored outcomes of {}: {error}", commit.object_key))
        })?;
        return Ok((outcomes, Vec::new()));
    }
    let segment_id: i64 = transaction
        .query_one(
            "INSERT INTO segments (object_key, object_size, committed_at_ms, outcomes)
             VALUES ($1, $2, $3, '[]') RETURNING segment_id",
            &[
                &commit.object_key,
                &(commit.object_size as i64),
                &committed_at_ms,
            ],
        )
        .await?
        .try_get(0)?;
    let mut outcomes = Vec::with_capacity(commit.chunks.len());
    let mut advanced: Vec<(i64, PartitionOffsets)> = Vec::new();
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
                let producer = load_producer(transaction, kafka.producer_id).await?;
                kafka_state = load_kafka_sequences(
                    transaction,
                    kafka.producer_id,
                    chunk.topic_id,
                    chunk.partition,
                )
                .await?;
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
                let state = load_producer(transaction, stamp.producer_id).await?;
                producers::decide(state.as_ref(), stamp, group[0].topic_id)
            }
        };
        match decision {
            Decision::Append => {
                let mut landed = Vec::with_capacity(group.len());
                for chunk in group {
                    let partition = i64::from(chunk.partition);
                    let current = transaction
                        .query_opt(
                            &statements.select_partition,
                            &[&chunk.topic_id, &partition, &chunk.topic],
                        )
                        .await?;
                    let Some(current) = current else {
                        outcomes.push(ChunkOutcome::Rejected {
                            error_code: "topic_not_found".into(),
                            message: format!(
                                "topic {:?} partition {} no longer exists",
                                chunk.topic, chunk.partition
                            ),
                        });
                        continue;
                    };
                    let log_start_offset: i64 = current.try_get(0)?;
                    let base_offset: i64 = current.try_get(1)?;
                    let high_watermark = base_offset + i64::from(chunk.record_count);
                    transaction
                        .execute(
                            &statements.insert_entry,
                            &[
                                &chunk.topic_id,
                                &partition,
                                &base_offset,
                                &i64::from(chunk.record_count),
                                &segment_id,
                                &(chunk.byte_offset as i64),
                                &i64::from(chunk.byte_len),
                                &chunk.min_timestamp,
                                &chunk.max_timestamp,
                            ],
                        )
                        .await?;
                    transaction
                        .execute(
                            &statements.update_partition,
                            &[&chunk.topic_id, &partition, &high_watermark],
                        )
                        .await?;
                    let offsets = PartitionOffsets {
                        partition: chunk.partition,
                        log_start_offset: to_u64(log_start_offset, "log start offset")?,
                        high_watermark: to_u64(high_watermark, "high watermark")?,
                    };
                    match advanced.iter_mut().find(|(topic_id, o)| {
                        *topic_id == chunk.topic_id && o.partition == chunk.partition
                    }) {
                        Some((_, existing)) => *existing = offsets,
                        None => advanced.push((chunk.topic_id, offsets)),
                    }
                    let base_offset = to_u64(base_offset, "offset")?;
                    outcomes.push(ChunkOutcome::Committed { base_offset });
                    landed.push(LastChunk {
                        partition: chunk.partition,
                        base_offset,
                        record_count: chunk.record_count,
                    });
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
                    )
                    .await?;
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
                    )
                    .await?;
                }
            }
            Decision::Duplicate(last_chunks) => {
                for chunk in group {
                    let original = last_chunks.iter().find(|last| {
                        last.partition == chunk.partition && last.record_count == chunk.record_count
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
    let encoded =
        serde_json::to_string(&outcomes).map_err(|error| StoreError::Invalid(error.to_string()))?;
    transaction
        .execute(
            "UPDATE segments SET outcomes = $2 WHERE segment_id = $1",
            &[&segment_id, &encoded],
        )
        .await?;
    Ok((outcomes, advanced))
}

async fn save_producer(
    transaction: &Transaction<'_>,
    stamp: &ProducerStamp,
    topic_id: i64,
    landed: &[LastChunk],
    now_ms: i64,
) -> Result<(), StoreError> {
    let chunks =
        serde_json::to_string(landed).map_err(|error| StoreError::Invalid(error.to_string()))?;
    transaction
        .execute(
            "UPDATE producers SET last_sequence = $2, last_topic_id = $3, last_chunks = $4, updated_at_ms = $5
             WHERE producer_id = $1",
            &[&stamp.producer_id, &stamp.sequence, &topic_id, &chunks, &now_ms],
        )
        .await?;
    Ok(())
}

/// A row read as the tuple of its columns, in order (the snapshot's row layout).
trait TupleRow: Sized {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error>;
}

macro_rules! tuple_row_impl {
    ($($column:ident $index:tt),+) => {
        impl<$($column: for<'a> tokio_postgres::types::FromSql<'a>),+> TupleRow for ($($column,)+) {
            fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
                Ok(($(row.try_get::<_, $column>($index)?,)+))
            }
        }
    };
}

tuple_row_impl!(A 0, B 1);
tuple_row_impl!(A 0, B 1, C 2, D 3);
tuple_row_impl!(A 0, B 1, C 2, D 3, E 4);
tuple_row_impl!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_row_impl!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);

fn tuple_row<T: TupleRow>(row: &Row) -> Result<T, tokio_postgres::Error> {
    T::from_row(row)
}

async fn select<T>(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    read: impl Fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> Result<Vec<T>, StoreError> {
    let rows = client.query(sql, params).await?;
    Ok(rows.iter().map(read).collect::<Result<Vec<_>, _>>()?)
}

#[async_trait]
impl MetadataStore for PostgresStore {
    #[instrument(skip(self))]
    async fn load(&self) -> Result<StoredState, StoreError> {
        let client = self.reader();
        let topics = client
            .query(
                &format!("SELECT {TOPIC_COLUMNS} FROM topics ORDER BY name"),
                &[],
            )
            .await?;
        let mut state = StoredState::default();
        let mut configs = topic_configs::load_all(client).await?;
        for row in &topics {
            let mut topic = topic_from_row(row)?;
            topic.configs = configs.remove(&topic.topic_id).unwrap_or_default();
            let partitions = client
                .query(
                    "SELECT partition, log_start_offset, high_watermark FROM partitions
                     WHERE topic_id = $1 ORDER BY partition",
                    &[&topic.topic_id],
                )
                .await?
                .iter()
                .map(|row| {
                    Ok(PartitionOffsets {
                        partition: to_u32(row.try_get(0)?, "partition")?,
                        log_start_offset: to_u64(row.try_get(1)?, "log start offset")?,
                        high_watermark: to_u64(row.try_get(2)?, "high watermark")?,
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
    }

    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(
        &self,
        config: TopicConfig,
        created_at_ms: i64,
    ) -> Result<Topic, StoreError> {
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        let collision_key = crate::topic_keys::postgres_check(&transaction, &config.name).await?;
        let value_schema = config
            .value_schema
            .as_ref()
            .map(|schema| schema.to_string());
        let topic_id: i64 = transaction
            .query_one(
                "INSERT INTO topics (name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema,
                 collision_key) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING topic_id",
                &[
                    &config.name,
                    &i64::from(config.partitions),
                    &config.retention_ms,
                    &config.retention_bytes,
                    &created_at_ms,
                    &value_schema,
                    &collision_key,
                ],
            )
            .await?
            .try_get(0)?;
        topic_configs::save(&transaction, topic_id, &config.configs).await?;
        transaction
            .execute(
                "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
                 SELECT $1, p, 0, 0 FROM generate_series(0::BIGINT, $2::BIGINT - 1) AS p",
                &[&topic_id, &i64::from(config.partitions)],
            )
            .await?;
        transaction.commit().await?;
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
    }

    #[instrument(skip(self))]
    async fn delete_topic(
        &self,
        name: &str,
        generations: Vec<(String, u64)>,
    ) -> Result<Topic, StoreError> {
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        let Some(row) = transaction
            .query_opt(
                &format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE name = $1"),
                &[&name],
            )
            .await?
        else {
            return Err(CoordinatorError::TopicNotFound(name.to_owned()).into());
        };
        let mut topic = topic_from_row(&row)?;
        topic.configs = topic_configs::load(&transaction, topic.topic_id).await?;
        topic_configs::delete(&transaction, topic.topic_id).await?;
        for table in [
            "index_entries",
            "partitions",
            "group_offsets",
            "kafka_sequences",
            "topics",
        ] {
            transaction
                .execute(
                    &format!("DELETE FROM {table} WHERE topic_id = $1"),
                    &[&topic.topic_id],
                )
                .await?;
        }
        for (group, generation) in generations {
            transaction
                .execute(
                    "UPDATE groups SET generation = $2 WHERE group_name = $1",
                    &[&group, &(generation as i64)],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(topic)
    }

    #[instrument(skip(self, commits), fields(segments = commits.len()))]
    async fn commit_segments(
        &self,
        commits: Vec<SegmentCommit>,
        committed_at_ms: i64,
    ) -> Result<Vec<SegmentOutcome>, StoreError> {
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        let statements = CommitStatements {
            select_partition: transaction
                .prepare(
                    "SELECT p.log_start_offset, p.high_watermark FROM partitions p JOIN topics t USING (topic_id)
                     WHERE p.topic_id = $1 AND p.partition = $2 AND t.name = $3",
                )
                .await?,
            insert_entry: transaction
                .prepare(
                    "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id,
                     byte_offset, byte_len, min_timestamp, max_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .await?,
            update_partition: transaction
                .prepare(
                    "UPDATE partitions SET high_watermark = $3 WHERE topic_id = $1 AND partition = $2",
                )
                .await?,
        };
        let mut outcomes = Vec::with_capacity(commits.len());
        for commit in commits {
            outcomes
                .push(commit_segment(&transaction, &statements, commit, committed_at_ms).await?);
        }
        transaction.commit().await?;
        Ok(outcomes)
    }

    #[instrument(skip(self))]
    async fn init_producer(
        &self,
        producer_id: Option<i64>,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<ProducerIdentity, StoreError> {
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        transaction
            .execute(
                "DELETE FROM producers WHERE updated_at_ms < $1",
                &[&expire_before_ms],
            )
            .await?;
        transaction
            .execute(
                "DELETE FROM kafka_sequences WHERE producer_id NOT IN (SELECT producer_id FROM producers)",
                &[],
            )
            .await?;
        let identity = match producer_id {
            None => {
                let producer_id: i64 = transaction
                    .query_one(
                        "INSERT INTO producers (epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms)
                         VALUES (0, -1, NULL, '[]', $1) RETURNING producer_id",
                        &[&now_ms],
                    )
                    .await?
                    .try_get(0)?;
                ProducerIdentity {
                    producer_id,
                    epoch: 0,
                }
            }
            Some(producer_id) => {
                let Some(row) = transaction
                    .query_opt(
                        "SELECT epoch FROM producers WHERE producer_id = $1",
                        &[&producer_id],
                    )
                    .await?
                else {
                    return Err(CoordinatorError::UnknownProducer(producer_id).into());
                };
                let epoch = row.try_get::<_, i64>(0)? + 1;
                transaction
                    .execute(
                        "UPDATE producers SET epoch = $2, last_sequence = -1, last_topic_id = NULL,
                         last_chunks = '[]', updated_at_ms = $3 WHERE producer_id = $1",
                        &[&producer_id, &epoch, &now_ms],
                    )
                    .await?;
                transaction
                    .execute(
                        "DELETE FROM kafka_sequences WHERE producer_id = $1",
                        &[&producer_id],
                    )
                    .await?;
                let epoch = i32::try_from(epoch)
                    .map_err(|_| StoreError::Invalid(format!("producer epoch {epoch}")))?;
                ProducerIdentity { producer_id, epoch }
            }
        };
        transaction.commit().await?;
        Ok(identity)
    }

    async fn load_group(&self, group: &str) -> Result<Option<StoredGroup>, StoreError> {
        group_offsets::load_group(self.reader(), group).await
    }

    async fn save_generation(&self, group: &str, generation: u64) -> Result<(), StoreError> {
        let writer = self.writer.lock().await;
        writer
            .execute(
                "INSERT INTO groups (group_name, generation) VALUES ($1, $2)
                 ON CONFLICT (group_name) DO UPDATE SET generation = excluded.generation",
                &[&group, &(generation as i64)],
            )
            .await?;
        Ok(())
    }

    async fn alter_topic(&self, topic: Topic) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        admin::alter_topic(&mut writer, topic).await
    }

    async fn delete_group(&self, group: &str) -> Result<bool, StoreError> {
        let mut writer = self.writer.lock().await;
        admin::delete_group(&mut writer, group).await
    }

    async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: Vec<(i64, u32)>,
    ) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        admin::delete_group_offsets(&mut writer, group, partitions).await
    }

    async fn commit_group_offsets(
        &self,
        group: &str,
        offsets: Vec<StoredOffset>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        group_offsets::commit(&mut writer, group, offsets, now_ms).await
    }

    async fn list_groups(&self) -> Result<Vec<String>, StoreError> {
        select(
            self.reader(),
            "SELECT group_name FROM groups ORDER BY group_name",
            &[],
            |row| row.try_get(0),
        )
        .await
    }

    #[instrument(skip(self))]
    async fn truncate_before(
        &self,
        topic_id: i64,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, StoreError> {
        let partition_number = i64::from(partition);
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        let Some(row) = transaction
            .query_opt(
                "SELECT log_start_offset, high_watermark FROM partitions WHERE topic_id = $1 AND partition = $2",
                &[&topic_id, &partition_number],
            )
            .await?
        else {
            return Err(CoordinatorError::InvalidArgument(format!(
                "no partition {partition} in topic {topic_id}"
            ))
            .into());
        };
        let (start, high_watermark): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let new_start = (log_start_offset.min(i64::MAX as u64) as i64).clamp(start, high_watermark);
        transaction
            .execute(
                "UPDATE partitions SET log_start_offset = $3 WHERE topic_id = $1 AND partition = $2",
                &[&topic_id, &partition_number, &new_start],
            )
            .await?;
        transaction
            .execute(
                "DELETE FROM index_entries WHERE topic_id = $1 AND partition = $2 AND base_offset + record_count <= $3",
                &[&topic_id, &partition_number, &new_start],
            )
            .await?;
        transaction.commit().await?;
        Ok(PartitionOffsets {
            partition,
            log_start_offset: to_u64(new_start, "log start offset")?,
            high_watermark: to_u64(high_watermark, "high watermark")?,
        })
    }

    async fn list_tables(&self, topic_id: i64) -> Result<Vec<TableFile>, StoreError> {
        let rows = self
            .reader()
            .query(
                "SELECT s.object_key, s.object_size, e.partition, e.base_offset, e.record_count, e.min_timestamp,
                        e.max_timestamp, e.byte_len
                 FROM index_entries e JOIN segments s USING (segment_id)
                 WHERE e.topic_id = $1 AND e.format = $2 ORDER BY s.segment_id, e.partition",
                &[&topic_id, &FORMAT_PARQUET],
            )
            .await?;
        let mut tables: Vec<TableFile> = Vec::new();
        for row in &rows {
            let object_key: String = row.try_get(0)?;
            let range = TableRange {
                partition: to_u32(row.try_get(2)?, "partition")?,
                base_offset: to_u64(row.try_get(3)?, "offset")?,
                record_count: to_u64(row.try_get(4)?, "record count")?,
                min_timestamp: row.try_get(5)?,
                max_timestamp: row.try_get(6)?,
                byte_size: to_u64(row.try_get(7)?, "byte size")?,
            };
            match tables.last_mut() {
                Some(table) if table.object_key == object_key => table.ranges.push(range),
                _ => tables.push(TableFile {
                    object_key,
                    object_size: to_u64(row.try_get(1)?, "object size")?,
                    ranges: vec![range],
                }),
            }
        }
        Ok(tables)
    }

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        select(
            self.reader(),
            "SELECT s.object_key FROM segments s WHERE s.committed_at_ms < $1
             AND NOT EXISTS (SELECT 1 FROM index_entries e WHERE e.segment_id = s.segment_id)
             ORDER BY s.segment_id LIMIT $2",
            &[&committed_before_ms, &i64::from(limit)],
            |row| row.try_get(0),
        )
        .await
    }

    async fn forget_object(&self, object_key: &str) -> Result<bool, StoreError> {
        let writer = self.writer.lock().await;
        let deleted = writer
            .execute(
                "DELETE FROM segments WHERE object_key = $1
                 AND NOT EXISTS (SELECT 1 FROM index_entries e WHERE e.segment_id = segments.segment_id)",
                &[&object_key],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn known_objects(&self, object_keys: Vec<String>) -> Result<Vec<String>, StoreError> {
        select(
            self.reader(),
            "SELECT object_key FROM segments WHERE object_key = ANY($1)",
            &[&object_keys],
            |row| row.try_get(0),
        )
        .await
    }

    #[instrument(skip(self, commit), fields(object_key = %commit.object_key, ranges = commit.ranges.len()))]
    async fn commit_table(&self, commit: TableCommit, now_ms: i64) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        if transaction
            .query_opt(
                "SELECT segment_id FROM segments WHERE object_key = $1",
                &[&commit.object_key],
            )
            .await?
            .is_some()
        {
            return Ok(());
        }
        if transaction
            .query_opt(
                "SELECT topic_id FROM topics WHERE topic_id = $1 AND name = $2",
                &[&commit.topic_id, &commit.topic],
            )
            .await?
            .is_none()
        {
            return Err(CoordinatorError::TopicNotFound(commit.topic).into());
        }
        let table_id: i64 = transaction
            .query_one(
                "INSERT INTO segments (object_key, object_size, committed_at_ms, outcomes, format)
                 VALUES ($1, $2, $3, '[]', $4) RETURNING segment_id",
                &[
                    &commit.object_key,
                    &(commit.object_size as i64),
                    &now_ms,
                    &FORMAT_PARQUET,
                ],
            )
            .await?
            .try_get(0)?;
        for range in &commit.ranges {
            let end = range.base_offset + range.record_count;
            let conflict = |why: String| -> StoreError {
                CoordinatorError::InvalidArgument(format!(
                    "partition {} offsets {}..{end} cannot be replaced: {why}",
                    range.partition, range.base_offset
                ))
                .into()
            };
            let partition = i64::from(range.partition);
            let (base, end_offset) = (range.base_offset as i64, end as i64);
            let covered = transaction
                .query(
                    "SELECT base_offset, record_count, e.format, s.object_key
                     FROM index_entries e JOIN segments s USING (segment_id)
                     WHERE topic_id = $1 AND partition = $2 AND base_offset >= $3 AND base_offset < $4
                     ORDER BY base_offset",
                    &[&commit.topic_id, &partition, &base, &end_offset],
                )
                .await?;
            let mut next = base;
            for row in &covered {
                let (entry_base, count, format, object_key): (i64, i64, i64, String) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                );
                // A compacted file's entries are replaced only by a rewrite that read it.
                let replaceable = format != FORMAT_PARQUET || commit.replaces.contains(&object_key);
                if entry_base != next || !replaceable {
                    return Err(conflict(format!(
                        "the index changed at offset {entry_base}"
                    )));
                }
                next = entry_base + count;
            }
            if next != end_offset || range.record_count > u64::from(u32::MAX) {
                return Err(conflict(format!("segment entries end at {next}")));
            }
            transaction
                .execute(
                    "DELETE FROM index_entries WHERE topic_id = $1 AND partition = $2 AND base_offset >= $3
                     AND base_offset < $4",
                    &[&commit.topic_id, &partition, &base, &end_offset],
                )
                .await?;
            transaction
                .execute(
                    "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id,
                     byte_offset, byte_len, min_timestamp, max_timestamp, format)
                     VALUES ($1, $2, $3, $4, $5, 0, $9, $6, $7, $8)",
                    &[
                        &commit.topic_id,
                        &partition,
                        &base,
                        &(range.record_count as i64),
                        &table_id,
                        &range.min_timestamp,
                        &range.max_timestamp,
                        &FORMAT_PARQUET,
                        &(range.byte_size.min(u64::from(u32::MAX)) as i64),
                    ],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn index_entries(
        &self,
        topic_id: i64,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let rows = self
            .reader()
            .query(
                "SELECT e.base_offset, e.record_count, s.object_key, e.byte_offset, e.byte_len, e.max_timestamp, e.format, s.object_size
                 FROM index_entries e JOIN segments s USING (segment_id)
                 WHERE e.topic_id = $1 AND e.partition = $2 AND e.base_offset >= coalesce((
                     SELECT max(base_offset) FROM index_entries
                     WHERE topic_id = $1 AND partition = $2 AND base_offset <= $3), 0)
                 ORDER BY e.base_offset LIMIT $4",
                &[
                    &topic_id,
                    &i64::from(partition),
                    &(offset.min(i64::MAX as u64) as i64),
                    &i64::from(max_entries),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let format: i64 = row.try_get(6)?;
                Ok(IndexEntry {
                    base_offset: to_u64(row.try_get(0)?, "offset")?,
                    record_count: to_u32(row.try_get(1)?, "record count")?,
                    object_key: row.try_get(2)?,
                    byte_offset: to_u64(row.try_get(3)?, "byte offset")?,
                    byte_len: to_u32(row.try_get(4)?, "byte length")?,
                    max_timestamp: row.try_get(5)?,
                    format: if format == FORMAT_PARQUET {
                        EntryFormat::Parquet
                    } else {
                        EntryFormat::Segment
                    },
                    object_size: to_u64(row.try_get(7)?, "object size")?,
                })
            })
            .collect()
    }

    async fn snapshot(&self, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
        // A connection of its own: a repeatable-read transaction sees one instant.
        let mut client = open(&self.config, None).await?;
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let snapshot = Snapshot {
            format: SNAPSHOT_FORMAT,
            taken_at_ms,
            topics: select(
                &transaction,
                &format!("SELECT {TOPIC_COLUMNS} FROM topics ORDER BY topic_id"),
                &[],
                tuple_row,
            )
            .await?,
            partitions: select(
                &transaction,
                "SELECT topic_id, partition, log_start_offset, high_watermark FROM partitions
                 ORDER BY topic_id, partition",
                &[],
                tuple_row,
            )
            .await?,
            segments: select(
                &transaction,
                "SELECT segment_id, object_key, object_size, committed_at_ms, outcomes, format FROM segments
                 ORDER BY segment_id",
                &[],
                tuple_row,
            )
            .await?,
            index_entries: select(
                &transaction,
                "SELECT topic_id, partition, base_offset, record_count, segment_id, byte_offset, byte_len,
                        min_timestamp, max_timestamp, format
                 FROM index_entries ORDER BY topic_id, partition, base_offset",
                &[],
                |row| {
                    let mut entry = [0i64; 10];
                    for (column, value) in entry.iter_mut().enumerate() {
                        *value = row.try_get(column)?;
                    }
                    Ok(entry)
                },
            )
            .await?,
            producers: select(
                &transaction,
                "SELECT producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms
                 FROM producers ORDER BY producer_id",
                &[],
                tuple_row,
            )
            .await?,
            kafka_sequences: select(
                &transaction,
                "SELECT producer_id, topic_id, partition, epoch, batches FROM kafka_sequences
                 ORDER BY producer_id, topic_id, partition",
                &[],
                tuple_row,
            )
            .await?,
            groups: select(
                &transaction,
                "SELECT group_name, generation FROM groups ORDER BY group_name",
                &[],
                tuple_row,
            )
            .await?,
            group_offsets: select(
                &transaction,
                "SELECT group_name, topic_id, partition, committed_offset, updated_at_ms FROM group_offsets
                 ORDER BY group_name, topic_id, partition",
                &[],
                tuple_row,
            )
            .await?,
            group_offset_metadata: group_offsets::snapshot_rows(&transaction).await?,
            topic_configs: topic_configs::snapshot_rows(&transaction).await?,
        };
        transaction.commit().await?;
        Ok(snapshot)
    }

    async fn restore(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        if snapshot.format != SNAPSHOT_FORMAT {
            return Err(StoreError::Invalid(format!(
                "snapshot format {} is not supported (supported: {SNAPSHOT_FORMAT})",
                snapshot.format
            )));
        }
        let mut writer = self.writer.lock().await;
        let transaction = writer.transaction().await?;
        let used: i64 = transaction
            .query_one(
                "SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM segments)",
                &[],
            )
            .await?
            .try_get(0)?;
        if used > 0 {
            return Err(CoordinatorError::InvalidArgument(
                "the metadata store is not empty: restore only rebuilds an empty store".into(),
            )
            .into());
        }
        for row in &snapshot.topics {
            transaction
                .execute(
                    &format!(
                        "INSERT INTO topics ({TOPIC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ),
                    &[&row.0, &row.1, &row.2, &row.3, &row.4, &row.5, &row.6],
                )
                .await?;
        }
        crate::topic_keys::postgres_assign(&transaction).await?;
        let insert = transaction
            .prepare(
                "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
                 VALUES ($1, $2, $3, $4)",
            )
            .await?;
        for row in &snapshot.partitions {
            transaction
                .execute(&insert, &[&row.0, &row.1, &row.2, &row.3])
                .await?;
        }
        let insert = transaction
            .prepare(
                "INSERT INTO segments (segment_id, object_key, object_size, committed_at_ms, outcomes, format)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        for row in &snapshot.segments {
            transaction
                .execute(&insert, &[&row.0, &row.1, &row.2, &row.3, &row.4, &row.5])
                .await?;
        }
        let insert = transaction
            .prepare(
                "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id,
                 byte_offset, byte_len, min_timestamp, max_timestamp, format)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?;
        for entry in &snapshot.index_entries {
            let params: Vec<&(dyn ToSql + Sync)> = entry
                .iter()
                .map(|value| value as &(dyn ToSql + Sync))
                .collect();
            transaction.execute(&insert, &params).await?;
        }
        for row in &snapshot.producers {
            transaction
                .execute(
                    "INSERT INTO producers (producer_id, epoch, last_sequence, last_topic_id, last_chunks,
                     updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&row.0, &row.1, &row.2, &row.3, &row.4, &row.5],
                )
                .await?;
        }
        for row in &snapshot.kafka_sequences {
            transaction
                .execute(
                    "INSERT INTO kafka_sequences (producer_id, topic_id, partition, epoch, batches)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&row.0, &row.1, &row.2, &row.3, &row.4],
                )
                .await?;
        }
        for row in &snapshot.groups {
            transaction
                .execute(
                    "INSERT INTO groups (group_name, generation) VALUES ($1, $2)",
                    &[&row.0, &row.1],
                )
                .await?;
        }
        let topic_ids: std::collections::HashSet<i64> =
            snapshot.topics.iter().map(|row| row.0).collect();
        // Offsets of a deleted topic (older snapshots kept them) must not attach to a
        // later topic that reuses its id.
        for row in snapshot
            .group_offsets
            .iter()
            .filter(|row| topic_ids.contains(&row.1))
        {
            transaction
                .execute(
                    "INSERT INTO group_offsets (group_name, topic_id, partition, committed_offset, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&row.0, &row.1, &row.2, &row.3, &row.4],
                )
                .await?;
        }
        group_offsets::restore_rows(&transaction, &snapshot.group_offset_metadata, &topic_ids)
            .await?;
        topic_configs::restore_rows(&transaction, &snapshot.topic_configs, &topic_ids).await?;
        // Explicit ids leave the sequences behind: move each past what it restored.
        let next_producer = snapshot
            .producers
            .iter()
            .map(|row| row.0)
            .max()
            .unwrap_or(0)
            + RESTORED_PRODUCER_ID_GAP;
        for (table, column, next) in [
            (
                "topics",
                "topic_id",
                snapshot.topics.iter().map(|row| row.0).max().unwrap_or(0) + 1,
            ),
            (
                "segments",
                "segment_id",
                snapshot.segments.iter().map(|row| row.0).max().unwrap_or(0) + 1,
            ),
            ("producers", "producer_id", next_producer),
        ] {
            transaction
                .execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), $1, false)"
                    ),
                    &[&next],
                )
                .await?;
        }
        transaction.commit().await?;
        warn!(
            topics = snapshot.topics.len(),
            segments = snapshot.segments.len(),
            "metadata restored from a snapshot"
        );
        Ok(())
    }
}
