//! Consumer groups in the coordinator. Membership, assignments and fetch positions are
//! kept in memory (members join again after a coordinator restart); generations and
//! committed offsets are durable in the store. A member that misses its session timeout
//! is removed the next time anyone touches the group, and a new generation hands its
//! partitions, from the group's committed offsets, to the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{
    AutoOffsetReset, FetchPlan, GroupDescription, JoinGroup, MemberAssignment, MemberDescription,
    PartitionLag, PartitionOffset, ResetTarget, TopicPartition,
};
use silt_core::names::validate_topic_name;
use silt_core::now_ms;
use tracing::info;

use crate::assignment::assign;
use crate::service::CoordinatorService;

pub const MIN_SESSION_TIMEOUT_MS: u64 = 100;
pub const MAX_SESSION_TIMEOUT_MS: u64 = 600_000;

struct Member {
    topics: BTreeSet<String>,
    session_timeout: Duration,
    last_seen: Instant,
    auto_offset_reset: AutoOffsetReset,
}

#[derive(Default)]
pub(crate) struct GroupState {
    generation: u64,
    members: BTreeMap<String, Member>,
    owners: HashMap<TopicPartition, String>,
    /// Where each partition's owner's last fetch ended.
    positions: HashMap<TopicPartition, (String, u64)>,
    committed: HashMap<TopicPartition, u64>,
    /// The group's members and generation under the Kafka protocol, if it has any.
    kafka: Option<Box<crate::kafka_groups::KafkaGroup>>,
}

/// All groups the coordinator has touched since it started.
pub(crate) type Groups = tokio::sync::Mutex<HashMap<String, GroupState>>;

impl GroupState {
    pub(crate) fn committed_offsets(&self) -> impl Iterator<Item = (&TopicPartition, u64)> {
        self.committed.iter().map(|(tp, offset)| (tp, *offset))
    }

    /// The group's Kafka-protocol state, created on first use.
    pub(crate) fn kafka(&mut self) -> &mut crate::kafka_groups::KafkaGroup {
        self.kafka.get_or_insert_with(Box::default)
    }

    pub(crate) fn record_commit(&mut self, tp: TopicPartition, offset: u64) {
        self.committed.insert(tp, offset);
    }

    fn assignment_of(&self, member_id: &str) -> MemberAssignment {
        let mut assignments: Vec<TopicPartition> = self
            .owners
            .iter()
            .filter(|(_, owner)| *owner == member_id)
            .map(|(tp, _)| tp.clone())
            .collect();
        assignments.sort();
        MemberAssignment {
            member_id: member_id.to_owned(),
            generation: self.generation,
            assignments,
        }
    }

    fn touch(&mut self, group: &str, member_id: &str) -> Result<(), CoordinatorError> {
        let member = self
            .members
            .get_mut(member_id)
            .ok_or_else(|| unknown_member(group, member_id))?;
        member.last_seen = Instant::now();
        Ok(())
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

impl CoordinatorService {
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
                    let names = self.topic_names_by_id()?;
                    let committed = stored
                        .offsets
                        .into_iter()
                        .filter_map(|(topic_id, partition, offset)| {
                            let topic = names.get(&topic_id)?.clone();
                            Some((TopicPartition { topic, partition }, offset))
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
        let now = Instant::now();
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
    async fn rebalance(&self, group: &str, state: &mut GroupState) -> Result<(), CoordinatorError> {
        let subscribed: BTreeSet<String> = state
            .members
            .values()
            .flat_map(|member| member.topics.iter().cloned())
            .collect();
        let partitions = self.partitions_of(&subscribed);
        let subscriptions: BTreeMap<String, BTreeSet<String>> = state
            .members
            .iter()
            .map(|(id, member)| (id.clone(), member.topics.clone()))
            .collect();
        let owners = assign(&subscriptions, &partitions, &state.owners);
        // A partition that changed hands starts again from the committed offset.
        state
            .positions
            .retain(|tp, (member, _)| owners.get(tp) == Some(member));
        state.owners = owners;
        state.generation += 1;
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
        let known = self.topic_partition_counts()?;
        for topic in topics {
            if !known.contains_key(topic) {
                return Err(CoordinatorError::TopicNotFound(topic.clone()));
            }
        }
        Ok(())
    }

    fn partitions_of(&self, topics: &BTreeSet<String>) -> Vec<TopicPartition> {
        let counts = self.topic_partition_counts().unwrap_or_default();
        topics
            .iter()
            .filter_map(|topic| counts.get(topic).map(|count| (topic, *count)))
            .flat_map(|(topic, count)| {
                (0..count).map(move |partition| TopicPartition {
                    topic: topic.clone(),
                    partition,
                })
            })
            .collect()
    }

    pub(crate) async fn join_group_impl(
        &self,
        group: &str,
        join: JoinGroup,
    ) -> Result<MemberAssignment, CoordinatorError> {
        validate_topic_name(group).map_err(|error| invalid(format!("group name: {error}")))?;
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
            last_seen: Instant::now(),
            auto_offset_reset: join.auto_offset_reset,
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
        Ok(state.assignment_of(&member_id))
    }

    pub(crate) async fn heartbeat_impl(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<MemberAssignment, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        state.touch(group, member_id)?;
        Ok(state.assignment_of(member_id))
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
    ) -> Result<FetchPlan, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        state.touch(group, member_id)?;
        let reset = state
            .members
            .get(member_id)
            .map(|member| member.auto_offset_reset)
            .unwrap_or_default();
        let member = state.assignment_of(member_id);
        let mut positions = Vec::with_capacity(member.assignments.len());
        for tp in &member.assignments {
            let Ok(bounds) = self.partition_bounds(&tp.topic, tp.partition) else {
                continue;
            };
            let own = state
                .positions
                .get(tp)
                .filter(|(owner, _)| owner == member_id)
                .map(|(_, offset)| *offset);
            let offset = own
                .or_else(|| state.committed.get(tp).copied())
                .unwrap_or(match reset {
                    AutoOffsetReset::Earliest => bounds.log_start_offset,
                    AutoOffsetReset::Latest => bounds.high_watermark,
                });
            let offset = offset.clamp(bounds.log_start_offset, bounds.high_watermark);
            positions.push(PartitionOffset {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset,
            });
        }
        Ok(FetchPlan { member, positions })
    }

    pub(crate) async fn advance_positions_impl(
        &self,
        group: &str,
        member_id: &str,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        state.touch(group, member_id)?;
        for position in positions {
            let tp = TopicPartition {
                topic: position.topic,
                partition: position.partition,
            };
            if state
                .owners
                .get(&tp)
                .is_some_and(|owner| owner == member_id)
            {
                state
                    .positions
                    .insert(tp, (member_id.to_owned(), position.offset));
            }
        }
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
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        if generation != state.generation {
            return Err(CoordinatorError::StaleGeneration {
                given: generation,
                current: state.generation,
            });
        }
        state.touch(group, member_id)?;
        let ids = self.topic_ids()?;
        let mut rows = Vec::with_capacity(offsets.len());
        for offset in &offsets {
            let tp = TopicPartition {
                topic: offset.topic.clone(),
                partition: offset.partition,
            };
            if state.owners.get(&tp).is_none_or(|owner| owner != member_id) {
                return Err(CoordinatorError::PartitionNotOwned {
                    topic: tp.topic,
                    partition: tp.partition,
                });
            }
            let bounds = self.partition_bounds(&tp.topic, tp.partition)?;
            if offset.offset < bounds.log_start_offset || offset.offset > bounds.high_watermark {
                return Err(CoordinatorError::OffsetOutOfRange {
                    offset: offset.offset,
                    log_start_offset: bounds.log_start_offset,
                    high_watermark: bounds.high_watermark,
                });
            }
            let topic_id = *ids
                .get(&tp.topic)
                .ok_or_else(|| CoordinatorError::TopicNotFound(tp.topic.clone()))?;
            rows.push((topic_id, tp.partition, offset.offset));
        }
        self.store()
            .commit_group_offsets(group, rows, now_ms())
            .await?;
        for offset in offsets {
            state.committed.insert(
                TopicPartition {
                    topic: offset.topic,
                    partition: offset.partition,
                },
                offset.offset,
            );
        }
        Ok(())
    }

    pub(crate) async fn describe_group_impl(
        &self,
        group: &str,
    ) -> Result<GroupDescription, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, false).await?;
        self.expire_members(group, state).await?;
        let members = state
            .members
            .iter()
            .map(|(id, member)| MemberDescription {
                member_id: id.clone(),
                topics: member.topics.iter().cloned().collect(),
                session_timeout_ms: member.session_timeout.as_millis() as u64,
                assignments: state.assignment_of(id).assignments,
            })
            .collect();
        let mut topics: BTreeSet<String> = state
            .members
            .values()
            .flat_map(|m| m.topics.iter().cloned())
            .collect();
        topics.extend(state.committed.keys().map(|tp| tp.topic.clone()));
        let mut partitions = Vec::new();
        for tp in self.partitions_of(&topics) {
            let Ok(bounds) = self.partition_bounds(&tp.topic, tp.partition) else {
                continue;
            };
            let committed_offset = state.committed.get(&tp).copied();
            let from = committed_offset
                .unwrap_or(bounds.log_start_offset)
                .max(bounds.log_start_offset);
            partitions.push(PartitionLag {
                lag: bounds.high_watermark.saturating_sub(from),
                owner: state.owners.get(&tp).cloned(),
                topic: tp.topic,
                partition: tp.partition,
                committed_offset,
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
        let topics: BTreeSet<String> = match topics {
            Some(topics) => {
                self.check_topics(&topics)?;
                topics.into_iter().collect()
            }
            None => state.committed.keys().map(|tp| tp.topic.clone()).collect(),
        };
        if topics.is_empty() {
            return Err(invalid(
                "the group has no committed offsets; name the topics to reset",
            ));
        }
        let ids = self.topic_ids()?;
        let mut rows = Vec::new();
        let mut reset = Vec::new();
        for tp in self.partitions_of(&topics) {
            let bounds = self.partition_bounds(&tp.topic, tp.partition)?;
            let offset = match target {
                ResetTarget::Earliest => bounds.log_start_offset,
                ResetTarget::Latest => bounds.high_watermark,
                ResetTarget::Offset(offset) => {
                    offset.clamp(bounds.log_start_offset, bounds.high_watermark)
                }
            };
            let topic_id = *ids
                .get(&tp.topic)
                .ok_or_else(|| CoordinatorError::TopicNotFound(tp.topic.clone()))?;
            rows.push((topic_id, tp.partition, offset));
            reset.push(PartitionOffset {
                topic: tp.topic,
                partition: tp.partition,
                offset,
            });
        }
        self.store()
            .commit_group_offsets(group, rows, now_ms())
            .await?;
        for offset in &reset {
            let tp = TopicPartition {
                topic: offset.topic.clone(),
                partition: offset.partition,
            };
            state.positions.remove(&tp);
            state.committed.insert(tp, offset.offset);
        }
        Ok(reset)
    }
}
