//! The metadata store: what the coordinator keeps durable ([`MetadataStore`]), the
//! planner every backend shares ([`plan`]), the snapshot layout ([`snapshot`]), and the
//! two backends, SQLite ([`sqlite`]) and PostgreSQL ([`postgres`]), which keep only I/O.

use async_trait::async_trait;
use silt_core::coordinator::{
    ChunkOutcome, IndexEntry, PartitionOffsets, ProducerIdentity, SegmentCommit, TableCommit,
    TableFile, Topic, TopicConfig, TopicStorage,
};

use silt_core::security::{SecurityRequest, SecurityResponse, SecurityView};
use silt_core::transactions::TxnDescription;

use crate::error::StoreError;

pub mod db;
pub mod ops;
pub mod plan;
pub mod postgres;
pub mod rows;
pub mod snapshot;
pub mod sql;
pub mod sqlite;

pub use ops::transactions::{GroupOffsets, TxnApplied, TxnStep};
pub use snapshot::Snapshot;

/// What committing one segment did: each chunk's outcome, and the partitions whose high
/// watermark moved (`topic_id`, new offsets).
pub type SegmentOutcome = (Vec<ChunkOutcome>, Vec<(i64, PartitionOffsets)>);

/// The tables whose rows belong to one topic (by `topic_id`): deleting a topic deletes
/// its rows in each, in this order.
pub const TOPIC_TABLES: [&str; 9] = [
    "topic_configs",
    "txn_markers",
    "txn_partitions",
    "txn_offsets",
    "index_entries",
    "partitions",
    "group_offsets",
    "kafka_sequences",
    "topics",
];

/// Everything the coordinator keeps in memory, loaded from the store at start-up.
#[derive(Debug, Clone, Default)]
pub struct StoredState {
    pub topics: Vec<(Topic, Vec<PartitionOffsets>)>,
}

impl StoredState {
    /// Adds a loaded topic, refusing one whose partition rows do not match its count.
    pub fn push(
        &mut self,
        topic: Topic,
        partitions: Vec<PartitionOffsets>,
    ) -> Result<(), StoreError> {
        if partitions.len() != topic.partitions as usize {
            return Err(StoreError::Invalid(format!(
                "topic {} has {} partition rows, expected {}",
                topic.name,
                partitions.len(),
                topic.partitions
            )));
        }
        self.topics.push((topic, partitions));
        Ok(())
    }
}

/// A consumer group as the store keeps it: membership lives in the coordinator's
/// memory, and members join again after a coordinator restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredGroup {
    pub generation: u64,
    pub offsets: Vec<StoredOffset>,
}

/// A group's committed offset of one partition, with what the commit carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOffset {
    pub topic_id: i64,
    pub partition: u32,
    pub offset: u64,
    /// `""` when the commit carried none.
    pub metadata: String,
    pub leader_epoch: Option<i32>,
}

/// Durable metadata. Every method that changes state is one transaction.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    async fn load(&self) -> Result<StoredState, StoreError>;

    async fn create_topic(
        &self,
        config: TopicConfig,
        created_at_ms: i64,
    ) -> Result<Topic, StoreError>;

    /// Deletes the topic with its partitions, its index entries, its Kafka producers'
    /// sequences and every group's committed offsets of it, and records the given
    /// groups' new generations (those that used it), in one transaction.
    async fn delete_topic(
        &self,
        name: &str,
        generations: Vec<(String, u64)>,
    ) -> Result<Topic, StoreError>;

    /// Stores a topic's new partition count (adding the new partitions, empty),
    /// retention and configs, in one transaction. The count never goes down.
    async fn alter_topic(&self, topic: Topic) -> Result<(), StoreError>;

    /// Deletes a group and its committed offsets, in one transaction; answers whether
    /// the store held anything of it.
    async fn delete_group(&self, group: &str) -> Result<bool, StoreError>;

    /// Deletes a group's committed offsets of these (topic id, partition)s.
    async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: Vec<(i64, u32)>,
    ) -> Result<(), StoreError>;

    /// Commits segments in one transaction, in order (group commit); returns, for each,
    /// its chunks' outcomes and the partitions whose high watermark moved (`topic_id`,
    /// new offsets). A repeated object key returns the original outcomes and no changes.
    async fn commit_segments(
        &self,
        commits: Vec<SegmentCommit>,
        committed_at_ms: i64,
    ) -> Result<Vec<SegmentOutcome>, StoreError>;

    /// A consistent copy of every table, read in one transaction.
    async fn snapshot(&self, taken_at_ms: i64) -> Result<Snapshot, StoreError>;

    /// Loads a snapshot into an empty store, in one transaction; refuses a store that
    /// holds topics or segments.
    async fn restore(&self, snapshot: Snapshot) -> Result<(), StoreError>;

    /// A new producer id, or the next epoch of an existing one (its sequence restarts
    /// at 0). Producers idle since before `expire_before_ms` are forgotten first.
    async fn init_producer(
        &self,
        producer_id: Option<i64>,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<ProducerIdentity, StoreError>;

    /// A group's generation and committed offsets.
    async fn load_group(&self, group: &str) -> Result<Option<StoredGroup>, StoreError>;

    /// Records a group's new generation (creating the group).
    async fn save_generation(&self, group: &str, generation: u64) -> Result<(), StoreError>;

    /// Commits offsets of a group in one transaction.
    async fn commit_group_offsets(
        &self,
        group: &str,
        offsets: Vec<StoredOffset>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    async fn list_groups(&self) -> Result<Vec<String>, StoreError>;

    /// Raises a partition's log start and deletes the entries wholly below it; returns
    /// the partition's offsets afterwards.
    async fn truncate_before(
        &self,
        topic_id: i64,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, StoreError>;

    /// The compacted files of a topic with the live ranges they hold, oldest first.
    async fn list_tables(&self, topic_id: i64) -> Result<Vec<TableFile>, StoreError>;
    async fn topic_storage(&self, topic_id: i64) -> Result<TopicStorage, StoreError>;

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    async fn forget_object(&self, object_key: &str) -> Result<bool, StoreError>;

    async fn known_objects(&self, object_keys: Vec<String>) -> Result<Vec<String>, StoreError>;

    /// Replaces segment entries by a compacted file's entries, in one transaction. A
    /// repeated object key changes nothing.
    async fn commit_table(&self, commit: TableCommit, now_ms: i64) -> Result<(), StoreError>;

    /// A change to users, API keys or ACLs, in one transaction.
    async fn change_security(
        &self,
        change: SecurityRequest,
    ) -> Result<SecurityResponse, StoreError>;

    /// Every user, API key and ACL.
    async fn security_view(&self) -> Result<SecurityView, StoreError>;

    /// One step of a transaction, in one store transaction.
    async fn transaction(&self, step: TxnStep, now_ms: i64) -> Result<TxnApplied, StoreError>;

    /// The transactional ids `ids` (all with `None`) as stored.
    async fn transactions(
        &self,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<TxnDescription>, StoreError>;

    /// The partitions of `group` (topic name, partition) whose offsets open transactions
    /// hold.
    async fn pending_offsets(&self, group: &str) -> Result<Vec<(String, u32)>, StoreError>;

    /// Open transactions whose timeout passed by `now_ms`: (transactional id, start).
    async fn expired_transactions(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError>;

    /// Index entries of a partition from the one holding `offset` on, in offset order.
    async fn index_entries(
        &self,
        topic_id: i64,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<Vec<IndexEntry>, StoreError>;
}
