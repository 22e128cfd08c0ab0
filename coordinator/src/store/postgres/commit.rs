//! Segment commits, table swaps and truncations in the PostgreSQL store: each reads the
//! rows [`plan`] names, lets it decide, and writes what it returns, in one transaction
//! on the leader's connection.

use silt_core::coordinator::{PartitionOffsets, SegmentCommit, TableCommit};
use tokio_postgres::{Client, Transaction};

use super::{Param, execute, query, query_opt};
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

async fn read_segment_rows(
    transaction: &Transaction<'_>,
    keys: SegmentKeys,
) -> Result<SegmentReads, StoreError> {
    let mut reads = SegmentReads::default();
    for key in keys.object_keys {
        let stored: Option<String> = query_opt(transaction, sql::SELECT_OUTCOMES, &[&key], |row| {
            row.try_get(0)
        })
        .await?;
        if let Some(stored) = stored {
            let outcomes = plan::stored_outcomes(&key, &stored)?;
            reads.committed.insert(key, outcomes);
        }
    }
    let select_partition = transaction.prepare(sql::SELECT_PARTITION).await?;
    for (topic_id, partition) in keys.partitions {
        let values: [Param<'_>; 2] = [&topic_id, &i64::from(partition)];
        let row = query_opt(transaction, &select_partition, &values, |row| {
            Ok(PartitionState {
                topic: row.try_get(0)?,
                log_start_offset: row.try_get(1)?,
                high_watermark: row.try_get(2)?,
            })
        })
        .await?;
        if let Some(row) = row {
            reads.partitions.insert((topic_id, partition), row);
        }
    }
    for producer_id in keys.producers {
        let row: Option<(i64, i64, Option<i64>, String)> =
            query_opt(transaction, sql::SELECT_PRODUCER, &[&producer_id], |row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                ))
            })
            .await?;
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
        let values: [Param<'_>; 3] = [&producer_id, &topic_id, &i64::from(partition)];
        let row: Option<(i64, String)> =
            query_opt(transaction, sql::SELECT_KAFKA_SEQUENCES, &values, |row| {
                Ok((row.try_get(0)?, row.try_get(1)?))
            })
            .await?;
        if let Some((epoch, batches)) = row {
            let state = producers::kafka_state_from_row(producer_id, epoch, &batches)?;
            reads.kafka_sequences.insert(key, state);
        }
    }
    Ok(reads)
}

async fn insert_segment(
    transaction: &Transaction<'_>,
    values: &[Param<'_>],
) -> Result<i64, StoreError> {
    query_opt(transaction, sql::INSERT_SEGMENT, values, |row| {
        row.try_get(0)
    })
    .await?
    .ok_or_else(|| StoreError::Invalid("no segment id".into()))
}

async fn write_segment_plan(
    transaction: &Transaction<'_>,
    plan: &SegmentPlan,
    committed_at_ms: i64,
) -> Result<(), StoreError> {
    let mut segment_ids = Vec::with_capacity(plan.segments.len());
    for segment in &plan.segments {
        let outcomes = serde_json::to_string(&segment.outcomes).map_err(json_error)?;
        let size = segment.object_size as i64;
        let values: [Param<'_>; 5] = [
            &segment.object_key,
            &size,
            &committed_at_ms,
            &outcomes,
            &0i64,
        ];
        segment_ids.push(insert_segment(transaction, &values).await?);
    }
    let insert_entry = transaction.prepare(sql::INSERT_ENTRY).await?;
    for entry in &plan.entries {
        execute(
            transaction,
            &insert_entry,
            &[
                &entry.topic_id,
                &i64::from(entry.partition),
                &(entry.base_offset as i64),
                &i64::from(entry.record_count),
                &segment_ids[entry.segment],
                &(entry.byte_offset as i64),
                &i64::from(entry.byte_len),
                &entry.min_timestamp,
                &entry.max_timestamp,
                &0i64,
            ],
        )
        .await?;
    }
    let update_partition = transaction.prepare(sql::UPDATE_HIGH_WATERMARK).await?;
    for (topic_id, partition, high_watermark) in &plan.high_watermarks {
        let values: [Param<'_>; 3] = [topic_id, &i64::from(*partition), &(*high_watermark as i64)];
        execute(transaction, &update_partition, &values).await?;
    }
    for (producer_id, state) in &plan.producers {
        let chunks = serde_json::to_string(&state.last_chunks).map_err(json_error)?;
        let values: [Param<'_>; 5] = [
            producer_id,
            &state.last_sequence,
            &state.last_topic_id,
            &chunks,
            &committed_at_ms,
        ];
        execute(transaction, sql::UPDATE_PRODUCER, &values).await?;
    }
    for ((producer_id, topic_id, partition), state) in &plan.kafka_sequences {
        let batches = serde_json::to_string(&state.batches).map_err(json_error)?;
        let values: [Param<'_>; 5] = [
            producer_id,
            topic_id,
            &i64::from(*partition),
            &i64::from(state.epoch),
            &batches,
        ];
        execute(transaction, sql::UPSERT_KAFKA_SEQUENCES, &values).await?;
    }
    Ok(())
}

/// Commits segments in one transaction (group commit).
pub(super) async fn commit_segments(
    writer: &mut Client,
    commits: Vec<SegmentCommit>,
    committed_at_ms: i64,
) -> Result<Vec<SegmentOutcome>, StoreError> {
    let transaction = writer.transaction().await?;
    let reads = read_segment_rows(&transaction, SegmentKeys::of(&commits)).await?;
    let plan = plan::plan_segments(commits, reads)?;
    write_segment_plan(&transaction, &plan, committed_at_ms).await?;
    transaction.commit().await?;
    Ok(plan.outcomes)
}

/// Replaces segment entries by a compacted file's entries, in one transaction.
pub(super) async fn commit_table(
    writer: &mut Client,
    commit: TableCommit,
    now_ms: i64,
) -> Result<(), StoreError> {
    let transaction = writer.transaction().await?;
    let committed = query_opt(
        &transaction,
        sql::SEGMENT_EXISTS,
        &[&commit.object_key],
        |_| Ok(()),
    )
    .await?
    .is_some();
    let topic_live = query_opt(
        &transaction,
        sql::TOPIC_LIVE,
        &[&commit.topic_id, &commit.topic],
        |_| Ok(()),
    )
    .await?
    .is_some();
    let mut reads = TableReads {
        committed,
        topic_live,
        covered: Vec::with_capacity(commit.ranges.len()),
    };
    if !reads.committed && reads.topic_live {
        for range in &commit.ranges {
            let (start, end) = plan::range_bounds(range);
            let values: [Param<'_>; 4] =
                [&commit.topic_id, &i64::from(range.partition), &start, &end];
            let entries = query(&transaction, sql::SELECT_COVERED, &values, |row| {
                Ok(CoveredEntry {
                    base_offset: row.try_get(0)?,
                    record_count: row.try_get(1)?,
                    parquet: row.try_get::<_, i64>(2)? == FORMAT_PARQUET,
                })
            })
            .await?;
            reads.covered.push(entries);
        }
    }
    if plan::plan_table(&commit, &reads)? == TablePlan::Repeated {
        return Ok(());
    }
    let size = commit.object_size as i64;
    let values: [Param<'_>; 5] = [&commit.object_key, &size, &now_ms, &"[]", &FORMAT_PARQUET];
    let table_id = insert_segment(&transaction, &values).await?;
    for range in &commit.ranges {
        let (start, end) = plan::range_bounds(range);
        let partition = i64::from(range.partition);
        let values: [Param<'_>; 4] = [&commit.topic_id, &partition, &start, &end];
        execute(&transaction, sql::DELETE_COVERED, &values).await?;
        let values: [Param<'_>; 10] = [
            &commit.topic_id,
            &partition,
            &start,
            &(range.record_count as i64),
            &table_id,
            &0i64,
            &plan::table_entry_bytes(range),
            &range.min_timestamp,
            &range.max_timestamp,
            &FORMAT_PARQUET,
        ];
        execute(&transaction, sql::INSERT_ENTRY, &values).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Raises a partition's log start and deletes the entries wholly below it.
pub(super) async fn truncate_before(
    writer: &mut Client,
    topic_id: i64,
    partition: u32,
    log_start_offset: u64,
) -> Result<PartitionOffsets, StoreError> {
    let number = i64::from(partition);
    let transaction = writer.transaction().await?;
    let current = query_opt(
        &transaction,
        sql::SELECT_BOUNDS,
        &[&topic_id, &number],
        |row| Ok((row.try_get(0)?, row.try_get(1)?)),
    )
    .await?;
    let offsets = plan::truncate(topic_id, partition, current, log_start_offset)?;
    let new_start = offsets.log_start_offset as i64;
    let values: [Param<'_>; 3] = [&topic_id, &number, &new_start];
    execute(&transaction, sql::UPDATE_LOG_START, &values).await?;
    execute(&transaction, sql::DELETE_BELOW, &values).await?;
    transaction.commit().await?;
    Ok(offsets)
}
