//! LeaveGroup on the group coordinator.

use crate::groups::GroupCoordinator;
use crate::kafka_groups::{code, done};
use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{KafkaGroupResponse, LeavingMember};

impl GroupCoordinator {
    /// `member_ids` are what a gateway before static membership sent (answered `Done`
    /// with the first error); `members` are answered `Left`, one code each.
    pub(super) async fn kafka_leave(
        &self,
        group: &str,
        member_ids: Vec<String>,
        members: Vec<LeavingMember>,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let legacy = members.is_empty();
        let leaving: Vec<LeavingMember> = if legacy {
            member_ids
                .into_iter()
                .map(|member_id| LeavingMember {
                    member_id,
                    group_instance_id: None,
                })
                .collect()
        } else {
            members
        };
        let mut groups = self.groups().lock().await;
        let codes = match self.group_entry(&mut groups, group, false).await {
            Ok(state) => state.kafka().leave(&leaving, self.clock.now()),
            Err(CoordinatorError::GroupNotFound(_)) => {
                vec![code::UNKNOWN_MEMBER_ID; leaving.len()]
            }
            Err(error) => return Err(error),
        };
        if legacy {
            let first_error = codes
                .into_iter()
                .find(|error_code| *error_code != code::NONE);
            return Ok(done(first_error.unwrap_or(code::NONE)));
        }
        Ok(KafkaGroupResponse::Left { members: codes })
    }
}
