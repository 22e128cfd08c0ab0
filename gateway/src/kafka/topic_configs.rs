//! What a Kafka CreateTopics request asks of a topic, checked as a broker checks it:
//! the partition count or an explicit assignment (not both), and configs Kafka knows.
//! The ones Silt honours are applied; others Kafka knows are accepted and have no
//! effect here (replication, segment files, flushing are the bucket's business); a
//! name Kafka does not know is `INVALID_CONFIG`.

use kafka_protocol::messages::create_topics_request::CreatableTopic;

use super::codes::kafka::{
    INVALID_CONFIG, INVALID_PARTITIONS, INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST,
};

/// Topic configs Kafka defines (Kafka 3.x/4.x `TopicConfig`).
const KAFKA_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.format.version",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// A topic as CreateTopics asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub partitions: u32,
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<i64>,
}

/// Reads `creatable`; `default_partitions` stands for `num_partitions` -1. The error is
/// Kafka's code and a message naming what is wrong.
pub fn requested(
    creatable: &CreatableTopic,
    default_partitions: u32,
    node_id: i32,
) -> Result<Requested, (i16, String)> {
    let partitions = if creatable.assignments.is_empty() {
        match creatable.num_partitions {
            -1 => default_partitions,
            count => u32::try_from(count)
                .ok()
                .filter(|count| *count > 0)
                .ok_or((
                    INVALID_PARTITIONS,
                    format!("the number of partitions must be positive, got {count}"),
                ))?,
        }
    } else {
        if creatable.num_partitions != -1 || creatable.replication_factor != -1 {
            return Err((
                INVALID_REQUEST,
                "give the number of partitions and replication factor, or an assignment, \
                 not both"
                    .into(),
            ));
        }
        let count = creatable.assignments.len();
        let mut seen = vec![false; count];
        for assignment in &creatable.assignments {
            let index = usize::try_from(assignment.partition_index)
                .ok()
                .filter(|index| *index < count && !seen[*index])
                .ok_or((
                    INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "partitions must be numbered 0 to {} once each, got {}",
                        count - 1,
                        assignment.partition_index
                    ),
                ))?;
            seen[index] = true;
            if assignment.broker_ids.is_empty()
                || assignment
                    .broker_ids
                    .iter()
                    .any(|broker| broker.0 != node_id)
            {
                return Err((
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("the only broker is {node_id}"),
                ));
            }
        }
        u32::try_from(count).map_err(|_| (INVALID_PARTITIONS, "too many partitions".into()))?
    };
    let mut topic = Requested {
        partitions,
        retention_ms: None,
        retention_bytes: None,
    };
    for entry in &creatable.configs {
        let name = entry.name.as_str();
        let value = entry.value.as_ref().map(|value| value.as_str());
        let number = || {
            value.and_then(|value| value.parse::<i64>().ok()).ok_or((
                INVALID_CONFIG,
                format!("{name} must be a number, got {value:?}"),
            ))
        };
        match name {
            "retention.ms" => topic.retention_ms = Some(number()?),
            "retention.bytes" => topic.retention_bytes = Some(number()?),
            "cleanup.policy" if value != Some("delete") => {
                return Err((
                    INVALID_CONFIG,
                    format!(
                        "cleanup.policy {value:?} is not supported; Silt topics are \"delete\""
                    ),
                ));
            }
            known if KAFKA_TOPIC_CONFIGS.contains(&known) => {}
            unknown => {
                return Err((INVALID_CONFIG, format!("unknown topic config {unknown:?}")));
            }
        }
    }
    Ok(topic)
}

#[cfg(test)]
mod tests;
