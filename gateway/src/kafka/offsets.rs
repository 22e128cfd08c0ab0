//! ListOffsets: earliest, latest (the last stable offset for a read_committed consumer,
//! as a broker answers it) and by timestamp.

use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, list_offsets_response};
use silt_core::coordinator::CoordinatorError;
use silt_core::security::{Operation, ResourceType};
use silt_core::transactions::Isolation;

use super::codes::error_code;
use super::context::Scope;
use super::context::partition_number;
use super::fetch::read_error;

/// Earliest (-2), latest (-1) and by-timestamp offsets.
pub(super) async fn list_offsets(
    context: &Scope<'_>,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let isolation = if version >= 2 {
        Isolation::from_kafka(request.isolation_level)
    } else {
        Isolation::ReadUncommitted
    };
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_owned();
        let denied = context
            .require(Operation::Describe, ResourceType::Topic, &name)
            .err();
        let mut answered = list_offsets_response::ListOffsetsTopicResponse::default();
        answered.name = topic.name;
        for wanted in topic.partitions {
            let mut partition = list_offsets_response::ListOffsetsPartitionResponse::default();
            partition.partition_index = wanted.partition_index;
            partition.timestamp = -1;
            let found = async {
                if let Some(denied) = &denied {
                    return Err(denied.clone());
                }
                offset_for(
                    context,
                    &name,
                    wanted.partition_index,
                    wanted.timestamp,
                    isolation,
                )
                .await
            };
            match found.await {
                Ok((offset, timestamp)) => {
                    partition.offset = offset;
                    partition.timestamp = timestamp;
                }
                Err(error) => {
                    partition.error_code = error_code(&error);
                    partition.offset = -1;
                }
            }
            answered.partitions.push(partition);
        }
        response.topics.push(answered);
    }
    response
}

/// The offset (and its record's timestamp, or -1) that a ListOffsets query names.
pub(super) async fn offset_for(
    context: &Scope<'_>,
    topic: &str,
    partition: i32,
    timestamp: i64,
    isolation: Isolation,
) -> Result<(i64, i64), CoordinatorError> {
    let partition = partition_number(partition)?;
    let offsets = context
        .state
        .coordinator
        .partition_offsets(topic, partition)
        .await?;
    match timestamp {
        -2 => return Ok((offsets.log_start_offset as i64, -1)),
        -1 | -3 => return Ok((offsets.readable_end(isolation) as i64, -1)),
        _ => {}
    }
    // The first record at or after the timestamp; none: -1, as a broker answers.
    let found = context
        .state
        .reader
        .first_at_or_after(topic, partition, &offsets, timestamp)
        .await
        .map_err(read_error)?;
    Ok(found.map_or((-1, -1), |(offset, timestamp)| (offset as i64, timestamp)))
}
