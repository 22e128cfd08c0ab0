//! The coordinator proper: validation, an in-memory mirror of topics and partition
//! offsets (so produce and fetch never wait on the store for them), and wake-ups for
//! long-polls when a commit advances a high watermark.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use silt_core::coordinator::{
    ChunkOutcome, Coordinator, CoordinatorError, IndexLookup, MAX_PARTITIONS, PartitionOffsets,
    ProducerIdentity, SegmentCommit, TableCommit, TableFile, Topic, TopicConfig, TopicDescription,
};
use silt_core::names::validate_topic_name;
use silt_core::now_ms;
use tokio::sync::watch;
use tracing::{info, instrument};

use silt_core::groups::{
    FetchPlan, GroupDescription, JoinGroup, MemberAssignment, PartitionOffset, ResetTarget,
};

use crate::error::StoreError;
use crate::groups::Groups;
use crate::store::MetadataStore;

struct TopicState {
    topic: Topic,
    partitions: Vec<watch::Sender<PartitionOffsets>>,
}

/// Implements [`Coordinator`] over a [`MetadataStore`].
pub struct CoordinatorService<S> {
    store: S,
    topics: RwLock<HashMap<String, TopicState>>,
    /// Serialises changes so the in-memory mirror follows the store's commit order.
    write_order: tokio::sync::Mutex<()>,
    /// Producers idle for longer are forgotten (their next request gets `unknown_producer`).
    producer_idle_expiry_ms: i64,
    groups: Groups,
}

/// How long an idle idempotent producer's state is kept by default: one day.
pub const DEFAULT_PRODUCER_IDLE_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

fn poisoned() -> CoordinatorError {
    CoordinatorError::Internal("coordinator state lock poisoned".into())
}

impl<S: MetadataStore> CoordinatorService<S> {
    /// Loads the store's state and starts serving.
    pub async fn start(store: S) -> Result<Self, StoreError> {
        let state = store.load().await?;
        let topics = state
            .topics
            .into_iter()
            .map(|(topic, partitions)| {
                let partitions = partitions.into_iter().map(watch::Sender::new).collect();
                (topic.name.clone(), TopicState { topic, partitions })
            })
            .collect::<HashMap<_, _>>();
        info!(topics = topics.len(), "coordinator state loaded");
        Ok(CoordinatorService {
            store,
            topics: RwLock::new(topics),
            write_order: tokio::sync::Mutex::new(()),
            producer_idle_expiry_ms: DEFAULT_PRODUCER_IDLE_EXPIRY_MS,
            groups: Groups::default(),
        })
    }

    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    pub(crate) fn groups(&self) -> &Groups {
        &self.groups
    }

    pub(crate) fn topic_partition_counts(&self) -> Result<HashMap<String, u32>, CoordinatorError> {
        let topics = self.topics.read().map_err(|_| poisoned())?;
        Ok(topics
            .iter()
            .map(|(name, state)| (name.clone(), state.topic.partitions))
            .collect())
    }

    pub(crate) fn topic_ids(&self) -> Result<HashMap<String, i64>, CoordinatorError> {
        let topics = self.topics.read().map_err(|_| poisoned())?;
        Ok(topics
            .iter()
            .map(|(name, state)| (name.clone(), state.topic.topic_id))
            .collect())
    }

    pub(crate) fn topic_names_by_id(&self) -> Result<HashMap<i64, String>, CoordinatorError> {
        Ok(self
            .topic_ids()?
            .into_iter()
            .map(|(name, id)| (id, name))
            .collect())
    }

    pub(crate) fn partition_bounds(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.with_topic(topic, |state| {
            Ok(*Self::partition_sender(state, partition)?.borrow())
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
        let topics = self.topics.read().map_err(|_| poisoned())?;
        let state = topics
            .get(name)
            .ok_or_else(|| CoordinatorError::TopicNotFound(name.to_owned()))?;
        read(state)
    }

    fn partition_sender(
        state: &TopicState,
        partition: u32,
    ) -> Result<&watch::Sender<PartitionOffsets>, CoordinatorError> {
        state.partitions.get(partition as usize).ok_or_else(|| {
            CoordinatorError::PartitionNotFound {
                topic: state.topic.name.clone(),
                partition,
                partitions: state.topic.partitions,
            }
        })
    }
}

fn validate_config(config: &TopicConfig) -> Result<(), CoordinatorError> {
    validate_topic_name(&config.name)
        .map_err(|error| CoordinatorError::InvalidArgument(error.to_string()))?;
    if config.partitions == 0 || config.partitions > MAX_PARTITIONS {
        return Err(CoordinatorError::InvalidArgument(format!(
            "partitions must be between 1 and {MAX_PARTITIONS}, got {}",
            config.partitions
        )));
    }
    if let Some(schema) = &config.value_schema {
        silt_core::schema::ValueSchema::parse(schema).map_err(CoordinatorError::InvalidArgument)?;
    }
    for (field, value) in [
        ("retention_ms", config.retention_ms),
        ("retention_bytes", config.retention_bytes),
    ] {
        if let Some(value) = value
            && value <= 0
            && value != -1
        {
            return Err(CoordinatorError::InvalidArgument(format!(
                "{field} must be positive, or -1 for unlimited, got {value}"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl<S: MetadataStore> Coordinator for CoordinatorService<S> {
    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(&self, config: TopicConfig) -> Result<Topic, CoordinatorError> {
        validate_config(&config)?;
        let _order = self.write_order.lock().await;
        let topic = self.store.create_topic(config, now_ms()).await?;
        let partitions = (0..topic.partitions)
            .map(|partition| {
                watch::Sender::new(PartitionOffsets {
                    partition,
                    log_start_offset: 0,
                    high_watermark: 0,
                })
            })
            .collect();
        self.topics.write().map_err(|_| poisoned())?.insert(
            topic.name.clone(),
            TopicState {
                topic: topic.clone(),
                partitions,
            },
        );
        info!(topic = %topic.name, partitions = topic.partitions, "topic created");
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
        self.store.delete_topic(name).await?;
        // Dropping the senders wakes long-polls, which then report the topic gone.
        self.topics.write().map_err(|_| poisoned())?.remove(name);
        info!(topic = name, "topic deleted");
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
        let _order = self.write_order.lock().await;
        let names: Vec<(i64, String)> = commit
            .chunks
            .iter()
            .map(|chunk| (chunk.topic_id, chunk.topic.clone()))
            .collect();
        let (outcomes, advanced) = self.store.commit_segment(commit, now_ms()).await?;
        let topics = self.topics.read().map_err(|_| poisoned())?;
        for (topic_id, offsets) in advanced {
            let Some((_, name)) = names.iter().find(|(id, _)| *id == topic_id) else {
                continue;
            };
            if let Some(state) = topics
                .get(name)
                .filter(|state| state.topic.topic_id == topic_id)
                && let Some(sender) = state.partitions.get(offsets.partition as usize)
            {
                sender.send_replace(offsets);
            }
        }
        Ok(outcomes)
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
                *Self::partition_sender(state, partition)?.borrow(),
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
        let now = now_ms();
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

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, CoordinatorError> {
        Ok(self
            .store
            .unreferenced_objects(committed_before_ms, limit)
            .await?)
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
            Self::partition_sender(state, partition)?;
            Ok(state.topic.topic_id)
        })?;
        let _order = self.write_order.lock().await;
        let offsets = self
            .store
            .truncate_before(topic_id, partition, log_start_offset)
            .await?;
        self.with_topic(topic, |state| {
            if state.topic.topic_id == topic_id {
                Self::partition_sender(state, partition)?.send_replace(offsets);
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
        Ok(self.store.commit_table(commit, now_ms()).await?)
    }

    async fn join_group(
        &self,
        group: &str,
        join: JoinGroup,
    ) -> Result<MemberAssignment, CoordinatorError> {
        self.join_group_impl(group, join).await
    }

    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<MemberAssignment, CoordinatorError> {
        self.heartbeat_impl(group, member_id).await
    }

    async fn leave_group(&self, group: &str, member_id: &str) -> Result<(), CoordinatorError> {
        self.leave_group_impl(group, member_id).await
    }

    async fn fetch_plan(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<FetchPlan, CoordinatorError> {
        self.fetch_plan_impl(group, member_id).await
    }

    async fn advance_positions(
        &self,
        group: &str,
        member_id: &str,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        self.advance_positions_impl(group, member_id, positions)
            .await
    }

    async fn commit_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation: u64,
        offsets: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        self.commit_offsets_impl(group, member_id, generation, offsets)
            .await
    }

    async fn describe_group(&self, group: &str) -> Result<GroupDescription, CoordinatorError> {
        self.describe_group_impl(group).await
    }

    async fn list_groups(&self) -> Result<Vec<String>, CoordinatorError> {
        self.list_groups_impl().await
    }

    async fn reset_offsets(
        &self,
        group: &str,
        target: ResetTarget,
        topics: Option<Vec<String>>,
    ) -> Result<Vec<PartitionOffset>, CoordinatorError> {
        self.reset_offsets_impl(group, target, topics).await
    }

    async fn partition_offsets(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.with_topic(topic, |state| {
            Ok(*Self::partition_sender(state, partition)?.borrow())
        })
    }

    async fn wait_for_records(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        let mut receiver = self.with_topic(topic, |state| {
            Ok(Self::partition_sender(state, partition)?.subscribe())
        })?;
        let waited = tokio::time::timeout(
            timeout,
            receiver.wait_for(|offsets| offsets.high_watermark > offset),
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
