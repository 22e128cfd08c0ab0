//! LeaveGroup. From v3 a request names a batch of members, each by its member id, by
//! its instance id (an administrator removing a static member, with an empty member
//! id), or both, and each is answered on its own, as Kafka does: `UNKNOWN_MEMBER_ID`
//! for a member (or instance) the group does not have, `FENCED_INSTANCE_ID` for a
//! member id that is no longer its instance's. A group that does not exist answers
//! every member `UNKNOWN_MEMBER_ID`.

use std::time::Instant;

use silt_core::groups::LeavingMember;
use tracing::info;

use super::{KafkaGroup, Phase, code};

impl KafkaGroup {
    /// Removes the members named, answering each; the group then rebalances without
    /// them (or, during a rebalance, completes once the others have joined).
    pub(crate) fn leave(&mut self, leaving: &[LeavingMember], now: Instant) -> Vec<i16> {
        self.expire(now);
        self.maybe_complete(now);
        let mut departed = false;
        let mut forgotten = false;
        let codes = leaving
            .iter()
            .map(|member| {
                let instance = member.group_instance_id.as_deref();
                let leaving_id = if member.member_id.is_empty() {
                    // By instance id alone, as an administrator removes a static member.
                    match instance.and_then(|instance| self.static_member(instance)) {
                        Some(member_id) => member_id.to_owned(),
                        None => return code::UNKNOWN_MEMBER_ID,
                    }
                } else if self.pending.remove(&member.member_id).is_some() {
                    forgotten = true;
                    return code::NONE;
                } else {
                    if let Err(error_code) = self.check_instance(&member.member_id, instance) {
                        return error_code;
                    }
                    member.member_id.clone()
                };
                self.members.remove(&leaving_id);
                departed = true;
                info!(member = %leaving_id, instance = ?instance, "kafka group member left");
                code::NONE
            })
            .collect();
        if departed && !matches!(self.phase, Phase::Preparing { .. }) {
            self.after_departure(now);
        } else if departed || forgotten {
            // A rebalance under way goes on without them.
            if self.members.is_empty() {
                self.phase = Phase::Empty;
            }
            self.maybe_complete(now);
            self.changed.notify_waiters();
        }
        codes
    }
}
