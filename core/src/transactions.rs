//! Transactions as Kafka defines them: the types that cross between the gateways (Kafka
//! and HTTP) and the coordinator, which keeps each transactional id's state in its store
//! so that any gateway serves any step of any transaction.
//!
//! A transaction's records are appended like any others, each batch stamped with its
//! producer id and epoch; they are visible to `read_uncommitted` readers at once. Ending
//! the transaction writes a commit or abort **marker** into every partition it touched (a
//! control record: it takes one offset and holds no data) and, on commit, the consumer
//! offsets it carried, in one store transaction: a crash leaves it ongoing (to be ended
//! by its producer, a fencing successor, or its timeout) or ended, never half.

use serde::{Deserialize, Serialize};

/// An idempotent producer's identity, handed out by the coordinator. A newer epoch of
/// the same id fences the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerIdentity {
    pub producer_id: i64,
    pub epoch: i32,
}

/// Kafka's default `transaction.timeout.ms`.
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: i32 = 60_000;
/// The longest transaction timeout a producer may ask for (Kafka's
/// `transaction.max.timeout.ms` default, 15 minutes).
pub const MAX_TRANSACTION_TIMEOUT_MS: i32 = 15 * 60 * 1000;

/// A transactional id without an open transaction is forgotten after this long idle
/// (Kafka's `transactional.id.expiration.ms` default, 7 days).
pub const TRANSACTIONAL_ID_EXPIRATION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The prefix of the transactional ids gateways use for HTTP requests that are
/// transactions of their own; those are forgotten after an hour idle.
pub const REQUEST_TRANSACTION_PREFIX: &str = "__silt_http_";
/// The timeout of a request's own transaction: one a gateway left open when it died is
/// aborted after this long.
pub const REQUEST_TRANSACTION_TIMEOUT_MS: i32 = 30_000;
/// How long a request's transactional id is kept idle.
pub const REQUEST_TRANSACTION_EXPIRATION_MS: i64 = 60 * 60 * 1000;

/// Where a transactional id is, as Kafka names the states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnState {
    /// No transaction open (after InitProducerId).
    Empty,
    /// Partitions or offsets were added: records may be in the log.
    Ongoing,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted (by its producer, a successor or its timeout).
    CompleteAbort,
}

impl TxnState {
    /// The number the store keeps.
    pub fn code(self) -> i64 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::CompleteCommit => 2,
            TxnState::CompleteAbort => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<TxnState> {
        Some(match code {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::CompleteCommit,
            3 => TxnState::CompleteAbort,
            _ => return None,
        })
    }

    /// Kafka's name of the state (DescribeTransactions, ListTransactions).
    pub fn kafka_name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }

    /// The state Kafka calls `name` (case-insensitive), for a ListTransactions filter.
    pub fn from_kafka_name(name: &str) -> Option<TxnState> {
        [
            TxnState::Empty,
            TxnState::Ongoing,
            TxnState::CompleteCommit,
            TxnState::CompleteAbort,
        ]
        .into_iter()
        .find(|state| state.kafka_name().eq_ignore_ascii_case(name))
    }
}

/// A partition of a topic, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

/// A consumer offset that a transaction commits when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOffset {
    pub topic: String,
    pub partition: u32,
    /// The next offset to consume.
    pub offset: u64,
    #[serde(default)]
    pub metadata: String,
    #[serde(default)]
    pub leader_epoch: Option<i32>,
}

/// One step of a transaction, or a question about transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum TxnRequest {
    /// A producer id for `transactional_id`: new (epoch 0), or the id it had with the
    /// next epoch, which fences every older epoch; a transaction the older epoch left
    /// open is aborted first.
    InitProducer {
        transactional_id: String,
        timeout_ms: i32,
    },
    /// InitProducer, AddPartitions and (with `group`) CommitOffsets at once, for a request
    /// that is a transaction of its own: its offsets must move the group's forward
    /// (`only_forward`) and, with `generation`, the group must still be at it.
    Begin {
        transactional_id: String,
        timeout_ms: i32,
        partitions: Vec<TopicPartition>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        offsets: Vec<TxnOffset>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation: Option<u64>,
    },
    /// Adds partitions to the open transaction (opening it): the producer may then
    /// append transactional batches to them.
    AddPartitions {
        transactional_id: String,
        producer: ProducerIdentity,
        partitions: Vec<TopicPartition>,
    },
    /// Opens the transaction for a group's offsets (Kafka's AddOffsetsToTxn).
    AddOffsets {
        transactional_id: String,
        producer: ProducerIdentity,
        group: String,
    },
    /// Offsets of `group` that become committed if and when the transaction commits.
    /// With `only_forward`, the commit fails (`OffsetAlreadyCommitted`) unless each moves
    /// the group's offset forward: a retry of a request that was applied changes nothing.
    CommitOffsets {
        transactional_id: String,
        producer: ProducerIdentity,
        group: String,
        offsets: Vec<TxnOffset>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        only_forward: bool,
        /// The group generation the offsets belong to (a Silt group's): the commit fails
        /// (`StaleGeneration`) if the group has moved on when the transaction commits,
        /// so that a member that lost its partitions meanwhile cannot commit them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation: Option<u64>,
    },
    /// Commits (`commit`) or aborts the open transaction.
    End {
        transactional_id: String,
        producer: ProducerIdentity,
        commit: bool,
    },
    /// The transactional ids' states (unknown ids are left out).
    Describe { transactional_ids: Vec<String> },
    /// The partitions of `group` whose offsets an open transaction will commit: a reader
    /// of the group's committed offsets that needs them stable (Kafka's OffsetFetch
    /// `require_stable`, KIP-447) waits for those.
    PendingOffsets { group: String },
    /// Every transactional id, optionally only in some states or of some producers.
    List {
        #[serde(default)]
        states: Vec<TxnState>,
        #[serde(default)]
        producer_ids: Vec<i64>,
    },
}

/// A transactional id as the coordinator keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnDescription {
    pub transactional_id: String,
    pub producer_id: i64,
    pub epoch: i32,
    pub state: TxnState,
    pub timeout_ms: i32,
    /// When the open transaction started (-1 when none is open).
    pub started_at_ms: i64,
    /// The partitions of the open transaction.
    pub partitions: Vec<TopicPartition>,
}

/// The answer to a [`TxnRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "answer")]
pub enum TxnResponse {
    Producer { producer: ProducerIdentity },
    Done,
    Described { transactions: Vec<TxnDescription> },
    Pending { partitions: Vec<TopicPartition> },
}

/// A transaction's state in one partition of the log, carried by an index entry:
/// the producer that wrote its records (or its marker) and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryTxn {
    pub producer_id: i64,
    pub epoch: i32,
    pub outcome: TxnOutcome,
}

/// Whether a transaction's records are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnOutcome {
    Open,
    Committed,
    Aborted,
}

impl TxnOutcome {
    /// The number an index entry keeps (0 is a non-transactional entry).
    pub fn code(self) -> i64 {
        match self {
            TxnOutcome::Open => 1,
            TxnOutcome::Committed => 2,
            TxnOutcome::Aborted => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<TxnOutcome> {
        Some(match code {
            1 => TxnOutcome::Open,
            2 => TxnOutcome::Committed,
            3 => TxnOutcome::Aborted,
            _ => return None,
        })
    }
}

/// Whether a reader sees transactions' records before they end and after they abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Everything up to the high watermark, aborted records too.
    ReadUncommitted,
    /// Up to the last stable offset, without aborted records.
    #[default]
    ReadCommitted,
}

impl Isolation {
    /// Kafka's `isolation_level` of a fetch (0 read uncommitted, 1 read committed).
    pub fn from_kafka(level: i8) -> Isolation {
        if level == 1 {
            Isolation::ReadCommitted
        } else {
            Isolation::ReadUncommitted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for state in [
            TxnState::Empty,
            TxnState::Ongoing,
            TxnState::CompleteCommit,
            TxnState::CompleteAbort,
        ] {
            assert_eq!(TxnState::from_code(state.code()), Some(state));
            assert_eq!(TxnState::from_kafka_name(state.kafka_name()), Some(state));
        }
        assert_eq!(TxnState::from_code(9), None);
        for outcome in [TxnOutcome::Open, TxnOutcome::Committed, TxnOutcome::Aborted] {
            assert_eq!(TxnOutcome::from_code(outcome.code()), Some(outcome));
        }
        assert_eq!(TxnOutcome::from_code(0), None);
        assert_eq!(Isolation::from_kafka(1), Isolation::ReadCommitted);
        assert_eq!(Isolation::from_kafka(0), Isolation::ReadUncommitted);
    }
}
