//! Kafka's transaction APIs: AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
//! EndTxn (a producer's), DescribeTransactions and ListTransactions (an operator's). Each
//! is one call to the coordinator, which keeps every transactional id's state, so any
//! gateway serves any step (`silt_core::transactions`).

use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    TransactionalId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
    add_partitions_to_txn_response, describe_transactions_response, list_transactions_response,
    txn_offset_commit_response,
};
use silt_core::coordinator::{CoordinatorError, ProducerIdentity};
use silt_core::groups::KafkaGroupRequest;
use silt_core::security::{Operation, ResourceType};
use silt_core::transactions::{TopicPartition, TxnOffset, TxnRequest, TxnResponse, TxnState};
use tracing::debug;

use super::codes::error_code;
use super::codes::kafka as code;
use super::context::{Scope, done_code, instance_id, str_bytes, topic_name};
use super::groups::group_call;

fn producer(id: ProducerId, epoch: i16) -> ProducerIdentity {
    ProducerIdentity {
        producer_id: id.0,
        epoch: i32::from(epoch),
    }
}

/// Kafka's ACLs of a transaction step: WRITE on the transactional id; WRITE on each
/// topic added; READ on the group whose offsets it commits, and on their topics.
fn authorize_step(context: &Scope<'_>, request: &TxnRequest) -> Result<(), CoordinatorError> {
    let transactional_id = match request {
        TxnRequest::InitProducer {
            transactional_id, ..
        }
        | TxnRequest::Begin {
            transactional_id, ..
        }
        | TxnRequest::AddPartitions {
            transactional_id, ..
        }
        | TxnRequest::AddOffsets {
            transactional_id, ..
        }
        | TxnRequest::CommitOffsets {
            transactional_id, ..
        }
        | TxnRequest::End {
            transactional_id, ..
        } => transactional_id,
        _ => return Ok(()),
    };
    context.require(
        Operation::Write,
        ResourceType::TransactionalId,
        transactional_id,
    )?;
    match request {
        TxnRequest::AddPartitions { partitions, .. } => partitions
            .iter()
            .try_for_each(|p| context.require(Operation::Write, ResourceType::Topic, &p.topic)),
        TxnRequest::AddOffsets { group, .. } => {
            context.require(Operation::Read, ResourceType::Group, group)
        }
        TxnRequest::CommitOffsets { group, offsets, .. } => {
            context.require(Operation::Read, ResourceType::Group, group)?;
            offsets.iter().try_for_each(|offset| {
                context.require(Operation::Read, ResourceType::Topic, &offset.topic)
            })
        }
        _ => Ok(()),
    }
}

/// The error code of a step that answers with nothing else.
async fn step(context: &Scope<'_>, request: TxnRequest) -> i16 {
    if let Err(denied) = authorize_step(context, &request) {
        return error_code(&denied);
    }
    match context.state.coordinator.transaction(request).await {
        Ok(_) => code::NONE,
        Err(error) => {
            debug!(%error, "transaction step refused");
            error_code(&error)
        }
    }
}

pub(super) async fn add_partitions_to_txn(
    context: &Scope<'_>,
    request: AddPartitionsToTxnRequest,
    _version: i16,
) -> AddPartitionsToTxnResponse {
    let mut partitions = Vec::new();
    let mut negative = false;
    for topic in &request.v3_and_below_topics {
        for index in &topic.partitions {
            match u32::try_from(*index) {
                Ok(partition) => partitions.push(TopicPartition {
                    topic: topic.name.0.as_str().to_owned(),
                    partition,
                }),
                Err(_) => negative = true,
            }
        }
    }
    // All or nothing, as Kafka adds them: one refused partition refuses the others
    // (OPERATION_NOT_ATTEMPTED), naming its own error.
    let (refused, failed) = if negative {
        (None, code::UNKNOWN_TOPIC_OR_PARTITION)
    } else {
        let call = TxnRequest::AddPartitions {
            transactional_id: request.v3_and_below_transactional_id.0.as_str().to_owned(),
            producer: producer(
                request.v3_and_below_producer_id,
                request.v3_and_below_producer_epoch,
            ),
            partitions,
        };
        let added = match authorize_step(context, &call) {
            Ok(()) => context.state.coordinator.transaction(call).await,
            Err(denied) => Err(denied),
        };
        match added {
            Ok(_) => (None, code::NONE),
            Err(error) => {
                let culprit = match &error {
                    CoordinatorError::TopicNotFound(topic) => Some((topic.clone(), None)),
                    CoordinatorError::PartitionNotFound {
                        topic, partition, ..
                    } => Some((topic.clone(), Some(*partition))),
                    _ => None,
                };
                (culprit, error_code(&error))
            }
        }
    };
    let mut response = AddPartitionsToTxnResponse::default();
    response.results_by_topic_v3_and_below = request
        .v3_and_below_topics
        .into_iter()
        .map(|topic| {
            let mut answered =
                add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default();
            answered.results_by_partition = topic
                .partitions
                .iter()
                .map(|index| {
                    let mut result =
                        add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default(
                        );
                    result.partition_index = *index;
                    let guilty = match &refused {
                        None => true,
                        Some((name, partition)) => {
                            name == topic.name.0.as_str()
                                && partition.is_none_or(|p| i64::from(p) == i64::from(*index))
                        }
                    };
                    result.partition_error_code = if failed == code::NONE || guilty {
                        failed
                    } else {
                        code::OPERATION_NOT_ATTEMPTED
                    };
                    result
                })
                .collect();
            answered.name = topic.name;
            answered
        })
        .collect();
    response
}

pub(super) async fn add_offsets_to_txn(
    context: &Scope<'_>,
    request: AddOffsetsToTxnRequest,
    _version: i16,
) -> AddOffsetsToTxnResponse {
    let call = TxnRequest::AddOffsets {
        transactional_id: request.transactional_id.0.as_str().to_owned(),
        producer: producer(request.producer_id, request.producer_epoch),
        group: request.group_id.0.as_str().to_owned(),
    };
    let mut response = AddOffsetsToTxnResponse::default();
    response.error_code = step(context, call).await;
    response
}

pub(super) async fn end_txn(
    context: &Scope<'_>,
    request: EndTxnRequest,
    _version: i16,
) -> EndTxnResponse {
    let call = TxnRequest::End {
        transactional_id: request.transactional_id.0.as_str().to_owned(),
        producer: producer(request.producer_id, request.producer_epoch),
        commit: request.committed,
    };
    let mut response = EndTxnResponse::default();
    response.error_code = step(context, call).await;
    response
}

/// TxnOffsetCommit: the offsets become the group's when the transaction commits. From
/// version 3 the request names the consumer's member and generation (KIP-447), which
/// must be current in the group, so that a consumer fenced by a rebalance cannot commit.
pub(super) async fn txn_offset_commit(
    context: &Scope<'_>,
    request: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let group = request.group_id.0.as_str().to_owned();
    let mut failed = code::NONE;
    if version >= 3 && !request.member_id.is_empty() && request.generation_id >= 0 {
        let call = KafkaGroupRequest::Heartbeat {
            group: group.clone(),
            member_id: request.member_id.as_str().to_owned(),
            generation: request.generation_id,
            group_instance_id: instance_id(request.group_instance_id.as_ref(), version, 3),
        };
        let answer = done_code(group_call(context, call).await);
        debug!(
            group,
            answer, "transactional offset commit: the member's generation"
        );
        // A rebalance under way does not make the member's generation stale.
        if answer != code::NONE && answer != code::REBALANCE_IN_PROGRESS {
            failed = answer;
        }
    }
    let mut offsets = Vec::new();
    for topic in &request.topics {
        for partition in &topic.partitions {
            let (Ok(index), Ok(offset)) = (
                u32::try_from(partition.partition_index),
                u64::try_from(partition.committed_offset),
            ) else {
                failed = code::INVALID_REQUEST;
                continue;
            };
            offsets.push(TxnOffset {
                topic: topic.name.0.as_str().to_owned(),
                partition: index,
                offset,
                metadata: partition
                    .committed_metadata
                    .as_ref()
                    .map_or(String::new(), |metadata| metadata.as_str().to_owned()),
                leader_epoch: (version >= 2 && partition.committed_leader_epoch >= 0)
                    .then_some(partition.committed_leader_epoch),
            });
        }
    }
    if failed == code::NONE {
        let call = TxnRequest::CommitOffsets {
            transactional_id: request.transactional_id.0.as_str().to_owned(),
            producer: producer(request.producer_id, request.producer_epoch),
            group,
            offsets,
            only_forward: false,
            generation: None,
        };
        failed = step(context, call).await;
    }
    let mut response = TxnOffsetCommitResponse::default();
    response.topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let mut answered = txn_offset_commit_response::TxnOffsetCommitResponseTopic::default();
            answered.partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let mut result =
                        txn_offset_commit_response::TxnOffsetCommitResponsePartition::default();
                    result.partition_index = partition.partition_index;
                    result.error_code = failed;
                    result
                })
                .collect();
            answered.name = topic.name;
            answered
        })
        .collect();
    response
}

fn state_name(state: TxnState) -> kafka_protocol::protocol::StrBytes {
    str_bytes(state.kafka_name())
}

pub(super) async fn describe_transactions(
    context: &Scope<'_>,
    request: DescribeTransactionsRequest,
    _version: i16,
) -> DescribeTransactionsResponse {
    let ids: Vec<String> = request
        .transactional_ids
        .iter()
        .map(|id| id.0.as_str().to_owned())
        .collect();
    let call = TxnRequest::Describe {
        transactional_ids: ids.clone(),
    };
    let answer = context.state.coordinator.transaction(call).await;
    let mut response = DescribeTransactionsResponse::default();
    for id in ids {
        let mut state = describe_transactions_response::TransactionState::default();
        state.transactional_id = TransactionalId(str_bytes(&id));
        match &answer {
            _ if !context.allowed(Operation::Describe, ResourceType::TransactionalId, &id) => {
                state.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            }
            Err(error) => state.error_code = error_code(error),
            Ok(TxnResponse::Described { transactions }) => {
                match transactions.iter().find(|txn| txn.transactional_id == id) {
                    None => state.error_code = code::TRANSACTIONAL_ID_NOT_FOUND,
                    Some(txn) => {
                        state.transaction_state = state_name(txn.state);
                        state.transaction_timeout_ms = txn.timeout_ms;
                        state.transaction_start_time_ms = txn.started_at_ms;
                        state.producer_id = ProducerId(txn.producer_id);
                        state.producer_epoch = i16::try_from(txn.epoch).unwrap_or(i16::MAX);
                        let mut topics: Vec<describe_transactions_response::TopicData> = Vec::new();
                        for partition in &txn.partitions {
                            let index = i32::try_from(partition.partition).unwrap_or(i32::MAX);
                            match topics.last_mut() {
                                Some(topic) if topic.topic.0.as_str() == partition.topic => {
                                    topic.partitions.push(index);
                                }
                                _ => {
                                    let mut topic =
                                        describe_transactions_response::TopicData::default();
                                    topic.topic = topic_name(&partition.topic);
                                    topic.partitions.push(index);
                                    topics.push(topic);
                                }
                            }
                        }
                        state.topics = topics;
                    }
                }
            }
            Ok(_) => state.error_code = code::UNKNOWN_SERVER_ERROR,
        }
        response.transaction_states.push(state);
    }
    response
}

pub(super) async fn list_transactions(
    context: &Scope<'_>,
    request: ListTransactionsRequest,
    version: i16,
) -> ListTransactionsResponse {
    let mut response = ListTransactionsResponse::default();
    let mut states = Vec::new();
    for name in &request.state_filters {
        match TxnState::from_kafka_name(name.as_str()) {
            Some(state) => states.push(state),
            None => response.unknown_state_filters.push(name.clone()),
        }
    }
    if !request.state_filters.is_empty() && states.is_empty() {
        // Only unknown states: none can match.
        return response;
    }
    let call = TxnRequest::List {
        states,
        producer_ids: request.producer_id_filters.iter().map(|id| id.0).collect(),
    };
    match context.state.coordinator.transaction(call).await {
        Err(error) => response.error_code = error_code(&error),
        Ok(TxnResponse::Described { mut transactions }) => {
            transactions.retain(|txn| {
                context.allowed(
                    Operation::Describe,
                    ResourceType::TransactionalId,
                    &txn.transactional_id,
                )
            });
            let now = silt_core::now_ms();
            // v1+: only transactions open for longer than the filter (-1: all).
            let min_duration = if version >= 1 {
                request.duration_filter
            } else {
                -1
            };
            for txn in transactions {
                let open_for = if txn.started_at_ms >= 0 {
                    now - txn.started_at_ms
                } else {
                    -1
                };
                if min_duration >= 0 && open_for < min_duration {
                    continue;
                }
                let mut state = list_transactions_response::TransactionState::default();
                state.transactional_id = TransactionalId(str_bytes(&txn.transactional_id));
                state.producer_id = ProducerId(txn.producer_id);
                state.transaction_state = state_name(txn.state);
                response.transaction_states.push(state);
            }
        }
        Ok(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
    }
    response
}
