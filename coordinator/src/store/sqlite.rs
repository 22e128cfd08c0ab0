//! The embedded metadata store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed segment survives a crash of the process or the machine. What a
//! commit does is [`crate::store::plan`]'s; this module and its children only read and
//! write rows.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{CachedStatement, Connection, ToSql, TransactionBehavior};
use silt_core::coordinator::{
    IndexEntry, PartitionOffsets, ProducerIdentity, SegmentCommit, TableCommit, TableFile, Topic,
    TopicConfig,
};
use tracing::instrument;

use crate::error::StoreError;
use crate::store::{
    MetadataStore, SegmentOutcome, Snapshot, StoredGroup, StoredOffset, StoredState, sql,
};

mod admin;
mod commit;
mod group_offsets;
mod objects;
mod snapshot;
mod topics;

/// The version that adds topic names' collision keys (see `topic_keys`).
const TOPIC_KEYS_VERSION: usize = 8;
const READ_CONNECTIONS: usize = 2;

/// Schema changes in order; the database's `user_version` says how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("sqlite/migrations/0001_topics_partitions_segments_index.sql"),
    include_str!("sqlite/migrations/0002_producers.sql"),
    include_str!("sqlite/migrations/0003_groups.sql"),
    include_str!("sqlite/migrations/0004_entry_formats.sql"),
    include_str!("sqlite/migrations/0005_value_schema.sql"),
    include_str!("sqlite/migrations/0006_kafka_sequences.sql"),
    include_str!("sqlite/migrations/0007_orphan_rows.sql"),
    include_str!("sqlite/migrations/0008_topic_collision_keys.sql"),
    include_str!("sqlite/migrations/0009_commit_metadata.sql"),
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
    if version > MIGRATIONS.len() as i64 {
        return Err(StoreError::Invalid(format!(
            "database schema version {version} is newer than this build supports ({})",
            MIGRATIONS.len()
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

/// Prepares `sql`, whose placeholders are `$1`, `$2`, … (see [`crate::store::sql`]), and
/// binds `values` to them by number.
fn bound<'c>(
    connection: &'c Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<CachedStatement<'c>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    for (index, value) in values.iter().enumerate() {
        if let Some(position) = statement.parameter_index(&format!("${}", index + 1))? {
            statement.raw_bind_parameter(position, value)?;
        }
    }
    Ok(statement)
}

/// Runs a statement of [`crate::store::sql`]; answers how many rows it changed.
fn execute(connection: &Connection, sql: &str, values: &[&dyn ToSql]) -> Result<usize, StoreError> {
    Ok(bound(connection, sql, values)?.raw_execute()?)
}

/// The rows of a query of [`crate::store::sql`], each read by `read`.
fn query<T>(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    mut read: impl FnMut(&rusqlite::Row<'_>) -> Result<T, rusqlite::Error>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = bound(connection, sql, values)?;
    let mut rows = statement.raw_query();
    let mut all = Vec::new();
    while let Some(row) = rows.next()? {
        all.push(read(row)?);
    }
    Ok(all)
}

/// The first row of a query of [`crate::store::sql`], if any.
fn query_opt<T>(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    read: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, rusqlite::Error>,
) -> Result<Option<T>, StoreError> {
    let mut statement = bound(connection, sql, values)?;
    let mut rows = statement.raw_query();
    Ok(match rows.next()? {
        Some(row) => Some(read(row)?),
        None => None,
    })
}

#[async_trait]
impl MetadataStore for SqliteStore {
    #[instrument(skip(self))]
    async fn load(&self) -> Result<StoredState, StoreError> {
        self.read(topics::load).await
    }

    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(
        &self,
        config: TopicConfig,
        created_at_ms: i64,
    ) -> Result<Topic, StoreError> {
        self.write(move |connection| topics::create(connection, config, created_at_ms))
            .await
    }

    #[instrument(skip(self))]
    async fn delete_topic(
        &self,
        name: &str,
        generations: Vec<(String, u64)>,
    ) -> Result<Topic, StoreError> {
        let name = name.to_owned();
        self.write(move |connection| topics::delete(connection, name, generations))
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

    #[instrument(skip(self, commits), fields(segments = commits.len()))]
    async fn commit_segments(
        &self,
        commits: Vec<SegmentCommit>,
        committed_at_ms: i64,
    ) -> Result<Vec<SegmentOutcome>, StoreError> {
        self.write(move |connection| commit::commit_segments(connection, commits, committed_at_ms))
            .await
    }

    async fn snapshot(&self, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
        self.read(move |connection| snapshot::take(connection, taken_at_ms))
            .await
    }

    async fn restore(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        self.write(move |connection| snapshot::restore(connection, snapshot))
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
            topics::init_producer(connection, producer_id, now_ms, expire_before_ms)
        })
        .await
    }

    async fn load_group(&self, group: &str) -> Result<Option<StoredGroup>, StoreError> {
        let group = group.to_owned();
        self.read(move |connection| group_offsets::load_group(connection, &group))
            .await
    }

    async fn save_generation(&self, group: &str, generation: u64) -> Result<(), StoreError> {
        let group = group.to_owned();
        self.write(move |connection| {
            execute(
                connection,
                sql::SAVE_GENERATION,
                &[&group, &(generation as i64)],
            )?;
            Ok(())
        })
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

    async fn list_groups(&self) -> Result<Vec<String>, StoreError> {
        self.read(objects::list_groups).await
    }

    async fn truncate_before(
        &self,
        topic_id: i64,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, StoreError> {
        self.write(move |connection| {
            commit::truncate_before(connection, topic_id, partition, log_start_offset)
        })
        .await
    }

    async fn list_tables(&self, topic_id: i64) -> Result<Vec<TableFile>, StoreError> {
        self.read(move |connection| objects::list_tables(connection, topic_id))
            .await
    }

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |connection| objects::unreferenced(connection, committed_before_ms, limit))
            .await
    }

    async fn forget_object(&self, object_key: &str) -> Result<bool, StoreError> {
        let object_key = object_key.to_owned();
        self.write(move |connection| objects::forget(connection, &object_key))
            .await
    }

    async fn known_objects(&self, object_keys: Vec<String>) -> Result<Vec<String>, StoreError> {
        self.read(move |connection| objects::known(connection, object_keys))
            .await
    }

    #[instrument(skip(self, commit), fields(object_key = %commit.object_key, ranges = commit.ranges.len()))]
    async fn commit_table(&self, commit: TableCommit, now_ms: i64) -> Result<(), StoreError> {
        self.write(move |connection| commit::commit_table(connection, commit, now_ms))
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
            objects::index_entries(connection, topic_id, partition, offset, max_entries)
        })
        .await
    }
}
