//! The coordinator's API: the types that cross between gateways, readers, compactors
//! and the coordinator, and the [`Coordinator`] trait they all talk through. `silt dev`
//! plugs the coordinator in-process; a remote client implements the same trait.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::ErrorKind;
use crate::groups::{
    FetchAck, FetchPlan, GroupDescription, JoinGroup, KafkaGroupRequest, KafkaGroupResponse,
    MemberAssignment, PartitionOffset, ResetTarget,
};
use crate::security::{SecurityRequest, SecurityResponse};
use crate::topic_configs::TopicConfigs;
pub use crate::transactions::ProducerIdentity;
use crate::transactions::{EntryTxn, Isolation, TxnRequest, TxnResponse};

/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;

/// What a user asks for when creating a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    pub name: String,
    pub partitions: u32,
    #[serde(default)]
    pub retention_ms: Option<i64>,
    #[serde(default)]
    pub retention_bytes: Option<i64>,
    /// A JSON Schema subset whose properties become typed columns when compacted
    /// (see [`crate::schema`]).
    #[serde(default)]
    pub value_schema: Option<serde_json::Value>,
    /// Kafka's topic configs that Silt honours ([`crate::topic_configs`]).
    #[serde(default)]
    pub configs: TopicConfigs,
}

/// A topic as the coordinator stores it. `topic_id` tells apart two topics that had
/// the same name at different times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub topic_id: i64,
    pub name: String,
    pub partitions: u32,
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<i64>,
    pub created_at_ms: i64,
    #[serde(default)]
    pub value_schema: Option<serde_json::Value>,
    #[serde(default)]
    pub configs: TopicConfigs,
}

/// A new value for one of a topic's settings, or back to its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting<T> {
    Set(T),
    Default,
}

impl<T> Setting<T> {
    /// The value a topic keeps: `None` stands for the default.
    pub fn value(self) -> Option<T> {
        match self {
            Setting::Set(value) => Some(value),
            Setting::Default => None,
        }
    }
}

/// A change to an existing topic; what is `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAlteration {
    /// The new partition count: more than the topic has (partitions are never removed,
    /// as in Kafka). New partitions start empty.
    #[serde(default)]
    pub partitions: Option<u32>,
    #[serde(default)]
    pub retention_ms: Option<Setting<i64>>,
    #[serde(default)]
    pub retention_bytes: Option<Setting<i64>>,
    /// Configs of [`crate::topic_configs`] by Kafka name, each set to a value or back to
    /// its default (`None`), in order.
    #[serde(default)]
    pub configs: Vec<(String, Option<String>)>,
    /// Every config of [`crate::topic_configs`] goes back to its default before
    /// `configs` apply (Kafka's AlterConfigs replaces a topic's whole set).
    #[serde(default)]
    pub reset_configs: bool,
    /// A new declared value schema, or none (`Default`). Compacted files written before
    /// keep their columns; the topic's Iceberg table evolves its schema.
    #[serde(default)]
    pub value_schema: Option<Setting<serde_json::Value>>,
    /// Check the change and answer the topic as it would be, changing nothing.
    #[serde(default)]
    pub validate_only: bool,
}

/// The readable range of one partition: offsets in `[log_start_offset, high_watermark)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffsets {
    pub partition: u32,
    pub log_start_offset: u64,
    pub high_watermark: u64,
    /// The first offset of the oldest transaction still open in the partition: the last
    /// stable offset, when set ([`PartitionOffsets::last_stable_offset`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_unstable_offset: Option<u64>,
}

impl PartitionOffsets {
    /// Offsets of a partition without open transactions.
    pub fn new(partition: u32, log_start_offset: u64, high_watermark: u64) -> PartitionOffsets {
        PartitionOffsets {
            partition,
            log_start_offset,
            high_watermark,
            first_unstable_offset: None,
        }
    }

    /// Kafka's last stable offset: `read_committed` readers read below it. It is the
    /// first offset of the oldest open transaction, else the high watermark.
    pub fn last_stable_offset(&self) -> u64 {
        self.first_unstable_offset
            .map_or(self.high_watermark, |first| {
                first.clamp(self.log_start_offset, self.high_watermark)
            })
    }

    /// Where `isolation` readers stop.
    pub fn readable_end(&self, isolation: Isolation) -> u64 {
        match isolation {
            Isolation::ReadCommitted => self.last_stable_offset(),
            Isolation::ReadUncommitted => self.high_watermark,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDescription {
    pub topic: Topic,
    pub partitions: Vec<PartitionOffsets>,
}

/// Marks the chunks of one idempotent produce request: one sequence per request,
/// starting at 0. A retry of the last committed sequence returns its original offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProducerStamp {
    pub producer_id: i64,
    pub epoch: i32,
    pub sequence: i64,
}

/// Marks a chunk that holds exactly one record batch of an idempotent Kafka producer.
/// Kafka counts sequences per partition and per record: the batch holds sequences
/// `base_sequence..base_sequence + record_count` (wrapping after `i32::MAX`, as Kafka
/// does). A retry of one of the partition's last few batches returns its original offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KafkaBatchStamp {
    pub producer_id: i64,
    pub epoch: i32,
    pub base_sequence: i32,
    /// The batch belongs to the producer's open transaction.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transactional: bool,
}

/// One chunk of a segment to commit: `record_count` records for a partition, stored at
/// `byte_offset..byte_offset + byte_len` of the segment object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkCommit {
    pub topic_id: i64,
    pub topic: String,
    pub partition: u32,
    pub record_count: u32,
    pub byte_offset: u64,
    pub byte_len: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// Set when the chunk holds (part of) an idempotent request, and only its records.
    #[serde(default)]
    pub producer: Option<ProducerStamp>,
    /// Set when the chunk holds exactly one idempotent Kafka record batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaBatchStamp>,
    /// Set when the chunk holds records of an HTTP transaction (one request's): they
    /// belong to this producer's open transaction (no sequence is checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<ProducerIdentity>,
    /// Tells requests apart within one segment: the chunks of one idempotent request
    /// are adjacent and share this number (two retries of one request may share a
    /// segment, and must not be mistaken for one request).
    #[serde(default)]
    pub request: u32,
}

/// A segment object that is in the bucket and whose chunks need offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCommit {
    pub object_key: String,
    pub object_size: u64,
    pub chunks: Vec<ChunkCommit>,
}

/// The outcome for one chunk of a commit, in the order the chunks were given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkOutcome {
    /// The chunk's records hold offsets `base_offset..base_offset + record_count`.
    Committed { base_offset: u64 },
    /// The chunk was not committed (its topic was deleted meanwhile, say).
    Rejected { error_code: String, message: String },
}

/// What kind of object an index entry points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryFormat {
    /// A chunk of a segment object, at `byte_offset..byte_offset + byte_len`.
    #[default]
    Segment,
    /// Rows of a Parquet file written by the compactor; the byte range is unused and
    /// the reader finds the rows by the `partition` and `offset` columns' statistics.
    Parquet,
    /// A transaction's commit or abort marker (Kafka's control record): one offset and
    /// no object; the entry's `txn` says whose and which.
    Marker,
}

/// Where a range of offsets of one partition is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexEntry {
    pub base_offset: u64,
    pub record_count: u32,
    pub object_key: String,
    pub byte_offset: u64,
    pub byte_len: u32,
    pub max_timestamp: i64,
    #[serde(default)]
    pub format: EntryFormat,
    /// Bytes of the whole object (0 when unknown): lets a reader choose between a ranged
    /// read of the entry and a read of the whole segment.
    #[serde(default)]
    pub object_size: u64,
    /// Set for a transaction's records and markers: whose, and how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<EntryTxn>,
}

/// One partition's range that a compacted file now holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRange {
    pub partition: u32,
    pub base_offset: u64,
    pub record_count: u64,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// Compressed bytes of the range's row groups, for size-based retention.
    #[serde(default)]
    pub byte_size: u64,
}

/// A compacted file of a topic and the ranges of each partition it holds (retention
/// may have dropped some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFile {
    pub object_key: String,
    pub object_size: u64,
    pub ranges: Vec<TableRange>,
}

/// What a topic's live records take in the bucket, from its index entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicStorage {
    /// Bytes of the topic's chunks in segment objects (its share of those objects).
    pub segment_bytes: u64,
    pub segment_chunks: u64,
    /// Bytes of the topic's row groups in compacted files.
    pub parquet_bytes: u64,
    pub parquet_files: u64,
}

/// A Parquet file that replaces segment chunks of one topic: the swap is one
/// transaction, so readers see either the old chunks or the new file, never a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCommit {
    pub topic_id: i64,
    pub topic: String,
    pub object_key: String,
    pub object_size: u64,
    pub ranges: Vec<TableRange>,
    /// Compacted files whose entries the ranges may replace too (a key compaction
    /// rewrites them); without any, the ranges replace segment entries only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

impl IndexEntry {
    /// The offset just past this entry's last record.
    pub fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

/// The index entries that cover an offset and those after it, with the partition's
/// bounds as of the lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexLookup {
    pub offsets: PartitionOffsets,
    pub entries: Vec<IndexEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum CoordinatorError {
    #[error("topic {0:?} does not exist")]
    TopicNotFound(String),
    #[error("topic {0:?} already exists")]
    TopicExists(String),
    /// The name differs from an existing topic's only in case or in '.' versus '_'
    /// ([`crate::names::topic_collision_key`]).
    #[error(
        "topic {topic:?} collides with the existing topic {existing:?}: names that differ only in case or in '.' versus '_' are not allowed side by side"
    )]
    TopicCollides { topic: String, existing: String },
    #[error("partition {partition} does not exist in topic {topic:?} ({partitions} partitions)")]
    PartitionNotFound {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    #[error("offset {offset} is outside [{log_start_offset}, {high_watermark}]")]
    OffsetOutOfRange {
        offset: u64,
        log_start_offset: u64,
        high_watermark: u64,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A topic config Silt does not keep, or a value it does not take.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// A partition count a topic cannot take: fewer than it has, the same, or too many.
    #[error("invalid partitions: {0}")]
    InvalidPartitions(String),
    #[error("producer {0} is unknown or expired; ask for a new producer id")]
    UnknownProducer(i64),
    #[error("group {0:?} does not exist")]
    GroupNotFound(String),
    #[error("member {member:?} is not in group {group:?}; join again")]
    UnknownMember { group: String, member: String },
    #[error(
        "generation {given} is stale; the group is at generation {current}; fetch or heartbeat to learn the new assignment"
    )]
    StaleGeneration { given: u64, current: u64 },
    /// A generation the group has not reached: no member was ever given it (Kafka's
    /// ILLEGAL_GENERATION), unlike a stale one that a member missed moving on from.
    #[error(
        "generation {given} was never handed out; the group is at generation {current}; join or heartbeat to learn it"
    )]
    IllegalGeneration { given: u64, current: u64 },
    #[error(
        "partition {partition} of topic {topic:?} appears more than once; name each partition once"
    )]
    DuplicatePartition { topic: String, partition: u32 },
    #[error(
        "the metadata committed with partition {partition} of topic {topic:?} is {bytes} bytes; at most {limit} are kept"
    )]
    OffsetMetadataTooLarge {
        topic: String,
        partition: u32,
        bytes: usize,
        limit: usize,
    },
    #[error("partition {partition} of topic {topic:?} is not assigned to this member")]
    PartitionNotOwned { topic: String, partition: u32 },
    #[error("group {0:?} has active members; its offsets can be reset only when it is empty")]
    GroupNotEmpty(String),
    /// A newer epoch of the transactional id's producer took over.
    #[error(
        "producer {producer_id} epoch {epoch} of transactional id {transactional_id:?} is fenced by a newer epoch"
    )]
    ProducerFenced {
        transactional_id: String,
        producer_id: i64,
        epoch: i32,
    },
    /// A commit that must move a group's offset forward found it there already: the
    /// request that carried it was applied before (a retry).
    #[error(
        "group {group:?} has committed offset {committed} for partition {partition} of topic id {topic_id}; the commit of offset {offset} would not move it forward (applied before?)"
    )]
    OffsetAlreadyCommitted {
        group: String,
        topic_id: i64,
        partition: u32,
        committed: u64,
        offset: u64,
    },
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// The transactional id is unknown, or belongs to another producer id.
    #[error("transactional id {0:?} is not held by this producer; call InitProducerId")]
    UnknownTransactionalId(String),
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// The caller lacks an ACL for this.
    #[error("not allowed to {operation} {resource_type} {name:?}")]
    NotAuthorized {
        resource_type: crate::security::ResourceType,
        name: String,
        operation: crate::security::Operation,
    },
    #[error("internal coordinator error: {0}")]
    Internal(String),
}

impl CoordinatorError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoordinatorError::TopicNotFound(_)
            | CoordinatorError::PartitionNotFound { .. }
            | CoordinatorError::UnknownProducer(_)
            | CoordinatorError::GroupNotFound(_)
            | CoordinatorError::UnknownMember { .. }
            | CoordinatorError::UnknownTransactionalId(_) => ErrorKind::NotFound,
            CoordinatorError::TopicExists(_)
            | CoordinatorError::TopicCollides { .. }
            | CoordinatorError::StaleGeneration { .. }
            | CoordinatorError::IllegalGeneration { .. }
            | CoordinatorError::PartitionNotOwned { .. }
            | CoordinatorError::GroupNotEmpty(_)
            | CoordinatorError::ProducerFenced { .. }
            | CoordinatorError::OffsetAlreadyCommitted { .. }
            | CoordinatorError::InvalidTxnState(_) => ErrorKind::Conflict,
            CoordinatorError::OffsetOutOfRange { .. }
            | CoordinatorError::InvalidArgument(_)
            | CoordinatorError::InvalidPartitions(_)
            | CoordinatorError::InvalidConfig(_)
            | CoordinatorError::DuplicatePartition { .. }
            | CoordinatorError::OffsetMetadataTooLarge { .. } => ErrorKind::InvalidInput,
            CoordinatorError::Unavailable(_) => ErrorKind::Unavailable,
            CoordinatorError::Internal(_) => ErrorKind::Internal,
            CoordinatorError::NotAuthorized { .. } => ErrorKind::Forbidden,
        }
    }

    /// The snake_case code the HTTP API reports for this error.
    pub fn error_code(&self) -> &'static str {
        match self {
            CoordinatorError::TopicNotFound(_) => "topic_not_found",
            CoordinatorError::TopicExists(_) => "topic_exists",
            CoordinatorError::TopicCollides { .. } => "topic_collides",
            CoordinatorError::PartitionNotFound { .. } => "partition_not_found",
            CoordinatorError::OffsetOutOfRange { .. } => "offset_out_of_range",
            CoordinatorError::InvalidArgument(_) => "invalid_argument",
            CoordinatorError::InvalidPartitions(_) => "invalid_partitions",
            CoordinatorError::InvalidConfig(_) => "invalid_config",
            CoordinatorError::UnknownProducer(_) => "unknown_producer",
            CoordinatorError::GroupNotFound(_) => "group_not_found",
            CoordinatorError::UnknownMember { .. } => "unknown_member",
            CoordinatorError::StaleGeneration { .. } => "stale_generation",
            CoordinatorError::IllegalGeneration { .. } => "illegal_generation",
            CoordinatorError::DuplicatePartition { .. } => "duplicate_partition",
            CoordinatorError::OffsetMetadataTooLarge { .. } => "offset_metadata_too_large",
            CoordinatorError::PartitionNotOwned { .. } => "partition_not_owned",
            CoordinatorError::GroupNotEmpty(_) => "group_not_empty",
            CoordinatorError::ProducerFenced { .. } => "producer_fenced",
            CoordinatorError::OffsetAlreadyCommitted { .. } => "offsets_already_committed",
            CoordinatorError::InvalidTxnState(_) => "invalid_txn_state",
            CoordinatorError::UnknownTransactionalId(_) => "unknown_transactional_id",
            CoordinatorError::Unavailable(_) => "metadata_unavailable",
            CoordinatorError::Internal(_) => "internal_error",
            CoordinatorError::NotAuthorized { resource_type, .. } => match resource_type {
                crate::security::ResourceType::Topic => "topic_authorization_failed",
                crate::security::ResourceType::Group => "group_authorization_failed",
                crate::security::ResourceType::Cluster => "cluster_authorization_failed",
                crate::security::ResourceType::TransactionalId => {
                    "transactional_id_authorization_failed"
                }
            },
        }
    }
}

/// Everything gateways, readers and compactors need from the coordinator.
#[async_trait]
pub trait Coordinator: Send + Sync + 'static {
    async fn create_topic(&self, config: TopicConfig) -> Result<Topic, CoordinatorError>;

    async fn list_topics(&self) -> Result<Vec<Topic>, CoordinatorError>;

    /// The topic's settings; cheap enough to call on every produce request.
    async fn get_topic(&self, name: &str) -> Result<Topic, CoordinatorError>;

    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, CoordinatorError>;

    /// Changes a topic's partition count (only up) or retention, in one transaction,
    /// and answers the topic as it is then (with `validate_only`, as it would be).
    async fn alter_topic(
        &self,
        name: &str,
        alteration: TopicAlteration,
    ) -> Result<Topic, CoordinatorError>;

    /// Deletes the topic and its index; its objects become garbage for collection.
    async fn delete_topic(&self, name: &str) -> Result<(), CoordinatorError>;

    /// Assigns offsets to every chunk of a segment in one transaction, records the index
    /// entries and advances the high watermarks. Committing the same object key again
    /// returns the original outcomes and changes nothing.
    async fn commit_segment(
        &self,
        commit: SegmentCommit,
    ) -> Result<Vec<ChunkOutcome>, CoordinatorError>;

    /// Index entries that hold `offset` and the offsets after it (at most
    /// `max_entries`). An offset outside `[log_start_offset, high_watermark]` is an
    /// [`CoordinatorError::OffsetOutOfRange`]; at the high watermark no entries return.
    async fn lookup(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<IndexLookup, CoordinatorError>;

    /// A new idempotent producer id (epoch 0), or, given an existing id, the same id
    /// with the next epoch, which fences every request of the older epochs.
    async fn init_producer(
        &self,
        producer_id: Option<i64>,
    ) -> Result<ProducerIdentity, CoordinatorError>;

    /// Moves a partition's log start up to `log_start_offset` (never down, never past
    /// the high watermark) and forgets the index entries wholly below it. Fetches below
    /// the new log start get `offset_out_of_range`.
    async fn truncate_before(
        &self,
        topic: &str,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, CoordinatorError>;

    /// The compacted files of a topic that hold live offsets, oldest first.
    async fn list_tables(&self, topic: &str) -> Result<Vec<TableFile>, CoordinatorError>;

    /// What the topic's live records take in segments and in compacted files.
    async fn topic_storage(&self, topic: &str) -> Result<TopicStorage, CoordinatorError>;

    /// Objects (segments and compacted files) committed before `committed_before_ms`
    /// that no index entry references any more: candidates for garbage collection.
    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, CoordinatorError>;

    /// Forgets an object that is still unreferenced (after its deletion from the bucket).
    /// Answers whether it was forgotten.
    async fn forget_object(&self, object_key: &str) -> Result<bool, CoordinatorError>;

    /// The subset of `object_keys` the coordinator knows (committed, not forgotten).
    async fn known_objects(
        &self,
        object_keys: Vec<String>,
    ) -> Result<Vec<String>, CoordinatorError>;

    /// Swaps the segment chunks covering each range for entries in the compacted file.
    /// Every range must be exactly covered by segment entries, or nothing changes.
    async fn commit_table(&self, commit: TableCommit) -> Result<(), CoordinatorError>;

    /// Adds a member (or re-admits `member_id`); a change of membership starts a new
    /// generation with a balanced, sticky assignment.
    async fn join_group(
        &self,
        group: &str,
        join: JoinGroup,
    ) -> Result<MemberAssignment, CoordinatorError>;

    /// Keeps a member alive and tells it the current generation and its partitions.
    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<MemberAssignment, CoordinatorError>;

    async fn leave_group(&self, group: &str, member_id: &str) -> Result<(), CoordinatorError>;

    /// Where the member's next fetch starts on each partition it owns: after its own
    /// previous fetch if `ack` says its answer arrived, else at the group's committed
    /// offset, else per `auto_offset_reset`. Counts as a heartbeat.
    async fn fetch_plan(
        &self,
        group: &str,
        member_id: &str,
        ack: FetchAck,
    ) -> Result<FetchPlan, CoordinatorError>;

    /// Records where the member's fetch `fetch_id` ended, for partitions it still owns.
    /// The positions move there only once the member acknowledges that answer (its
    /// next fetch plan), so an answer lost with a gateway is given again.
    async fn advance_positions(
        &self,
        group: &str,
        member_id: &str,
        fetch_id: u64,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError>;

    /// Commits offsets (the next offset to consume) for partitions the member owns in
    /// the current generation; anything else is refused and nothing is committed.
    async fn commit_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation: u64,
        offsets: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError>;

    async fn describe_group(&self, group: &str) -> Result<GroupDescription, CoordinatorError>;

    async fn list_groups(&self) -> Result<Vec<String>, CoordinatorError>;

    /// Moves the committed offsets of an empty group (all its partitions, or those of
    /// `topics`).
    async fn reset_offsets(
        &self,
        group: &str,
        target: ResetTarget,
        topics: Option<Vec<String>>,
    ) -> Result<Vec<PartitionOffset>, CoordinatorError>;

    async fn partition_offsets(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError>;

    /// Waits until the partition's records readable at `isolation` pass `offset` (its
    /// high watermark, or its last stable offset) or `timeout` elapses, and returns the
    /// partition's offsets then. The coordinator wakes waiters on commit and at the end
    /// of a transaction; nobody polls.
    async fn wait_for_records(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        isolation: Isolation,
        timeout: Duration,
    ) -> Result<PartitionOffsets, CoordinatorError>;

    /// The Kafka protocol's consumer groups: JoinGroup and SyncGroup wait (up to the
    /// rebalance timeout) for the other members.
    async fn kafka_group(
        &self,
        request: KafkaGroupRequest,
    ) -> Result<KafkaGroupResponse, CoordinatorError>;

    /// One step of a transaction, or a question about transactions
    /// ([`crate::transactions`]).
    async fn transaction(&self, request: TxnRequest) -> Result<TxnResponse, CoordinatorError>;

    /// A change to users, API keys or ACLs, or the view gateways decide with
    /// ([`crate::security`]).
    async fn security(
        &self,
        request: SecurityRequest,
    ) -> Result<SecurityResponse, CoordinatorError>;

    /// Prometheus samples of the coordinator itself (group commit, consumer-group lag)
    /// for the `/metrics` of the process it runs in. A client of a remote coordinator
    /// has none: that coordinator serves its own.
    async fn metrics_text(&self) -> String {
        String::new()
    }
}
