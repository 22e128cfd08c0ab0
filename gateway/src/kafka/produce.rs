//! Produce and InitProducerId: record batches decoded by Silt, checked, and handed to
//! the batcher; answered once their records are durable.

use bytes::{Bytes, BytesMut};
use futures::future::join_all;
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    produce_response,
};
use silt_core::coordinator::{CoordinatorError, KafkaBatchStamp, Topic};
use silt_core::record::{RecordParts, bytes_are_json, key_is_binary};
use silt_core::security::{Operation, ResourceType};
use silt_core::topic_configs::TimestampType;
use silt_core::transactions::{TxnRequest, TxnResponse};
use tracing::debug;

use crate::batcher::PendingProduce;
use crate::produce::{KeptBatch, PreparedProduce, PreparedRecord};

use super::batch;
use super::codes::error_code;
use super::codes::kafka as code;
use super::context::{Scope, str_bytes};

pub(super) async fn init_producer_id(
    context: &Scope<'_>,
    request: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    let allowed = match &request.transactional_id {
        Some(id) => context.allowed(
            Operation::Write,
            ResourceType::TransactionalId,
            id.0.as_str(),
        ),
        None => context
            .state
            .security
            .may_write_idempotently(context.caller),
    };
    if !allowed {
        response.error_code = if request.transactional_id.is_some() {
            code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        } else {
            code::CLUSTER_AUTHORIZATION_FAILED
        };
        return response;
    }
    if let Some(transactional_id) = &request.transactional_id {
        let call = TxnRequest::InitProducer {
            transactional_id: transactional_id.0.as_str().to_owned(),
            timeout_ms: request.transaction_timeout_ms,
        };
        match context.state.coordinator.transaction(call).await {
            Ok(TxnResponse::Producer { producer }) => match i16::try_from(producer.epoch) {
                Ok(epoch) => {
                    response.producer_id = producer.producer_id.into();
                    response.producer_epoch = epoch;
                }
                Err(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
            },
            Ok(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
            Err(CoordinatorError::InvalidArgument(message)) if message.contains("timeout") => {
                response.error_code = code::INVALID_TRANSACTION_TIMEOUT;
            }
            Err(error) => response.error_code = error_code(&error),
        }
        return response;
    }
    let existing = (request.producer_id.0 >= 0).then_some(request.producer_id.0);
    match context.state.coordinator.init_producer(existing).await {
        Ok(identity) => match i16::try_from(identity.epoch) {
            Ok(epoch) => {
                response.producer_id = identity.producer_id.into();
                response.producer_epoch = epoch;
            }
            Err(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
        },
        Err(CoordinatorError::UnknownProducer(_)) => {
            // Forgotten (idle too long): a new id serves the client as well.
            match context.state.coordinator.init_producer(None).await {
                Ok(identity) => {
                    response.producer_id = identity.producer_id.into();
                    response.producer_epoch = 0;
                }
                Err(error) => response.error_code = error_code(&error),
            }
        }
        Err(error) => response.error_code = error_code(&error),
    }
    response
}

/// What one partition of a produce request came to.
pub(super) struct PartitionAnswer {
    index: i32,
    error_code: i16,
    base_offset: i64,
    message: Option<String>,
    log_start_offset: i64,
    /// The append time a LogAppendTime topic stamped the records with; -1 otherwise.
    log_append_time_ms: i64,
}

/// Validates and decodes a produce request and submits its records to the batcher, in
/// request order; the returned future answers once they are durable.
pub(super) async fn produce(
    context: &Scope<'_>,
    request: ProduceRequest,
) -> impl Future<Output = ProduceResponse> + Send + 'static {
    let mut topics = Vec::with_capacity(request.topic_data.len());
    // A transactional producer needs WRITE on its transactional id, as on each topic.
    let transaction_denied = request.transactional_id.as_ref().and_then(|id| {
        context
            .require(
                Operation::Write,
                ResourceType::TransactionalId,
                id.0.as_str(),
            )
            .err()
    });
    for topic in request.topic_data {
        let name = topic.name.0.as_str().to_owned();
        let found = match (
            &transaction_denied,
            context.require(Operation::Write, ResourceType::Topic, &name),
        ) {
            (Some(denied), _) => Err(denied.clone()),
            (None, Err(denied)) => Err(denied),
            (None, Ok(())) => context.state.coordinator.get_topic(&name).await,
        };
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            partitions.push(match &found {
                Err(error) => PartitionPending::Done(PartitionAnswer {
                    index: data.index,
                    error_code: error_code(error),
                    base_offset: -1,
                    message: Some(error.to_string()),
                    log_start_offset: -1,
                    log_append_time_ms: -1,
                }),
                Ok(found) => produce_partition(context, found, data.index, data.records).await,
            });
        }
        topics.push((topic.name, partitions));
    }
    async move {
        let mut response = ProduceResponse::default();
        for (name, partitions) in topics {
            let answers = join_all(partitions.into_iter().map(PartitionPending::answer)).await;
            let mut answered = produce_response::TopicProduceResponse::default();
            answered.name = name;
            answered.partition_responses = answers
                .into_iter()
                .map(|answer| {
                    let mut partition = produce_response::PartitionProduceResponse::default();
                    partition.index = answer.index;
                    partition.error_code = answer.error_code;
                    partition.base_offset = answer.base_offset;
                    partition.log_append_time_ms = answer.log_append_time_ms;
                    partition.log_start_offset = answer.log_start_offset;
                    partition.error_message = answer.message.as_deref().map(str_bytes);
                    partition
                })
                .collect();
            response.responses.push(answered);
        }
        response
    }
}

/// A partition of a produce request: answered already (refused), or submitted and
/// waiting for its records to be durable.
pub(super) enum PartitionPending {
    Done(PartitionAnswer),
    Submitted {
        index: i32,
        pending: Vec<PendingProduce>,
        log_append_time_ms: i64,
    },
}

impl PartitionPending {
    async fn answer(self) -> PartitionAnswer {
        let (index, pending, log_append_time_ms) = match self {
            PartitionPending::Done(answer) => return answer,
            PartitionPending::Submitted {
                index,
                pending,
                log_append_time_ms,
            } => (index, pending, log_append_time_ms),
        };
        let mut base_offset = None;
        for produce in pending {
            match produce.durable().await {
                Ok(offsets) => {
                    base_offset =
                        base_offset.or_else(|| offsets.first().map(|(_, offset)| *offset as i64));
                }
                Err(error) => {
                    return PartitionAnswer {
                        index,
                        error_code: produce_error_code(error.error_code),
                        base_offset: -1,
                        message: Some(error.message),
                        log_start_offset: -1,
                        log_append_time_ms: -1,
                    };
                }
            }
        }
        PartitionAnswer {
            index,
            error_code: code::NONE,
            base_offset: base_offset.unwrap_or(-1),
            message: None,
            log_start_offset: -1,
            log_append_time_ms,
        }
    }
}

/// Decodes a partition's record batches into Silt records and produces them through the
/// batcher: acknowledged once durable, like an HTTP produce.
pub(super) async fn produce_partition(
    context: &Scope<'_>,
    topic: &Topic,
    index: i32,
    records: Option<Bytes>,
) -> PartitionPending {
    let failed = |error_code: i16, message: String| {
        PartitionPending::Done(PartitionAnswer {
            index,
            error_code,
            base_offset: -1,
            message: Some(message),
            log_start_offset: -1,
            log_append_time_ms: -1,
        })
    };
    let partition = match u32::try_from(index) {
        Ok(partition) if partition < topic.partitions => partition,
        _ => {
            return failed(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic {} has no partition {index}", topic.name),
            );
        }
    };
    // The records of a partition may decompress to at most the body limit of an HTTP
    // produce request.
    let raw = records.unwrap_or_default();
    let sets = match batch::decode_batches(raw, context.state.config.max_body_bytes) {
        Ok(sets) => sets,
        Err(error) => {
            debug!(topic = %topic.name, partition, %error, "undecodable record batch");
            let code = match error {
                batch::BatchError::TooLarge { .. } => code::MESSAGE_TOO_LARGE,
                _ => code::CORRUPT_MESSAGE,
            };
            return failed(code, format!("record batch: {error}"));
        }
    };
    let record_count: usize = sets.iter().map(|set| set.records.len()).sum();
    if record_count > crate::produce::MAX_RECORDS_PER_REQUEST {
        return failed(
            code::MESSAGE_TOO_LARGE,
            format!(
                "{record_count} records; a partition of a produce request holds at most {}",
                crate::produce::MAX_RECORDS_PER_REQUEST
            ),
        );
    }
    if sets
        .iter()
        .any(|set| set.transactional && kafka_stamp(set).is_none())
    {
        return failed(
            code::INVALID_RECORD,
            "a transactional record batch needs a producer id and a base sequence".into(),
        );
    }
    // One limit for a record batch as sent and for each record in it: the topic's
    // max.message.bytes, else the gateway's record limit (what DescribeConfigs shows).
    let max_message_bytes = topic
        .configs
        .max_message_bytes(context.state.config.max_record_bytes);
    if let Some(set) = sets
        .iter()
        .find(|set| set.size_in_bytes > max_message_bytes)
    {
        return failed(
            code::MESSAGE_TOO_LARGE,
            format!(
                "a record batch of {} bytes exceeds the topic's max.message.bytes of {max_message_bytes}",
                set.size_in_bytes
            ),
        );
    }
    let compacted = topic.configs.cleanup_policy().compacts();
    // A LogAppendTime topic's records carry the time the gateway took them.
    let log_append_time =
        (topic.configs.timestamp_type() == TimestampType::LogAppendTime).then(silt_core::now_ms);
    // Batches whose records sit at their offsets are kept as sent (codec, producer and
    // sequence), so a Kafka consumer is served the same bytes; others (and every batch
    // of a LogAppendTime topic, whose times the gateway sets) are encoded record by
    // record.
    let keep = log_append_time.is_none() && sets.iter().all(batch::KafkaBatch::keeps_positions);
    // The batches of an idempotent producer are produced one by one, each in a chunk of
    // its own, so the coordinator can check its sequence; plain batches go together.
    let idempotent = sets.iter().any(|set| kafka_stamp(set).is_some());
    let mut produces = Vec::new();
    let mut data = BytesMut::new();
    let mut prepared = Vec::new();
    let mut kept = Vec::new();
    for set in sets.iter().filter(|set| !set.control) {
        let (mut min_timestamp, mut max_timestamp) = (i64::MAX, i64::MIN);
        let mut decoded_bytes = 0;
        for record in &set.records {
            if compacted && record.key.is_none() {
                return failed(
                    code::INVALID_RECORD,
                    crate::produce::null_key_refusal(topic),
                );
            }
            let key = record.key.as_deref().map(|key| (key, key_is_binary(key)));
            // Null stays null (a tombstone), apart from empty.
            let value = record.value.as_deref();
            let headers: Vec<(&str, Option<&[u8]>)> = record
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_deref()))
                .collect();
            let parts = RecordParts {
                timestamp: log_append_time.unwrap_or(record.timestamp),
                key,
                value,
                // Decided below, for a record encoded by Silt only.
                value_is_json: false,
                headers: &headers,
                log_append_time: log_append_time.is_some(),
            };
            if let Some(reason) = parts.format_error() {
                return failed(code::INVALID_RECORD, reason.into());
            }
            if parts.encoded_len() > max_message_bytes {
                return failed(
                    code::MESSAGE_TOO_LARGE,
                    format!(
                        "a record of {} bytes exceeds the limit of {max_message_bytes}",
                        parts.encoded_len()
                    ),
                );
            }
            min_timestamp = min_timestamp.min(parts.timestamp);
            max_timestamp = max_timestamp.max(parts.timestamp);
            decoded_bytes += parts.encoded_len();
            if keep {
                continue;
            }
            let parts = RecordParts {
                value_is_json: value.is_some_and(bytes_are_json),
                ..parts
            };
            let start = data.len();
            parts.encode(&mut data);
            prepared.push(PreparedRecord {
                partition,
                start,
                end: data.len(),
                timestamp: parts.timestamp,
            });
        }
        if keep {
            kept.push(KeptBatch {
                partition,
                raw: set.raw.clone(),
                record_count: set.records.len() as u32,
                min_timestamp,
                max_timestamp,
                decoded_bytes,
            });
        }
        if idempotent && (!prepared.is_empty() || !kept.is_empty()) {
            let Some(stamp) = kafka_stamp(set) else {
                return failed(
                    code::INVALID_RECORD,
                    "an idempotent producer's request mixes stamped and unstamped batches".into(),
                );
            };
            produces.push(PreparedProduce {
                data: std::mem::take(&mut data).freeze(),
                records: std::mem::take(&mut prepared),
                batches: std::mem::take(&mut kept),
                producer: None,
                kafka: Some(stamp),
                txn: None,
            });
        }
    }
    if !prepared.is_empty() || !kept.is_empty() {
        produces.push(PreparedProduce {
            data: data.freeze(),
            records: prepared,
            batches: kept,
            producer: None,
            kafka: None,
            txn: None,
        });
    }
    if produces.is_empty() {
        return failed(code::CORRUPT_MESSAGE, "no records in the batch".into());
    }
    let mut pending = Vec::with_capacity(produces.len());
    for produce in produces {
        match context.state.batcher.submit(topic, produce).await {
            Ok(submitted) => pending.push(submitted),
            // What was submitted before still lands; the client's retry of the whole
            // partition is recognised for idempotent producers.
            Err(error) => return failed(produce_error_code(error.error_code), error.message),
        }
    }
    PartitionPending::Submitted {
        index,
        pending,
        log_append_time_ms: log_append_time.unwrap_or(-1),
    }
}

/// The producer id, epoch and base sequence of an idempotent producer's batch.
pub(super) fn kafka_stamp(set: &batch::KafkaBatch) -> Option<KafkaBatchStamp> {
    (set.producer_id >= 0 && set.base_sequence >= 0).then_some(KafkaBatchStamp {
        producer_id: set.producer_id,
        epoch: i32::from(set.producer_epoch),
        base_sequence: set.base_sequence,
        transactional: set.transactional,
    })
}

/// The Kafka error code for a produce the batcher or the coordinator refused.
pub(super) fn produce_error_code(error_code: &str) -> i16 {
    match error_code {
        "topic_not_found" => code::UNKNOWN_TOPIC_OR_PARTITION,
        "out_of_order_sequence" => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
        "duplicate_sequence" => code::DUPLICATE_SEQUENCE_NUMBER,
        "producer_fenced" | "invalid_producer_epoch" => code::INVALID_PRODUCER_EPOCH,
        "invalid_txn_state" => code::INVALID_TXN_STATE,
        "unknown_producer" => code::UNKNOWN_PRODUCER_ID,
        "sequence_reused" => code::INVALID_RECORD,
        // Backpressure and storage failures alike are retriable for the client.
        _ => code::KAFKA_STORAGE_ERROR,
    }
}
