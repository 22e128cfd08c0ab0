//! Transactions as the store keeps them (`silt_core::transactions`): each step is one
//! store transaction, so a transaction ends (markers in every partition, its records
//! marked committed or aborted, its consumer offsets committed) all at once or not at
//! all. The rules of which step may follow which are here, once.

use silt_core::coordinator::{CoordinatorError, PartitionOffsets, ProducerIdentity};
use silt_core::transactions::{
    REQUEST_TRANSACTION_PREFIX, TopicPartition, TxnDescription, TxnOutcome, TxnState,
};

use crate::error::StoreError;
use crate::store::db::{Tx, cells};
use crate::store::{StoredOffset, plan, sql};

use super::{groups, stored_offset, to_u32, to_u64};

/// A step of a transaction, with topics resolved to their ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnStep {
    Init {
        transactional_id: String,
        timeout_ms: i32,
        /// Producers idle since before this are forgotten first (as for idempotent ones).
        expire_before_ms: i64,
    },
    AddPartitions {
        transactional_id: String,
        producer: ProducerIdentity,
        /// (topic id, partition)
        partitions: Vec<(i64, u32)>,
    },
    /// Init, AddPartitions and (with offsets) CommitOffsets in one store transaction.
    Begin {
        transactional_id: String,
        timeout_ms: i32,
        partitions: Vec<(i64, u32)>,
        offsets: Option<GroupOffsets>,
    },
    AddOffsets {
        transactional_id: String,
        producer: ProducerIdentity,
    },
    CommitOffsets {
        transactional_id: String,
        producer: ProducerIdentity,
        offsets: GroupOffsets,
    },
    End {
        transactional_id: String,
        producer: ProducerIdentity,
        commit: bool,
    },
    /// Aborts the transaction that started at `started_at_ms` if it is still open: its
    /// timeout passed.
    Expire {
        transactional_id: String,
        started_at_ms: i64,
    },
    /// Forgets transactional ids without an open transaction, idle since before
    /// `idle_before_ms` (those of requests' own transactions: `request_idle_before_ms`).
    Forget {
        idle_before_ms: i64,
        request_idle_before_ms: i64,
    },
}

/// A group's offsets that a transaction commits when it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOffsets {
    pub group: String,
    pub offsets: Vec<StoredOffset>,
    /// The commit fails unless each offset moves the group's forward.
    pub only_forward: bool,
    /// The commit fails unless the group is still at this generation.
    pub generation: Option<u64>,
}

/// What a step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnApplied {
    /// The producer an Init handed out.
    pub producer: Option<ProducerIdentity>,
    /// Partitions whose bounds moved (markers written): (topic id, offsets).
    pub advanced: Vec<(i64, PartitionOffsets)>,
    /// The consumer offsets a commit committed, by group.
    pub committed: Vec<(String, Vec<StoredOffset>)>,
    /// Transactional ids a `Forget` forgot.
    pub forgotten: u64,
}

/// A `transactions` row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TxnRow {
    producer_id: i64,
    epoch: i64,
    state: TxnState,
    timeout_ms: i64,
    started_at_ms: i64,
}

/// Kafka's producer epochs are 16-bit: a producer id whose epoch would pass this gets a
/// new id instead (as Kafka does).
const MAX_EPOCH: i64 = i16::MAX as i64 - 1;

async fn read_txn(tx: &mut impl Tx, transactional_id: &str) -> Result<Option<TxnRow>, StoreError> {
    let Some(mut row) = tx.query_opt(SELECT_TXN, cells![transactional_id]).await? else {
        return Ok(None);
    };
    // Columns are read in the order the query names them.
    let producer_id = row.get("producer_id")?;
    let epoch = row.get("epoch")?;
    let code: i64 = row.get("state")?;
    Ok(Some(TxnRow {
        producer_id,
        epoch,
        state: TxnState::from_code(code)
            .ok_or_else(|| StoreError::Invalid(format!("transaction state {code}")))?,
        timeout_ms: row.get("timeout_ms")?,
        started_at_ms: row.get("started_at_ms")?,
    }))
}

/// The transactional id's row, if `producer` holds it with the current epoch.
async fn held(
    tx: &mut impl Tx,
    transactional_id: &str,
    producer: ProducerIdentity,
) -> Result<TxnRow, StoreError> {
    let row = read_txn(tx, transactional_id)
        .await?
        .filter(|row| row.producer_id == producer.producer_id)
        .ok_or_else(|| CoordinatorError::UnknownTransactionalId(transactional_id.to_owned()))?;
    if i64::from(producer.epoch) != row.epoch {
        return Err(CoordinatorError::ProducerFenced {
            transactional_id: transactional_id.to_owned(),
            producer_id: producer.producer_id,
            epoch: producer.epoch,
        }
        .into());
    }
    Ok(row)
}

/// Opens a transaction unless one is open.
async fn open(
    tx: &mut impl Tx,
    transactional_id: &str,
    row: &TxnRow,
    now_ms: i64,
) -> Result<(), StoreError> {
    if row.state != TxnState::Ongoing {
        let params = cells![transactional_id, TxnState::Ongoing.code(), now_ms, now_ms];
        tx.execute(SET_STATE, params).await?;
    }
    Ok(())
}

/// Applies one step.
pub async fn apply(tx: &mut impl Tx, step: TxnStep, now_ms: i64) -> Result<TxnApplied, StoreError> {
    match step {
        TxnStep::Init {
            transactional_id,
            timeout_ms,
            expire_before_ms,
        } => init(tx, &transactional_id, timeout_ms, now_ms, expire_before_ms).await,
        TxnStep::AddPartitions {
            transactional_id,
            producer,
            partitions,
        } => {
            add_partitions(tx, &transactional_id, producer, &partitions, now_ms).await?;
            Ok(TxnApplied::default())
        }
        TxnStep::Begin {
            transactional_id,
            timeout_ms,
            partitions,
            offsets,
        } => {
            let applied = init(tx, &transactional_id, timeout_ms, now_ms, i64::MIN).await?;
            let producer = applied
                .producer
                .ok_or_else(|| StoreError::Invalid("init made no producer".into()))?;
            add_partitions(tx, &transactional_id, producer, &partitions, now_ms).await?;
            if let Some(offsets) = offsets {
                commit_offsets(tx, &transactional_id, producer, &offsets).await?;
            }
            Ok(applied)
        }
        TxnStep::AddOffsets {
            transactional_id,
            producer,
        } => {
            let row = held(tx, &transactional_id, producer).await?;
            open(tx, &transactional_id, &row, now_ms).await?;
            Ok(TxnApplied::default())
        }
        TxnStep::CommitOffsets {
            transactional_id,
            producer,
            offsets,
        } => {
            commit_offsets(tx, &transactional_id, producer, &offsets).await?;
            Ok(TxnApplied::default())
        }
        TxnStep::End {
            transactional_id,
            producer,
            commit,
        } => {
            let row = held(tx, &transactional_id, producer).await?;
            match (row.state, commit) {
                (TxnState::Ongoing, _) => end(tx, &transactional_id, &row, commit, now_ms).await,
                // A retry of the step that ended it, or an abort of nothing.
                (TxnState::CompleteCommit, true)
                | (TxnState::CompleteAbort | TxnState::Empty, false) => Ok(TxnApplied::default()),
                (state, _) => Err(CoordinatorError::InvalidTxnState(format!(
                    "cannot {} transactional id {transactional_id:?}: it is {}",
                    if commit { "commit" } else { "abort" },
                    state.kafka_name()
                ))
                .into()),
            }
        }
        TxnStep::Expire {
            transactional_id,
            started_at_ms,
        } => match read_txn(tx, &transactional_id).await? {
            Some(row) if row.state == TxnState::Ongoing && row.started_at_ms == started_at_ms => {
                let applied = end(tx, &transactional_id, &row, false, now_ms).await?;
                // The producer is fenced, as Kafka's coordinator fences it: whatever it
                // sends next must not open a new transaction that would commit only
                // the part of its work after the abort.
                let epoch = plan::next_epoch(row.epoch)?;
                tx.execute(sql::BUMP_EPOCH[0], cells![row.producer_id, epoch, now_ms])
                    .await?;
                tx.execute(sql::BUMP_EPOCH[1], cells![row.producer_id])
                    .await?;
                tx.execute(SET_EPOCH, cells![&transactional_id, epoch])
                    .await?;
                Ok(applied)
            }
            _ => Ok(TxnApplied::default()),
        },
        TxnStep::Forget {
            idle_before_ms,
            request_idle_before_ms,
        } => {
            let pattern = format!("{REQUEST_TRANSACTION_PREFIX}%");
            let params = cells![idle_before_ms, request_idle_before_ms, pattern];
            let forgotten = tx.execute(FORGET_IDLE, params).await?;
            Ok(TxnApplied {
                forgotten,
                ..TxnApplied::default()
            })
        }
    }
}

/// Transactional ids without an open transaction, idle since before `$1` (or `$2` for
/// those whose id matches `$3`).
const FORGET_IDLE: &str = "DELETE FROM transactions WHERE state <> 1
 AND (updated_at_ms < $1 OR (updated_at_ms < $2 AND transactional_id LIKE $3))";

/// Adds partitions to the producer's transaction, opening it.
async fn add_partitions(
    tx: &mut impl Tx,
    transactional_id: &str,
    producer: ProducerIdentity,
    partitions: &[(i64, u32)],
    now_ms: i64,
) -> Result<(), StoreError> {
    let row = held(tx, transactional_id, producer).await?;
    open(tx, transactional_id, &row, now_ms).await?;
    let params = partitions
        .iter()
        .map(|(topic_id, partition)| cells![transactional_id, *topic_id, *partition])
        .collect();
    tx.execute_many(INSERT_PARTITION, params).await?;
    Ok(())
}

/// Keeps a group's offsets for the producer's open transaction to commit.
async fn commit_offsets(
    tx: &mut impl Tx,
    transactional_id: &str,
    producer: ProducerIdentity,
    offsets: &GroupOffsets,
) -> Result<(), StoreError> {
    let row = held(tx, transactional_id, producer).await?;
    if row.state != TxnState::Ongoing {
        return Err(CoordinatorError::InvalidTxnState(format!(
            "transactional id {transactional_id:?} has no open transaction: add the group's offsets to one first"
        ))
        .into());
    }
    let params = offsets
        .offsets
        .iter()
        .map(|offset| {
            cells![
                transactional_id,
                &offsets.group,
                offset.topic_id,
                offset.partition,
                stored_offset(offset.offset),
                &offset.metadata,
                offset.leader_epoch,
                i64::from(offsets.only_forward),
                offsets.generation.map(stored_offset)
            ]
        })
        .collect();
    tx.execute_many(UPSERT_OFFSET, params).await?;
    Ok(())
}

/// A producer for `transactional_id`: its id with the next epoch (aborting a transaction
/// the previous epoch left open), or a new id.
async fn init(
    tx: &mut impl Tx,
    transactional_id: &str,
    timeout_ms: i32,
    now_ms: i64,
    expire_before_ms: i64,
) -> Result<TxnApplied, StoreError> {
    let mut applied = TxnApplied::default();
    let previous = read_txn(tx, transactional_id).await?;
    if let Some(row) = &previous
        && row.state == TxnState::Ongoing
    {
        applied = end(tx, transactional_id, row, false, now_ms).await?;
    }
    // `i64::MIN` skips the expiry (a request's own transaction: once per request would
    // scan the Kafka sequences each time).
    if expire_before_ms > i64::MIN {
        tx.execute(sql::EXPIRE_PRODUCERS[0], cells![expire_before_ms])
            .await?;
        tx.execute(sql::EXPIRE_PRODUCERS[1], Vec::new()).await?;
    }
    let mut bumped = None;
    if let Some(row) = &previous
        && let Some(mut producer) = tx
            .query_opt(sql::SELECT_EPOCH, cells![row.producer_id])
            .await?
    {
        let epoch: i64 = producer.get("epoch")?;
        let next = plan::next_epoch(epoch.max(row.epoch))?;
        if i64::from(next) <= MAX_EPOCH {
            tx.execute(sql::BUMP_EPOCH[0], cells![row.producer_id, next, now_ms])
                .await?;
            tx.execute(sql::BUMP_EPOCH[1], cells![row.producer_id])
                .await?;
            bumped = Some(ProducerIdentity {
                producer_id: row.producer_id,
                epoch: next,
            });
        }
    }
    let producer = match bumped {
        Some(producer) => producer,
        None => ProducerIdentity {
            producer_id: tx
                .query_one(sql::INSERT_PRODUCER, cells![now_ms])
                .await?
                .get("producer_id")?,
            epoch: 0,
        },
    };
    let params = cells![
        transactional_id,
        producer.producer_id,
        producer.epoch,
        TxnState::Empty.code(),
        timeout_ms,
        -1i64,
        now_ms
    ];
    tx.execute(UPSERT_TXN, params).await?;
    applied.producer = Some(producer);
    Ok(applied)
}

/// Ends the open transaction: its records become committed or aborted, a marker takes
/// the next offset of each of its partitions, and a commit commits its offsets.
async fn end(
    tx: &mut impl Tx,
    transactional_id: &str,
    row: &TxnRow,
    commit: bool,
    now_ms: i64,
) -> Result<TxnApplied, StoreError> {
    let outcome = if commit {
        TxnOutcome::Committed
    } else {
        TxnOutcome::Aborted
    };
    tx.execute(END_ENTRIES, cells![row.producer_id, outcome.code()])
        .await?;
    let mut advanced = Vec::new();
    for mut partition in tx
        .query(SELECT_PARTITIONS, cells![transactional_id])
        .await?
    {
        let topic_id: i64 = partition.get("topic_id")?;
        let number: i64 = partition.get("partition")?;
        let params = cells![
            topic_id,
            number,
            row.producer_id,
            row.epoch,
            outcome.code(),
            now_ms
        ];
        tx.execute(INSERT_MARKER, params).await?;
        if let Some(mut bounds) = tx
            .query_opt(ADVANCE_PAST_MARKER, cells![topic_id, number])
            .await?
        {
            let log_start_offset = to_u64(bounds.get("log_start_offset")?, "log start")?;
            let high_watermark = to_u64(bounds.get("high_watermark")?, "high watermark")?;
            let first_unstable_offset = bounds
                .get::<Option<i64>>("first_unstable_offset")?
                .map(|offset| to_u64(offset, "first unstable offset"))
                .transpose()?;
            advanced.push((
                topic_id,
                PartitionOffsets {
                    partition: to_u32(number, "partition")?,
                    log_start_offset,
                    high_watermark,
                    first_unstable_offset,
                },
            ));
        }
    }
    let mut by_group: Vec<(String, Vec<StoredOffset>)> = Vec::new();
    if commit {
        for mut offset in tx.query(SELECT_OFFSETS, cells![transactional_id]).await? {
            let group: String = offset.get("group_name")?;
            let stored = StoredOffset {
                topic_id: offset.get("topic_id")?,
                partition: to_u32(offset.get("partition")?, "partition")?,
                offset: to_u64(offset.get("committed_offset")?, "offset")?,
                metadata: offset.get("metadata")?,
                leader_epoch: offset
                    .get::<Option<i64>>("leader_epoch")?
                    .and_then(|epoch| i32::try_from(epoch).ok()),
            };
            let only_forward: i64 = offset.get("only_forward")?;
            if only_forward != 0 {
                check_forward(tx, &group, &stored).await?;
            }
            if let Some(generation) = offset.get::<Option<i64>>("generation")? {
                check_generation(tx, &group, generation).await?;
            }
            match by_group.last_mut() {
                Some((name, offsets)) if *name == group => offsets.push(stored),
                _ => by_group.push((group, vec![stored])),
            }
        }
        for (group, offsets) in &by_group {
            groups::commit_offsets(tx, group, offsets.clone(), now_ms).await?;
        }
    }
    for delete in DELETE_MEMBERS {
        tx.execute(delete, cells![transactional_id]).await?;
    }
    let state = if commit {
        TxnState::CompleteCommit
    } else {
        TxnState::CompleteAbort
    };
    tx.execute(
        SET_STATE,
        cells![transactional_id, state.code(), -1i64, now_ms],
    )
    .await?;
    Ok(TxnApplied {
        producer: None,
        advanced,
        committed: by_group,
        forgotten: 0,
    })
}

/// Refuses a commit that would not move `group`'s offset of the partition forward.
async fn check_forward(
    tx: &mut impl Tx,
    group: &str,
    offset: &StoredOffset,
) -> Result<(), StoreError> {
    let params = cells![group, offset.topic_id, offset.partition];
    if let Some(mut row) = tx.query_opt(SELECT_GROUP_OFFSET, params).await? {
        let committed = to_u64(row.get("committed_offset")?, "offset")?;
        if committed >= offset.offset {
            return Err(CoordinatorError::OffsetAlreadyCommitted {
                group: group.to_owned(),
                topic_id: offset.topic_id,
                partition: offset.partition,
                committed,
                offset: offset.offset,
            }
            .into());
        }
    }
    Ok(())
}

/// Refuses a commit for a generation the group has left: a member that lost its
/// partitions in a rebalance while its transaction ran must not commit them.
async fn check_generation(tx: &mut impl Tx, group: &str, given: i64) -> Result<(), StoreError> {
    let current = match tx.query_opt(sql::SELECT_GENERATION, cells![group]).await? {
        Some(mut row) => row.get::<i64>("generation")?,
        None => 0,
    };
    if current != given {
        let (given, current) = (to_u64(given, "generation")?, to_u64(current, "generation")?);
        return Err(if given < current {
            CoordinatorError::StaleGeneration { given, current }
        } else {
            CoordinatorError::IllegalGeneration { given, current }
        }
        .into());
    }
    Ok(())
}

const SELECT_GROUP_OFFSET: &str = "SELECT committed_offset FROM group_offsets
 WHERE group_name = $1 AND topic_id = $2 AND partition = $3";

/// The transactional ids `ids` (every one with `None`), with the partitions of their open
/// transactions.
pub async fn describe(
    tx: &mut impl Tx,
    ids: Option<Vec<String>>,
) -> Result<Vec<TxnDescription>, StoreError> {
    let rows = match &ids {
        None => tx.query(SELECT_ALL, Vec::new()).await?,
        Some(ids) => {
            let params = ids.iter().map(|id| cells![id]).collect();
            tx.query_many(SELECT_TXN_DESCRIBED, params)
                .await?
                .into_iter()
                .flatten()
                .collect()
        }
    };
    let mut described = Vec::with_capacity(rows.len());
    for mut row in rows {
        let transactional_id: String = row.get("transactional_id")?;
        let producer_id: i64 = row.get("producer_id")?;
        let epoch: i64 = row.get("epoch")?;
        let code: i64 = row.get("state")?;
        let timeout: i64 = row.get("timeout_ms")?;
        let started_at_ms: i64 = row.get("started_at_ms")?;
        let state = TxnState::from_code(code)
            .ok_or_else(|| StoreError::Invalid(format!("transaction state {code}")))?;
        let mut partitions = Vec::new();
        if state == TxnState::Ongoing {
            for mut partition in tx
                .query(SELECT_PARTITION_NAMES, cells![&transactional_id])
                .await?
            {
                partitions.push(TopicPartition {
                    topic: partition.get("name")?,
                    partition: to_u32(partition.get("partition")?, "partition")?,
                });
            }
        }
        described.push(TxnDescription {
            transactional_id,
            producer_id,
            epoch: i32::try_from(epoch).unwrap_or(i32::MAX),
            state,
            timeout_ms: i32::try_from(timeout).unwrap_or(i32::MAX),
            started_at_ms,
            partitions,
        });
    }
    Ok(described)
}

/// The partitions of `group` whose offsets open transactions hold.
pub async fn pending_offsets(
    tx: &mut impl Tx,
    group: &str,
) -> Result<Vec<(String, u32)>, StoreError> {
    let mut pending = Vec::new();
    for mut row in tx.query(SELECT_PENDING, cells![group]).await? {
        let topic: String = row.get("name")?;
        pending.push((topic, to_u32(row.get("partition")?, "partition")?));
    }
    Ok(pending)
}

const SELECT_PENDING: &str = "SELECT DISTINCT t.name, o.partition
 FROM txn_offsets o JOIN transactions x USING (transactional_id) JOIN topics t USING (topic_id)
 WHERE o.group_name = $1 AND x.state = 1 ORDER BY t.name, o.partition";

/// Open transactions whose timeout passed by `now_ms`: (transactional id, start).
pub async fn expired(tx: &mut impl Tx, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let mut expired = Vec::new();
    for mut row in tx.query(SELECT_EXPIRED, cells![now_ms]).await? {
        expired.push((row.get("transactional_id")?, row.get("started_at_ms")?));
    }
    Ok(expired)
}

const SELECT_TXN: &str = "SELECT producer_id, epoch, state, timeout_ms, started_at_ms
 FROM transactions WHERE transactional_id = $1";

const SELECT_ALL: &str =
    "SELECT transactional_id, producer_id, epoch, state, timeout_ms, started_at_ms
 FROM transactions ORDER BY transactional_id";

const SELECT_TXN_DESCRIBED: &str =
    "SELECT transactional_id, producer_id, epoch, state, timeout_ms, started_at_ms
 FROM transactions WHERE transactional_id = $1";

const UPSERT_TXN: &str = "INSERT INTO transactions
     (transactional_id, producer_id, epoch, state, timeout_ms, started_at_ms, updated_at_ms)
 VALUES ($1, $2, $3, $4, $5, $6, $7)
 ON CONFLICT (transactional_id) DO UPDATE SET producer_id = excluded.producer_id,
     epoch = excluded.epoch, state = excluded.state, timeout_ms = excluded.timeout_ms,
     started_at_ms = excluded.started_at_ms, updated_at_ms = excluded.updated_at_ms";

const SET_EPOCH: &str = "UPDATE transactions SET epoch = $2 WHERE transactional_id = $1";

/// Transactional id `$1` moves to state `$2`, its transaction started at `$3` (-1: none).
const SET_STATE: &str = "UPDATE transactions SET state = $2, started_at_ms = $3, updated_at_ms = $4
 WHERE transactional_id = $1";

const INSERT_PARTITION: &str = "INSERT INTO txn_partitions (transactional_id, topic_id, partition)
 VALUES ($1, $2, $3) ON CONFLICT (transactional_id, topic_id, partition) DO NOTHING";

const SELECT_PARTITIONS: &str = "SELECT topic_id, partition FROM txn_partitions
 WHERE transactional_id = $1 ORDER BY topic_id, partition";

const SELECT_PARTITION_NAMES: &str = "SELECT t.name, p.partition
 FROM txn_partitions p JOIN topics t USING (topic_id)
 WHERE p.transactional_id = $1 ORDER BY t.name, p.partition";

const UPSERT_OFFSET: &str = "INSERT INTO txn_offsets
     (transactional_id, group_name, topic_id, partition, committed_offset, metadata, leader_epoch,
      only_forward, generation)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
 ON CONFLICT (transactional_id, group_name, topic_id, partition) DO UPDATE SET
     committed_offset = excluded.committed_offset, metadata = excluded.metadata,
     leader_epoch = excluded.leader_epoch, only_forward = excluded.only_forward,
     generation = excluded.generation";

const SELECT_OFFSETS: &str = "SELECT group_name, topic_id, partition, committed_offset, metadata,
     leader_epoch, only_forward, generation
 FROM txn_offsets WHERE transactional_id = $1 ORDER BY group_name, topic_id, partition";

/// The open entries of producer `$1` take outcome `$2`.
const END_ENTRIES: &str =
    "UPDATE index_entries SET txn_state = $2 WHERE txn_producer = $1 AND txn_state = 1";

/// A marker at the high watermark of partition `$2` of topic `$1`.
const INSERT_MARKER: &str = "INSERT INTO txn_markers
     (topic_id, partition, marker_offset, producer_id, epoch, outcome, timestamp_ms)
 SELECT topic_id, partition, high_watermark, $3, $4, $5, $6 FROM partitions
 WHERE topic_id = $1 AND partition = $2";

/// The partition's high watermark moves past its new marker, and its first unstable
/// offset to its oldest transaction still open.
const ADVANCE_PAST_MARKER: &str = "UPDATE partitions SET high_watermark = high_watermark + 1,
     first_unstable_offset = (SELECT min(e.base_offset) FROM index_entries e
         WHERE e.topic_id = $1 AND e.partition = $2 AND e.txn_state = 1)
 WHERE topic_id = $1 AND partition = $2
 RETURNING log_start_offset, high_watermark, first_unstable_offset";

const DELETE_MEMBERS: [&str; 2] = [
    "DELETE FROM txn_partitions WHERE transactional_id = $1",
    "DELETE FROM txn_offsets WHERE transactional_id = $1",
];

const SELECT_EXPIRED: &str = "SELECT transactional_id, started_at_ms FROM transactions
 WHERE state = 1 AND started_at_ms + timeout_ms < $1 ORDER BY started_at_ms";
