//! Static membership (KIP-345, `group.instance.id`). A static member keeps its place
//! in the group across restarts: it joins again with an empty member id and its
//! instance id, takes the place of the member that had the instance id (under a new
//! member id, so the old process is fenced: `FENCED_INSTANCE_ID` for its next call),
//! and keeps that member's assignment. While the group is stable and the rejoin changes
//! neither the group's protocol nor the member's subscription, nothing rebalances: the
//! member is answered at once and its SyncGroup brings back the assignment it had. A
//! static member that goes away without LeaveGroup (librdkafka and the Java client do
//! not leave on close when static) stays a member until its session times out, and a
//! rebalance completes without waiting for it past the rebalance timeout, keeping it in
//! the new generation (Kafka removes only dynamic members that did not join again).

use std::time::Instant;

use silt_core::groups::KafkaGroupResponse;
use tracing::info;

use super::{Joining, KafkaGroup, KafkaMember, Phase, code, subscription_topics};

/// What a static member's join with an empty member id came to.
pub(crate) enum StaticJoin {
    /// Answered at once: it took its instance's place in a stable group.
    Answered(KafkaGroupResponse),
    /// It joined under this member id and waits for the rebalance to complete.
    Waiting(String),
}

impl KafkaGroup {
    /// The member id the instance id belongs to.
    pub(crate) fn static_member(&self, instance: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, member)| member.instance_id.as_deref() == Some(instance))
            .map(|(id, _)| id.as_str())
    }

    /// (member id, instance id) of the static members, as JoinGroup and DescribeGroups
    /// answer them.
    pub(crate) fn instances(&self) -> Vec<(String, String)> {
        self.members
            .iter()
            .filter_map(|(id, member)| Some((id.clone(), member.instance_id.clone()?)))
            .collect()
    }

    /// Kafka's check of a member that names itself: with an instance id, the instance
    /// must belong to this member id (another member id: `FENCED_INSTANCE_ID`, the
    /// caller was replaced; an unknown instance: `UNKNOWN_MEMBER_ID`); without one, the
    /// member id must be a member's.
    pub(crate) fn check_instance(
        &self,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), i16> {
        if let Some(instance) = instance {
            return match self.static_member(instance) {
                Some(current) if current == member_id => Ok(()),
                Some(_) => Err(code::FENCED_INSTANCE_ID),
                None => Err(code::UNKNOWN_MEMBER_ID),
            };
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(code::UNKNOWN_MEMBER_ID)
        }
    }

    /// A static member joins with an empty member id: as a new member if its instance
    /// id is unknown (without the MEMBER_ID_REQUIRED round trip, as in Kafka), else in
    /// the place of the member that had the instance id.
    pub(crate) fn join_static(
        &mut self,
        instance: &str,
        joining: Joining,
        now: Instant,
    ) -> StaticJoin {
        // As Kafka names them: the instance id, then a random part.
        let new_id = format!("{instance}-{}", uuid::Uuid::new_v4());
        let skip_assignment_supported = joining.skip_assignment_supported;
        let Some(old_id) = self.static_member(instance).map(str::to_owned) else {
            self.add_joined(new_id.clone(), joining.member(now), now);
            return StaticJoin::Waiting(new_id);
        };
        let Some(mut member) = self.members.remove(&old_id) else {
            self.add_joined(new_id.clone(), joining.member(now), now);
            return StaticJoin::Waiting(new_id);
        };
        let old_leader = self.leader.clone();
        if self.leader == old_id {
            self.leader = new_id.clone();
        }
        let subscribed_before = self.selected_subscription(&member);
        let fresh = joining.member(now);
        member.protocols = fresh.protocols;
        member.session_timeout = fresh.session_timeout;
        member.rebalance_timeout = fresh.rebalance_timeout;
        member.client_id = fresh.client_id;
        member.client_host = fresh.client_host;
        member.last_seen = now;
        member.joined = false;
        member.join_answer = None;
        let subscribed_after = self.selected_subscription(&member);
        self.members.insert(new_id.clone(), member);
        // Requests of the replaced member id that wait are answered FENCED_INSTANCE_ID.
        self.changed.notify_waiters();
        info!(
            instance,
            old_member = %old_id,
            new_member = %new_id,
            state = self.describe_phase(),
            "kafka static member joined again under a new member id"
        );
        let keeps_protocol = self.select_protocol() == self.protocol;
        if self.phase == Phase::Stable && keeps_protocol && subscribed_before == subscribed_after {
            return StaticJoin::Answered(self.stable_rejoin_answer(
                &new_id,
                old_leader,
                skip_assignment_supported,
            ));
        }
        // In a stable group whose protocol or subscription changes, and while the
        // leader computes an assignment that names the old member id, the group
        // rebalances (as in Kafka); a rebalance under way takes the member as joined.
        if !matches!(self.phase, Phase::Preparing { .. }) {
            self.start_rebalance(now);
        }
        if let Some(member) = self.members.get_mut(&new_id) {
            member.joined = true;
        }
        self.maybe_complete(now);
        StaticJoin::Waiting(new_id)
    }

    /// The JoinGroup answer of a static member that took its instance's place in a
    /// stable group: the current generation. A leader that can skip the assignment
    /// (v9+) is told it leads, with the members, and to skip it; older versions are told
    /// of the old leader id, which is not theirs, so that they follow and only sync.
    fn stable_rejoin_answer(
        &self,
        member_id: &str,
        old_leader: String,
        skip_assignment_supported: bool,
    ) -> KafkaGroupResponse {
        let leads = skip_assignment_supported && self.leader == member_id;
        KafkaGroupResponse::Joined {
            error_code: code::NONE,
            generation: self.generation,
            protocol_type: Some(self.protocol_type.clone()),
            protocol_name: Some(self.protocol.clone()),
            leader: if skip_assignment_supported {
                self.leader.clone()
            } else {
                old_leader
            },
            member_id: member_id.to_owned(),
            members: if leads { self.everyone() } else { Vec::new() },
            instances: if leads { self.instances() } else { Vec::new() },
            skip_assignment: leads,
        }
    }

    /// The topics a member subscribes to under the group's protocol, sorted (the rest
    /// of its metadata, such as the partitions it owned and its generation, a
    /// restarted consumer does not repeat). Other protocol types name none, so only
    /// the protocol decides for them, as in Kafka.
    fn selected_subscription(&self, member: &KafkaMember) -> Option<Vec<String>> {
        let metadata = member
            .protocols
            .iter()
            .find(|(name, _)| *name == self.protocol)
            .map(|(_, metadata)| metadata.as_slice())?;
        let mut topics = subscription_topics(&self.protocol_type, metadata)?;
        topics.sort();
        Some(topics)
    }
}
