//! Kafka's error codes that Silt answers with, and the one mapping from the
//! coordinator's errors to them.

use silt_core::coordinator::CoordinatorError;
use silt_core::security::ResourceType;

/// Error codes of the Kafka protocol that Silt answers with.
pub mod kafka {
    pub const NONE: i16 = 0;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub const PRODUCER_FENCED: i16 = 90;
    pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const UNKNOWN_PRODUCER_ID: i16 = 59;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 74;
    pub const INVALID_RECORD: i16 = 87;
}

/// The Kafka error code that stands for a coordinator error.
pub fn error_code(error: &CoordinatorError) -> i16 {
    match error {
        CoordinatorError::TopicNotFound(_) | CoordinatorError::PartitionNotFound { .. } => {
            kafka::UNKNOWN_TOPIC_OR_PARTITION
        }
        CoordinatorError::OffsetOutOfRange { .. } => kafka::OFFSET_OUT_OF_RANGE,
        CoordinatorError::TopicExists(_) => kafka::TOPIC_ALREADY_EXISTS,
        CoordinatorError::TopicCollides { .. } => kafka::INVALID_TOPIC_EXCEPTION,
        CoordinatorError::InvalidArgument(_) => kafka::INVALID_REQUEST,
        CoordinatorError::InvalidPartitions(_) => kafka::INVALID_PARTITIONS,
        CoordinatorError::InvalidConfig(_) => kafka::INVALID_CONFIG,
        CoordinatorError::GroupNotFound(_) => kafka::GROUP_ID_NOT_FOUND,
        CoordinatorError::Unavailable(_) => kafka::REQUEST_TIMED_OUT,
        CoordinatorError::ProducerFenced { .. } => kafka::PRODUCER_FENCED,
        CoordinatorError::InvalidTxnState(_) => kafka::INVALID_TXN_STATE,
        CoordinatorError::UnknownTransactionalId(_) => kafka::INVALID_PRODUCER_ID_MAPPING,
        CoordinatorError::OffsetMetadataTooLarge { .. } => kafka::OFFSET_METADATA_TOO_LARGE,
        CoordinatorError::NotAuthorized { resource_type, .. } => match resource_type {
            ResourceType::Topic => kafka::TOPIC_AUTHORIZATION_FAILED,
            ResourceType::Group => kafka::GROUP_AUTHORIZATION_FAILED,
            ResourceType::Cluster => kafka::CLUSTER_AUTHORIZATION_FAILED,
            ResourceType::TransactionalId => kafka::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        },
        _ => kafka::UNKNOWN_SERVER_ERROR,
    }
}
