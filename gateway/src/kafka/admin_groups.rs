//! The Kafka APIs that list, describe and delete groups: ListGroups (each group's
//! state, `Empty` for one without members; v4 filters by state, v5 by type),
//! DescribeGroups (members with their client id and host, and from v4 a static
//! member's instance id), DeleteGroups (a group without members goes, with its committed
//! offsets) and OffsetDelete (committed offsets of topics no live member subscribes
//! to). The coordinator decides; these calls translate.

use bytes::Bytes;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    delete_groups_response, describe_groups_response, list_groups_response, offset_delete_response,
};
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse, TopicPartition};
use silt_core::security::{Operation, ResourceType};

use super::codes::kafka as code;
use super::context::{Scope, done_code, str_bytes};
use super::groups::group_call;

pub(super) async fn list_groups(
    context: &Scope<'_>,
    request: ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    let mut response = ListGroupsResponse::default();
    let groups = match group_call(context, KafkaGroupRequest::List).await {
        // Groups the caller may not describe are left out.
        Ok(KafkaGroupResponse::Listed { mut groups }) => {
            groups.retain(|group| {
                context.allowed(Operation::Describe, ResourceType::Group, &group.group)
            });
            groups
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
    // Version 4 filters by state (case-insensitively, as Kafka does), 5 by type: every
    // group here is a "classic" one.
    let states = &request.states_filter;
    let classic = request.types_filter.is_empty()
        || request
            .types_filter
            .iter()
            .any(|kind| kind.as_str().eq_ignore_ascii_case("classic"));
    response.groups = groups
        .into_iter()
        .filter(|group| {
            classic
                && (states.is_empty()
                    || states
                        .iter()
                        .any(|state| state.as_str().eq_ignore_ascii_case(&group.state)))
        })
        .map(|group| {
            let mut listed = list_groups_response::ListedGroup::default();
            listed.group_id = GroupId(str_bytes(&group.group));
            listed.protocol_type = str_bytes(&group.protocol_type);
            if version >= 4 {
                listed.group_state = str_bytes(&group.state);
            }
            if version >= 5 {
                listed.group_type = str_bytes("classic");
            }
            listed
        })
        .collect();
    response
}

pub(super) async fn describe_groups(
    context: &Scope<'_>,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut response = DescribeGroupsResponse::default();
    for group in request.groups {
        let mut described = describe_groups_response::DescribedGroup::default();
        let call = KafkaGroupRequest::Describe {
            group: group.0.as_str().to_owned(),
        };
        match group_call(context, call).await {
            Ok(KafkaGroupResponse::Described {
                state,
                protocol_type,
                protocol_name,
                members,
                clients,
                instances,
            }) => {
                described.group_state = str_bytes(&state);
                described.protocol_type = str_bytes(&protocol_type);
                described.protocol_data = str_bytes(&protocol_name);
                described.members = members
                    .into_iter()
                    .map(|(id, metadata, assignment)| {
                        let mut member = describe_groups_response::DescribedGroupMember::default();
                        if let Some((_, client_id, client_host)) =
                            clients.iter().find(|(member_id, ..)| *member_id == id)
                        {
                            member.client_id = str_bytes(client_id);
                            member.client_host = str_bytes(client_host);
                        }
                        if version >= 4 {
                            member.group_instance_id = instances
                                .iter()
                                .find(|(member_id, _)| *member_id == id)
                                .map(|(_, instance)| str_bytes(instance));
                        }
                        member.member_id = str_bytes(&id);
                        member.member_metadata = Bytes::from(metadata);
                        member.member_assignment = Bytes::from(assignment);
                        member
                    })
                    .collect();
            }
            Ok(_) => described.error_code = code::UNKNOWN_SERVER_ERROR,
            Err(error_code) => described.error_code = error_code,
        }
        described.group_id = group;
        response.groups.push(described);
    }
    response
}

pub(super) async fn delete_groups(
    context: &Scope<'_>,
    request: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut response = DeleteGroupsResponse::default();
    for group in request.groups_names {
        let call = KafkaGroupRequest::DeleteGroup {
            group: group.0.as_str().to_owned(),
        };
        let mut result = delete_groups_response::DeletableGroupResult::default();
        result.error_code = done_code(group_call(context, call).await);
        result.group_id = group;
        response.results.push(result);
    }
    response
}

pub(super) async fn offset_delete(
    context: &Scope<'_>,
    request: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let mut response = OffsetDeleteResponse::default();
    // A negative partition names none: answered on its own, never sent on.
    let partitions: Vec<TopicPartition> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().filter_map(|partition| {
                Some(TopicPartition {
                    topic: topic.name.0.as_str().to_owned(),
                    partition: u32::try_from(partition.partition_index).ok()?,
                })
            })
        })
        .collect();
    let call = KafkaGroupRequest::DeleteOffsets {
        group: request.group_id.0.as_str().to_owned(),
        partitions,
    };
    let answered = match group_call(context, call).await {
        Ok(KafkaGroupResponse::OffsetsDeleted {
            error_code,
            partitions,
        }) => {
            response.error_code = error_code;
            partitions
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
    if response.error_code != code::NONE {
        return response;
    }
    response.topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let mut result = offset_delete_response::OffsetDeleteResponseTopic::default();
            result.partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let mut answer =
                        offset_delete_response::OffsetDeleteResponsePartition::default();
                    answer.partition_index = partition.partition_index;
                    answer.error_code = answered
                        .iter()
                        .find(|(tp, _)| {
                            tp.topic == topic.name.0.as_str()
                                && i64::from(tp.partition) == i64::from(partition.partition_index)
                        })
                        .map_or(code::UNKNOWN_TOPIC_OR_PARTITION, |(_, error_code)| {
                            *error_code
                        });
                    answer
                })
                .collect();
            result.name = topic.name;
            result
        })
        .collect();
    response
}
