//! The coordinator proper: validation, an in-memory mirror of topics and partition
//! offsets (so produce and fetch never wait on the store for them), and wake-ups for
//! long-polls when a commit advances a high watermark.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use silt_core::clock::{Clock, SystemClock};
use silt_core::coordinator::{
    ChunkOutcome, Coordinator, CoordinatorError, IndexLookup, PartitionOffsets, ProducerIdentity,
    SegmentCommit, TableCommit, TableFile, Topic, TopicAlteration, TopicConfig, TopicDescription,
    TopicStorage,
};

use silt_core::security::{SecurityRequest, SecurityResponse};
use silt_core::transactions::{Isolation, TxnRequest, TxnResponse};
use tokio::sync::{oneshot, watch};
use tracing::{info, instrument, warn};

use silt_core::groups::{
    FetchAck, FetchPlan, GroupDescription, JoinGroup, KafkaGroupRequest, KafkaGroupResponse,
    MemberAssignment, PartitionOffset, ResetTarget,
};

use crate::error::StoreError;
use crate::groups::GroupCoordinator;
use crate::store::MetadataStore;

mod commit;
mod metrics;
mod security;
mod snapshots;
mod topic_settings;
mod transactions;

pub use commit::CommitStats;
use commit::{PendingCommit, Stats};
use snapshots::SnapshotFence;

use crate::mirror::{TopicState, Topics};

use topic_settings::validate_config;

/// Implements [`Coordinator`] over a [`MetadataStore`].
pub struct CoordinatorService {
    store: Arc<dyn MetadataStore>,
    topics: Arc<Topics>,
    /// Serialises changes so the in-memory mirror follows the store's commit order.
    write_order: tokio::sync::Mutex<()>,
    /// Producers idle for longer are forgotten (their next request gets `unknown_producer`).
    producer_idle_expiry_ms: i64,
    groups: GroupCoordinator,
    clock: Arc<dyn Clock>,
    pending: std::sync::Mutex<Vec<PendingCommit>>,
    stats: Stats,
    fence: RwLock<SnapshotFence>,
    security: security::SecurityCache,
}

/// How long an idle idempotent producer's state is kept by default: one day.
pub const DEFAULT_PRODUCER_IDLE_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

fn poisoned() -> CoordinatorError {
    CoordinatorError::Internal("coordinator state lock poisoned".into())
}

impl CoordinatorService {
    /// Loads the store's state and starts serving.
    pub async fn start(store: impl MetadataStore) -> Result<Self, StoreError> {
        Self::start_with_clock(store, Arc::new(SystemClock)).await
    }

    /// [`CoordinatorService::start`], reading time from `clock` (tests move it).
    pub async fn start_with_clock(
        store: impl MetadataStore,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let topics = Arc::new(Topics::new(store.load().await?));
        info!(topics = topics.len(), "coordinator state loaded");
        let store: Arc<dyn MetadataStore> = Arc::new(store);
        Ok(CoordinatorService {
            groups: GroupCoordinator::new(
                Arc::clone(&store),
                Arc::clone(&topics),
                Arc::clone(&clock),
            ),
            clock,
            store,
            topics,
            write_order: tokio::sync::Mutex::new(()),
            producer_idle_expiry_ms: DEFAULT_PRODUCER_IDLE_EXPIRY_MS,
            pending: std::sync::Mutex::new(Vec::new()),
            stats: Stats::default(),
            fence: RwLock::new(SnapshotFence::Off),
            security: security::SecurityCache::default(),
        })
    }

    /// Forget idempotent producers idle for longer than this.
    pub fn with_producer_idle_expiry_ms(mut self, expiry_ms: i64) -> Self {
        self.producer_idle_expiry_ms = expiry_ms;
        self
    }

    fn with_topic<T>(
        &self,
        name: &str,
        read: impl FnOnce(&TopicState) -> Result<T, CoordinatorError>,
    ) -> Result<T, CoordinatorError> {
        self.topics.with_topic(name, read)
    }
}

#[async_trait]
impl Coordinator for CoordinatorService {
    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(&self, config: TopicConfig) -> Result<Topic, CoordinatorError> {
        validate_config(&config)?;
        let _order = self.write_order.lock().await;
        let topic = self.store.create_topic(config, self.clock.now_ms()).await?;
        let partitions = (0..topic.partitions)
            .map(|partition| watch::Sender::new(PartitionOffsets::new(partition, 0, 0)))
            .collect();
        self.topics.write().map_err(|_| poisoned())?.insert(
            topic.name.clone(),
            TopicState {
                topic: topic.clone(),
                partitions,
            },
        );
        info!(topic = %topic.name, partitions = topic.partitions, "topic created");
        // Members subscribed to the name get its partitions now, not at their next join.
        if let Err(error) = self.groups.rebalance_subscribers(&topic.name).await {
            warn!(%error, topic = %topic.name, "groups subscribed to a new topic did not rebalance");
        }
        Ok(topic)
    }

    async fn list_topics(&self) -> Result<Vec<Topic>, CoordinatorError> {
        let topics = self.topics.read().map_err(|_| poisoned())?;
        let mut list: Vec<Topic> = topics.values().map(|state| state.topic.clone()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    async fn get_topic(&self, name: &str) -> Result<Topic, CoordinatorError> {
        self.with_topic(name, |state| Ok(state.topic.clone()))
    }

    async fn alter_topic(
        &self,
        name: &str,
        alteration: TopicAlteration,
    ) -> Result<Topic, CoordinatorError> {
        self.alter_topic_impl(name, alteration).await
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, CoordinatorError> {
        self.with_topic(name, |state| {
            Ok(TopicDescription {
                topic: state.topic.clone(),
                partitions: state
                    .partitions
                    .iter()
                    .map(|sender| *sender.borrow())
                    .collect(),
            })
        })
    }

    #[instrument(skip(self))]
    async fn delete_topic(&self, name: &str) -> Result<(), CoordinatorError> {
        let _order = self.write_order.lock().await;
        let topic_id = self.with_topic(name, |state| Ok(state.topic.topic_id))?;
        // Groups stay locked from the store's transaction to the mirror's update, so no
        // group sees the topic gone from one and present in the other.
        let mut groups = self.groups.groups().lock().await;
        let generations = crate::groups::generations_after_deleting(&groups, name, topic_id);
        self.store.delete_topic(name, generations).await?;
        // Dropping the senders wakes long-polls, which then report the topic gone.
        self.topics.write().map_err(|_| poisoned())?.remove(name);
        crate::groups::forget_topic(
            &mut groups,
            name,
            topic_id,
            &self.topics.catalog()?,
            self.clock.now(),
        );
        info!(topic = name, topic_id, "topic deleted");
        Ok(())
    }

    #[instrument(skip(self, commit), fields(object_key = %commit.object_key, chunks = commit.chunks.len()))]
    async fn commit_segment(
        &self,
        commit: SegmentCommit,
    ) -> Result<Vec<ChunkOutcome>, CoordinatorError> {
        if commit.chunks.iter().any(|chunk| chunk.record_count == 0) {
            return Err(CoordinatorError::InvalidArgument(
                "a chunk must hold at least one record".into(),
            ));
        }
        let (reply, mut answer) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| poisoned())?
            .push(PendingCommit { commit, reply });
        let order = self.write_order.lock().await;
        // An earlier batch may have taken this commit while we waited for the lock.
        if let Ok(result) = answer.try_recv() {
            return result;
        }
        let batch = std::mem::take(&mut *self.pending.lock().map_err(|_| poisoned())?);
        self.commit_batch(batch).await;
        drop(order);
        answer.await.unwrap_or_else(|_| {
            Err(CoordinatorError::Unavailable(
                "the commit was interrupted; retry it (commits are idempotent)".into(),
            ))
        })
    }

    async fn lookup(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<IndexLookup, CoordinatorError> {
        let (topic_id, offsets) = self.with_topic(topic, |state| {
            Ok((
                state.topic.topic_id,
                *Topics::partition_sender(state, partition)?.borrow(),
            ))
        })?;
        if offset < offsets.log_start_offset || offset > offsets.high_watermark {
            return Err(CoordinatorError::OffsetOutOfRange {
                offset,
                log_start_offset: offsets.log_start_offset,
                high_watermark: offsets.high_watermark,
            });
        }
        if offset == offsets.high_watermark || max_entries == 0 {
            return Ok(IndexLookup {
                offsets,
                entries: Vec::new(),
            });
        }
        let mut entries = self
            .store
            .index_entries(topic_id, partition, offset, max_entries)
            .await?;
        entries.retain(|entry| {
            entry.end_offset() > offset && entry.base_offset < offsets.high_watermark
        });
        Ok(IndexLookup { offsets, entries })
    }

    #[instrument(skip(self))]
    async fn init_producer(
        &self,
        producer_id: Option<i64>,
    ) -> Result<ProducerIdentity, CoordinatorError> {
        let now = self.clock.now_ms();
        let expire_before = now.saturating_sub(self.producer_idle_expiry_ms);
        let _order = self.write_order.lock().await;
        Ok(self
            .store
            .init_producer(producer_id, now, expire_before)
            .await?)
    }

    async fn list_tables(&self, topic: &str) -> Result<Vec<TableFile>, CoordinatorError> {
        let topic_id = self.with_topic(topic, |state| Ok(state.topic.topic_id))?;
        Ok(self.store.list_tables(topic_id).await?)
    }

    async fn topic_storage(&self, topic: &str) -> Result<TopicStorage, CoordinatorError> {
        let topic_id = self.with_topic(topic, |state| Ok(state.topic.topic_id))?;
        Ok(self.store.topic_storage(topic_id).await?)
    }

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, CoordinatorError> {
        let mut keys = self
            .store
            .unreferenced_objects(committed_before_ms, limit)
            .await?;
        match &*self.fence.read().map_err(|_| poisoned())? {
            SnapshotFence::Off => {}
            SnapshotFence::Pending => keys.clear(),
            SnapshotFence::Written(protected) => keys.retain(|key| !protected.contains(key)),
        }
        Ok(keys)
    }

    async fn forget_object(&self, object_key: &str) -> Result<bool, CoordinatorError> {
        // Ordered with commits, so a segment being committed is never forgotten under it.
        let _order = self.write_order.lock().await;
        Ok(self.store.forget_object(object_key).await?)
    }

    async fn known_objects(
        &self,
        object_keys: Vec<String>,
    ) -> Result<Vec<String>, CoordinatorError> {
        Ok(self.store.known_objects(object_keys).await?)
    }

    #[instrument(skip(self))]
    async fn truncate_before(
        &self,
        topic: &str,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        let topic_id = self.with_topic(topic, |state| {
            Topics::partition_sender(state, partition)?;
            Ok(state.topic.topic_id)
        })?;
        let _order = self.write_order.lock().await;
        let offsets = self
            .store
            .truncate_before(topic_id, partition, log_start_offset)
            .await?;
        self.with_topic(topic, |state| {
            if state.topic.topic_id == topic_id {
                Topics::partition_sender(state, partition)?.send_replace(offsets);
            }
            Ok(())
        })?;
        Ok(offsets)
    }

    #[instrument(skip(self, commit), fields(topic = %commit.topic, object_key = %commit.object_key))]
    async fn commit_table(&self, commit: TableCommit) -> Result<(), CoordinatorError> {
        if commit.ranges.iter().any(|range| range.record_count == 0) {
            return Err(CoordinatorError::InvalidArgument(
                "a table range must hold at least one record".into(),
            ));
        }
        let _order = self.write_order.lock().await;
        Ok(self.store.commit_table(commit, self.clock.now_ms()).await?)
    }

    async fn join_group(
        &self,
        group: &str,
        join: JoinGroup,
    ) -> Result<MemberAssignment, CoordinatorError> {
        self.groups.join_group_impl(group, join).await
    }

    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<MemberAssignment, CoordinatorError> {
        self.groups.heartbeat_impl(group, member_id).await
    }

    async fn leave_group(&self, group: &str, member_id: &str) -> Result<(), CoordinatorError> {
        self.groups.leave_group_impl(group, member_id).await
    }

    async fn fetch_plan(
        &self,
        group: &str,
        member_id: &str,
        ack: FetchAck,
    ) -> Result<FetchPlan, CoordinatorError> {
        self.groups.fetch_plan_impl(group, member_id, ack).await
    }

    async fn advance_positions(
        &self,
        group: &str,
        member_id: &str,
        fetch_id: u64,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        self.groups
            .advance_positions_impl(group, member_id, fetch_id, positions)
            .await
    }

    async fn commit_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation: u64,
        offsets: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        self.groups
            .commit_offsets_impl(group, member_id, generation, offsets)
            .await
    }

    async fn describe_group(&self, group: &str) -> Result<GroupDescription, CoordinatorError> {
        self.groups.describe_group_impl(group).await
    }

    async fn list_groups(&self) -> Result<Vec<String>, CoordinatorError> {
        self.groups.list_groups_impl().await
    }

    async fn reset_offsets(
        &self,
        group: &str,
        target: ResetTarget,
        topics: Option<Vec<String>>,
    ) -> Result<Vec<PartitionOffset>, CoordinatorError> {
        self.groups.reset_offsets_impl(group, target, topics).await
    }

    async fn partition_offsets(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.with_topic(topic, |state| {
            Ok(*Topics::partition_sender(state, partition)?.borrow())
        })
    }

    async fn kafka_group(
        &self,
        request: KafkaGroupRequest,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        self.groups.kafka_group_impl(request).await
    }

    async fn transaction(&self, request: TxnRequest) -> Result<TxnResponse, CoordinatorError> {
        self.transaction_impl(request).await
    }

    async fn security(
        &self,
        request: SecurityRequest,
    ) -> Result<SecurityResponse, CoordinatorError> {
        self.security_impl(request).await
    }

    async fn metrics_text(&self) -> String {
        self.render_metrics().await
    }

    async fn wait_for_records(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        isolation: Isolation,
        timeout: Duration,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        let mut receiver = self.with_topic(topic, |state| {
            Ok(Topics::partition_sender(state, partition)?.subscribe())
        })?;
        let waited = tokio::time::timeout(
            timeout,
            receiver.wait_for(|offsets| offsets.readable_end(isolation) > offset),
        )
        .await
        .map(|woken| woken.map(|offsets| *offsets));
        match waited {
            Ok(Ok(offsets)) => Ok(offsets),
            Ok(Err(_closed)) => Err(CoordinatorError::TopicNotFound(topic.to_owned())),
            Err(_elapsed) => Ok(*receiver.borrow()),
        }
    }
}

#[cfg(test)]
mod tests;
