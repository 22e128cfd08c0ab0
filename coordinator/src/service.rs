//! The coordinator proper: validation, an in-memory mirror of topics and partition
//! offsets (so produce and fetch never wait on the store for them), and wake-ups for
//! long-polls when a commit advances a high watermark.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use silt_core::clock::{Clock, SystemClock};
use silt_core::coordinator::{
    ChunkOutcome, Coordinator, CoordinatorError, IndexLookup, PartitionOffsets, ProducerIdentity,
    SegmentCommit, TableCommit, TableFile, Topic, TopicAlteration, TopicConfig, TopicDescription,
};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{oneshot, watch};
use tracing::{info, instrument, warn};

use silt_core::groups::{
    FetchPlan, GroupDescription, JoinGroup, KafkaGroupRequest, KafkaGroupResponse,
    MemberAssignment, PartitionOffset, ResetTarget,
};

use crate::error::StoreError;
use crate::groups::GroupCoordinator;
use crate::store::{MetadataStore, SegmentOutcome, Snapshot};

mod topic_settings;

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
}

/// Keeps garbage collection from deleting what the newest snapshot in the bucket still
/// refers to, so that a restore from it never points at a deleted object.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SnapshotFence {
    /// No snapshots are written: nothing to protect.
    Off,
    /// Snapshots are on but none is written yet: delete nothing.
    Pending,
    /// The object keys that the newest written snapshot refers to.
    Written(HashSet<String>),
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

impl CoordinatorService {
    /// Group commit: every segment commit queued while the previous transaction ran goes
    /// into one transaction. If that fails, each is retried alone so that one bad commit
    /// cannot fail the others. Must be called with `write_order` held.
    async fn commit_batch(&self, batch: Vec<PendingCommit>) {
        if batch.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let (commits, replies): (Vec<SegmentCommit>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.commit, pending.reply))
            .unzip();
        let names: Vec<Vec<(i64, String)>> = commits
            .iter()
            .map(|commit| {
                commit
                    .chunks
                    .iter()
                    .map(|chunk| (chunk.topic_id, chunk.topic.clone()))
                    .collect()
            })
            .collect();
        let now = self.clock.now_ms();
        let single = commits.len() == 1;
        let retry = if single { Vec::new() } else { commits.clone() };
        let results: Vec<Result<SegmentOutcome, CoordinatorError>> = match self
            .store
            .commit_segments(commits, now)
            .await
        {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(error) if single => vec![Err(error.into())],
            Err(error) => {
                warn!(%error, segments = retry.len(), "group commit failed; committing one by one");
                let mut results = Vec::with_capacity(retry.len());
                for commit in retry {
                    results.push(
                        self.store
                            .commit_segments(vec![commit], now)
                            .await
                            .map_err(CoordinatorError::from)
                            .and_then(|mut outcome| {
                                outcome.pop().ok_or_else(|| {
                                    CoordinatorError::Internal(
                                        "the store returned no outcome".into(),
                                    )
                                })
                            }),
                    );
                }
                results
            }
        };
        self.stats.record_batch(results.len(), started.elapsed());
        for ((result, reply), names) in results.into_iter().zip(replies).zip(names) {
            let answer = match result {
                Ok((outcomes, advanced)) => self.publish(&names, advanced).map(|()| outcomes),
                Err(error) => Err(error),
            };
            // A caller that went away no longer needs its answer.
            let _ = reply.send(answer);
        }
    }

    /// Wakes long-polls on partitions whose high watermark moved.
    fn publish(
        &self,
        names: &[(i64, String)],
        advanced: Vec<(i64, PartitionOffsets)>,
    ) -> Result<(), CoordinatorError> {
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
        Ok(())
    }

    /// A consistent copy of the whole store.
    pub async fn snapshot(&self) -> Result<Snapshot, CoordinatorError> {
        Ok(self.store.snapshot(self.clock.now_ms()).await?)
    }

    /// Loads `snapshot` into this coordinator's store, which must be empty, and serves
    /// what it holds.
    pub async fn restore(&self, snapshot: Snapshot) -> Result<(), CoordinatorError> {
        let _order = self.write_order.lock().await;
        self.store.restore(snapshot).await?;
        self.topics.replace(self.store.load().await?)?;
        Ok(())
    }

    /// From now on, garbage collection keeps every object that the newest written
    /// snapshot refers to (until one is written: every object). Call before the first
    /// [`CoordinatorService::snapshot_written`].
    pub fn protect_snapshots(&self) -> Result<(), CoordinatorError> {
        *self.fence.write().map_err(|_| poisoned())? = SnapshotFence::Pending;
        Ok(())
    }

    /// `snapshot` is durable in the bucket: it is now the one to protect.
    pub fn snapshot_written(&self, snapshot: &Snapshot) -> Result<(), CoordinatorError> {
        let referenced: HashSet<i64> = snapshot
            .index_entries
            .iter()
            .map(|entry| entry.segment_id)
            .collect();
        let keys = snapshot
            .segments
            .iter()
            .filter(|segment| referenced.contains(&segment.segment_id))
            .map(|segment| segment.object_key.clone())
            .collect();
        *self.fence.write().map_err(|_| poisoned())? = SnapshotFence::Written(keys);
        Ok(())
    }

    /// Commit counters since start-up.
    pub fn commit_stats(&self) -> CommitStats {
        self.stats.read()
    }
}

/// A segment commit waiting for the next group-commit transaction.
struct PendingCommit {
    commit: SegmentCommit,
    reply: oneshot::Sender<Result<Vec<ChunkOutcome>, CoordinatorError>>,
}

/// Group-commit counters, for `/metrics`.
#[derive(Debug)]
struct Stats {
    transactions: AtomicU64,
    segments: AtomicU64,
    micros: AtomicU64,
    max_batch: AtomicU64,
    transaction_seconds: silt_core::metrics::Histogram,
    batch_segments: silt_core::metrics::Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            transactions: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            max_batch: AtomicU64::new(0),
            transaction_seconds: silt_core::metrics::Histogram::seconds(),
            batch_segments: silt_core::metrics::Histogram::counts(),
        }
    }
}

impl Stats {
    fn record_batch(&self, segments: usize, elapsed: Duration) {
        self.transaction_seconds.record_duration(elapsed);
        self.batch_segments.record(segments as u64);
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.segments.fetch_add(segments as u64, Ordering::Relaxed);
        self.micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.max_batch.fetch_max(segments as u64, Ordering::Relaxed);
    }

    fn read(&self) -> CommitStats {
        CommitStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            segments: self.segments.load(Ordering::Relaxed),
            seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
            max_batch: self.max_batch.load(Ordering::Relaxed),
        }
    }
}

/// Groups whose lag `/metrics` reports (the first ones by name).
const MAX_GROUPS_IN_METRICS: usize = 200;

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl CoordinatorService {
    /// Group commit's counters and histograms, and every group's committed offset and
    /// lag per partition, in the Prometheus text format.
    async fn render_metrics(&self) -> String {
        use silt_core::metrics::{describe, header, labelled, single};
        let mut out = String::new();
        let stats = self.stats.read();
        single(
            &mut out,
            "silt_coordinator_commit_transactions_total",
            "counter",
            "Store transactions that committed segments",
            stats.transactions,
        );
        single(
            &mut out,
            "silt_coordinator_segments_committed_total",
            "counter",
            "Segments committed",
            stats.segments,
        );
        let name = "silt_coordinator_commit_duration_seconds";
        header(
            &mut out,
            name,
            "Group-commit transactions (one or more segments each)",
        );
        self.stats.transaction_seconds.render(&mut out, name, "");
        let name = "silt_coordinator_commit_batch_segments";
        header(&mut out, name, "Segments per group-commit transaction");
        self.stats.batch_segments.render(&mut out, name, "");
        let groups = self.list_groups().await.unwrap_or_default();
        describe(
            &mut out,
            "silt_group_lag",
            "gauge",
            "Records between a group's committed offset and the high watermark",
        );
        let mut committed = String::new();
        describe(
            &mut committed,
            "silt_group_committed_offset",
            "gauge",
            "The next offset a group will consume",
        );
        for group in groups.iter().take(MAX_GROUPS_IN_METRICS) {
            let Ok(description) = self.describe_group(group).await else {
                continue;
            };
            for partition in &description.partitions {
                let labels = format!(
                    "group=\"{}\",topic=\"{}\",partition=\"{}\"",
                    label(group),
                    label(&partition.topic),
                    partition.partition
                );
                labelled(&mut out, "silt_group_lag", &labels, partition.lag);
                if let Some(offset) = partition.committed_offset {
                    labelled(
                        &mut committed,
                        "silt_group_committed_offset",
                        &labels,
                        offset,
                    );
                }
            }
        }
        out.push_str(&committed);
        out
    }
}

/// How group commit has done since start-up.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommitStats {
    /// Store transactions that committed segments.
    pub transactions: u64,
    /// Segments committed (so `segments / transactions` is the mean batch).
    pub segments: u64,
    /// Time spent in those transactions.
    pub seconds: f64,
    /// The largest batch.
    pub max_batch: u64,
}

#[async_trait]
impl Coordinator for CoordinatorService {
    #[instrument(skip(self), fields(topic = %config.name))]
    async fn create_topic(&self, config: TopicConfig) -> Result<Topic, CoordinatorError> {
        validate_config(&config)?;
        let _order = self.write_order.lock().await;
        let topic = self.store.create_topic(config, self.clock.now_ms()).await?;
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
    ) -> Result<FetchPlan, CoordinatorError> {
        self.groups.fetch_plan_impl(group, member_id).await
    }

    async fn advance_positions(
        &self,
        group: &str,
        member_id: &str,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        self.groups
            .advance_positions_impl(group, member_id, positions)
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

    async fn metrics_text(&self) -> String {
        self.render_metrics().await
    }

    async fn wait_for_records(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        let mut receiver = self.with_topic(topic, |state| {
            Ok(Topics::partition_sender(state, partition)?.subscribe())
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
