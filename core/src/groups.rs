//! Consumer groups: the types that cross between gateways and the coordinator. The
//! group's state lives in the coordinator, so any gateway can serve any member.

use serde::{Deserialize, Serialize};

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

/// Where a member starts on a partition for which the group has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoOffsetReset {
    #[default]
    Earliest,
    Latest,
}

/// A request to join a group (or, with `member_id`, to rejoin as the same member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroup {
    #[serde(default)]
    pub member_id: Option<String>,
    pub topics: Vec<String>,
    pub session_timeout_ms: u64,
    #[serde(default)]
    pub auto_offset_reset: AutoOffsetReset,
}

/// A member's view of the group: its generation and the partitions it owns in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAssignment {
    pub member_id: String,
    pub generation: u64,
    pub assignments: Vec<TopicPartition>,
}

/// An offset of one partition: where to fetch next, or what to commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
}

/// Where a member's next fetch starts on each partition it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPlan {
    pub member: MemberAssignment,
    pub positions: Vec<PartitionOffset>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDescription {
    pub member_id: String,
    pub topics: Vec<String>,
    pub session_timeout_ms: u64,
    pub assignments: Vec<TopicPartition>,
}

/// A partition's progress in a group. `lag` counts records from the committed offset
/// (or from the log start, if nothing was committed) to the high watermark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    pub committed_offset: Option<u64>,
    pub log_start_offset: u64,
    pub high_watermark: u64,
    pub lag: u64,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescription {
    pub group: String,
    pub generation: u64,
    pub members: Vec<MemberDescription>,
    pub partitions: Vec<PartitionLag>,
}

/// Where `reset_offsets` moves a group's committed offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetTarget {
    Earliest,
    Latest,
    Offset(u64),
}
