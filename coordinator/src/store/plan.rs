//! What a segment commit, a table swap and a truncation do, decided from the rows they
//! read: pure functions, no I/O. Each backend reads the rows a plan names
//! ([`SegmentKeys`], [`TableReads`]), calls the planner, and writes the rows it returns
//! inside one transaction; so every rule of a commit (the idempotent-producer decision,
//! duplicate and rejected outcomes, high watermarks, the contiguity of a table swap, the
//! bounds of a truncation) exists here once, whatever the database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, CoordinatorError, PartitionOffsets, SegmentCommit, TableCommit,
    TableRange, Topic, TopicConfig,
};

use crate::error::StoreError;
use crate::producers::{self, Decision, KafkaPartitionState, LastChunk, ProducerState};
use crate::store::SegmentOutcome;

#[cfg(test)]
mod tests;

/// A partition's row as a commit reads it, with its topic's name (a chunk names its
/// topic, and a topic deleted and created again under the same id is not the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub topic: String,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    /// The first offset of the partition's oldest open transaction.
    pub first_unstable_offset: Option<i64>,
}

/// A transactional producer's open transaction as a commit reads it: its epoch and the
/// partitions added to it; `None` when its transactional id has no transaction open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenTxn {
    pub epoch: i64,
    pub partitions: HashSet<(i64, u32)>,
}

/// A `kafka_sequences` key: (producer id, topic id, partition).
pub type KafkaKey = (i64, i64, u32);

/// The rows a batch of segment commits reads before it is planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentKeys {
    pub object_keys: Vec<String>,
    /// (topic id, partition)
    pub partitions: Vec<(i64, u32)>,
    pub producers: Vec<i64>,
    pub kafka_sequences: Vec<KafkaKey>,
    /// Producers of transactional batches, whose open transaction the commit checks.
    pub txn_producers: Vec<i64>,
}

impl SegmentKeys {
    /// Every row `commits` may read, each once.
    pub fn of(commits: &[SegmentCommit]) -> SegmentKeys {
        let mut keys = SegmentKeys::default();
        let (mut partitions, mut producers, mut kafka) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for commit in commits {
            keys.object_keys.push(commit.object_key.clone());
            for chunk in &commit.chunks {
                if partitions.insert((chunk.topic_id, chunk.partition)) {
                    keys.partitions.push((chunk.topic_id, chunk.partition));
                }
                if let Some(stamp) = chunk.producer
                    && producers.insert(stamp.producer_id)
                {
                    keys.producers.push(stamp.producer_id);
                }
                if let Some(stamp) = chunk.kafka {
                    if producers.insert(stamp.producer_id) {
                        keys.producers.push(stamp.producer_id);
                    }
                    let key = (stamp.producer_id, chunk.topic_id, chunk.partition);
                    if kafka.insert(key) {
                        keys.kafka_sequences.push(key);
                    }
                }
                if let Some(producer_id) = txn_of(chunk).map(|(producer_id, _)| producer_id)
                    && !keys.txn_producers.contains(&producer_id)
                {
                    keys.txn_producers.push(producer_id);
                }
            }
        }
        keys
    }
}

/// The rows [`SegmentKeys`] named, as the store holds them (absent rows are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentReads {
    /// The stored outcomes of object keys committed before.
    pub committed: HashMap<String, Vec<ChunkOutcome>>,
    pub partitions: HashMap<(i64, u32), PartitionState>,
    pub producers: HashMap<i64, ProducerState>,
    pub kafka_sequences: HashMap<KafkaKey, KafkaPartitionState>,
    /// The open transactions of [`SegmentKeys::txn_producers`] (absent: none open).
    pub open_txns: HashMap<i64, OpenTxn>,
}

/// A new `segments` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSegment {
    pub object_key: String,
    pub object_size: u64,
    pub outcomes: Vec<ChunkOutcome>,
}

/// A new `index_entries` row of a segment; `segment` indexes [`SegmentPlan::segments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub segment: usize,
    pub topic_id: i64,
    pub partition: u32,
    pub base_offset: u64,
    pub record_count: u32,
    pub byte_offset: u64,
    pub byte_len: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// The open transaction the records belong to: (producer id, epoch).
    pub txn: Option<(i64, i32)>,
}

/// A partition's new bounds after a commit: (topic id, partition, high watermark, first
/// offset of an open transaction).
pub type NewBounds = (i64, u32, u64, Option<u64>);

/// What a batch of segment commits writes, and what it answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentPlan {
    /// One per commit, in order.
    pub outcomes: Vec<SegmentOutcome>,
    /// Segments to insert, in order (a repeated object key inserts none).
    pub segments: Vec<NewSegment>,
    pub entries: Vec<NewEntry>,
    /// Partitions whose high watermark moved.
    pub high_watermarks: Vec<NewBounds>,
    /// Producers whose last request changed or that committed a Kafka batch; their
    /// `updated_at_ms` becomes the commit's time.
    pub producers: Vec<(i64, ProducerState)>,
    pub kafka_sequences: Vec<(KafkaKey, KafkaPartitionState)>,
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Invalid(format!("negative {what}: {value}")))
}

/// The rows being planned: what was read, changed as the plan goes.
struct Working {
    reads: SegmentReads,
    committed_here: HashMap<String, Vec<ChunkOutcome>>,
    high_watermarks: BTreeMap<(i64, u32), (u64, Option<u64>)>,
    producers: BTreeSet<i64>,
    kafka_sequences: BTreeSet<KafkaKey>,
}

/// Plans `commits`, in order, as one transaction: a later commit sees what an earlier one
/// wrote.
pub fn plan_segments(
    commits: Vec<SegmentCommit>,
    reads: SegmentReads,
) -> Result<SegmentPlan, StoreError> {
    let mut working = Working {
        reads,
        committed_here: HashMap::new(),
        high_watermarks: BTreeMap::new(),
        producers: BTreeSet::new(),
        kafka_sequences: BTreeSet::new(),
    };
    let mut plan = SegmentPlan::default();
    for commit in commits {
        let previous = working
            .committed_here
            .get(&commit.object_key)
            .or_else(|| working.reads.committed.get(&commit.object_key));
        if let Some(previous) = previous {
            plan.outcomes.push((previous.clone(), Vec::new()));
            continue;
        }
        let segment = plan.segments.len();
        let (outcomes, advanced) = plan_segment(&mut working, &mut plan, segment, &commit)?;
        working
            .committed_here
            .insert(commit.object_key.clone(), outcomes.clone());
        plan.segments.push(NewSegment {
            object_key: commit.object_key,
            object_size: commit.object_size,
            outcomes: outcomes.clone(),
        });
        plan.outcomes.push((outcomes, advanced));
    }
    plan.high_watermarks = working
        .high_watermarks
        .into_iter()
        .map(|((topic_id, partition), (high_watermark, unstable))| {
            (topic_id, partition, high_watermark, unstable)
        })
        .collect();
    for producer_id in working.producers {
        if let Some(state) = working.reads.producers.remove(&producer_id) {
            plan.producers.push((producer_id, state));
        }
    }
    for key in working.kafka_sequences {
        if let Some(state) = working.reads.kafka_sequences.remove(&key) {
            plan.kafka_sequences.push((key, state));
        }
    }
    Ok(plan)
}

/// The chunks of one request: those of an idempotent request are adjacent and share its
/// stamp; any other chunk (a Kafka batch among them) stands alone.
fn requests(chunks: &[ChunkCommit]) -> impl Iterator<Item = &[ChunkCommit]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let first = chunks.get(start)?;
        let length = match (first.producer, first.kafka) {
            (Some(stamp), None) => chunks[start..]
                .iter()
                .take_while(|chunk| chunk.producer == Some(stamp) && chunk.request == first.request)
                .count(),
            _ => 1,
        };
        let request = &chunks[start..start + length];
        start += length;
        Some(request)
    })
}

fn plan_segment(
    working: &mut Working,
    plan: &mut SegmentPlan,
    segment: usize,
    commit: &SegmentCommit,
) -> Result<SegmentOutcome, StoreError> {
    let mut outcomes = Vec::with_capacity(commit.chunks.len());
    let mut advanced: Vec<(i64, PartitionOffsets)> = Vec::new();
    for request in requests(&commit.chunks) {
        let first = &request[0];
        let decision = match (&first.producer, &first.kafka) {
            (_, Some(kafka)) => producers::decide_kafka(
                working.reads.producers.get(&kafka.producer_id),
                working.reads.kafka_sequences.get(&(
                    kafka.producer_id,
                    first.topic_id,
                    first.partition,
                )),
                kafka,
                first.partition,
                first.record_count,
            ),
            (None, None) => Decision::Append,
            (Some(stamp), None) => producers::decide(
                working.reads.producers.get(&stamp.producer_id),
                stamp,
                first.topic_id,
            ),
        };
        let decision = match (decision, txn_of(first)) {
            (Decision::Append, Some(txn)) => txn_decision(&working.reads.open_txns, txn, first),
            (decision, _) => decision,
        };
        match decision {
            Decision::Append => {
                let mut landed = Vec::with_capacity(request.len());
                for chunk in request {
                    match append(working, plan, segment, chunk, &mut advanced)? {
                        Some(base_offset) => {
                            outcomes.push(ChunkOutcome::Committed { base_offset });
                            landed.push(LastChunk {
                                partition: chunk.partition,
                                base_offset,
                                record_count: chunk.record_count,
                            });
                        }
                        None => outcomes.push(ChunkOutcome::Rejected {
                            error_code: "topic_not_found".into(),
                            message: format!(
                                "topic {:?} partition {} no longer exists",
                                chunk.topic, chunk.partition
                            ),
                        }),
                    }
                }
                remember(working, first, landed);
            }
            Decision::Duplicate(last_chunks) => {
                for chunk in request {
                    let original = last_chunks.iter().find(|last| {
                        last.partition == chunk.partition && last.record_count == chunk.record_count
                    });
                    outcomes.push(match original {
                        Some(last) => ChunkOutcome::Committed {
                            base_offset: last.base_offset,
                        },
                        None => ChunkOutcome::Rejected {
                            error_code: "sequence_reused".into(),
                            message:
                                "a retry must carry the same records as the request it repeats"
                                    .into(),
                        },
                    });
                }
            }
            Decision::Reject {
                error_code,
                message,
            } => {
                for _ in request {
                    outcomes.push(ChunkOutcome::Rejected {
                        error_code: error_code.into(),
                        message: message.clone(),
                    });
                }
            }
        }
    }
    Ok((outcomes, advanced))
}

/// Gives `chunk` the partition's next offsets; `None` when its partition (or topic) is
/// gone.
fn append(
    working: &mut Working,
    plan: &mut SegmentPlan,
    segment: usize,
    chunk: &ChunkCommit,
    advanced: &mut Vec<(i64, PartitionOffsets)>,
) -> Result<Option<u64>, StoreError> {
    let key = (chunk.topic_id, chunk.partition);
    let Some(row) = working
        .reads
        .partitions
        .get_mut(&key)
        .filter(|row| row.topic == chunk.topic)
    else {
        return Ok(None);
    };
    let base_offset = to_u64(row.high_watermark, "high watermark")?;
    let high_watermark = base_offset + u64::from(chunk.record_count);
    row.high_watermark = i64::try_from(high_watermark)
        .map_err(|_| StoreError::Invalid(format!("high watermark {high_watermark}")))?;
    let txn = txn_of(chunk);
    if txn.is_some() && row.first_unstable_offset.is_none() {
        row.first_unstable_offset = Some(row.high_watermark - i64::from(chunk.record_count));
    }
    let first_unstable_offset = row
        .first_unstable_offset
        .map(|offset| to_u64(offset, "first unstable offset"))
        .transpose()?;
    working
        .high_watermarks
        .insert(key, (high_watermark, first_unstable_offset));
    plan.entries.push(NewEntry {
        segment,
        topic_id: chunk.topic_id,
        partition: chunk.partition,
        base_offset,
        record_count: chunk.record_count,
        byte_offset: chunk.byte_offset,
        byte_len: chunk.byte_len,
        min_timestamp: chunk.min_timestamp,
        max_timestamp: chunk.max_timestamp,
        txn,
    });
    let offsets = PartitionOffsets {
        partition: chunk.partition,
        log_start_offset: to_u64(row.log_start_offset, "log start offset")?,
        high_watermark,
        first_unstable_offset,
    };
    match advanced
        .iter_mut()
        .find(|(topic_id, o)| *topic_id == chunk.topic_id && o.partition == chunk.partition)
    {
        Some((_, existing)) => *existing = offsets,
        None => advanced.push((chunk.topic_id, offsets)),
    }
    Ok(Some(base_offset))
}

/// The open transaction a chunk's records belong to, (producer id, epoch): a Kafka
/// batch marked transactional, or an HTTP transaction's records.
fn txn_of(chunk: &ChunkCommit) -> Option<(i64, i32)> {
    match (chunk.kafka, chunk.txn) {
        (Some(stamp), _) if stamp.transactional => Some((stamp.producer_id, stamp.epoch)),
        (None, Some(producer)) => Some((producer.producer_id, producer.epoch)),
        _ => None,
    }
}

/// Whether a transaction's records may join their producer's open transaction: it must
/// be open, of their epoch, and hold their partition (Kafka's AddPartitionsToTxn comes
/// first).
fn txn_decision(
    open_txns: &HashMap<i64, OpenTxn>,
    (producer_id, epoch): (i64, i32),
    chunk: &ChunkCommit,
) -> Decision {
    let refuse = |message: String| Decision::Reject {
        error_code: "invalid_txn_state",
        message,
    };
    match open_txns.get(&producer_id) {
        None => refuse(format!(
            "producer {producer_id} has no open transaction; add the partition to a transaction first"
        )),
        Some(open) if open.epoch != i64::from(epoch) => Decision::Reject {
            error_code: "producer_fenced",
            message: format!(
                "producer {producer_id} epoch {epoch} is fenced by epoch {}",
                open.epoch
            ),
        },
        Some(open) if !open.partitions.contains(&(chunk.topic_id, chunk.partition)) => {
            refuse(format!(
                "partition {} of topic {:?} was not added to producer {producer_id}'s transaction",
                chunk.partition, chunk.topic
            ))
        }
        Some(_) => Decision::Append,
    }
}

/// Records where an appended request landed: a stamped request becomes its producer's
/// last, and a Kafka batch joins its partition's last batches.
fn remember(working: &mut Working, first: &ChunkCommit, landed: Vec<LastChunk>) {
    if landed.is_empty() {
        return;
    }
    if let (Some(kafka), [chunk]) = (first.kafka, landed.as_slice()) {
        let key = (kafka.producer_id, first.topic_id, chunk.partition);
        let state = producers::kafka_appended(
            working.reads.kafka_sequences.remove(&key),
            &kafka,
            chunk.record_count,
            chunk.base_offset,
        );
        working.reads.kafka_sequences.insert(key, state);
        working.kafka_sequences.insert(key);
        working.producers.insert(kafka.producer_id);
    }
    if let Some(stamp) = first.producer
        && let Some(state) = working.reads.producers.get_mut(&stamp.producer_id)
    {
        state.last_sequence = stamp.sequence;
        state.last_topic_id = Some(first.topic_id);
        state.last_chunks = landed;
        working.producers.insert(stamp.producer_id);
    }
}

/// An index entry a table swap finds in one of its ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveredEntry {
    pub base_offset: i64,
    pub record_count: i64,
    pub parquet: bool,
    /// The object the entry points into (empty for a transaction marker).
    pub object_key: String,
    /// The entry's records belong to a transaction still open.
    pub open_txn: bool,
}

/// The rows a table swap reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReads {
    /// The object key is committed already.
    pub committed: bool,
    /// The topic exists under this id and name.
    pub topic_live: bool,
    /// For each of the commit's ranges, the entries that start inside it, in offset order.
    pub covered: Vec<Vec<CoveredEntry>>,
}

/// What a table swap writes: for each range, delete the entries starting in
/// `base_offset..end_offset` and insert one Parquet entry in their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TablePlan {
    /// The object key was committed before: nothing changes.
    Repeated,
    Swap,
}

/// Checks a table swap: the topic is live, and each range is covered exactly by
/// contiguous entries, each of a segment or of a compacted file the commit names in
/// `replaces` (a key compaction's rewrite read it; any other compacted file changed
/// under it).
pub fn plan_table(commit: &TableCommit, reads: &TableReads) -> Result<TablePlan, StoreError> {
    if reads.committed {
        return Ok(TablePlan::Repeated);
    }
    if !reads.topic_live {
        return Err(CoordinatorError::TopicNotFound(commit.topic.clone()).into());
    }
    if reads.covered.len() != commit.ranges.len() {
        return Err(StoreError::Invalid(format!(
            "a table swap read {} ranges of {}",
            reads.covered.len(),
            commit.ranges.len()
        )));
    }
    for (range, covered) in commit.ranges.iter().zip(&reads.covered) {
        let end = range.base_offset.saturating_add(range.record_count);
        let conflict = |why: String| -> StoreError {
            CoordinatorError::InvalidArgument(format!(
                "partition {} offsets {}..{end} cannot be replaced: {why}",
                range.partition, range.base_offset
            ))
            .into()
        };
        let mut next = i64::try_from(range.base_offset)
            .map_err(|_| conflict("the offsets are out of range".into()))?;
        for entry in covered {
            let replaceable = !entry.parquet || commit.replaces.contains(&entry.object_key);
            if entry.open_txn {
                return Err(conflict(format!(
                    "offset {} belongs to a transaction still open",
                    entry.base_offset
                )));
            }
            if entry.base_offset != next || !replaceable {
                return Err(conflict(format!(
                    "the index changed at offset {}",
                    entry.base_offset
                )));
            }
            next = entry.base_offset + entry.record_count;
        }
        if u64::try_from(next).ok() != Some(end) || range.record_count > u64::from(u32::MAX) {
            return Err(conflict(format!("segment entries end at {next}")));
        }
    }
    Ok(TablePlan::Swap)
}

/// The outcomes a segment's row stored (JSON), for a repeated commit of `object_key`.
pub fn stored_outcomes(object_key: &str, stored: &str) -> Result<Vec<ChunkOutcome>, StoreError> {
    serde_json::from_str(stored)
        .map_err(|error| StoreError::Invalid(format!("stored outcomes of {object_key}: {error}")))
}

/// A table range's offsets `start..end` as the index stores them.
pub fn range_bounds(range: &TableRange) -> (i64, i64) {
    let start = i64::try_from(range.base_offset).unwrap_or(i64::MAX);
    (
        start,
        start.saturating_add(i64::try_from(range.record_count).unwrap_or(i64::MAX)),
    )
}

/// The byte size a table swap's entry records for `range` (for size-based retention).
pub fn table_entry_bytes(range: &TableRange) -> i64 {
    range.byte_size.min(u64::from(u32::MAX)) as i64
}

/// A partition's offsets after moving its log start to `requested`, kept within
/// `log_start_offset..=high_watermark` of `current`.
pub fn truncate(
    topic_id: i64,
    partition: u32,
    current: Option<(i64, i64)>,
    requested: u64,
) -> Result<PartitionOffsets, StoreError> {
    let Some((start, high_watermark)) = current else {
        return Err(CoordinatorError::InvalidArgument(format!(
            "no partition {partition} in topic {topic_id}"
        ))
        .into());
    };
    let requested = i64::try_from(requested).unwrap_or(i64::MAX);
    let new_start = requested.clamp(start, high_watermark.max(start));
    Ok(PartitionOffsets::new(
        partition,
        to_u64(new_start, "log start offset")?,
        to_u64(high_watermark, "high watermark")?,
    ))
}

/// The topic a store created from `config`.
pub fn created_topic(config: TopicConfig, topic_id: i64, created_at_ms: i64) -> Topic {
    Topic {
        topic_id,
        name: config.name,
        partitions: config.partitions,
        retention_ms: config.retention_ms,
        retention_bytes: config.retention_bytes,
        created_at_ms,
        value_schema: config.value_schema,
        configs: config.configs,
    }
}

/// The epoch after `epoch`, when a producer asks again for its id.
pub fn next_epoch(epoch: i64) -> Result<i32, StoreError> {
    epoch
        .checked_add(1)
        .and_then(|epoch| i32::try_from(epoch).ok())
        .ok_or_else(|| StoreError::Invalid(format!("producer epoch {epoch}")))
}
