//! The fresh tail of a topic in a query: for each partition, the offsets past what its
//! compacted files hold, read through the reader (segment chunks, or compacted files
//! that a swap made since the query was planned) and decoded to Arrow in batches.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use silt_core::coordinator::PartitionOffsets;
use silt_core::schema::ValueSchema;
use silt_core::transactions::Isolation;
use silt_reader::table::{TableRow, rows_to_batch, rows_to_typed_batch, table_schema};
use silt_reader::{FetchRequest, Reader};

/// Records per batch of the tail.
const BATCH_RECORDS: usize = 8192;
/// A partition's tail longer than this is split to be read side by side.
const SPLIT_RECORDS: u64 = 65_536;
/// Encoded bytes per batch of the tail, at most (one record always fits).
const BATCH_BYTES: usize = 8 << 20;

/// One partition's part of the tail: offsets `from..to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRange {
    pub partition: u32,
    pub from: u64,
    pub to: u64,
    /// Whether `from` already skips the records older than the scan wants.
    pub searched: bool,
}

/// Scans the tail ranges of one topic, spread over several output partitions that
/// are read side by side.
pub struct TailExec {
    reader: Arc<Reader>,
    topic: String,
    value_schema: Option<ValueSchema>,
    /// The ranges of each output partition.
    parts: Vec<Vec<TailRange>>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    /// No wanted record is older (milliseconds; `i64::MIN`: any).
    since: i64,
    /// What the scan chose before reading, for EXPLAIN.
    pruning: String,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for TailExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TailExec")
            .field("topic", &self.topic)
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

pub struct TailScan {
    pub reader: Arc<Reader>,
    pub topic: String,
    pub value_schema: Option<ValueSchema>,
    pub ranges: Vec<TailRange>,
    /// Output partitions to spread the ranges over, at most.
    pub partitions: usize,
    pub projection: Option<Vec<usize>>,
    pub limit: Option<usize>,
    /// No wanted record is older (milliseconds; `i64::MIN`: any).
    pub since: i64,
    pub pruning: String,
    /// The projected schema.
    pub schema: SchemaRef,
}

/// `ranges` cut into pieces of about equal length (a long one into several), spread
/// over at most `partitions` parts.
fn spread(ranges: Vec<TailRange>, partitions: usize) -> Vec<Vec<TailRange>> {
    let partitions = partitions.max(1);
    let total: u64 = ranges.iter().map(|range| range.to - range.from).sum();
    let piece = (total / partitions as u64).max(SPLIT_RECORDS);
    let mut pieces = Vec::new();
    for range in ranges {
        let mut from = range.from;
        while from < range.to {
            let to = range.to.min(from.saturating_add(piece));
            pieces.push(TailRange {
                from,
                to,
                ..range.clone()
            });
            from = to;
        }
    }
    let mut parts: Vec<Vec<TailRange>> = vec![Vec::new(); partitions.min(pieces.len()).max(1)];
    let count = parts.len();
    for (index, piece) in pieces.into_iter().enumerate() {
        parts[index % count].push(piece);
    }
    parts
}

impl TailExec {
    pub fn new(scan: TailScan) -> TailExec {
        let parts = spread(scan.ranges, scan.partitions);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&scan.schema)),
            Partitioning::UnknownPartitioning(parts.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        TailExec {
            reader: scan.reader,
            topic: scan.topic,
            value_schema: scan.value_schema,
            parts,
            projection: scan.projection,
            limit: scan.limit,
            since: scan.since,
            pruning: scan.pruning,
            schema: scan.schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for TailExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let ranges = self.parts.iter().flatten();
        let records: u64 = ranges.clone().map(|range| range.to - range.from).sum();
        let partitions: std::collections::BTreeSet<u32> =
            ranges.map(|range| range.partition).collect();
        write!(
            f,
            "SiltTopicScan: topic={}, {}, tail={} partitions / {} records",
            self.topic,
            self.pruning,
            partitions.len(),
            records
        )
    }
}

impl ExecutionPlan for TailExec {
    fn name(&self) -> &str {
        "SiltTopicScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let ranges = self.parts.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "the tail scan has {} partitions, not {partition}",
                self.parts.len()
            ))
        })?;
        let state = TailState {
            reader: Arc::clone(&self.reader),
            topic: self.topic.clone(),
            value_schema: self.value_schema.clone(),
            ranges,
            projection: self.projection.clone(),
            left: self.limit.unwrap_or(usize::MAX),
            since: self.since,
            schema: Arc::clone(&self.schema),
        };
        let stream = futures::stream::try_unfold(state, TailState::next_batch).filter_map(
            |batch| async move {
                match batch {
                    Ok(batch) if batch.num_rows() == 0 => None,
                    other => Some(other),
                }
            },
        );
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

struct TailState {
    reader: Arc<Reader>,
    topic: String,
    value_schema: Option<ValueSchema>,
    /// Ranges still to read, the next one first (reversed).
    ranges: Vec<TailRange>,
    projection: Option<Vec<usize>>,
    /// Rows the limit still allows.
    left: usize,
    since: i64,
    schema: SchemaRef,
}

impl TailState {
    /// `rows` as a batch of the projected columns, building only what is asked for
    /// (nothing for a count, no typed columns unless one is projected).
    fn batch(&self, rows: &[TableRow]) -> Result<RecordBatch> {
        if rows.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        let fixed = table_schema().fields().len();
        let batch = match &self.projection {
            Some(columns) if columns.is_empty() => {
                let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
                return Ok(RecordBatch::try_new_with_options(
                    Arc::clone(&self.schema),
                    Vec::new(),
                    &options,
                )?);
            }
            Some(columns) if columns.iter().all(|column| *column < fixed) => {
                rows_to_batch(rows)?.project(columns)?
            }
            Some(columns) => {
                rows_to_typed_batch(rows, self.value_schema.as_ref())?.project(columns)?
            }
            None => rows_to_typed_batch(rows, self.value_schema.as_ref())?,
        };
        // The projected schema, whose fields may differ in name only from the batch's.
        Ok(RecordBatch::try_new(
            Arc::clone(&self.schema),
            batch.columns().to_vec(),
        )?)
    }

    /// The next batch of the tail, or `None` when it is read.
    async fn next_batch(mut self) -> Result<Option<(RecordBatch, TailState)>> {
        let Some(range) = self.ranges.first().cloned() else {
            return Ok(None);
        };
        if self.left == 0 {
            return Ok(None);
        }
        if self.since > i64::MIN && !range.searched {
            // Every record before the first one this new is older: start there (the
            // search skips index entries by their newest record, reading none of them).
            let within = PartitionOffsets::new(range.partition, range.from, range.to);
            let found = self
                .reader
                .first_at_or_after(&self.topic, range.partition, &within, self.since)
                .await
                .map_err(|error| DataFusionError::External(Box::new(error)))?;
            match found {
                Some((offset, _)) => {
                    if let Some(first) = self.ranges.first_mut() {
                        first.from = first.from.max(offset);
                        first.searched = true;
                    }
                }
                // Nothing in the range is that new.
                None => {
                    self.ranges.remove(0);
                }
            }
            return Ok(Some((
                RecordBatch::new_empty(Arc::clone(&self.schema)),
                self,
            )));
        }
        let request = FetchRequest {
            topic: self.topic.clone(),
            partition: range.partition,
            offset: range.from,
            max_records: BATCH_RECORDS.min(self.left),
            max_bytes: BATCH_BYTES,
            isolation: Isolation::ReadCommitted,
        };
        let fetched = self
            .reader
            .fetch(&request)
            .await
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        let rows: Vec<TableRow> = fetched
            .records
            .into_iter()
            .filter(|record| record.offset < range.to)
            .map(|record| TableRow {
                partition: range.partition,
                offset: record.offset,
                record: record.record,
            })
            .collect();
        let next = fetched.next_offset.min(range.to);
        if next >= range.to || next <= range.from {
            // Read to the end of the range (or nothing more is readable there).
            self.ranges.remove(0);
        } else if let Some(first) = self.ranges.first_mut() {
            first.from = next;
        }
        self.left = self.left.saturating_sub(rows.len());
        let batch = self.batch(&rows)?;
        Ok(Some((batch, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(partition: u32, from: u64, to: u64) -> TailRange {
        TailRange {
            partition,
            from,
            to,
            searched: false,
        }
    }

    #[test]
    fn long_ranges_are_cut_and_spread_covering_each_offset_once() {
        let ranges = vec![
            range(0, 10, 300_010),
            range(1, 0, 5),
            range(2, 7, 7 + 65_536),
        ];
        for partitions in [1, 2, 3, 8] {
            let parts = spread(ranges.clone(), partitions);
            assert!(parts.len() <= partitions && !parts.is_empty());
            for source in &ranges {
                let mut pieces: Vec<&TailRange> = parts
                    .iter()
                    .flatten()
                    .filter(|piece| piece.partition == source.partition)
                    .collect();
                pieces.sort_by_key(|piece| piece.from);
                assert_eq!(pieces.first().map(|piece| piece.from), Some(source.from));
                assert_eq!(pieces.last().map(|piece| piece.to), Some(source.to));
                assert!(pieces.windows(2).all(|pair| pair[0].to == pair[1].from));
            }
            if partitions > 1 {
                let sizes: Vec<u64> = parts
                    .iter()
                    .map(|part| part.iter().map(|piece| piece.to - piece.from).sum())
                    .collect();
                assert!(sizes.iter().all(|size| *size > 0), "{sizes:?}");
            }
        }
        assert_eq!(spread(Vec::new(), 4), vec![Vec::new()]);
    }
}
