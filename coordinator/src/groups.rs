//! Consumer groups in the coordinator. Membership, assignments and fetch positions are
//! kept in memory (members join again after a coordinator restart); generations and
//! committed offsets are durable in the store. A member that misses its session timeout
//! is removed the next time anyone touches the group, and a new generation hands its
//! partitions, from the group's committed offsets, to the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::clock::Clock;
use silt_core::coordinator::{CoordinatorError, PartitionOffsets};
use silt_core::groups::{
    AutoOffsetReset, FetchAck, FetchPlan, GroupDescription, JoinGroup, MAX_OFFSET_METADATA_BYTES,
    MemberAssignment, MemberDescription, PartitionLag, PartitionOffset, ResetTarget,
    TopicPartition,
};
use silt_core::names::validate_group_name;
use tracing::info;

use crate::assignment::assign;
use crate::catalog::{PartitionKey, TopicCatalog};
use crate::mirror::Topics;
use crate::store::{MetadataStore, StoredOffset};

mod admin;
mod lifecycle;

pub(crate) use lifecycle::{forget_topic, generations_after_deleting};

pub const MIN_SESSION_TIMEOUT_MS: u64 = 100;
pub const MAX_SESSION_TIMEOUT_MS: u64 = 600_000;

struct Member {
    topics: BTreeSet<String>,
    session_timeout: Duration,
    last_seen: Instant,
    auto_offset_reset: AutoOffsetReset,
    /// The generation of the member's last fetch plan: positions that a fetch planned
    /// in an older generation reports are dropped (its records come again).
    planned_generation: u64,
    /// The id of the member's last fetch plan (ids start at 1).
    fetch_id: u64,
    /// Where that fetch ended, waiting for the member to acknowledge its answer.
    unacknowledged: Vec<(PartitionKey, u64)>,
}

#[derive(Default)]
pub(crate) struct GroupState {
    generation: u64,
    members: BTreeMap<String, Member>,
    /// Everything below is kept by topic id, never by name: a deleted topic's state
    /// must not attach to a new topic of the same name.
    owners: HashMap<PartitionKey, String>,
    /// Where each partition's owner's last fetch ended.
    positions: HashMap<PartitionKey, (String, u64)>,
    committed: HashMap<PartitionKey, Committed>,
    /// The group's members and generation under the Kafka protocol, if it has any.
    kafka: Option<Box<crate::kafka_groups::KafkaGroup>>,
}

/// A group's committed offset of one partition, with what the commit carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) offset: u64,
    /// `""` when the commit carried none (as Kafka reads it back).
    pub(crate) metadata: String,
    pub(crate) leader_epoch: Option<i32>,
}

impl Committed {
    /// What a commit of `offset` keeps: its metadata (none reads back as `""`) and epoch.
    pub(crate) fn of(offset: &PartitionOffset) -> Self {
        Committed {
            offset: offset.offset,
            metadata: offset.metadata.clone().unwrap_or_default(),
            leader_epoch: offset.leader_epoch,
        }
    }

    /// An offset set by the operator (a reset): no metadata, no epoch.
    fn bare(offset: u64) -> Self {
        Committed {
            offset,
            metadata: String::new(),
            leader_epoch: None,
        }
    }

    pub(crate) fn stored(&self, key: &PartitionKey) -> StoredOffset {
        StoredOffset {
            topic_id: key.topic_id,
            partition: key.partition,
            offset: self.offset,
            metadata: self.metadata.clone(),
            leader_epoch: self.leader_epoch,
        }
    }
}

/// Refuses commit metadata longer than Kafka's default `offset.metadata.max.bytes`.
pub(crate) fn check_metadata(offset: &PartitionOffset) -> Result<(), CoordinatorError> {
    if offset.metadata_too_large() {
        return Err(CoordinatorError::OffsetMetadataTooLarge {
            topic: offset.topic.clone(),
            partition: offset.partition,
            bytes: offset.metadata.as_ref().map_or(0, String::len),
            limit: MAX_OFFSET_METADATA_BYTES,
        });
    }
    Ok(())
}

/// All groups the coordinator has touched since it started.
pub(crate) type Groups = tokio::sync::Mutex<HashMap<String, GroupState>>;

/// Consumer groups, Silt's and Kafka's side by side: their members and generations in
/// memory, their committed offsets in the store, their assignments from the topics the
/// coordinator mirrors. The service hands group calls here.
pub(crate) struct GroupCoordinator {
    store: Arc<dyn MetadataStore>,
    topics: Arc<Topics>,
    groups: Groups,
    pub(crate) clock: Arc<dyn Clock>,
}

impl GroupCoordinator {
    pub(crate) fn new(
        store: Arc<dyn MetadataStore>,
        topics: Arc<Topics>,
        clock: Arc<dyn Clock>,
    ) -> GroupCoordinator {
        GroupCoordinator {
            store,
            topics,
            groups: Groups::default(),
            clock,
        }
    }

    pub(crate) fn store(&self) -> &dyn MetadataStore {
        self.store.as_ref()
    }

    /// Every group's state, locked.
    pub(crate) fn groups(&self) -> &Groups {
        &self.groups
    }

    /// One consistent copy of every topic's name, id and partition count.
    pub(crate) fn catalog(&self) -> Result<TopicCatalog, CoordinatorError> {
        self.topics.catalog()
    }

    pub(crate) fn partition_bounds(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.topics.partition_bounds(topic, partition)
    }
}

impl GroupState {
    /// Moves the member's positions to where its last fetch ended if the member
    /// acknowledges that answer, for partitions it still owns; an answer it did not
    /// get is forgotten, and its records are given again.
    fn acknowledge(&mut self, member_id: &str, ack: FetchAck) {
        let Some(member) = self.members.get_mut(member_id) else {
            return;
        };
        let ended = std::mem::take(&mut member.unacknowledged);
        let received = match ack {
            FetchAck::Implicit => true,
            FetchAck::Received(id) => id == member.fetch_id,
        };
        if !received {
            return;
        }
        for (key, offset) in ended {
            if self
                .owners
                .get(&key)
                .is_some_and(|owner| owner == member_id)
            {
                self.positions.insert(key, (member_id.to_owned(), offset));
            }
        }
    }

    pub(crate) fn committed_offsets(&self) -> impl Iterator<Item = (&PartitionKey, &Committed)> {
        self.committed.iter()
    }

    /// The group's Kafka-protocol state, created on first use.
    pub(crate) fn kafka(&mut self) -> &mut crate::kafka_groups::KafkaGroup {
        self.kafka.get_or_insert_with(Box::default)
    }

    pub(crate) fn record_commit(&mut self, key: PartitionKey, committed: Committed) {
        self.committed.insert(key, committed);
    }

    fn assignment_of(&self, member_id: &str, catalog: &TopicCatalog) -> MemberAssignment {
        let mut assignments: Vec<TopicPartition> = self
            .owners
            .iter()
            .filter(|(_, owner)| *owner == member_id)
            .filter_map(|(key, _)| catalog.topic_partition(key))
            .collect();
        assignments.sort();
        MemberAssignment {
            member_id: member_id.to_owned(),
            generation: self.generation,
            assignments,
        }
    }

    fn touch(
        &mut self,
        group: &str,
        member_id: &str,
        now: Instant,
    ) -> Result<(), CoordinatorError> {
        let member = self
            .members
            .get_mut(member_id)
            .ok_or_else(|| unknown_member(group, member_id))?;
        member.last_seen = now;
        Ok(())
    }

    /// Starts a new generation with a fresh assignment of the members' topics (as the
    /// catalog has them) and keeps fetch positions only where the owner stays.
    fn reassign(&mut self, catalog: &TopicCatalog) {
        let subscribed: BTreeSet<String> = self
            .members
            .values()
            .flat_map(|member| member.topics.iter().cloned())
            .collect();
        let partitions = catalog.partitions_of(&subscribed);
        let subscriptions: BTreeMap<String, BTreeSet<String>> = self
            .members
            .iter()
            .map(|(id, member)| (id.clone(), member.topics.clone()))
            .collect();
        let previous: HashMap<TopicPartition, String> = self
            .owners
            .iter()
            .filter_map(|(key, owner)| Some((catalog.topic_partition(key)?, owner.clone())))
            .collect();
        let owners: HashMap<PartitionKey, String> = assign(&subscriptions, &partitions, &previous)
            .into_iter()
            .filter_map(|(tp, owner)| Some((catalog.key(&tp.topic, tp.partition)?, owner)))
            .collect();
        // A partition that changed hands starts again from the committed offset.
        self.positions
            .retain(|key, (member, _)| owners.get(key) == Some(member));
        for (id, member) in &mut self.members {
            member
                .unacknowledged
                .retain(|(key, _)| owners.get(key) == Some(id));
        }
        self.owners = owners;
        self.generation += 1;
    }
}

fn unknown_member(group: &str, member_id: &str) -> CoordinatorError {
    CoordinatorError::UnknownMember {
        group: group.to_owned(),
        member: member_id.to_owned(),
    }
}

fn invalid(message: impl Into<String>) -> CoordinatorError {
    CoordinatorError::InvalidArgument(message.into())
}

impl GroupCoordinator {
    /// The group's state, loaded from the store on first use. `create` makes a new,
    /// empty group when there is none.
    pub(crate) async fn group_entry<'a>(
        &self,
        groups: &'a mut HashMap<String, GroupState>,
        group: &str,
        create: bool,
    ) -> Result<&'a mut GroupState, CoordinatorError> {
        if !groups.contains_key(group) {
            let state = match self.store().load_group(group).await? {
                Some(stored) => {
                    let catalog = self.catalog()?;
                    let committed = stored
                        .offsets
                        .into_iter()
                        .filter(|stored| catalog.name(stored.topic_id).is_some())
                        .map(|stored| {
                            (
                                PartitionKey {
                                    topic_id: stored.topic_id,
                                    partition: stored.partition,
                                },
                                Committed {
                                    offset: stored.offset,
                                    metadata: stored.metadata,
                                    leader_epoch: stored.leader_epoch,
                                },
                            )
                        })
                        .collect();
                    GroupState {
                        generation: stored.generation,
                        committed,
                        ..GroupState::default()
                    }
                }
                None if create => GroupState::default(),
                None => return Err(CoordinatorError::GroupNotFound(group.to_owned())),
            };
            groups.insert(group.to_owned(), state);
        }
        groups
            .get_mut(group)
            .ok_or_else(|| CoordinatorError::Internal("group vanished".into()))
    }

    /// Removes members past their session timeout; rebalances if any went.
    async fn expire_members(
        &self,
        group: &str,
        state: &mut GroupState,
    ) -> Result<(), CoordinatorError> {
        let now = self.clock.now();
        let expired: Vec<String> = state
            .members
            .iter()
            .filter(|(_, member)| now.duration_since(member.last_seen) > member.session_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        for member_id in &expired {
            state.members.remove(member_id);
            info!(group, member = %member_id, "member missed its session timeout; removed");
        }
        self.rebalance(group, state).await
    }

    /// Starts a new generation with a fresh assignment of the members' topics.
    pub(crate) async fn rebalance(
        &self,
        group: &str,
        state: &mut GroupState,
    ) -> Result<(), CoordinatorError> {
        state.reassign(&self.catalog()?);
        self.store()
            .save_generation(group, state.generation)
            .await?;
        info!(
            group,
            generation = state.generation,
            members = state.members.len(),
            "group rebalanced"
        );
        Ok(())
    }

    fn check_topics(&self, topics: &[String]) -> Result<(), CoordinatorError> {
        if topics.is_empty() {
            return Err(invalid("topics must name at least one topic"));
        }
        let catalog = self.catalog()?;
        for topic in topics {
            if !catalog.contains(topic) {
                return Err(CoordinatorError::TopicNotFound(topic.clone()));
            }
        }
        Ok(())
    }

    pub(crate) async fn join_group_impl(
        &self,
        group: &str,
        join: JoinGroup,
    ) -> Result<MemberAssignment, CoordinatorError> {
        validate_group_name(group).map_err(|error| invalid(error.to_string()))?;
        if !(MIN_SESSION_TIMEOUT_MS..=MAX_SESSION_TIMEOUT_MS).contains(&join.session_timeout_ms) {
            return Err(invalid(format!(
                "session_timeout_ms must be between {MIN_SESSION_TIMEOUT_MS} and {MAX_SESSION_TIMEOUT_MS}, got {}",
                join.session_timeout_ms
            )));
        }
        self.check_topics(&join.topics)?;
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, true).await?;
        self.expire_members(group, state).await?;
        let topics: BTreeSet<String> = join.topics.into_iter().collect();
        let member = Member {
            topics: topics.clone(),
            session_timeout: Duration::from_millis(join.session_timeout_ms),
            last_seen: self.clock.now(),
            auto_offset_reset: join.auto_offset_reset,
            planned_generation: 0,
            fetch_id: 0,
            unacknowledged: Vec::new(),
        };
        let member_id = match join.member_id.filter(|id| state.members.contains_key(id)) {
            Some(existing) => {
                let unchanged = state
                    .members
                    .get(&existing)
                    .is_some_and(|old| old.topics == topics);
                state.members.insert(existing.clone(), member);
                if !unchanged {
                    self.rebalance(group, state).await?;
                }
                existing
            }
            None => {
                let member_id = format!("{group}-{}", uuid::Uuid::new_v4().simple());
                state.members.insert(member_id.clone(), member);
                info!(group, member = %member_id, "member joined");
                self.rebalance(group, state).await?;
                member_id
            }
        };
        Ok(state.assignment_of(&member_id, &self.catalog()?))
    }

    pub(crate) async fn heartbeat_impl(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<MemberAssignment, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        state.touch(group, member_id, self.clock.now())?;
        Ok(state.assignment_of(member_id, &self.catalog()?))
    }

    pub(crate) async fn leave_group_impl(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<(), CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        if state.members.remove(member_id).is_none() {
            return Err(unknown_member(group, member_id));
        }
        info!(group, member = member_id, "member left");
        self.rebalance(group, state).await
    }

    pub(crate) async fn fetch_plan_impl(
        &self,
        group: &str,
        member_id: &str,
        ack: FetchAck,
    ) -> Result<FetchPlan, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        state.touch(group, member_id, self.clock.now())?;
        state.acknowledge(member_id, ack);
        let catalog = self.catalog()?;
        let generation = state.generation;
        let (reset, fetch_id) = match state.members.get_mut(member_id) {
            Some(member) => {
                member.planned_generation = generation;
                member.fetch_id += 1;
                (member.auto_offset_reset, member.fetch_id)
            }
            None => (AutoOffsetReset::default(), 0),
        };
        let member = state.assignment_of(member_id, &catalog);
        let mut positions = Vec::with_capacity(member.assignments.len());
        for tp in &member.assignments {
            let Some(key) = catalog.key(&tp.topic, tp.partition) else {
                continue;
            };
            let Ok(bounds) = self.partition_bounds(&tp.topic, tp.partition) else {
                continue;
            };
            let own = state
                .positions
                .get(&key)
                .filter(|(owner, _)| owner == member_id)
                .map(|(_, offset)| *offset);
            let offset = own
                .or_else(|| state.committed.get(&key).map(|committed| committed.offset))
                .unwrap_or(match reset {
                    AutoOffsetReset::Earliest => bounds.log_start_offset,
                    AutoOffsetReset::Latest => bounds.high_watermark,
                });
            let offset = offset.clamp(bounds.log_start_offset, bounds.high_watermark);
            positions.push(PartitionOffset::new(tp.topic.clone(), tp.partition, offset));
        }
        Ok(FetchPlan {
            member,
            positions,
            fetch_id,
        })
    }

    pub(crate) async fn advance_positions_impl(
        &self,
        group: &str,
        member_id: &str,
        fetch_id: u64,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        state.touch(group, member_id, self.clock.now())?;
        let generation = state.generation;
        let Some(member) = state.members.get_mut(member_id) else {
            return Ok(());
        };
        // A later fetch of the same member has planned anew: this report is stale. A
        // fetch planned before a rebalance (or a topic's deletion) may have read
        // partitions, or a topic, that are no longer the same: its records come again.
        if member.fetch_id != fetch_id || member.planned_generation != generation {
            return Ok(());
        }
        let catalog = self.catalog()?;
        // Held until the member's next fetch acknowledges the answer.
        member.unacknowledged = positions
            .iter()
            .filter_map(|position| {
                let key = catalog.key(&position.topic, position.partition)?;
                let owned = state
                    .owners
                    .get(&key)
                    .is_some_and(|owner| owner == member_id);
                owned.then_some((key, position.offset))
            })
            .collect();
        Ok(())
    }

    pub(crate) async fn commit_offsets_impl(
        &self,
        group: &str,
        member_id: &str,
        generation: u64,
        offsets: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        if offsets.is_empty() {
            return Err(invalid("offsets must not be empty"));
        }
        for offset in &offsets {
            check_metadata(offset)?;
        }
        let mut seen = BTreeSet::new();
        if let Some(twice) = offsets
            .iter()
            .find(|offset| !seen.insert((offset.topic.as_str(), offset.partition)))
        {
            return Err(CoordinatorError::DuplicatePartition {
                topic: twice.topic.clone(),
                partition: twice.partition,
            });
        }
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        if generation > state.generation {
            return Err(CoordinatorError::IllegalGeneration {
                given: generation,
                current: state.generation,
            });
        }
        if generation < state.generation {
            return Err(CoordinatorError::StaleGeneration {
                given: generation,
                current: state.generation,
            });
        }
        state.touch(group, member_id, self.clock.now())?;
        let catalog = self.catalog()?;
        let mut rows = Vec::with_capacity(offsets.len());
        for offset in &offsets {
            let owned = catalog.key(&offset.topic, offset.partition).filter(|key| {
                state
                    .owners
                    .get(key)
                    .is_some_and(|owner| owner == member_id)
            });
            let Some(key) = owned else {
                return Err(CoordinatorError::PartitionNotOwned {
                    topic: offset.topic.clone(),
                    partition: offset.partition,
                });
            };
            let bounds = self.partition_bounds(&offset.topic, offset.partition)?;
            if offset.offset < bounds.log_start_offset || offset.offset > bounds.high_watermark {
                return Err(CoordinatorError::OffsetOutOfRange {
                    offset: offset.offset,
                    log_start_offset: bounds.log_start_offset,
                    high_watermark: bounds.high_watermark,
                });
            }
            rows.push((key, Committed::of(offset)));
        }
        self.store()
            .commit_group_offsets(
                group,
                rows.iter()
                    .map(|(key, committed)| committed.stored(key))
                    .collect(),
                self.clock.now_ms(),
            )
            .await?;
        state.committed.extend(rows);
        Ok(())
    }

    pub(crate) async fn describe_group_impl(
        &self,
        group: &str,
    ) -> Result<GroupDescription, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        let catalog = self.catalog()?;
        let members = state
            .members
            .iter()
            .map(|(id, member)| MemberDescription {
                member_id: id.clone(),
                topics: member.topics.iter().cloned().collect(),
                session_timeout_ms: member.session_timeout.as_millis() as u64,
                assignments: state.assignment_of(id, &catalog).assignments,
            })
            .collect();
        let mut topics: BTreeSet<String> = state
            .members
            .values()
            .flat_map(|m| m.topics.iter().cloned())
            .collect();
        topics.extend(
            state
                .committed
                .keys()
                .filter_map(|key| catalog.name(key.topic_id).map(str::to_owned)),
        );
        let mut partitions = Vec::new();
        for tp in catalog.partitions_of(&topics) {
            let (Some(key), Ok(bounds)) = (
                catalog.key(&tp.topic, tp.partition),
                self.partition_bounds(&tp.topic, tp.partition),
            ) else {
                continue;
            };
            let committed = state.committed.get(&key);
            let committed_offset = committed.map(|committed| committed.offset);
            let from = committed_offset
                .unwrap_or(bounds.log_start_offset)
                .max(bounds.log_start_offset);
            partitions.push(PartitionLag {
                lag: bounds.high_watermark.saturating_sub(from),
                owner: state.owners.get(&key).cloned(),
                topic: tp.topic,
                partition: tp.partition,
                committed_offset,
                committed_metadata: committed.map(|committed| committed.metadata.clone()),
                committed_leader_epoch: committed.and_then(|committed| committed.leader_epoch),
                log_start_offset: bounds.log_start_offset,
                high_watermark: bounds.high_watermark,
            });
        }
        Ok(GroupDescription {
            group: group.to_owned(),
            generation: state.generation,
            members,
            partitions,
        })
    }

    pub(crate) async fn list_groups_impl(&self) -> Result<Vec<String>, CoordinatorError> {
        let mut names: BTreeSet<String> = self.store().list_groups().await?.into_iter().collect();
        names.extend(self.groups().lock().await.keys().cloned());
        Ok(names.into_iter().collect())
    }

    pub(crate) async fn reset_offsets_impl(
        &self,
        group: &str,
        target: ResetTarget,
        topics: Option<Vec<String>>,
    ) -> Result<Vec<PartitionOffset>, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        if !state.members.is_empty() {
            return Err(CoordinatorError::GroupNotEmpty(group.to_owned()));
        }
        let catalog = self.catalog()?;
        let topics: BTreeSet<String> = match topics {
            Some(topics) => {
                self.check_topics(&topics)?;
                topics.into_iter().collect()
            }
            None => state
                .committed
                .keys()
                .filter_map(|key| catalog.name(key.topic_id).map(str::to_owned))
                .collect(),
        };
        if topics.is_empty() {
            return Err(invalid(
                "the group has no committed offsets; name the topics to reset",
            ));
        }
        let mut rows = Vec::new();
        let mut reset = Vec::new();
        for tp in catalog.partitions_of(&topics) {
            let key = catalog
                .key(&tp.topic, tp.partition)
                .ok_or_else(|| CoordinatorError::TopicNotFound(tp.topic.clone()))?;
            let bounds = self.partition_bounds(&tp.topic, tp.partition)?;
            let offset = match target {
                ResetTarget::Earliest => bounds.log_start_offset,
                ResetTarget::Latest => bounds.high_watermark,
                ResetTarget::Offset(offset) => {
                    offset.clamp(bounds.log_start_offset, bounds.high_watermark)
                }
            };
            rows.push((key, Committed::bare(offset)));
            reset.push(PartitionOffset::new(tp.topic, tp.partition, offset));
        }
        self.store()
            .commit_group_offsets(
                group,
                rows.iter()
                    .map(|(key, committed)| committed.stored(key))
                    .collect(),
                self.clock.now_ms(),
            )
            .await?;
        for (key, committed) in rows {
            state.positions.remove(&key);
            state.committed.insert(key, committed);
        }
        Ok(reset)
    }
}
