//! Segment commits, table swaps and truncations: each reads the rows [`plan`] names,
//! lets it decide, and writes what it returns, inside the caller's transaction.

use silt_core::coordinator::{PartitionOffsets, SegmentCommit, TableCommit};

use silt_core::transactions::TxnOutcome;

use super::{json_error, stored_offset, to_u32};
use crate::error::StoreError;
use crate::producers;
use crate::store::SegmentOutcome;
use crate::store::db::{Tx, cells};
use crate::store::plan::{
    self, CoveredEntry, OpenTxn, PartitionState, SegmentKeys, SegmentPlan, SegmentReads, TablePlan,
    TableReads,
};
use crate::store::rows::{FORMAT_PARQUET, FORMAT_SEGMENT};
use crate::store::sql;

async fn read_segment_rows(
    tx: &mut impl Tx,
    keys: SegmentKeys,
) -> Result<SegmentReads, StoreError> {
    let mut reads = SegmentReads::default();
    let params = keys.object_keys.iter().map(|key| cells![key]).collect();
    let stored = tx.query_many(sql::SELECT_OUTCOMES, params).await?;
    for (key, rows) in keys.object_keys.into_iter().zip(stored) {
        if let Some(mut row) = rows.into_iter().next() {
            let stored: String = row.get("outcomes")?;
            let outcomes = plan::stored_outcomes(&key, &stored)?;
            reads.committed.insert(key, outcomes);
        }
    }
    let params = keys
        .partitions
        .iter()
        .map(|(topic_id, partition)| cells![*topic_id, *partition])
        .collect();
    let partitions = tx.query_many(sql::SELECT_PARTITION, params).await?;
    for (key, rows) in keys.partitions.into_iter().zip(partitions) {
        if let Some(mut row) = rows.into_iter().next() {
            let state = PartitionState {
                topic: row.get("name")?,
                log_start_offset: row.get("log_start_offset")?,
                high_watermark: row.get("high_watermark")?,
                first_unstable_offset: row.get("first_unstable_offset")?,
            };
            reads.partitions.insert(key, state);
        }
    }
    let params = keys.producers.iter().map(|id| cells![*id]).collect();
    let producers = tx.query_many(sql::SELECT_PRODUCER, params).await?;
    for (producer_id, rows) in keys.producers.into_iter().zip(producers) {
        if let Some(mut row) = rows.into_iter().next() {
            let state = producers::state_from_row(
                producer_id,
                row.get("epoch")?,
                row.get("last_sequence")?,
                row.get("last_topic_id")?,
                &row.get::<String>("last_chunks")?,
            )?;
            reads.producers.insert(producer_id, state);
        }
    }
    let params = keys
        .kafka_sequences
        .iter()
        .map(|(producer_id, topic_id, partition)| cells![*producer_id, *topic_id, *partition])
        .collect();
    let sequences = tx.query_many(sql::SELECT_KAFKA_SEQUENCES, params).await?;
    for (key, rows) in keys.kafka_sequences.into_iter().zip(sequences) {
        if let Some(mut row) = rows.into_iter().next() {
            let epoch = row.get("epoch")?;
            let batches: String = row.get("batches")?;
            let state = producers::kafka_state_from_row(key.0, epoch, &batches)?;
            reads.kafka_sequences.insert(key, state);
        }
    }
    let params = keys.txn_producers.iter().map(|id| cells![*id]).collect();
    let open = tx.query_many(sql::SELECT_OPEN_TXN, params).await?;
    for (producer_id, rows) in keys.txn_producers.into_iter().zip(open) {
        for mut row in rows {
            let txn = reads
                .open_txns
                .entry(producer_id)
                .or_insert_with(OpenTxn::default);
            txn.epoch = row.get("epoch")?;
            if let Some(topic_id) = row.get::<Option<i64>>("topic_id")? {
                let partition = to_u32(row.get("partition")?, "partition")?;
                txn.partitions.insert((topic_id, partition));
            }
        }
    }
    Ok(reads)
}

/// Inserts an object's row; answers its id.
async fn insert_object(
    tx: &mut impl Tx,
    object_key: &str,
    object_size: u64,
    committed_at_ms: i64,
    outcomes: String,
    format: i64,
) -> Result<i64, StoreError> {
    let size = stored_offset(object_size);
    let params = cells![object_key, size, committed_at_ms, outcomes, format];
    tx.query_one(sql::INSERT_SEGMENT, params)
        .await?
        .get("segment_id")
}

async fn write_segment_plan(
    tx: &mut impl Tx,
    plan: &SegmentPlan,
    committed_at_ms: i64,
) -> Result<(), StoreError> {
    let mut params = Vec::with_capacity(plan.segments.len());
    for segment in &plan.segments {
        let outcomes = serde_json::to_string(&segment.outcomes).map_err(json_error)?;
        let size = stored_offset(segment.object_size);
        params.push(cells![
            &segment.object_key,
            size,
            committed_at_ms,
            outcomes,
            FORMAT_SEGMENT
        ]);
    }
    let mut segment_ids = Vec::with_capacity(plan.segments.len());
    for rows in tx.query_many(sql::INSERT_SEGMENT, params).await? {
        let mut row = rows
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Invalid("no segment id".into()))?;
        segment_ids.push(row.get::<i64>("segment_id")?);
    }
    let mut params = Vec::with_capacity(plan.entries.len());
    for entry in &plan.entries {
        let segment_id = *segment_ids
            .get(entry.segment)
            .ok_or_else(|| StoreError::Invalid(format!("no segment {}", entry.segment)))?;
        params.push(cells![
            entry.topic_id,
            entry.partition,
            stored_offset(entry.base_offset),
            entry.record_count,
            segment_id,
            stored_offset(entry.byte_offset),
            entry.byte_len,
            entry.min_timestamp,
            entry.max_timestamp,
            FORMAT_SEGMENT,
            entry.txn.map(|(producer_id, _)| producer_id),
            entry.txn.map(|(_, epoch)| epoch),
            i64::from(entry.txn.is_some()) * TxnOutcome::Open.code(),
        ]);
    }
    tx.execute_many(sql::INSERT_ENTRY, params).await?;
    let params = plan
        .high_watermarks
        .iter()
        .map(|(topic_id, partition, high_watermark, unstable)| {
            cells![
                *topic_id,
                *partition,
                stored_offset(*high_watermark),
                unstable.map(stored_offset)
            ]
        })
        .collect();
    tx.execute_many(sql::UPDATE_HIGH_WATERMARK, params).await?;
    let mut params = Vec::with_capacity(plan.producers.len());
    for (producer_id, state) in &plan.producers {
        let chunks = serde_json::to_string(&state.last_chunks).map_err(json_error)?;
        params.push(cells![
            *producer_id,
            state.last_sequence,
            state.last_topic_id,
            chunks,
            committed_at_ms
        ]);
    }
    tx.execute_many(sql::UPDATE_PRODUCER, params).await?;
    let mut params = Vec::with_capacity(plan.kafka_sequences.len());
    for ((producer_id, topic_id, partition), state) in &plan.kafka_sequences {
        let batches = serde_json::to_string(&state.batches).map_err(json_error)?;
        params.push(cells![
            *producer_id,
            *topic_id,
            *partition,
            state.epoch,
            batches
        ]);
    }
    tx.execute_many(sql::UPSERT_KAFKA_SEQUENCES, params).await?;
    Ok(())
}

/// Commits segments, in order (group commit).
pub async fn commit_segments(
    tx: &mut impl Tx,
    commits: Vec<SegmentCommit>,
    committed_at_ms: i64,
) -> Result<Vec<SegmentOutcome>, StoreError> {
    let reads = read_segment_rows(tx, SegmentKeys::of(&commits)).await?;
    let plan = plan::plan_segments(commits, reads)?;
    write_segment_plan(tx, &plan, committed_at_ms).await?;
    Ok(plan.outcomes)
}

async fn exists(
    tx: &mut impl Tx,
    sql: &str,
    params: Vec<crate::store::db::Cell>,
) -> Result<bool, StoreError> {
    Ok(tx.query_opt(sql, params).await?.is_some())
}

/// Replaces segment entries by a compacted file's entries.
pub async fn commit_table(
    tx: &mut impl Tx,
    commit: TableCommit,
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut reads = TableReads {
        committed: exists(tx, sql::SEGMENT_EXISTS, cells![&commit.object_key]).await?,
        topic_live: exists(tx, sql::TOPIC_LIVE, cells![commit.topic_id, &commit.topic]).await?,
        covered: Vec::with_capacity(commit.ranges.len()),
    };
    if !reads.committed && reads.topic_live {
        for range in &commit.ranges {
            let (start, end) = plan::range_bounds(range);
            let params = cells![commit.topic_id, range.partition, start, end];
            let mut entries = Vec::new();
            for mut row in tx.query(sql::SELECT_COVERED, params).await? {
                entries.push(CoveredEntry {
                    base_offset: row.get("base_offset")?,
                    record_count: row.get("record_count")?,
                    parquet: row.get::<i64>("format")? == FORMAT_PARQUET,
                    object_key: row.get("object_key")?,
                    open_txn: row.get::<i64>("txn_state")? == TxnOutcome::Open.code(),
                });
            }
            reads.covered.push(entries);
        }
    }
    if plan::plan_table(&commit, &reads)? == TablePlan::Repeated {
        return Ok(());
    }
    let table_id = insert_object(
        tx,
        &commit.object_key,
        commit.object_size,
        now_ms,
        "[]".into(),
        FORMAT_PARQUET,
    )
    .await?;
    for range in &commit.ranges {
        let (start, end) = plan::range_bounds(range);
        let params = cells![commit.topic_id, range.partition, start, end];
        for delete in sql::DELETE_COVERED {
            tx.execute(delete, params.clone()).await?;
        }
        let params = cells![
            commit.topic_id,
            range.partition,
            start,
            stored_offset(range.record_count),
            table_id,
            0i64,
            plan::table_entry_bytes(range),
            range.min_timestamp,
            range.max_timestamp,
            FORMAT_PARQUET,
            None::<i64>,
            None::<i64>,
            0i64,
        ];
        tx.execute(sql::INSERT_ENTRY, params).await?;
    }
    Ok(())
}

/// Raises a partition's log start and deletes the entries wholly below it.
pub async fn truncate_before(
    tx: &mut impl Tx,
    topic_id: i64,
    partition: u32,
    log_start_offset: u64,
) -> Result<PartitionOffsets, StoreError> {
    let current = match tx
        .query_opt(sql::SELECT_BOUNDS, cells![topic_id, partition])
        .await?
    {
        Some(mut row) => Some((row.get("log_start_offset")?, row.get("high_watermark")?)),
        None => None,
    };
    let offsets = plan::truncate(topic_id, partition, current, log_start_offset)?;
    let new_start = stored_offset(offsets.log_start_offset);
    tx.execute(
        sql::UPDATE_LOG_START,
        cells![topic_id, partition, new_start],
    )
    .await?;
    for delete in sql::DELETE_BELOW {
        tx.execute(delete, cells![topic_id, partition, new_start])
            .await?;
    }
    Ok(offsets)
}
