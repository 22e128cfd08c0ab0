//! The production metadata store: PostgreSQL, with the same tables and semantics as the
//! embedded SQLite store. What a commit does is [`crate::store::plan`]'s; this module
//! and its children only read and write rows.
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
    IndexEntry, PartitionOffsets, ProducerIdentity, SegmentCommit, TableCommit, TableFile, Topic,
    TopicConfig, TopicStorage,
};
use tokio::sync::{Mutex, watch};
use tokio_postgres::{Client, IsolationLevel};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::{error, info, instrument, warn};

use crate::error::StoreError;
use crate::store::db::{Tx, cells};
use silt_core::security::{SecurityRequest, SecurityResponse, SecurityView};
use silt_core::transactions::TxnDescription;

use crate::store::{
    MetadataStore, SegmentOutcome, Snapshot, StoredGroup, StoredOffset, StoredState, TxnApplied,
    TxnStep, ops,
};

mod tls;
mod tx;

use tx::PgTx;

/// The advisory lock that makes a coordinator the leader ("SILTLEAD").
const LEADER_LOCK: i64 = 0x5349_4c54_4c45_4144;
/// How often a standby asks for the leader lock.
const STANDBY_POLL: Duration = Duration::from_millis(250);
const READ_CONNECTIONS: usize = 2;

/// Schema changes in order; `silt_schema_migrations` records which are applied. The
/// first builds the schema the SQLite store reaches at its version 5.
const MIGRATIONS: &[&str] = &[
    include_str!("postgres/migrations/0001_schema.sql"),
    include_str!("postgres/migrations/0002_kafka_sequences.sql"),
    include_str!("postgres/migrations/0003_orphan_rows.sql"),
    include_str!("postgres/migrations/0004_topic_collision_keys.sql"),
    include_str!("postgres/migrations/0005_commit_metadata.sql"),
    include_str!("postgres/migrations/0006_topic_configs.sql"),
    include_str!("postgres/migrations/0007_transactions.sql"),
    include_str!("postgres/migrations/0008_security.sql"),
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
    tls: MakeRustlsConnect,
}

/// Opens one connection; `lost` (if given) is set when it ends.
async fn open(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    lost: Option<watch::Sender<bool>>,
) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(tls.clone()).await?;
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
        let settings = tls::settings(url)?;
        let tls = tls::connector(settings.root_cert.as_deref())?;
        let mut config: tokio_postgres::Config = settings
            .url
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
        let mut writer = open(&config, &tls, Some(lost_sender)).await?;
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
            readers.push(open(&config, &tls, None).await?);
        }
        Ok(PostgresStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            lost,
            config,
            tls,
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
        let mut tx = PgTx::new(&transaction);
        tx.batch(migration).await?;
        if index + 1 == TOPIC_KEYS_VERSION {
            ops::topics::migrate_collision_keys(&mut tx).await?;
        }
        drop(tx);
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

/// Runs `$operation` (an operation of [`ops`], given the transaction first) in a
/// transaction on the leader's connection.
macro_rules! write {
    ($store:expr, |$tx:ident| $operation:expr) => {{
        let mut writer = $store.writer.lock().await;
        let transaction = writer.transaction().await?;
        let mut $tx = PgTx::new(&transaction);
        let value = $operation.await?;
        drop($tx);
        transaction.commit().await?;
        Ok(value)
    }};
}

/// Runs `$operation` on a reader connection, outside any transaction.
macro_rules! read {
    ($store:expr, |$tx:ident| $operation:expr) => {{
        let mut $tx = PgTx::new($store.reader());
        $operation.await
    }};
}

#[async_trait]
impl MetadataStore for PostgresStore {
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
        write!(self, |tx| ops::topics::delete(&mut tx, name, generations))
    }

    async fn alter_topic(&self, topic: Topic) -> Result<(), StoreError> {
        write!(self, |tx| ops::topics::alter(&mut tx, topic))
    }

    async fn delete_group(&self, group: &str) -> Result<bool, StoreError> {
        write!(self, |tx| ops::groups::delete(&mut tx, group))
    }

    async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: Vec<(i64, u32)>,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::groups::delete_offsets(
            &mut tx, group, partitions
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
        // A connection of its own: a repeatable-read transaction sees one instant.
        let mut client = open(&self.config, &self.tls, None).await?;
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let snapshot = ops::snapshot::take(&mut PgTx::new(&transaction), taken_at_ms).await?;
        transaction.commit().await?;
        Ok(snapshot)
    }

    async fn restore(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let (topics, segments) = (snapshot.topics.len(), snapshot.segments.len());
        write!(self, |tx| async {
            let plan = ops::snapshot::restore(&mut tx, snapshot).await?;
            // Explicit ids leave the sequences behind: move each past what it restored.
            for (table, column, next) in [
                ("topics", "topic_id", plan.next_topic_id),
                ("segments", "segment_id", plan.next_segment_id),
                ("producers", "producer_id", plan.next_producer_id),
            ] {
                let setval = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), $1, false)"
                );
                tx.query(&setval, cells![next]).await?;
            }
            warn!(topics, segments, "metadata restored from a snapshot");
            Ok::<(), StoreError>(())
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
        read!(self, |tx| ops::groups::load(&mut tx, group))
    }

    async fn save_generation(&self, group: &str, generation: u64) -> Result<(), StoreError> {
        write!(self, |tx| ops::groups::save_generation(
            &mut tx, group, generation
        ))
    }

    async fn commit_group_offsets(
        &self,
        group: &str,
        offsets: Vec<StoredOffset>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        write!(self, |tx| ops::groups::commit_offsets(
            &mut tx, group, offsets, now_ms
        ))
    }

    async fn list_groups(&self) -> Result<Vec<String>, StoreError> {
        read!(self, |tx| ops::groups::list(&mut tx))
    }

    #[instrument(skip(self))]
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
        write!(self, |tx| ops::objects::forget(&mut tx, object_key))
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
