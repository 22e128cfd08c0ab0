//! The Kafka APIs that change topics: CreatePartitions (a topic's partition count only
//! grows), and AlterConfigs and IncrementalAlterConfigs of topics (retention and the
//! configs Silt honours; the rules of each config are in [`super::topic_configs`]). The
//! broker's configs come from Silt's configuration and are read-only here. Every
//! call honours `validate_only`: checked in full, nothing changed.

use super::codes::kafka as code;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, CreatePartitionsRequest, CreatePartitionsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    create_partitions_response, incremental_alter_configs_response,
};
use kafka_protocol::protocol::StrBytes;
use silt_core::Coordinator;
use silt_core::coordinator::TopicAlteration;
use silt_core::security::{Operation, ResourceType};
use tracing::info;

use super::admin::{BROKER, TOPIC};
use super::codes::error_code;
use super::codes::kafka::{INVALID_PARTITIONS, INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST};
use super::context::{NODE_ID, Scope};
use super::topic_configs::{self, Op};

/// An error code and the message that explains it.
type Refusal = (i16, String);

/// The configs an alter call names: (name, operation, value).
type Configs<'a> = Vec<(&'a str, Op, Option<&'a str>)>;

fn refusal(error: silt_core::coordinator::CoordinatorError) -> Refusal {
    (error_code(&error), error.to_string())
}

/// Grows one topic to `topic.count` partitions. Explicit assignments name the new
/// partitions' brokers: one list per new partition, each only of this broker.
async fn grow(
    coordinator: &dyn Coordinator,
    topic: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), Refusal> {
    let name = topic.name.0.as_str();
    let count = u32::try_from(topic.count)
        .ok()
        .filter(|count| *count > 0)
        .ok_or_else(|| {
            (
                INVALID_PARTITIONS,
                format!(
                    "the number of partitions must be positive, got {}",
                    topic.count
                ),
            )
        })?;
    if let Some(assignments) = &topic.assignments {
        let current = coordinator
            .get_topic(name)
            .await
            .map_err(refusal)?
            .partitions;
        let added = count.saturating_sub(current) as usize;
        if count > current && assignments.len() != added {
            return Err((
                INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "{added} partitions are added and {} assignments given; give one per new partition",
                    assignments.len()
                ),
            ));
        }
        if assignments.iter().any(|assignment| {
            assignment.broker_ids.is_empty()
                || assignment
                    .broker_ids
                    .iter()
                    .any(|broker| broker.0 != NODE_ID)
        }) {
            return Err((
                INVALID_REPLICA_ASSIGNMENT,
                format!("the only broker is {NODE_ID}"),
            ));
        }
    }
    let alteration = TopicAlteration {
        partitions: Some(count),
        validate_only,
        ..TopicAlteration::default()
    };
    coordinator
        .alter_topic(name, alteration)
        .await
        .map_err(refusal)?;
    if !validate_only {
        info!(topic = name, partitions = count, "partitions created");
    }
    Ok(())
}

pub(super) async fn create_partitions(
    context: &Scope<'_>,
    request: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let coordinator = context.state.coordinator.as_ref();
    let mut response = CreatePartitionsResponse::default();
    for (index, topic) in request.topics.iter().enumerate() {
        let named_twice = request
            .topics
            .iter()
            .enumerate()
            .any(|(other, earlier)| other != index && earlier.name == topic.name);
        let outcome = if named_twice {
            Err((INVALID_REQUEST, "the topic is named twice".to_owned()))
        } else if !context.allowed(Operation::Alter, ResourceType::Topic, topic.name.0.as_str()) {
            Err((
                code::TOPIC_AUTHORIZATION_FAILED,
                format!("not allowed to alter topic {:?}", topic.name.0.as_str()),
            ))
        } else {
            grow(coordinator, topic, request.validate_only).await
        };
        let mut result = create_partitions_response::CreatePartitionsTopicResult::default();
        result.name = topic.name.clone();
        if let Err((error_code, message)) = outcome {
            result.error_code = error_code;
            result.error_message = Some(StrBytes::from_string(message));
        }
        response.results.push(result);
    }
    response
}

/// Applies `configs` to one resource: a topic's, or refuses.
async fn alter_resource(
    coordinator: &dyn Coordinator,
    resource_type: i8,
    name: &str,
    configs: Result<Configs<'_>, Refusal>,
    replace: bool,
    validate_only: bool,
) -> Result<(), Refusal> {
    match resource_type {
        TOPIC => {
            let configs = configs?;
            let current = coordinator.get_topic(name).await.map_err(refusal)?;
            let mut alteration = topic_configs::alteration(&configs, replace, &current.configs)?;
            alteration.validate_only = validate_only;
            let topic = coordinator
                .alter_topic(name, alteration)
                .await
                .map_err(refusal)?;
            if !validate_only {
                info!(
                    topic = name,
                    retention_ms = ?topic.retention_ms,
                    retention_bytes = ?topic.retention_bytes,
                    configs = ?topic.configs.pairs(),
                    "topic configs altered"
                );
            }
            Ok(())
        }
        BROKER => Err((
            INVALID_REQUEST,
            "the broker's configs are read-only: they come from Silt's configuration".into(),
        )),
        other => Err((
            INVALID_REQUEST,
            format!("resource type {other} has no configs that can be altered"),
        )),
    }
}

/// AlterConfigs: each resource's configs replaced by those given (retention not named
/// goes back to its default).
pub(super) async fn alter_configs(
    context: &Scope<'_>,
    request: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let coordinator = context.state.coordinator.as_ref();
    let mut response = AlterConfigsResponse::default();
    for resource in &request.resources {
        let configs = resource
            .configs
            .iter()
            .map(|config| {
                let value = config.value.as_ref().map(|value| value.as_str());
                (config.name.as_str(), Op::Set, value)
            })
            .collect();
        let outcome = match may_alter_configs(
            context,
            resource.resource_type,
            resource.resource_name.as_str(),
        ) {
            Err(refused) => Err(refused),
            Ok(()) => {
                alter_resource(
                    coordinator,
                    resource.resource_type,
                    resource.resource_name.as_str(),
                    Ok(configs),
                    true,
                    request.validate_only,
                )
                .await
            }
        };
        let mut answer = alter_configs_response::AlterConfigsResourceResponse::default();
        answer.resource_type = resource.resource_type;
        answer.resource_name = resource.resource_name.clone();
        if let Err((error_code, message)) = outcome {
            answer.error_code = error_code;
            answer.error_message = Some(StrBytes::from_string(message));
        }
        response.responses.push(answer);
    }
    response
}

/// IncrementalAlterConfigs: SET and DELETE (back to the default) of each config named;
/// APPEND and SUBTRACT only for list configs.
pub(super) async fn incremental_alter_configs(
    context: &Scope<'_>,
    request: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let coordinator = context.state.coordinator.as_ref();
    let mut response = IncrementalAlterConfigsResponse::default();
    for resource in &request.resources {
        let configs = resource
            .configs
            .iter()
            .map(|config| {
                let value = config.value.as_ref().map(|value| value.as_str());
                Ok((
                    config.name.as_str(),
                    Op::from_code(config.config_operation)?,
                    value,
                ))
            })
            .collect();
        let outcome = match may_alter_configs(
            context,
            resource.resource_type,
            resource.resource_name.as_str(),
        ) {
            Err(refused) => Err(refused),
            Ok(()) => {
                alter_resource(
                    coordinator,
                    resource.resource_type,
                    resource.resource_name.as_str(),
                    configs,
                    false,
                    request.validate_only,
                )
                .await
            }
        };
        let mut answer =
            incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        answer.resource_type = resource.resource_type;
        answer.resource_name = resource.resource_name.clone();
        if let Err((error_code, message)) = outcome {
            answer.error_code = error_code;
            answer.error_message = Some(StrBytes::from_string(message));
        }
        response.responses.push(answer);
    }
    response
}

/// ALTER_CONFIGS on the topic, or on the cluster for a broker's configs.
fn may_alter_configs(
    context: &Scope<'_>,
    resource_type: i8,
    name: &str,
) -> Result<(), (i16, String)> {
    let (kind, error) = if resource_type == 2 {
        (ResourceType::Topic, code::TOPIC_AUTHORIZATION_FAILED)
    } else {
        (ResourceType::Cluster, code::CLUSTER_AUTHORIZATION_FAILED)
    };
    let name = if kind == ResourceType::Cluster {
        silt_core::security::CLUSTER_NAME
    } else {
        name
    };
    if context.allowed(Operation::AlterConfigs, kind, name) {
        Ok(())
    } else {
        Err((
            error,
            format!("not allowed to alter the configs of {name:?}"),
        ))
    }
}
