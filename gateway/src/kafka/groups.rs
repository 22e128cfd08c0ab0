//! Kafka group calls to the coordinator, and OffsetCommit and OffsetFetch: committed
//! offsets keep the metadata string and leader epoch each commit carried, and come back
//! with them (`""` for a commit without metadata, -1 for no leader epoch, as Kafka
//! answers). Metadata longer than `MAX_OFFSET_METADATA_BYTES` (Kafka's
//! `offset.metadata.max.bytes` default) is refused for its partition alone with
//! `OFFSET_METADATA_TOO_LARGE`.

use silt_core::security::{Operation, ResourceType};
use std::collections::HashSet;

use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
    offset_commit_response, offset_fetch_response,
};
use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse, PartitionOffset};
use silt_core::transactions::{TopicPartition, TxnRequest, TxnResponse};

use super::codes::error_code;
use super::codes::kafka as code;
use super::context::{Scope, done_code, instance_id, str_bytes, topic_name};

/// Kafka's error codes for what only these calls answer.
mod group_code {
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const NOT_COORDINATOR: i16 = 16;
}

/// A group call's answer, or the error code that stands for a failed call. A JoinGroup
/// or SyncGroup waiting for the other members is answered `NOT_COORDINATOR` at once
/// when the gateway shuts down (as a Kafka broker answers the joins it holds when it
/// gives up a group), so the client goes to another gateway instead of waiting.
pub(super) async fn group_call(
    context: &Scope<'_>,
    request: KafkaGroupRequest,
) -> Result<KafkaGroupResponse, i16> {
    if let Err(denied) = authorize_group_call(context, &request) {
        return Err(error_code(&denied));
    }
    let waits = matches!(
        request,
        KafkaGroupRequest::Join { .. } | KafkaGroupRequest::Sync { .. }
    );
    let call = context.state.coordinator.kafka_group(request);
    let answer = if waits {
        tokio::select! {
            answer = call => answer,
            () = context.state.stopping() => return Err(group_code::NOT_COORDINATOR),
        }
    } else {
        call.await
    };
    answer.map_err(|error| match error {
        CoordinatorError::Unavailable(_) => code::COORDINATOR_NOT_AVAILABLE,
        other => error_code(&other),
    })
}

/// Kafka's ACLs of a group call: READ on the group to be a member or commit (and READ
/// on each topic committed), DESCRIBE to read its offsets or describe it, DELETE to
/// delete it or its offsets. Listing filters by DESCRIBE instead.
fn authorize_group_call(
    context: &Scope<'_>,
    request: &KafkaGroupRequest,
) -> Result<(), CoordinatorError> {
    use KafkaGroupRequest as Call;
    let (operation, group) = match request {
        Call::Join { group, .. }
        | Call::Sync { group, .. }
        | Call::Heartbeat { group, .. }
        | Call::Leave { group, .. }
        | Call::Commit { group, .. } => (Operation::Read, group),
        Call::Fetch { group, .. } | Call::Describe { group } => (Operation::Describe, group),
        Call::DeleteGroup { group } | Call::DeleteOffsets { group, .. } => {
            (Operation::Delete, group)
        }
        Call::List => return Ok(()),
    };
    context.require(operation, ResourceType::Group, group)?;
    match request {
        Call::Commit { offsets, .. } => offsets.iter().try_for_each(|offset| {
            context.require(Operation::Read, ResourceType::Topic, &offset.topic)
        }),
        Call::DeleteOffsets { partitions, .. } => partitions.iter().try_for_each(|partition| {
            context.require(Operation::Read, ResourceType::Topic, &partition.topic)
        }),
        Call::Fetch {
            topics: Some(topics),
            ..
        } => topics
            .iter()
            .try_for_each(|topic| context.require(Operation::Describe, ResourceType::Topic, topic)),
        _ => Ok(()),
    }
}

/// A partition of an OffsetCommit: its offset, or the error code it is answered with.
fn committed(
    topic: &str,
    partition: &kafka_protocol::messages::offset_commit_request::OffsetCommitRequestPartition,
) -> Result<PartitionOffset, i16> {
    let (Ok(index), Ok(offset)) = (
        u32::try_from(partition.partition_index),
        u64::try_from(partition.committed_offset),
    ) else {
        return Err(code::OFFSET_OUT_OF_RANGE);
    };
    let offset = PartitionOffset {
        // A null metadata is kept as none, which reads back as "" (as in Kafka).
        metadata: partition
            .committed_metadata
            .as_ref()
            .map(|metadata| metadata.as_str().to_owned()),
        // -1 (and every version before 6) is no epoch.
        leader_epoch: (partition.committed_leader_epoch >= 0)
            .then_some(partition.committed_leader_epoch),
        ..PartitionOffset::new(topic, index, offset)
    };
    if offset.metadata_too_large() {
        return Err(group_code::OFFSET_METADATA_TOO_LARGE);
    }
    Ok(offset)
}

pub(super) async fn offset_commit(
    context: &Scope<'_>,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let mut offsets = Vec::new();
    // Partitions answered on their own, with their error code.
    let mut refused: Vec<(String, i32, i16)> = Vec::new();
    for topic in &request.topics {
        for partition in &topic.partitions {
            match committed(topic.name.0.as_str(), partition) {
                Ok(offset) => offsets.push(offset),
                Err(error_code) => refused.push((
                    topic.name.0.as_str().to_owned(),
                    partition.partition_index,
                    error_code,
                )),
            }
        }
    }
    // A partition named twice is committed once, at the offset named last, as Kafka
    // does (the HTTP API refuses such a commit instead: it is one the client chose).
    let mut seen = HashSet::new();
    offsets.reverse();
    offsets.retain(|offset| seen.insert((offset.topic.clone(), offset.partition)));
    offsets.reverse();
    let error_code = if offsets.is_empty() && !refused.is_empty() {
        code::NONE
    } else {
        let call = KafkaGroupRequest::Commit {
            group: request.group_id.0.as_str().to_owned(),
            member_id: request.member_id.as_str().to_owned(),
            generation: request.generation_id_or_member_epoch,
            offsets,
            group_instance_id: instance_id(request.group_instance_id.as_ref(), version, 7),
        };
        done_code(group_call(context, call).await)
    };
    let mut response = OffsetCommitResponse::default();
    response.topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let mut answered = offset_commit_response::OffsetCommitResponseTopic::default();
            answered.partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let mut result =
                        offset_commit_response::OffsetCommitResponsePartition::default();
                    result.partition_index = partition.partition_index;
                    result.error_code = refused
                        .iter()
                        .find(|(name, index, _)| {
                            name == topic.name.0.as_str() && *index == partition.partition_index
                        })
                        .map_or(error_code, |(_, _, refused)| *refused);
                    result
                })
                .collect();
            answered.name = topic.name;
            answered
        })
        .collect();
    response
}

pub(super) async fn offset_fetch(
    context: &Scope<'_>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    // v7+ `require_stable` (KIP-447): an offset an open transaction will commit is not
    // answered yet (UNSTABLE_OFFSET_COMMIT; the client asks again), so a consumer taking
    // over a partition does not start before the transaction's end.
    let pending: Vec<TopicPartition> = if version >= 7 && request.require_stable {
        let call = TxnRequest::PendingOffsets {
            group: request.group_id.0.as_str().to_owned(),
        };
        match context.state.coordinator.transaction(call).await {
            Ok(TxnResponse::Pending { partitions }) => partitions,
            Ok(_) => Vec::new(),
            Err(error) => {
                response.error_code = error_code(&error);
                return response;
            }
        }
    } else {
        Vec::new()
    };
    let wanted: Option<Vec<(TopicName, Vec<i32>)>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|topic| (topic.name, topic.partition_indexes))
            .collect()
    });
    let call = KafkaGroupRequest::Fetch {
        group: request.group_id.0.as_str().to_owned(),
        topics: wanted.as_ref().map(|topics| {
            topics
                .iter()
                .map(|(name, _)| name.0.as_str().to_owned())
                .collect()
        }),
    };
    let committed = match group_call(context, call).await {
        Ok(KafkaGroupResponse::Offsets { offsets }) => offsets,
        Ok(_) => {
            response.error_code = code::UNKNOWN_SERVER_ERROR;
            return response;
        }
        Err(error_code) => {
            response.error_code = error_code;
            return response;
        }
    };
    let committed_of = |topic: &str, partition: i32| -> Option<&PartitionOffset> {
        committed.iter().find(|offset| {
            offset.topic == topic && i64::from(offset.partition) == i64::from(partition)
        })
    };
    let topics: Vec<(TopicName, Vec<i32>)> = match wanted {
        Some(topics) => topics,
        None => {
            let mut by_topic: Vec<(TopicName, Vec<i32>)> = Vec::new();
            for offset in &committed {
                let partition = offset.partition as i32;
                match by_topic
                    .iter_mut()
                    .find(|(name, _)| name.0.as_str() == offset.topic)
                {
                    Some((_, partitions)) => partitions.push(partition),
                    None => by_topic.push((topic_name(&offset.topic), vec![partition])),
                }
            }
            by_topic
        }
    };
    response.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut topic = offset_fetch_response::OffsetFetchResponseTopic::default();
            topic.partitions = partitions
                .into_iter()
                .map(|index| {
                    let mut partition =
                        offset_fetch_response::OffsetFetchResponsePartition::default();
                    partition.partition_index = index;
                    if pending.iter().any(|pending| {
                        pending.topic == name.0.as_str()
                            && i64::from(pending.partition) == i64::from(index)
                    }) {
                        partition.error_code = code::UNSTABLE_OFFSET_COMMIT;
                        partition.committed_offset = -1;
                        return partition;
                    }
                    let found = committed_of(name.0.as_str(), index);
                    partition.committed_offset = found.map_or(-1, |offset| offset.offset as i64);
                    partition.committed_leader_epoch =
                        found.and_then(|offset| offset.leader_epoch).unwrap_or(-1);
                    partition.metadata = Some(str_bytes(
                        found
                            .and_then(|offset| offset.metadata.as_deref())
                            .unwrap_or_default(),
                    ));
                    partition
                })
                .collect();
            topic.name = name;
            topic
        })
        .collect();
    response
}
