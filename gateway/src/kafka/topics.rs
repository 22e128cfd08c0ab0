//! Metadata, CreateTopics and DeleteTopics.

use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    MetadataRequest, MetadataResponse, TopicName, create_topics_response::CreatableTopicResult,
    delete_topics_response::DeletableTopicResult, metadata_response,
};
use silt_core::coordinator::{CoordinatorError, TopicConfig};
use silt_core::security::{Operation, ResourceType};
use tracing::{info, warn};

use super::codes::error_code;
use super::codes::kafka as code;
use super::context::NODE_ID;
use super::context::{Scope, str_bytes, topic_name};
use super::topic_configs;

pub(super) async fn metadata(
    context: &Scope<'_>,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let coordinator = &context.state.coordinator;
    let mut topics = Vec::new();
    match request.topics {
        None => match coordinator.list_topics().await {
            // Topics the caller may not describe are absent, as in Kafka.
            Ok(all) => topics.extend(
                all.into_iter()
                    .filter(|topic| {
                        context.allowed(Operation::Describe, ResourceType::Topic, &topic.name)
                    })
                    .map(Ok),
            ),
            Err(error) => warn!(%error, "listing topics for metadata"),
        },
        Some(wanted) => {
            for wanted in wanted {
                let Some(name) = wanted.name else { continue };
                let name = name.0.as_str().to_owned();
                if silt_core::names::validate_topic_name(&name).is_err() {
                    // Kafka's answer, which producers do not retry.
                    topics.push(Err((name, code::INVALID_TOPIC_EXCEPTION)));
                    continue;
                }
                if !context.allowed(Operation::Describe, ResourceType::Topic, &name) {
                    topics.push(Err((name, code::TOPIC_AUTHORIZATION_FAILED)));
                    continue;
                }
                let mut found = coordinator.get_topic(&name).await;
                if matches!(found, Err(CoordinatorError::TopicNotFound(_)))
                    && request.allow_auto_topic_creation
                    && context.config.auto_create_partitions > 0
                    && may_create(context, &name)
                {
                    found = match coordinator
                        .create_topic(TopicConfig {
                            name: name.clone(),
                            partitions: context.config.auto_create_partitions,
                            retention_ms: None,
                            retention_bytes: None,
                            value_schema: None,
                            configs: Default::default(),
                        })
                        .await
                    {
                        Ok(topic) => {
                            info!(topic = %name, "topic created on first use by a kafka client");
                            Ok(topic)
                        }
                        Err(CoordinatorError::TopicExists(_)) => coordinator.get_topic(&name).await,
                        Err(error) => Err(error),
                    };
                }
                topics.push(found.map_err(|error| (name, error_code(&error))));
            }
        }
    }
    let mut response = MetadataResponse::default();
    let mut broker = metadata_response::MetadataResponseBroker::default();
    broker.node_id = BrokerId(NODE_ID);
    broker.host = str_bytes(&context.config.advertised_host);
    broker.port = i32::from(context.config.advertised_port);
    response.brokers = vec![broker];
    if version >= 2 {
        response.cluster_id = Some(str_bytes("silt"));
    }
    if version >= 1 {
        response.controller_id = BrokerId(NODE_ID);
    }
    response.topics = topics
        .into_iter()
        .map(|found| {
            let mut topic = metadata_response::MetadataResponseTopic::default();
            match found {
                Ok(found) => {
                    topic.name = Some(topic_name(&found.name));
                    // Kafka's topic id: unique to this incarnation of the name, so a
                    // client can tell a topic deleted and created again.
                    topic.topic_id = uuid::Uuid::from_u64_pair(
                        found.topic_id as u64,
                        found.created_at_ms as u64,
                    );
                    topic.partitions = (0..found.partitions as i32)
                        .map(|index| {
                            let mut partition =
                                metadata_response::MetadataResponsePartition::default();
                            partition.partition_index = index;
                            partition.leader_id = BrokerId(NODE_ID);
                            partition.replica_nodes = vec![BrokerId(NODE_ID)];
                            partition.isr_nodes = vec![BrokerId(NODE_ID)];
                            partition
                        })
                        .collect();
                }
                Err((name, error_code)) => {
                    topic.name = Some(topic_name(&name));
                    topic.error_code = error_code;
                }
            }
            topic
        })
        .collect();
    response
}

pub(super) async fn create_topics(
    context: &Scope<'_>,
    request: CreateTopicsRequest,
    _version: i16,
) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    for creatable in request.topics {
        let name = creatable.name.0.as_str().to_owned();
        let mut result = CreatableTopicResult::default();
        result.name = creatable.name.clone();
        let outcome = match topic_configs::requested(
            &creatable,
            context.config.auto_create_partitions.max(1),
            NODE_ID,
        ) {
            Err(refused) => Err(refused),
            Ok(asked) => {
                result.num_partitions = asked.partitions as i32;
                result.replication_factor = 1;
                if !may_create(context, &name) {
                    Err((
                        code::TOPIC_AUTHORIZATION_FAILED,
                        format!("not allowed to create topic {name:?}"),
                    ))
                } else if silt_core::names::validate_topic_name(&name).is_err() {
                    Err((
                        code::INVALID_TOPIC_EXCEPTION,
                        format!("{name:?} is not a valid topic name"),
                    ))
                } else if request.validate_only {
                    Ok(())
                } else {
                    let config = TopicConfig {
                        name: name.clone(),
                        partitions: asked.partitions,
                        retention_ms: asked.retention_ms,
                        retention_bytes: asked.retention_bytes,
                        value_schema: asked.value_schema,
                        configs: asked.configs,
                    };
                    context
                        .state
                        .coordinator
                        .create_topic(config)
                        .await
                        .map(|_| ())
                        .map_err(|error| {
                            let code = match &error {
                                CoordinatorError::InvalidArgument(message)
                                    if message.contains("partitions") =>
                                {
                                    code::INVALID_PARTITIONS
                                }
                                CoordinatorError::InvalidArgument(_) => {
                                    code::INVALID_TOPIC_EXCEPTION
                                }
                                other => error_code(other),
                            };
                            (code, error.to_string())
                        })
                }
            }
        };
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(str_bytes(&message));
        }
        response.topics.push(result);
    }
    response
}

pub(super) async fn delete_topics(
    context: &Scope<'_>,
    request: DeleteTopicsRequest,
    _version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = request
        .topic_names
        .into_iter()
        .chain(request.topics.into_iter().filter_map(|topic| topic.name))
        .collect();
    let mut response = DeleteTopicsResponse::default();
    for name in names {
        let mut result = DeletableTopicResult::default();
        let deleted = match context.require(Operation::Delete, ResourceType::Topic, name.0.as_str())
        {
            Ok(()) => {
                context
                    .state
                    .coordinator
                    .delete_topic(name.0.as_str())
                    .await
            }
            Err(denied) => Err(denied),
        };
        if let Err(error) = deleted {
            result.error_code = error_code(&error);
            result.error_message = Some(str_bytes(&error.to_string()));
        }
        result.name = Some(name);
        response.responses.push(result);
    }
    response
}

/// Kafka's rule for creating a topic: CREATE on the cluster, or on the topic's name.
fn may_create(context: &Scope<'_>, name: &str) -> bool {
    context.allowed_on_cluster(Operation::Create)
        || context.allowed(Operation::Create, ResourceType::Topic, name)
}
