//! Kafka's admin group calls on the group coordinator.

use crate::groups::GroupCoordinator;
use silt_core::coordinator::CoordinatorError;
use silt_core::groups::KafkaGroupResponse;

impl GroupCoordinator {
    /// DescribeGroups: the group's state, protocol and members (with their client id
    /// and host, and a static member's instance id).
    pub(super) async fn kafka_describe(
        &self,
        group: &str,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        // Describing a group that does not exist creates nothing: Kafka calls it Dead.
        let state = match self.group_entry(&mut groups, group, false).await {
            Ok(state) => state,
            Err(CoordinatorError::GroupNotFound(_)) => {
                return Ok(KafkaGroupResponse::Described {
                    state: "Dead".into(),
                    protocol_type: String::new(),
                    protocol_name: String::new(),
                    members: Vec::new(),
                    clients: Vec::new(),
                    instances: Vec::new(),
                });
            }
            Err(error) => return Err(error),
        };
        let kafka = state.kafka();
        kafka.refresh(self.clock.now());
        Ok(KafkaGroupResponse::Described {
            state: kafka.describe_phase().to_owned(),
            protocol_type: kafka.protocol_type.clone(),
            protocol_name: kafka.protocol.clone(),
            members: kafka
                .members
                .iter()
                .map(|(id, member)| {
                    let metadata = member.metadata(&kafka.protocol);
                    (id.clone(), metadata, member.assignment.clone())
                })
                .collect(),
            clients: kafka
                .members
                .iter()
                .map(|(id, member)| {
                    (
                        id.clone(),
                        member.client_id.clone(),
                        member.client_host.clone(),
                    )
                })
                .collect(),
            instances: kafka.instances(),
        })
    }
}
