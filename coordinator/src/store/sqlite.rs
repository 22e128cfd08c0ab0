//! The embedded metadata store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed segment survives a crash of the process or the machine. What a
//! commit does is [`crate::store::plan`]'s; this module and its children only read and
//! write rows.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::Connection;
use silt_core::coordinator::{
    IndexEntry, PartitionOffsets, ProducerIdentity, SegmentCommit, TableCommit, TableFile, Topic,
    TopicConfig, TopicStorage,
};
use tracing::instrument;

use crate::error::StoreError;
use crate::store::db::{Tx, cells, now};
use silt_core::security::{SecurityRequest, SecurityResponse, SecurityView};
use silt_core::transactions::TxnDescription;

use crate::store::{
    MetadataStore, SegmentOutcome, Snapshot, StoredGroup, StoredOffset, StoredState, TxnApplied,
    TxnStep, ops, sql,
};

mod tx;

use tx::{Begin, SqliteTx};

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
    include_str!("sqlite/migrations/0010_topic_configs.sql"),
    include_str!("sqlite/migrations/0011_transactions.sql"),
    include_str!("sqlite/migrations/0012_security.sql"),
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
    // Every statement of `store::sql` and `store::ops` stays prepared.
    connection.set_prepared_statement_cache_capacity(128);
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
        let mut tx = SqliteTx::begin(connection, Begin::Immediate)?;
        let result = now(async {
            tx.batch(migration).await?;
            if index + 1 == TOPIC_KEYS_VERSION {
                ops::topics::migrate_collision_keys(&mut tx).await?;
            }
            tx.batch(&format!("PRAGMA user_version = {}", index + 1))
                .await
        });
        tx.finish(result)?;
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
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let mut guard = readers
                .iter()
                .find_map(|reader| reader.try_lock().ok())
                .map(Ok)
                .unwrap_or_else(|| {
                    readers[0]
                        .lock()
                        .map_err(|_| StoreError::Task("reader lock poisoned".into()))
                })?;
            work(&mut guard)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }
}

/// Runs `$operation` (an operation of [`ops`], given the transaction first) on the
/// writer, in an immediate transaction.
macro_rules! write {
    ($store:expr, |$tx:ident| $operation:expr) => {
        $store
            .write(move |connection| {
                let mut $tx = SqliteTx::begin(connection, Begin::Immediate)?;
                let result = now($operation);
                $tx.finish(result)
            })
            .await
    };
}

/// Runs `$operation` on a reader, outside any transaction.
macro_rules! read {
    ($store:expr, |$tx:ident| $operation:expr) => {
        $store
            .read(move |connection| {
                let mut $tx = SqliteTx::plain(connection);
                now($operation)
            })
            .await
    };
}

#[async_trait]
impl MetadataStore for SqliteStore {
    #[instrument(skip(self))]
    async fn load(&self) -> Result<StoredState, StoreError> {
        read!(self, |tx| ops::topics::load(&mut tx))
    }

    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(
        &self,
        config: TopicConfig,
        created_at_ms: i64,
    ) -> Result<Topic, StoreError> {
        write!(self, |tx| ops::topics::create(
            &mut tx,
            config,
            created_at_ms
        ))
    }

    #[instrument(skip(self))]
    async fn delete_topic(
        &self,
        name: &str,
        generations: Vec<(String, u64)>,
    ) -> Result<Topic, StoreError> {
        let name = name.to_owned();
        write!(self, |tx| ops::topics::delete(&mut tx, &name, generations))
    }

    async fn alter_topic(&self, topic: Topic) -> Result<(), StoreError> {
        write!(self, |tx| ops::topics::alter(&mut tx, topic))
    }

    async fn delete_group(&self, group: &str) -> Result<bool, StoreError> {
        let group = group.to_owned();
        write!(self, |tx| ops::groups::delete(&mut tx, &group))
    }

    async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: Vec<(i64, u32)>,
    ) -> Result<(), StoreError> {
        let group = group.to_owned();
        write!(self, |tx| ops::groups::delete_offsets(
            &mut tx, &group, partitions
        ))
    }

    #[instrument(skip(self, commits), fields(segments = commits.len()))]
    async fn commit_segments(
        &self,
        commits: Vec<SegmentCommit>,
        committed_at_ms: i64,
    ) -> Result<Vec<SegmentOutcome>, StoreError> {
        write!(self, |tx| ops::commit::commit_segments(
            &mut tx,
            commits,
            committed_at_ms
        ))
    }

    async fn snapshot(&self, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
        self.read(move |connection| {
            let mut tx = SqliteTx::begin(connection, Begin::Deferred)?;
            let result = now(ops::snapshot::take(&mut tx, taken_at_ms));
            tx.finish(result)
        })
        .await
    }

    async fn restore(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        write!(self, |tx| async {
            let plan = ops::snapshot::restore(&mut tx, snapshot).await?;
            // Inserting and deleting a row with an explicit id moves AUTOINCREMENT past it.
            let next = plan.next_producer_id;
            tx.execute(RESERVE_PRODUCER_ID, cells![next]).await?;
            tx.execute(sql::FORGET_PRODUCER, cells![next]).await?;
            Ok(())
        })
    }

    #[instrument(skip(self))]
    async fn init_producer(
        &self,
        producer_id: Option<i64>,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<ProducerIdentity, StoreError> {
        write!(self, |tx| ops::topics::init_producer(
            &mut tx,
            producer_id,
            now_ms,
            expire_before_ms
        ))
    }

    async fn load_group(&self, group: &str) -> Result<Option<StoredGroup>, StoreError> {
        let group = group.to_owned();
        read!(self, |tx| ops::groups::load(&mut tx, &group))
    }

    async fn save_generation(&self, group: &str, generation: u64) -> Result<(), StoreError> {
        let group = group.to_owned();
        write!(self, |tx| ops::groups::save_generation(
            &mut tx, &group, generation
        ))
    }

    async fn commit_group_offsets(
        &self,
        group: &str,
        offsets: Vec<StoredOffset>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let group = group.to_owned();
        write!(self, |tx| ops::groups::commit_offsets(
            &mut tx, &group, offsets, now_ms
        ))
    }

    async fn list_groups(&self) -> Result<Vec<String>, StoreError> {
        read!(self, |tx| ops::groups::list(&mut tx))
    }

    async fn truncate_before(
        &self,
        topic_id: i64,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, StoreError> {
        write!(self, |tx| ops::commit::truncate_before(
            &mut tx,
            topic_id,
            partition,
            log_start_offset
        ))
    }

    async fn list_tables(&self, topic_id: i64) -> Result<Vec<TableFile>, StoreError> {
        read!(self, |tx| ops::objects::list_tables(&mut tx, topic_id))
    }

    async fn topic_storage(&self, topic_id: i64) -> Result<TopicStorage, StoreError> {
        read!(self, |tx| ops::objects::topic_storage(&mut tx, topic_id))
    }

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        read!(self, |tx| ops::objects::unreferenced(
            &mut tx,
            committed_before_ms,
            limit
        ))
    }

    async fn forget_object(&self, object_key: &str) -> Result<bool, StoreError> {
        let object_key = object_key.to_owned();
        write!(self, |tx| ops::objects::forget(&mut tx, &object_key))
    }

    async fn known_objects(&self, object_keys: Vec<String>) -> Result<Vec<String>, StoreError> {
        read!(self, |tx| ops::objects::known(&mut tx, object_keys))
    }

    #[instrument(skip(self, change))]
    async fn change_security(
        &self,
        change: SecurityRequest,
    ) -> Result<SecurityResponse, StoreError> {
        write!(self, |tx| ops::security::apply(&mut tx, change))
    }

    async fn security_view(&self) -> Result<SecurityView, StoreError> {
        read!(self, |tx| ops::security::view(&mut tx))
    }

    #[instrument(skip(self, commit), fields(object_key = %commit.object_key, ranges = commit.ranges.len()))]
    async fn commit_table(&self, commit: TableCommit, now_ms: i64) -> Result<(), StoreError> {
        write!(self, |tx| ops::commit::commit_table(
            &mut tx, commit, now_ms
        ))
    }

    #[instrument(skip(self))]
    async fn transaction(&self, step: TxnStep, now_ms: i64) -> Result<TxnApplied, StoreError> {
        write!(self, |tx| ops::transactions::apply(&mut tx, step, now_ms))
    }

    async fn transactions(
        &self,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<TxnDescription>, StoreError> {
        read!(self, |tx| ops::transactions::describe(&mut tx, ids))
    }

    async fn pending_offsets(&self, group: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let group = group.to_owned();
        read!(self, |tx| ops::transactions::pending_offsets(
            &mut tx, &group
        ))
    }

    async fn expired_transactions(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        read!(self, |tx| ops::transactions::expired(&mut tx, now_ms))
    }

    async fn index_entries(
        &self,
        topic_id: i64,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        read!(self, |tx| ops::objects::index_entries(
            &mut tx,
            topic_id,
            partition,
            offset,
            max_entries
        ))
    }
}

/// A placeholder producer row that moves AUTOINCREMENT past a restored id.
const RESERVE_PRODUCER_ID: &str =
    "INSERT INTO producers (producer_id, epoch, last_sequence, last_topic_id,
 last_chunks, updated_at_ms) VALUES ($1, 0, -1, NULL, '[]', 0)";
