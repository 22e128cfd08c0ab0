//! What a Kafka request is handled with: the listener's settings and the gateway's
//! state, and small helpers every handler uses to write its answer.

use std::sync::Arc;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;
use silt_core::coordinator::CoordinatorError;
use silt_core::groups::KafkaGroupResponse;
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::auth::Caller;
use crate::state::AppState;
use silt_core::security::{CLUSTER_NAME, Operation, ResourceType};

use super::codes::kafka as code;
use super::decode;

/// Settings of the Kafka listener.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// The host (a name or an address) and port clients are told to connect to
    /// (Metadata, FindCoordinator).
    pub advertised_host: String,
    pub advertised_port: u16,
    /// Topics that Metadata asks for and that do not exist are created with this many
    /// partitions; 0 turns automatic creation off.
    pub auto_create_partitions: u32,
}

/// The listener's settings and the gateway's state, shared by its connections.
pub(super) struct Context {
    pub state: AppState,
    pub config: KafkaConfig,
    /// Frame bytes being read at once across connections, in KiB.
    pub frame_budget: Arc<Semaphore>,
}

/// What a request is handled with: the listener's context, and who sent it.
pub(super) struct Scope<'a> {
    pub listener: &'a Context,
    pub caller: &'a Caller,
}

impl std::ops::Deref for Scope<'_> {
    type Target = Context;

    fn deref(&self) -> &Context {
        self.listener
    }
}

impl Scope<'_> {
    /// Whether the caller may do `operation` on the resource.
    pub fn allowed(&self, operation: Operation, resource_type: ResourceType, name: &str) -> bool {
        self.state
            .security
            .authorize(self.caller, operation, resource_type, name)
    }

    /// `Ok` if the caller may do `operation` on the resource, else the error that
    /// becomes Kafka's *_AUTHORIZATION_FAILED.
    pub fn require(
        &self,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> Result<(), CoordinatorError> {
        if self.allowed(operation, resource_type, name) {
            return Ok(());
        }
        Err(CoordinatorError::NotAuthorized {
            resource_type,
            name: name.to_owned(),
            operation,
        })
    }

    /// Whether the caller may do `operation` on the cluster.
    pub fn allowed_on_cluster(&self, operation: Operation) -> bool {
        self.allowed(operation, ResourceType::Cluster, CLUSTER_NAME)
    }
}

pub(super) fn str_bytes(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

pub(super) fn topic_name(name: &str) -> TopicName {
    TopicName(str_bytes(name))
}

/// The error code of a group call that answers only with one.
pub(super) fn done_code(answer: Result<KafkaGroupResponse, i16>) -> i16 {
    match answer {
        Ok(KafkaGroupResponse::Done { error_code }) => error_code,
        Ok(_) => code::UNKNOWN_SERVER_ERROR,
        Err(error_code) => error_code,
    }
}

/// The one node id every gateway answers as.
pub(super) const NODE_ID: i32 = 0;

/// Why a connection ends.
#[derive(Debug, Error)]
pub enum KafkaError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed request: {0}")]
    Protocol(String),
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
}

/// A partition index from a request, as Silt numbers partitions.
pub(super) fn partition_number(partition: i32) -> Result<u32, CoordinatorError> {
    u32::try_from(partition)
        .map_err(|_| CoordinatorError::InvalidArgument(format!("partition {partition}")))
}

/// A request's `group_instance_id`, in the versions that have one.
pub(super) fn instance_id(value: Option<&StrBytes>, version: i16, since: i16) -> Option<String> {
    if version < since {
        return None;
    }
    value.map(|id| id.as_str().to_owned())
}
