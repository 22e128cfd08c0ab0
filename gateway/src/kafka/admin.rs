//! The Kafka APIs admin clients and tools call about the cluster and its topics:
//! DescribeConfigs, DescribeCluster, DeleteRecords and OffsetForLeaderEpoch.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    BrokerId, DeleteRecordsRequest, DeleteRecordsResponse, DescribeClusterRequest,
    DescribeClusterResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, delete_records_response,
    offset_for_leader_epoch_response,
};
use kafka_protocol::protocol::StrBytes;
use silt_core::Coordinator;
use silt_core::coordinator::{CoordinatorError, Topic};

use super::codes::error_code;
use super::codes::kafka as code;
use super::topic_configs::{self, Rule, VALUE_SCHEMA};
use silt_core::topic_configs::{
    CLEANUP_POLICY, DEFAULT_DELETE_RETENTION_MS, DELETE_RETENTION_MS, MAX_MESSAGE_BYTES,
    MESSAGE_TIMESTAMP_TYPE, MIN_COMPACTION_LAG_MS,
};

/// The one leader epoch Silt has: every gateway leads every partition, always.
const LEADER_EPOCH: i32 = 0;

/// What the broker-level answers are made of.
pub struct Broker<'a> {
    pub node_id: i32,
    pub host: &'a str,
    pub port: u16,
    pub max_record_bytes: usize,
    pub auto_create_partitions: u32,
}

/// DescribeConfigs resource types and config sources and types.
pub(super) const TOPIC: i8 = 2;
pub(super) const BROKER: i8 = 4;
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;
const LIST: i8 = 7;

/// A config as DescribeConfigs shows it: name, value, source, type.
/// (name, value, source, type); the value schema's empty value is Kafka's null.
type Config = (&'static str, String, i8, i8);

fn topic_configs(topic: &Topic, broker: &Broker<'_>) -> Vec<Config> {
    let retention = |value: Option<i64>| match value {
        Some(value) => (value.to_string(), DYNAMIC_TOPIC_CONFIG),
        None => ("-1".to_owned(), DEFAULT_CONFIG),
    };
    let (retention_ms, retention_ms_source) = retention(topic.retention_ms);
    let (retention_bytes, retention_bytes_source) = retention(topic.retention_bytes);
    let configs = &topic.configs;
    // A stored config as set (dynamic), else its default.
    let stored = |name: &'static str, default: String, kind: i8| -> Config {
        match configs.get(name) {
            Some(value) => (name, value, DYNAMIC_TOPIC_CONFIG, kind),
            None => (name, default, DEFAULT_CONFIG, kind),
        }
    };
    vec![
        stored(CLEANUP_POLICY, "delete".into(), LIST),
        (
            "compression.type",
            "producer".into(),
            DEFAULT_CONFIG,
            STRING,
        ),
        stored(
            DELETE_RETENTION_MS,
            DEFAULT_DELETE_RETENTION_MS.to_string(),
            LONG,
        ),
        stored(MAX_MESSAGE_BYTES, broker.max_record_bytes.to_string(), INT),
        stored(MESSAGE_TIMESTAMP_TYPE, "CreateTime".into(), STRING),
        stored(MIN_COMPACTION_LAG_MS, "0".into(), LONG),
        ("min.insync.replicas", "1".into(), DEFAULT_CONFIG, INT),
        (
            "retention.bytes",
            retention_bytes,
            retention_bytes_source,
            LONG,
        ),
        ("retention.ms", retention_ms, retention_ms_source, LONG),
        match &topic.value_schema {
            Some(schema) => (
                VALUE_SCHEMA,
                schema.to_string(),
                DYNAMIC_TOPIC_CONFIG,
                STRING,
            ),
            None => (VALUE_SCHEMA, String::new(), DEFAULT_CONFIG, STRING),
        },
    ]
}

fn broker_configs(broker: &Broker<'_>) -> Vec<Config> {
    vec![
        (
            "auto.create.topics.enable",
            (broker.auto_create_partitions > 0).to_string(),
            STATIC_BROKER_CONFIG,
            BOOLEAN,
        ),
        (
            "default.replication.factor",
            "1".into(),
            STATIC_BROKER_CONFIG,
            INT,
        ),
        (
            "message.max.bytes",
            broker.max_record_bytes.to_string(),
            STATIC_BROKER_CONFIG,
            INT,
        ),
        (
            "num.partitions",
            broker.auto_create_partitions.max(1).to_string(),
            STATIC_BROKER_CONFIG,
            INT,
        ),
    ]
}

/// Topic configs (retention and the configs Silt honours as set, the rest as Silt
/// always has them) and the broker's own. Those Silt honours can be altered
/// (AlterConfigs, IncrementalAlterConfigs); the rest is read-only.
pub async fn describe_configs(
    coordinator: &dyn Coordinator,
    broker: &Broker<'_>,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for resource in request.resources {
        let mut result = DescribeConfigsResult::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        let name = resource.resource_name.as_str();
        let configs = match resource.resource_type {
            TOPIC => coordinator
                .get_topic(name)
                .await
                .map(|topic| topic_configs(&topic, broker))
                .map_err(|error| (error_code(&error), error.to_string())),
            BROKER if name.is_empty() || name == broker.node_id.to_string() => {
                Ok(broker_configs(broker))
            }
            BROKER => Err((
                code::INVALID_REQUEST,
                format!("the only broker is {}", broker.node_id),
            )),
            other => Err((
                code::INVALID_REQUEST,
                format!("resource type {other} has no configs here"),
            )),
        };
        match configs {
            Ok(configs) => {
                let wanted = resource.configuration_keys.as_ref();
                result.configs = configs
                    .into_iter()
                    .filter(|(name, ..)| {
                        wanted.is_none_or(|keys| keys.iter().any(|key| key.as_str() == *name))
                    })
                    .map(|(name, value, source, kind)| {
                        let mut config = DescribeConfigsResourceResult::default();
                        config.name = StrBytes::from_static_str(name);
                        config.value = (name != VALUE_SCHEMA || !value.is_empty())
                            .then(|| StrBytes::from_string(value));
                        // The value schema is set at creation and fixed after.
                        config.read_only = resource.resource_type != TOPIC
                            || !matches!(
                                topic_configs::rule(name),
                                Ok(Rule::RetentionMs | Rule::RetentionBytes | Rule::Stored)
                            );
                        config.config_source = source;
                        if version >= 3 {
                            config.config_type = kind;
                        }
                        config
                    })
                    .collect();
            }
            Err((error_code, message)) => {
                result.error_code = error_code;
                result.error_message = Some(StrBytes::from_string(message));
            }
        }
        response.results.push(result);
    }
    response
}

/// The cluster: one broker, which every gateway answers as.
pub fn describe_cluster(
    broker: &Broker<'_>,
    _request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default();
    if version >= 1 {
        response.endpoint_type = 1;
    }
    response.cluster_id = StrBytes::from_static_str("silt");
    response.controller_id = BrokerId(broker.node_id);
    let mut node = DescribeClusterBroker::default();
    node.broker_id = BrokerId(broker.node_id);
    node.host = StrBytes::from_string(broker.host.to_owned());
    node.port = i32::from(broker.port);
    response.brokers = vec![node];
    response.cluster_authorized_operations = i32::MIN;
    response
}

/// Moves each partition's log start up to the offset asked (-1: the high watermark);
/// records before it are no longer served. An offset past the high watermark is
/// `OFFSET_OUT_OF_RANGE`.
pub async fn delete_records(
    coordinator: &dyn Coordinator,
    request: DeleteRecordsRequest,
    _version: i16,
) -> DeleteRecordsResponse {
    let mut response = DeleteRecordsResponse::default();
    for topic in request.topics {
        let mut answered = delete_records_response::DeleteRecordsTopicResult::default();
        for wanted in topic.partitions {
            let mut result = delete_records_response::DeleteRecordsPartitionResult::default();
            result.partition_index = wanted.partition_index;
            result.low_watermark = -1;
            let Ok(partition) = u32::try_from(wanted.partition_index) else {
                result.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                answered.partitions.push(result);
                continue;
            };
            let outcome = async {
                let name = topic.name.0.as_str();
                let offsets = coordinator.partition_offsets(name, partition).await?;
                let before = match wanted.offset {
                    -1 => offsets.high_watermark,
                    offset => u64::try_from(offset)
                        .ok()
                        .filter(|offset| *offset <= offsets.high_watermark)
                        .ok_or(CoordinatorError::OffsetOutOfRange {
                            offset: offset.max(0) as u64,
                            log_start_offset: offsets.log_start_offset,
                            high_watermark: offsets.high_watermark,
                        })?,
                };
                coordinator.truncate_before(name, partition, before).await
            }
            .await;
            match outcome {
                Ok(offsets) => result.low_watermark = offsets.log_start_offset as i64,
                Err(error) => result.error_code = error_code(&error),
            }
            answered.partitions.push(result);
        }
        answered.name = topic.name;
        response.topics.push(answered);
    }
    response
}

/// The end offset of a leader epoch. Silt has one epoch, 0, so any epoch up to it ends
/// at the high watermark; a later one is unknown (-1, -1), as a broker answers.
pub async fn offset_for_leader_epoch(
    coordinator: &dyn Coordinator,
    request: OffsetForLeaderEpochRequest,
    _version: i16,
) -> OffsetForLeaderEpochResponse {
    let mut response = OffsetForLeaderEpochResponse::default();
    for topic in request.topics {
        let mut answered = offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default();
        for wanted in topic.partitions {
            let mut result = offset_for_leader_epoch_response::EpochEndOffset::default();
            result.partition = wanted.partition;
            result.leader_epoch = -1;
            result.end_offset = -1;
            if wanted.current_leader_epoch > LEADER_EPOCH {
                result.error_code = code::UNKNOWN_LEADER_EPOCH;
            } else if let Ok(partition) = u32::try_from(wanted.partition) {
                match coordinator
                    .partition_offsets(topic.topic.0.as_str(), partition)
                    .await
                {
                    Ok(offsets) if wanted.leader_epoch <= LEADER_EPOCH => {
                        result.leader_epoch = LEADER_EPOCH;
                        result.end_offset = offsets.high_watermark as i64;
                    }
                    Ok(_) => {}
                    Err(error) => result.error_code = error_code(&error),
                }
            } else {
                result.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
            }
            answered.partitions.push(result);
        }
        answered.topic = topic.topic;
        response.topics.push(answered);
    }
    response
}
