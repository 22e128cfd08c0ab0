//! The admin calls about groups, as a Kafka broker answers them: ListGroups (each
//! group's state; `Empty` without members), DeleteGroups (a group without members goes,
//! with its committed offsets) and OffsetDelete (committed offsets of partitions whose
//! topic no live member subscribes to). A group's members are its Kafka members and
//! Silt's own (HTTP) members alike.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{KafkaGroupResponse, ListedGroup, TopicPartition};
use tracing::{info, instrument};

use super::GroupState;
use crate::groups::GroupCoordinator;
use crate::kafka_groups::{Subscribed, code};

fn done(error_code: i16) -> KafkaGroupResponse {
    KafkaGroupResponse::Done { error_code }
}

impl GroupState {
    /// Whether the group has live members of either kind (after expiring the Kafka ones;
    /// Silt's own are expired by the caller).
    fn has_members(&mut self, now: Instant) -> bool {
        let kafka = self.kafka.as_deref_mut().is_some_and(|kafka| {
            kafka.refresh(now);
            kafka.has_members()
        });
        kafka || !self.members.is_empty()
    }

    /// The protocol type and state ListGroups shows.
    fn listed(&mut self, now: Instant) -> (String, &'static str) {
        if !self.members.is_empty() {
            return ("consumer".into(), "Stable");
        }
        match self.kafka.as_deref_mut() {
            Some(kafka) => {
                kafka.refresh(now);
                (kafka.protocol_type().to_owned(), kafka.state_name())
            }
            None => ("consumer".into(), "Empty"),
        }
    }
}

impl GroupCoordinator {
    /// Every group the store or memory holds, with its state.
    pub(crate) async fn kafka_list_groups(&self) -> Result<KafkaGroupResponse, CoordinatorError> {
        let stored = self.store().list_groups().await?;
        let mut groups = self.groups().lock().await;
        let mut listed: BTreeMap<String, ListedGroup> = stored
            .into_iter()
            .map(|group| {
                let listed = ListedGroup {
                    group: group.clone(),
                    protocol_type: "consumer".into(),
                    state: "Empty".into(),
                };
                (group, listed)
            })
            .collect();
        let now = self.clock.now();
        for (group, state) in groups.iter_mut() {
            self.expire_members(group, state).await?;
            let (protocol_type, name) = state.listed(now);
            listed.insert(
                group.clone(),
                ListedGroup {
                    group: group.clone(),
                    protocol_type,
                    state: name.into(),
                },
            );
        }
        Ok(KafkaGroupResponse::Listed {
            groups: listed.into_values().collect(),
        })
    }

    /// Deletes a group without members, and its committed offsets.
    #[instrument(skip(self))]
    pub(crate) async fn kafka_delete_group(
        &self,
        group: &str,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = match self.group_entry(&mut groups, group, false).await {
            Ok(state) => state,
            Err(CoordinatorError::GroupNotFound(_)) => return Ok(done(code::GROUP_ID_NOT_FOUND)),
            Err(error) => return Err(error),
        };
        self.expire_members(group, state).await?;
        if state.has_members(self.clock.now()) {
            return Ok(done(code::NON_EMPTY_GROUP));
        }
        // A group only ever looked at (in memory, nothing stored, never rebalanced) was
        // never a group.
        let lived = state.generation > 0
            || !state.committed.is_empty()
            || state
                .kafka
                .as_deref()
                .is_some_and(|kafka| kafka.ever_rebalanced());
        let stored = self.store().delete_group(group).await?;
        groups.remove(group);
        if !(stored || lived) {
            return Ok(done(code::GROUP_ID_NOT_FOUND));
        }
        info!(group, "group deleted with its committed offsets");
        Ok(done(code::NONE))
    }

    /// Deletes the group's committed offsets of `partitions`, each answered on its own:
    /// `GROUP_SUBSCRIBED_TO_TOPIC` for a topic a live member subscribes to,
    /// `UNKNOWN_TOPIC_OR_PARTITION` for no such partition. A group whose live members'
    /// subscriptions name no topics (not the "consumer" protocol) is `NON_EMPTY_GROUP`.
    #[instrument(skip(self, partitions), fields(partitions = partitions.len()))]
    pub(crate) async fn kafka_delete_offsets(
        &self,
        group: &str,
        partitions: Vec<TopicPartition>,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let group_error = |error_code| KafkaGroupResponse::OffsetsDeleted {
            error_code,
            partitions: Vec::new(),
        };
        let mut groups = self.groups().lock().await;
        let state = match self.group_entry(&mut groups, group, false).await {
            Ok(state) => state,
            Err(CoordinatorError::GroupNotFound(_)) => {
                return Ok(group_error(code::GROUP_ID_NOT_FOUND));
            }
            Err(error) => return Err(error),
        };
        self.expire_members(group, state).await?;
        let subscribed = match state.kafka.as_deref_mut() {
            Some(kafka) => {
                kafka.refresh(self.clock.now());
                kafka.subscribed()
            }
            None => Subscribed::Topics(BTreeSet::new()),
        };
        // `None`: every topic counts as subscribed.
        let subscribed: Option<BTreeSet<String>> = match subscribed {
            Subscribed::Unknowable => return Ok(group_error(code::NON_EMPTY_GROUP)),
            Subscribed::Every => None,
            Subscribed::Topics(mut topics) => {
                for member in state.members.values() {
                    topics.extend(member.topics.iter().cloned());
                }
                Some(topics)
            }
        };
        let catalog = self.catalog()?;
        let mut answers = Vec::with_capacity(partitions.len());
        let mut deleted = Vec::new();
        for tp in partitions {
            let error_code = match catalog.key(&tp.topic, tp.partition) {
                None => code::UNKNOWN_TOPIC_OR_PARTITION,
                Some(_)
                    if subscribed
                        .as_ref()
                        .is_none_or(|topics| topics.contains(&tp.topic)) =>
                {
                    code::GROUP_SUBSCRIBED_TO_TOPIC
                }
                Some(key) => {
                    deleted.push(key);
                    code::NONE
                }
            };
            answers.push((tp, error_code));
        }
        if !deleted.is_empty() {
            self.store()
                .delete_group_offsets(
                    group,
                    deleted
                        .iter()
                        .map(|key| (key.topic_id, key.partition))
                        .collect(),
                )
                .await?;
            for key in &deleted {
                state.committed.remove(key);
                state.positions.remove(key);
            }
            info!(
                group,
                partitions = deleted.len(),
                "committed offsets deleted"
            );
        }
        Ok(KafkaGroupResponse::OffsetsDeleted {
            error_code: code::NONE,
            partitions: answers,
        })
    }
}
