//! Segment commits, table swaps and truncations in the SQLite store: each reads the
//! rows [`plan`] names, lets it decide, and writes what it returns, in one transaction.

use rusqlite::{Connection, TransactionBehavior};
use silt_core::coordinator::{PartitionOffsets, SegmentCommit, TableCommit};

use super::{execute, query, query_opt};
use crate::error::StoreError;
use crate::producers;
use crate::store::SegmentOutcome;
use crate::store::plan::{
    self, CoveredEntry, PartitionState, SegmentKeys, SegmentPlan, SegmentReads, TablePlan,
    TableReads,
};
use crate::store::rows::FORMAT_PARQUET;
use crate::store::sql;

fn json_error(error: serde_json::Error) -> StoreError {
    StoreError::Invalid(error.to_string())
}

fn read_segment_rows(
    transaction: &Connection,
    keys: SegmentKeys,
) -> Result<SegmentReads, StoreError> {
    let mut reads = SegmentReads::default();
    for key in keys.object_keys {
        let stored: Option<String> =
            query_opt(transaction, sql::SELECT_OUTCOMES, &[&key], |row| row.get(0))?;
        if let Some(stored) = stored {
            let outcomes = plan::stored_outcomes(&key, &stored)?;
            reads.committed.insert(key, outcomes);
        }
    }
    for (topic_id, partition) in keys.partitions {
        let row = query_opt(
            transaction,
            sql::SELECT_PARTITION,
            &[&topic_id, &partition],
            |row| {
                Ok(PartitionState {
                    topic: row.get(0)?,
                    log_start_offset: row.get(1)?,
                    high_watermark: row.get(2)?,
                })
            },
        )?;
        if let Some(row) = row {
            reads.partitions.insert((topic_id, partition), row);
        }
    }
    for producer_id in keys.producers {
        let row: Option<(i64, i64, Option<i64>, String)> =
            query_opt(transaction, sql::SELECT_PRODUCER, &[&producer_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
        if let Some((epoch, last_sequence, last_topic_id, chunks)) = row {
            let state = producers::state_from_row(
                producer_id,
                epoch,
                last_sequence,
                last_topic_id,
                &chunks,
            )?;
            reads.producers.insert(producer_id, state);
        }
    }
    for key in keys.kafka_sequences {
        let (producer_id, topic_id, partition) = key;
        let row: Option<(i64, String)> = query_opt(
            transaction,
            sql::SELECT_KAFKA_SEQUENCES,
            &[&producer_id, &topic_id, &partition],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if let Some((epoch, batches)) = row {
            let state = producers::kafka_state_from_row(producer_id, epoch, &batches)?;
            reads.kafka_sequences.insert(key, state);
        }
    }
    Ok(reads)
}

fn write_segment_plan(
    transaction: &Connection,
    plan: &SegmentPlan,
    committed_at_ms: i64,
) -> Result<(), StoreError> {
    let mut segment_ids = Vec::with_capacity(plan.segments.len());
    for segment in &plan.segments {
        let outcomes = serde_json::to_string(&segment.outcomes).map_err(json_error)?;
        let id = query_opt(
            transaction,
            sql::INSERT_SEGMENT,
            &[
                &segment.object_key,
                &(segment.object_size as i64),
                &committed_at_ms,
                &outcomes,
                &0i64,
            ],
            |row| row.get::<_, i64>(0),
        )?;
        segment_ids.push(id.ok_or_else(|| StoreError::Invalid("no segment id".into()))?);
    }
    for entry in &plan.entries {
        execute(
            transaction,
            sql::INSERT_ENTRY,
            &[
                &entry.topic_id,
                &entry.partition,
                &(entry.base_offset as i64),
                &entry.record_count,
                &segment_ids[entry.segment],
                &(entry.byte_offset as i64),
                &entry.byte_len,
                &entry.min_timestamp,
                &entry.max_timestamp,
                &0i64,
            ],
        )?;
    }
    for (topic_id, partition, high_watermark) in &plan.high_watermarks {
        execute(
            transaction,
            sql::UPDATE_HIGH_WATERMARK,
            &[topic_id, partition, &(*high_watermark as i64)],
        )?;
    }
    for (producer_id, state) in &plan.producers {
        let chunks = serde_json::to_string(&state.last_chunks).map_err(json_error)?;
        execute(
            transaction,
            sql::UPDATE_PRODUCER,
            &[
                producer_id,
                &state.last_sequence,
                &state.last_topic_id,
                &chunks,
                &committed_at_ms,
            ],
        )?;
    }
    for ((producer_id, topic_id, partition), state) in &plan.kafka_sequences {
        let batches = serde_json::to_string(&state.batches).map_err(json_error)?;
        execute(
            transaction,
            sql::UPSERT_KAFKA_SEQUENCES,
            &[producer_id, topic_id, partition, &state.epoch, &batches],
        )?;
    }
    Ok(())
}

/// Commits segments in one transaction (group commit).
pub(super) fn commit_segments(
    connection: &mut Connection,
    commits: Vec<SegmentCommit>,
    committed_at_ms: i64,
) -> Result<Vec<SegmentOutcome>, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let reads = read_segment_rows(&transaction, SegmentKeys::of(&commits))?;
    let plan = plan::plan_segments(commits, reads)?;
    write_segment_plan(&transaction, &plan, committed_at_ms)?;
    transaction.commit()?;
    Ok(plan.outcomes)
}

/// Replaces segment entries by a compacted file's entries, in one transaction.
pub(super) fn commit_table(
    connection: &mut Connection,
    commit: TableCommit,
    now_ms: i64,
) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists = |sql: &str, values: &[&dyn rusqlite::ToSql]| -> Result<bool, StoreError> {
        Ok(query_opt(&transaction, sql, values, |_| Ok(()))?.is_some())
    };
    let mut reads = TableReads {
        committed: exists(sql::SEGMENT_EXISTS, &[&commit.object_key])?,
        topic_live: exists(sql::TOPIC_LIVE, &[&commit.topic_id, &commit.topic])?,
        covered: Vec::with_capacity(commit.ranges.len()),
    };
    if !reads.committed && reads.topic_live {
        for range in &commit.ranges {
            let (start, end) = plan::range_bounds(range);
            let entries = query(
                &transaction,
                sql::SELECT_COVERED,
                &[&commit.topic_id, &range.partition, &start, &end],
                |row| {
                    Ok(CoveredEntry {
                        base_offset: row.get(0)?,
                        record_count: row.get(1)?,
                        parquet: row.get::<_, i64>(2)? == FORMAT_PARQUET,
                    })
                },
            )?;
            reads.covered.push(entries);
        }
    }
    if plan::plan_table(&commit, &reads)? == TablePlan::Repeated {
        return Ok(());
    }
    let table_id = query_opt(
        &transaction,
        sql::INSERT_SEGMENT,
        &[
            &commit.object_key,
            &(commit.object_size as i64),
            &now_ms,
            &"[]",
            &FORMAT_PARQUET,
        ],
        |row| row.get::<_, i64>(0),
    )?
    .ok_or_else(|| StoreError::Invalid("no segment id".into()))?;
    for range in &commit.ranges {
        let (start, end) = plan::range_bounds(range);
        execute(
            &transaction,
            sql::DELETE_COVERED,
            &[&commit.topic_id, &range.partition, &start, &end],
        )?;
        execute(
            &transaction,
            sql::INSERT_ENTRY,
            &[
                &commit.topic_id,
                &range.partition,
                &start,
                &(range.record_count as i64),
                &table_id,
                &0i64,
                &plan::table_entry_bytes(range),
                &range.min_timestamp,
                &range.max_timestamp,
                &FORMAT_PARQUET,
            ],
        )?;
    }
    transaction.commit()?;
    Ok(())
}

/// Raises a partition's log start and deletes the entries wholly below it.
pub(super) fn truncate_before(
    connection: &mut Connection,
    topic_id: i64,
    partition: u32,
    log_start_offset: u64,
) -> Result<PartitionOffsets, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = query_opt(
        &transaction,
        sql::SELECT_BOUNDS,
        &[&topic_id, &partition],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let offsets = plan::truncate(topic_id, partition, current, log_start_offset)?;
    let new_start = offsets.log_start_offset as i64;
    execute(
        &transaction,
        sql::UPDATE_LOG_START,
        &[&topic_id, &partition, &new_start],
    )?;
    execute(
        &transaction,
        sql::DELETE_BELOW,
        &[&topic_id, &partition, &new_start],
    )?;
    transaction.commit()?;
    Ok(offsets)
}
