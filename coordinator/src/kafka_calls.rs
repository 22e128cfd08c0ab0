//! Kafka's group calls (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, DescribeGroups) on the group coordinator: each finds or creates the
//! group, runs the Kafka group state machine of [`crate::kafka_groups`], persists what
//! it must, and waits where Kafka's protocol waits.

mod admin;
mod leave;
mod offsets;

use crate::groups::GroupCoordinator;
use crate::kafka_groups::static_members::StaticJoin;
use crate::kafka_groups::{
    JOIN_RECHECK, Joining, MAX_SESSION_TIMEOUT, MIN_SESSION_TIMEOUT, Phase, check_member, code,
    done, joined_error, synced_error,
};
use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

impl GroupCoordinator {
    pub(crate) async fn kafka_group_impl(
        &self,
        request: KafkaGroupRequest,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        match request {
            KafkaGroupRequest::Join {
                group,
                member_id,
                protocol_type,
                protocols,
                session_timeout_ms,
                rebalance_timeout_ms,
                require_member_id,
                client_id,
                client_host,
                group_instance_id,
                skip_assignment_supported,
            } => {
                let joining = Joining {
                    protocols,
                    session: Duration::from_millis(session_timeout_ms),
                    rebalance: Duration::from_millis(rebalance_timeout_ms),
                    client_id,
                    client_host,
                    require_member_id,
                    instance_id: group_instance_id,
                    skip_assignment_supported,
                };
                self.kafka_join(&group, member_id, protocol_type, joining)
                    .await
            }
            KafkaGroupRequest::Sync {
                group,
                member_id,
                generation,
                assignments,
                group_instance_id,
            } => {
                let member = (member_id.as_str(), group_instance_id.as_deref());
                self.kafka_sync(&group, member, generation, assignments)
                    .await
            }
            KafkaGroupRequest::Heartbeat {
                group,
                member_id,
                generation,
                group_instance_id,
            } => {
                let mut groups = self.groups().lock().await;
                let state = self.group_entry(&mut groups, &group, true).await?;
                let kafka = state.kafka();
                let now = self.clock.now();
                kafka.expire(now);
                kafka.maybe_complete(now);
                let instance = group_instance_id.as_deref();
                Ok(done(
                    match check_member(kafka, &member_id, instance, generation, now) {
                        Err(error_code) => error_code,
                        Ok(()) if matches!(kafka.phase, Phase::Preparing { .. }) => {
                            code::REBALANCE_IN_PROGRESS
                        }
                        Ok(()) => code::NONE,
                    },
                ))
            }
            KafkaGroupRequest::Leave {
                group,
                member_ids,
                members,
            } => self.kafka_leave(&group, member_ids, members).await,
            KafkaGroupRequest::Commit {
                group,
                member_id,
                generation,
                offsets,
                group_instance_id,
            } => {
                let member = (member_id.as_str(), group_instance_id.as_deref());
                self.kafka_commit(&group, member, generation, offsets).await
            }
            KafkaGroupRequest::Fetch { group, topics } => {
                self.kafka_fetch_offsets(&group, topics).await
            }
            KafkaGroupRequest::List => self.kafka_list_groups().await,
            KafkaGroupRequest::DeleteGroup { group } => self.kafka_delete_group(&group).await,
            KafkaGroupRequest::DeleteOffsets { group, partitions } => {
                self.kafka_delete_offsets(&group, partitions).await
            }
            KafkaGroupRequest::Describe { group } => self.kafka_describe(&group).await,
        }
    }

    async fn kafka_join(
        &self,
        group: &str,
        member_id: String,
        protocol_type: String,
        joining: Joining,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let session_timeout = joining.session;
        if !(MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(&session_timeout) {
            return Ok(joined_error(code::INVALID_SESSION_TIMEOUT, member_id));
        }
        // Kafka's clients refuse an empty `group.instance.id` (and KIP-848's heartbeat
        // refuses it as INVALID_REQUEST): it would name every such client alike.
        if joining.protocols.is_empty()
            || group.is_empty()
            || joining.instance_id.as_deref() == Some("")
        {
            return Ok(joined_error(code::INVALID_REQUEST, member_id));
        }
        let instance = joining.instance_id.clone();
        let member_id = {
            let mut groups = self.groups().lock().await;
            let state = self.group_entry(&mut groups, group, true).await?;
            let kafka = state.kafka();
            let now = self.clock.now();
            kafka.expire(now);
            kafka.maybe_complete(now);
            if !kafka.members.is_empty() && kafka.protocol_type != protocol_type {
                return Ok(joined_error(code::INCONSISTENT_GROUP_PROTOCOL, member_id));
            }
            kafka.protocol_type = protocol_type;
            match (member_id.is_empty(), instance.as_deref()) {
                (true, Some(instance)) => match kafka.join_static(instance, joining, now) {
                    StaticJoin::Answered(answer) => return Ok(answer),
                    StaticJoin::Waiting(member_id) => member_id,
                },
                (true, None) => {
                    // As Kafka names them: the client id, then a random part.
                    let member_id = format!("{}-{}", joining.client_id, uuid::Uuid::new_v4());
                    if joining.require_member_id {
                        kafka
                            .pending
                            .insert(member_id.clone(), now + session_timeout);
                        return Ok(joined_error(code::MEMBER_ID_REQUIRED, member_id));
                    }
                    kafka.add_joined(member_id.clone(), joining.member(now), now);
                    member_id
                }
                (false, Some(instance)) => {
                    // A static member joins again with its member id: it must still be
                    // the instance's (a pending id is never a static member's).
                    if let Err(error_code) = kafka.check_instance(&member_id, Some(instance)) {
                        return Ok(joined_error(error_code, member_id));
                    }
                    kafka.add_joined(member_id.clone(), joining.member(now), now);
                    member_id
                }
                (false, None) => {
                    if !(kafka.members.contains_key(&member_id)
                        || kafka.pending.remove(&member_id).is_some())
                    {
                        return Ok(joined_error(code::UNKNOWN_MEMBER_ID, member_id));
                    }
                    // A static member that joins without its instance id (v0-4) stays
                    // static, as in Kafka.
                    let mut member = joining.member(now);
                    member.instance_id = kafka
                        .members
                        .get(&member_id)
                        .and_then(|known| known.instance_id.clone());
                    kafka.add_joined(member_id.clone(), member, now);
                    member_id
                }
            }
        };
        let keep_alive = (session_timeout / 2).min(JOIN_RECHECK);
        loop {
            let mut groups = self.groups().lock().await;
            let state = self.group_entry(&mut groups, group, true).await?;
            let kafka = state.kafka();
            let now = self.clock.now();
            // This request still waits: its member is alive.
            if let Some(member) = kafka.members.get_mut(&member_id) {
                member.last_seen = now;
            }
            kafka.expire(now);
            kafka.maybe_complete(now);
            // Gone, or (FENCED_INSTANCE_ID) another process took its instance id.
            if let Err(error_code) = kafka.check_instance(&member_id, instance.as_deref()) {
                return Ok(joined_error(error_code, member_id));
            }
            let Some(member) = kafka.members.get_mut(&member_id) else {
                return Ok(joined_error(code::UNKNOWN_MEMBER_ID, member_id));
            };
            if let Some(answer) = member.join_answer.take() {
                return Ok(answer);
            }
            let until = kafka.next_check(now, keep_alive);
            let changed = Arc::clone(&kafka.changed);
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            drop(groups);
            let _ = tokio::time::timeout_at(until.into(), notified).await;
        }
    }

    /// `member` is the member id and, for a static member, its instance id.
    async fn kafka_sync(
        &self,
        group: &str,
        member: (&str, Option<&str>),
        generation: i32,
        assignments: Vec<(String, Vec<u8>)>,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let (member_id, instance) = member;
        let started = self.clock.now();
        let mut assignments = Some(assignments);
        loop {
            let mut groups = self.groups().lock().await;
            let state = self.group_entry(&mut groups, group, true).await?;
            let kafka = state.kafka();
            let now = self.clock.now();
            kafka.maybe_complete(now);
            if let Err(error_code) = check_member(kafka, member_id, instance, generation, now) {
                return Ok(synced_error(error_code));
            }
            match kafka.phase {
                Phase::Preparing { .. } | Phase::Empty => {
                    return Ok(synced_error(code::REBALANCE_IN_PROGRESS));
                }
                Phase::Completing if kafka.leader == member_id => {
                    let given: BTreeMap<String, Vec<u8>> =
                        assignments.take().unwrap_or_default().into_iter().collect();
                    for (id, member) in kafka.members.iter_mut() {
                        member.assignment = given.get(id).cloned().unwrap_or_default();
                    }
                    kafka.phase = Phase::Stable;
                    kafka.changed.notify_waiters();
                }
                Phase::Completing => {}
                Phase::Stable => {}
            }
            let session_timeout = kafka
                .members
                .get(member_id)
                .map_or(MIN_SESSION_TIMEOUT, |member| member.session_timeout);
            if kafka.phase == Phase::Stable {
                let assignment = kafka
                    .members
                    .get(member_id)
                    .map(|member| member.assignment.clone())
                    .unwrap_or_default();
                return Ok(KafkaGroupResponse::Synced {
                    error_code: code::NONE,
                    protocol_type: Some(kafka.protocol_type.clone()),
                    protocol_name: Some(kafka.protocol.clone()),
                    assignment,
                });
            }
            if now.duration_since(started) > session_timeout {
                // The leader never brought the assignment: start over.
                kafka.start_rebalance(now);
                return Ok(synced_error(code::REBALANCE_IN_PROGRESS));
            }
            let changed = Arc::clone(&kafka.changed);
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            drop(groups);
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }
}
