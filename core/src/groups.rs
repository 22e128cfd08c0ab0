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

/// The longest commit metadata string a group keeps with an offset, in bytes (Kafka's
/// `offset.metadata.max.bytes` default); a longer one is refused.
pub const MAX_OFFSET_METADATA_BYTES: usize = 4096;

/// An offset of one partition: where to fetch next, or what to commit. A commit may
/// carry the committer's `metadata` string and (Kafka clients) the leader epoch it last
/// saw; both are kept with the committed offset and read back with it. A commit without
/// metadata reads back as `""`, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_epoch: Option<i32>,
}

impl PartitionOffset {
    /// An offset without commit metadata.
    pub fn new(topic: impl Into<String>, partition: u32, offset: u64) -> Self {
        PartitionOffset {
            topic: topic.into(),
            partition,
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }

    /// Whether the metadata is longer than [`MAX_OFFSET_METADATA_BYTES`].
    pub fn metadata_too_large(&self) -> bool {
        self.metadata
            .as_ref()
            .is_some_and(|metadata| metadata.len() > MAX_OFFSET_METADATA_BYTES)
    }
}

/// Where a member's next fetch starts on each partition it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPlan {
    pub member: MemberAssignment,
    pub positions: Vec<PartitionOffset>,
    /// Names this fetch's answer: the member's next fetch acknowledges it by this id.
    pub fetch_id: u64,
}

/// What a member says, when it fetches, of the answer to its previous fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FetchAck {
    /// Nothing said: the previous answer counts as received (simple clients).
    #[default]
    Implicit,
    /// The id of the last answer the member received (0: none). Any other answer
    /// is taken as lost, and its records are given again.
    Received(u64),
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
    /// The metadata committed with the offset (`""` for none), if an offset is committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_metadata: Option<String>,
    /// The leader epoch a Kafka client committed with the offset, if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_leader_epoch: Option<i32>,
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

/// The Kafka protocol's consumer groups ("classic" protocol): the members choose their
/// assignment (the leader computes it and the coordinator hands it out), unlike Silt's
/// own groups, where the coordinator assigns. Both keep committed offsets in the same
/// place, so a group's offsets read the same over HTTP and over Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KafkaGroupRequest {
    /// JoinGroup: waits until the rebalance it takes part in completes.
    Join {
        group: String,
        /// Empty for a new member.
        member_id: String,
        protocol_type: String,
        /// (protocol name, member metadata), in the member's order of preference.
        protocols: Vec<(String, Vec<u8>)>,
        session_timeout_ms: u64,
        rebalance_timeout_ms: u64,
        /// JoinGroup v4 and later: a new member (empty id) is first given its id with
        /// MEMBER_ID_REQUIRED and joins with it; one that never comes back is forgotten
        /// after its session timeout.
        #[serde(default)]
        require_member_id: bool,
        /// The client's id (the member id starts with it, as Kafka's do) and address,
        /// for DescribeGroups.
        #[serde(default)]
        client_id: String,
        #[serde(default)]
        client_host: String,
        /// KIP-345's `group.instance.id` (JoinGroup v5+): a static member. One that
        /// joins again under a known instance id (with an empty member id) takes the
        /// place of the member that had it, with a new member id and the old one's
        /// assignment, and without a rebalance when the group is stable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_instance_id: Option<String>,
        /// JoinGroup v9+: a static leader that joins again while the group is stable is
        /// told it leads but must skip the assignment (`skip_assignment`); older
        /// versions are told of the old leader instead, so that they follow.
        #[serde(default)]
        skip_assignment_supported: bool,
    },
    /// SyncGroup: the leader brings every member's assignment; all wait for theirs.
    Sync {
        group: String,
        member_id: String,
        generation: i32,
        assignments: Vec<(String, Vec<u8>)>,
        /// SyncGroup v3+: a static member's instance id; a member id that is no longer
        /// the instance's is `FENCED_INSTANCE_ID`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_instance_id: Option<String>,
    },
    Heartbeat {
        group: String,
        member_id: String,
        generation: i32,
        /// Heartbeat v3+, as for `Sync`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_instance_id: Option<String>,
    },
    /// LeaveGroup. `members` (every version: v0-2 name one member by its id, v3+ a
    /// batch, each by member id and/or instance id) is answered by `Left`, one error
    /// code per member. `member_ids` is what gateways before static membership sent
    /// (answered by `Done` when `members` is empty); gateways send both, so that a
    /// coordinator from before static membership, which reads only `member_ids`,
    /// still removes the members named by id.
    Leave {
        group: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        member_ids: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<LeavingMember>,
    },
    /// OffsetCommit; generation -1 with an empty member id is a consumer outside any
    /// group generation (manual assignment).
    Commit {
        group: String,
        member_id: String,
        generation: i32,
        offsets: Vec<PartitionOffset>,
        /// OffsetCommit v7+, as for `Sync`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_instance_id: Option<String>,
    },
    /// OffsetFetch: committed offsets, of every topic or of `topics`.
    Fetch {
        group: String,
        topics: Option<Vec<String>>,
    },
    Describe {
        group: String,
    },
    /// Every group, with its protocol type and state (Kafka's names).
    List,
    /// DeleteGroups: deletes a group without members and its committed offsets
    /// (`NON_EMPTY_GROUP` with members, `GROUP_ID_NOT_FOUND` for no such group).
    DeleteGroup {
        group: String,
    },
    /// OffsetDelete: forgets the group's committed offsets of these partitions; a
    /// partition of a topic that a live member subscribes to is refused
    /// (`GROUP_SUBSCRIBED_TO_TOPIC`).
    DeleteOffsets {
        group: String,
        partitions: Vec<TopicPartition>,
    },
}

/// A member named by a LeaveGroup: by its member id, or (v3+, an administrator
/// removing a static member) by its instance id with an empty member id, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeavingMember {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_instance_id: Option<String>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedGroup {
    pub group: String,
    pub protocol_type: String,
    /// Empty, PreparingRebalance, CompletingRebalance or Stable (Kafka's names).
    pub state: String,
}

/// The answers to [`KafkaGroupRequest`]s; `error_code` is the Kafka protocol's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KafkaGroupResponse {
    Joined {
        error_code: i16,
        generation: i32,
        protocol_type: Option<String>,
        protocol_name: Option<String>,
        leader: String,
        member_id: String,
        /// Every member's metadata, for the leader only.
        members: Vec<(String, Vec<u8>)>,
        /// (member id, instance id) of the static members among `members`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        instances: Vec<(String, String)>,
        /// JoinGroup v9+: the leader must not compute an assignment (a static leader
        /// that joined again while the group is stable keeps the group's).
        #[serde(default)]
        skip_assignment: bool,
    },
    Synced {
        error_code: i16,
        protocol_type: Option<String>,
        protocol_name: Option<String>,
        assignment: Vec<u8>,
    },
    Done {
        error_code: i16,
    },
    /// The answer to a `Leave` with `members`: each member's error code, in order.
    Left {
        members: Vec<i16>,
    },
    Offsets {
        offsets: Vec<PartitionOffset>,
    },
    Described {
        /// Empty, PreparingRebalance, CompletingRebalance or Stable (Kafka's names).
        state: String,
        protocol_type: String,
        protocol_name: String,
        /// (member id, metadata, assignment).
        members: Vec<(String, Vec<u8>, Vec<u8>)>,
        /// (member id, client id, client host) of the members.
        #[serde(default)]
        clients: Vec<(String, String, String)>,
        /// (member id, instance id) of the static members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        instances: Vec<(String, String)>,
    },
    Listed {
        groups: Vec<ListedGroup>,
    },
    /// The answer to `DeleteOffsets`: a group-level error code, and each partition's.
    OffsetsDeleted {
        error_code: i16,
        partitions: Vec<(TopicPartition, i16)>,
    },
}
