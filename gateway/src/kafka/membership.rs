//! Consumer groups over the Kafka protocol: FindCoordinator, JoinGroup, SyncGroup,
//! Heartbeat and LeaveGroup. The groups live in the coordinator; these turn requests
//! into its calls and its answers into responses. Static members (KIP-345) name their
//! `group.instance.id` from JoinGroup v5, SyncGroup and Heartbeat v3 and LeaveGroup v3
//! (a batch of members, each answered on its own); earlier versions have no such field.

use bytes::Bytes;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, find_coordinator_response,
};
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse, join_group_response,
    leave_group_response,
};
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse, LeavingMember};
use tracing::info;

use super::codes::kafka as code;
use super::context::NODE_ID;
use super::context::{Scope, done_code, instance_id, str_bytes};
use super::groups::group_call;

pub(super) async fn find_coordinator(
    context: &Scope<'_>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = str_bytes(&context.config.advertised_host);
    let port = i32::from(context.config.advertised_port);
    let mut response = FindCoordinatorResponse::default();
    if version < 4 {
        response.node_id = BrokerId(NODE_ID);
        response.host = host;
        response.port = port;
        return response;
    }
    let keys = if request.coordinator_keys.is_empty() {
        vec![request.key]
    } else {
        request.coordinator_keys
    };
    response.coordinators = keys
        .into_iter()
        .map(|key| {
            let mut found = find_coordinator_response::Coordinator::default();
            found.key = key;
            found.node_id = BrokerId(NODE_ID);
            found.host = host.clone();
            found.port = port;
            found
        })
        .collect();
    response
}

pub(super) fn millis(value: i32) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// `client` is the client's id and address (the member id starts with the id).
pub(super) async fn join_group(
    context: &Scope<'_>,
    request: JoinGroupRequest,
    version: i16,
    client: (&str, &str),
) -> JoinGroupResponse {
    let mut response = JoinGroupResponse::default();
    let session_timeout_ms = millis(request.session_timeout_ms);
    if let Some(reason) = request.reason.as_ref().filter(|_| version >= 8) {
        info!(group = %request.group_id.0.as_str(), reason = %reason.as_str(), "kafka join");
    }
    let call = KafkaGroupRequest::Join {
        group: request.group_id.0.as_str().to_owned(),
        member_id: request.member_id.as_str().to_owned(),
        protocol_type: request.protocol_type.as_str().to_owned(),
        protocols: request
            .protocols
            .iter()
            .map(|protocol| {
                (
                    protocol.name.as_str().to_owned(),
                    protocol.metadata.to_vec(),
                )
            })
            .collect(),
        session_timeout_ms,
        // Version 0 has no rebalance timeout: the session timeout serves.
        rebalance_timeout_ms: if request.rebalance_timeout_ms > 0 {
            millis(request.rebalance_timeout_ms)
        } else {
            session_timeout_ms
        },
        require_member_id: version >= 4,
        client_id: client.0.to_owned(),
        client_host: client.1.to_owned(),
        group_instance_id: instance_id(request.group_instance_id.as_ref(), version, 5),
        skip_assignment_supported: version >= 9,
    };
    response.member_id = request.member_id;
    match group_call(context, call).await {
        Ok(KafkaGroupResponse::Joined {
            error_code,
            generation,
            protocol_type,
            protocol_name,
            leader,
            member_id,
            members,
            instances,
            skip_assignment,
        }) => {
            response.error_code = error_code;
            response.skip_assignment = skip_assignment && version >= 9;
            response.generation_id = generation;
            if version >= 7 {
                response.protocol_type = protocol_type.as_deref().map(str_bytes);
            }
            response.protocol_name = protocol_name.as_deref().map(str_bytes);
            response.leader = str_bytes(&leader);
            response.member_id = str_bytes(&member_id);
            response.members = members
                .into_iter()
                .map(|(id, metadata)| {
                    let mut member = join_group_response::JoinGroupResponseMember::default();
                    if version >= 5 {
                        member.group_instance_id = instances
                            .iter()
                            .find(|(member_id, _)| *member_id == id)
                            .map(|(_, instance)| str_bytes(instance));
                    }
                    member.member_id = str_bytes(&id);
                    member.metadata = Bytes::from(metadata);
                    member
                })
                .collect();
        }
        Ok(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
        Err(error_code) => response.error_code = error_code,
    }
    response
}

pub(super) async fn sync_group(
    context: &Scope<'_>,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let mut response = SyncGroupResponse::default();
    let call = KafkaGroupRequest::Sync {
        group: request.group_id.0.as_str().to_owned(),
        member_id: request.member_id.as_str().to_owned(),
        generation: request.generation_id,
        assignments: request
            .assignments
            .iter()
            .map(|given| {
                (
                    given.member_id.as_str().to_owned(),
                    given.assignment.to_vec(),
                )
            })
            .collect(),
        group_instance_id: instance_id(request.group_instance_id.as_ref(), version, 3),
    };
    match group_call(context, call).await {
        Ok(KafkaGroupResponse::Synced {
            error_code,
            protocol_type,
            protocol_name,
            assignment,
        }) => {
            response.error_code = error_code;
            if version >= 5 {
                response.protocol_type = protocol_type.as_deref().map(str_bytes);
                response.protocol_name = protocol_name.as_deref().map(str_bytes);
            }
            response.assignment = Bytes::from(assignment);
        }
        Ok(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
        Err(error_code) => response.error_code = error_code,
    }
    response
}

pub(super) async fn heartbeat(
    context: &Scope<'_>,
    request: HeartbeatRequest,
    version: i16,
) -> HeartbeatResponse {
    let call = KafkaGroupRequest::Heartbeat {
        group: request.group_id.0.as_str().to_owned(),
        member_id: request.member_id.as_str().to_owned(),
        generation: request.generation_id,
        group_instance_id: instance_id(request.group_instance_id.as_ref(), version, 3),
    };
    let mut response = HeartbeatResponse::default();
    response.error_code = done_code(group_call(context, call).await);
    response
}

/// LeaveGroup: v0-2 name one member, whose error is the response's; v3+ a batch,
/// each member answered on its own (the response's error is the group's, as in Kafka).
pub(super) async fn leave_group(
    context: &Scope<'_>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let members: Vec<LeavingMember> = if version < 3 {
        vec![LeavingMember {
            member_id: request.member_id.as_str().to_owned(),
            group_instance_id: None,
        }]
    } else {
        request
            .members
            .iter()
            .map(|member| LeavingMember {
                member_id: member.member_id.as_str().to_owned(),
                group_instance_id: member
                    .group_instance_id
                    .as_ref()
                    .map(|id| id.as_str().to_owned()),
            })
            .collect()
    };
    let mut response = LeaveGroupResponse::default();
    if members.is_empty() {
        return response;
    }
    // The member ids again, for a coordinator from before static membership (it
    // answers `Done`); one that reads `members` goes by them alone.
    let member_ids = members
        .iter()
        .filter(|member| !member.member_id.is_empty())
        .map(|member| member.member_id.clone())
        .collect();
    let call = KafkaGroupRequest::Leave {
        group: request.group_id.0.as_str().to_owned(),
        member_ids,
        members,
    };
    let codes = match group_call(context, call).await {
        Ok(KafkaGroupResponse::Left { members }) => members,
        Ok(KafkaGroupResponse::Done { error_code }) => {
            response.error_code = error_code;
            return response;
        }
        Ok(_) => {
            response.error_code = code::UNKNOWN_SERVER_ERROR;
            return response;
        }
        Err(error_code) => {
            response.error_code = error_code;
            return response;
        }
    };
    if version < 3 {
        response.error_code = codes.first().copied().unwrap_or(code::NONE);
        return response;
    }
    response.members = request
        .members
        .into_iter()
        .zip(
            codes
                .into_iter()
                .chain(std::iter::repeat(code::UNKNOWN_SERVER_ERROR)),
        )
        .map(|(member, error_code)| {
            let mut answered = leave_group_response::MemberResponse::default();
            answered.member_id = member.member_id;
            answered.group_instance_id = member.group_instance_id;
            answered.error_code = error_code;
            answered
        })
        .collect();
    response
}
