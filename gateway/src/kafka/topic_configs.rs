//! Kafka's topic configs as Silt takes them, for CreateTopics and for AlterConfigs and
//! IncrementalAlterConfigs, checked as a broker checks them: each config has one rule
//! here ([`rule`]). `retention.ms` and `retention.bytes` are applied; the configs of
//! [`silt_core::topic_configs`] (`cleanup.policy`, `delete.retention.ms`,
//! `min.compaction.lag.ms`, `message.timestamp.type`, `max.message.bytes`) are stored
//! and honoured, their values checked by that module's rules; other configs Kafka knows
//! have no effect here (replication, segment files, flushing are the bucket's
//! business): CreateTopics accepts them, and an alter call, which asks for a change
//! Silt would not make, refuses them with `INVALID_CONFIG`. A name Kafka does not know
//! is `INVALID_CONFIG` everywhere.

use kafka_protocol::messages::create_topics_request::CreatableTopic;

use silt_core::coordinator::{Setting, TopicAlteration};
use silt_core::topic_configs::{CLEANUP_POLICY, STORED_CONFIGS, TopicConfigs};

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

/// Silt's own topic config: the value schema whose properties become typed Parquet
/// columns (see `silt_core::schema`), as JSON. It is set when a topic is created and
/// fixed after, as the typed columns of its compacted files follow it.
pub const VALUE_SCHEMA: &str = "silt.value.schema";

/// A topic as CreateTopics asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub partitions: u32,
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<i64>,
    pub configs: TopicConfigs,
    pub value_schema: Option<serde_json::Value>,
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
        configs: TopicConfigs::default(),
        value_schema: None,
    };
    for entry in &creatable.configs {
        let name = entry.name.as_str();
        let value = entry.value.as_ref().map(|value| value.as_str());
        match rule(name)? {
            Rule::RetentionMs => topic.retention_ms = Some(number(name, value)?),
            Rule::RetentionBytes => topic.retention_bytes = Some(number(name, value)?),
            Rule::Stored => topic
                .configs
                .set(name, value)
                .map_err(|error| (INVALID_CONFIG, error.to_string()))?,
            Rule::ValueSchema => topic.value_schema = Some(value_schema(value)?),
            Rule::NoEffect => {}
        }
    }
    Ok(topic)
}

/// How Silt takes one of Kafka's topic configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    RetentionMs,
    RetentionBytes,
    /// A config of [`silt_core::topic_configs`], stored with the topic and honoured.
    Stored,
    /// [`VALUE_SCHEMA`]: set at creation, fixed after.
    ValueSchema,
    /// A config Kafka knows that has no effect on Silt's topics.
    NoEffect,
}

/// A [`VALUE_SCHEMA`] value: a JSON schema Silt can type columns from.
fn value_schema(value: Option<&str>) -> Result<serde_json::Value, (i16, String)> {
    let invalid = |why: String| (INVALID_CONFIG, format!("{VALUE_SCHEMA}: {why}"));
    let schema: serde_json::Value = serde_json::from_str(value.unwrap_or_default())
        .map_err(|error| invalid(format!("not JSON: {error}")))?;
    silt_core::schema::ValueSchema::parse(&schema).map_err(invalid)?;
    Ok(schema)
}

/// The rule of a config name; a name Kafka does not know is `INVALID_CONFIG`.
pub fn rule(name: &str) -> Result<Rule, (i16, String)> {
    match name {
        "retention.ms" => Ok(Rule::RetentionMs),
        "retention.bytes" => Ok(Rule::RetentionBytes),
        VALUE_SCHEMA => Ok(Rule::ValueSchema),
        stored if STORED_CONFIGS.contains(&stored) => Ok(Rule::Stored),
        known if KAFKA_TOPIC_CONFIGS.contains(&known) => Ok(Rule::NoEffect),
        unknown => Err((INVALID_CONFIG, format!("unknown topic config {unknown:?}"))),
    }
}

fn number(name: &str, value: Option<&str>) -> Result<i64, (i16, String)> {
    value.and_then(|value| value.parse::<i64>().ok()).ok_or((
        INVALID_CONFIG,
        format!("{name} must be a number, got {value:?}"),
    ))
}

/// `cleanup.policy`, a list, after APPEND or SUBTRACT of `value`'s items.
fn listed_policy(current: &TopicConfigs, op: Op, value: Option<&str>) -> String {
    let mut items: Vec<&str> = match current.cleanup_policy() {
        silt_core::topic_configs::CleanupPolicy::Delete => vec!["delete"],
        silt_core::topic_configs::CleanupPolicy::Compact => vec!["compact"],
        silt_core::topic_configs::CleanupPolicy::CompactDelete => vec!["compact", "delete"],
    };
    for item in value.unwrap_or_default().split(',').map(str::trim) {
        match op {
            Op::Append if !items.contains(&item) => items.push(item),
            Op::Subtract => items.retain(|kept| *kept != item),
            _ => {}
        }
    }
    items.join(",")
}

/// IncrementalAlterConfigs' operations (AlterConfigs sets every config it names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    Delete,
    Append,
    Subtract,
}

impl Op {
    /// Kafka's operation codes: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT.
    pub fn from_code(code: i8) -> Result<Op, (i16, String)> {
        match code {
            0 => Ok(Op::Set),
            1 => Ok(Op::Delete),
            2 => Ok(Op::Append),
            3 => Ok(Op::Subtract),
            other => Err((INVALID_REQUEST, format!("unknown config operation {other}"))),
        }
    }
}

/// The change an alter call asks of a topic whose configs are `current`: each (name,
/// operation, value) in turn. With `replace` (AlterConfigs), the configs not named go
/// back to their defaults, as AlterConfigs replaces a topic's whole set. Values are
/// checked by the coordinator, by the rules of [`silt_core::topic_configs`].
pub fn alteration(
    configs: &[(&str, Op, Option<&str>)],
    replace: bool,
    current: &TopicConfigs,
) -> Result<TopicAlteration, (i16, String)> {
    let mut alteration = TopicAlteration::default();
    if replace {
        alteration.retention_ms = Some(Setting::Default);
        alteration.retention_bytes = Some(Setting::Default);
        alteration.reset_configs = true;
    }
    for (index, (name, op, value)) in configs.iter().enumerate() {
        if configs[..index].iter().any(|(other, ..)| other == name) {
            return Err((INVALID_REQUEST, format!("config {name:?} is named twice")));
        }
        let rule = rule(name)?;
        let list_op = matches!(op, Op::Append | Op::Subtract);
        match rule {
            Rule::RetentionMs | Rule::RetentionBytes => {
                if list_op {
                    return Err((
                        INVALID_REQUEST,
                        format!("{name} is not a list: APPEND and SUBTRACT do not apply to it"),
                    ));
                }
                let setting = match op {
                    Op::Delete => Setting::Default,
                    _ => Setting::Set(number(name, *value)?),
                };
                if rule == Rule::RetentionMs {
                    alteration.retention_ms = Some(setting);
                } else {
                    alteration.retention_bytes = Some(setting);
                }
            }
            Rule::Stored => {
                let value = match op {
                    Op::Set => Some(value.unwrap_or_default().to_owned()),
                    Op::Delete => None,
                    Op::Append | Op::Subtract if *name == CLEANUP_POLICY => {
                        Some(listed_policy(current, *op, *value))
                    }
                    Op::Append | Op::Subtract => {
                        return Err((
                            INVALID_REQUEST,
                            format!("{name} is not a list: APPEND and SUBTRACT do not apply to it"),
                        ));
                    }
                };
                alteration.configs.push(((*name).to_owned(), value));
            }
            Rule::ValueSchema => {
                return Err((
                    INVALID_CONFIG,
                    format!(
                        "{VALUE_SCHEMA} is fixed when a topic is created: the typed columns of \
                         its compacted files follow it"
                    ),
                ));
            }
            // Back to the default, which it always has here.
            Rule::NoEffect if *op == Op::Delete => {}
            Rule::NoEffect => {
                return Err((
                    INVALID_CONFIG,
                    format!(
                        "Silt does not honour {name}: its topics keep the default; the configs it \
                         changes are retention.ms, retention.bytes and {}",
                        STORED_CONFIGS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(alteration)
}

#[cfg(test)]
mod tests;
