//! The coordinator's internal HTTP protocol: one `POST /internal/v1/call` whose body
//! names a [`Coordinator`](silt_core::Coordinator) method and its arguments, and whose
//! answer is that method's result. Gateways and compactors reach a `silt coordinator`
//! process through it with [`crate::RemoteCoordinator`].

use serde::{Deserialize, Serialize};
use silt_core::coordinator::{
    CoordinatorError, SegmentCommit, TableCommit, TopicAlteration, TopicConfig,
};
use silt_core::groups::{FetchAck, JoinGroup, KafkaGroupRequest, PartitionOffset, ResetTarget};
use silt_core::security::SecurityRequest;
use silt_core::transactions::{Isolation, TxnRequest};

fn read_uncommitted() -> Isolation {
    Isolation::ReadUncommitted
}

pub const CALL_PATH: &str = "/internal/v1/call";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum Call {
    CreateTopic(TopicConfig),
    ListTopics,
    GetTopic {
        name: String,
    },
    DescribeTopic {
        name: String,
    },
    DeleteTopic {
        name: String,
    },
    AlterTopic {
        name: String,
        alteration: TopicAlteration,
    },
    CommitSegment(SegmentCommit),
    CommitTable(TableCommit),
    ListTables {
        topic: String,
    },
    TopicStorage {
        topic: String,
    },
    UnreferencedObjects {
        committed_before_ms: i64,
        limit: u32,
    },
    ForgetObject {
        object_key: String,
    },
    KnownObjects {
        object_keys: Vec<String>,
    },
    TruncateBefore {
        topic: String,
        partition: u32,
        log_start_offset: u64,
    },
    Lookup {
        topic: String,
        partition: u32,
        offset: u64,
        max_entries: u32,
    },
    InitProducer {
        producer_id: Option<i64>,
    },
    JoinGroup {
        group: String,
        join: JoinGroup,
    },
    Heartbeat {
        group: String,
        member_id: String,
    },
    LeaveGroup {
        group: String,
        member_id: String,
    },
    FetchPlan {
        group: String,
        member_id: String,
        ack: FetchAck,
    },
    AdvancePositions {
        group: String,
        member_id: String,
        fetch_id: u64,
        positions: Vec<PartitionOffset>,
    },
    CommitOffsets {
        group: String,
        member_id: String,
        generation: u64,
        offsets: Vec<PartitionOffset>,
    },
    DescribeGroup {
        group: String,
    },
    ListGroups,
    ResetOffsets {
        group: String,
        target: ResetTarget,
        topics: Option<Vec<String>>,
    },
    PartitionOffsets {
        topic: String,
        partition: u32,
    },
    KafkaGroup(KafkaGroupRequest),
    Transaction(TxnRequest),
    Security(SecurityRequest),
    WaitForRecords {
        topic: String,
        partition: u32,
        offset: u64,
        /// Absent from callers that predate transactions: they wait for the high
        /// watermark.
        #[serde(default = "read_uncommitted")]
        isolation: Isolation,
        timeout_ms: u64,
    },
}

impl Call {
    /// The method's name, for logs.
    pub fn method(&self) -> &'static str {
        match self {
            Call::CreateTopic(_) => "create_topic",
            Call::ListTopics => "list_topics",
            Call::GetTopic { .. } => "get_topic",
            Call::DescribeTopic { .. } => "describe_topic",
            Call::DeleteTopic { .. } => "delete_topic",
            Call::AlterTopic { .. } => "alter_topic",
            Call::CommitSegment(_) => "commit_segment",
            Call::CommitTable(_) => "commit_table",
            Call::ListTables { .. } => "list_tables",
            Call::TopicStorage { .. } => "topic_storage",
            Call::UnreferencedObjects { .. } => "unreferenced_objects",
            Call::ForgetObject { .. } => "forget_object",
            Call::KnownObjects { .. } => "known_objects",
            Call::TruncateBefore { .. } => "truncate_before",
            Call::Lookup { .. } => "lookup",
            Call::InitProducer { .. } => "init_producer",
            Call::JoinGroup { .. } => "join_group",
            Call::Heartbeat { .. } => "heartbeat",
            Call::LeaveGroup { .. } => "leave_group",
            Call::FetchPlan { .. } => "fetch_plan",
            Call::AdvancePositions { .. } => "advance_positions",
            Call::CommitOffsets { .. } => "commit_offsets",
            Call::DescribeGroup { .. } => "describe_group",
            Call::ListGroups => "list_groups",
            Call::ResetOffsets { .. } => "reset_offsets",
            Call::PartitionOffsets { .. } => "partition_offsets",
            Call::WaitForRecords { .. } => "wait_for_records",
            Call::KafkaGroup(_) => "kafka_group",
            Call::Transaction(_) => "transaction",
            Call::Security(_) => "security",
        }
    }
}

/// The answer to a [`Call`]: the method's value, or its error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(serde_json::Value),
    Err(CoordinatorError),
}
