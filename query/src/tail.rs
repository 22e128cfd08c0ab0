//! The fresh tail of a topic in a query: for each partition, the offsets past what its
//! compacted files hold, read through the reader (segment chunks, or compacted files
//! that a swap made since the query was planned) and decoded to Arrow in batches.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
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
use silt_core::schema::ValueSchema;
use silt_core::transactions::Isolation;
use silt_reader::table::{TableRow, rows_to_typed_batch};
use silt_reader::{FetchRequest, Reader};

/// Records per batch of the tail.
const BATCH_RECORDS: usize = 8192;
/// Encoded bytes per batch of the tail, at most (one record always fits).
const BATCH_BYTES: usize = 8 << 20;

/// One partition's part of the tail: offsets `from..to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRange {
    pub partition: u32,
    pub from: u64,
    pub to: u64,
}

/// Scans the tail ranges of one topic, in one output partition.
pub struct TailExec {
    reader: Arc<Reader>,
    topic: String,
    value_schema: Option<ValueSchema>,
    ranges: Vec<TailRange>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    /// What the scan chose before reading, for EXPLAIN.
    pruning: String,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for TailExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TailExec")
            .field("topic", &self.topic)
            .field("ranges", &self.ranges)
            .finish_non_exhaustive()
    }
}

pub struct TailScan {
    pub reader: Arc<Reader>,
    pub topic: String,
    pub value_schema: Option<ValueSchema>,
    pub ranges: Vec<TailRange>,
    pub projection: Option<Vec<usize>>,
    pub limit: Option<usize>,
    pub pruning: String,
    /// The projected schema.
    pub schema: SchemaRef,
}

impl TailExec {
    pub fn new(scan: TailScan) -> TailExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&scan.schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        TailExec {
            reader: scan.reader,
            topic: scan.topic,
            value_schema: scan.value_schema,
            ranges: scan.ranges,
            projection: scan.projection,
            limit: scan.limit,
            pruning: scan.pruning,
            schema: scan.schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for TailExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let records: u64 = self.ranges.iter().map(|range| range.to - range.from).sum();
        write!(
            f,
            "SiltTopicScan: topic={}, {}, tail={} partitions / {} records",
            self.topic,
            self.pruning,
            self.ranges.len(),
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
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "the tail scan has one partition, not {partition}"
            )));
        }
        let state = TailState {
            reader: Arc::clone(&self.reader),
            topic: self.topic.clone(),
            value_schema: self.value_schema.clone(),
            ranges: self.ranges.clone(),
            projection: self.projection.clone(),
            left: self.limit.unwrap_or(usize::MAX),
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
    schema: SchemaRef,
}

impl TailState {
    /// The next batch of the tail, or `None` when it is read.
    async fn next_batch(mut self) -> Result<Option<(RecordBatch, TailState)>> {
        let Some(range) = self.ranges.first().cloned() else {
            return Ok(None);
        };
        if self.left == 0 {
            return Ok(None);
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
        if rows.is_empty() {
            return Ok(Some((
                RecordBatch::new_empty(Arc::clone(&self.schema)),
                self,
            )));
        }
        let batch = rows_to_typed_batch(&rows, self.value_schema.as_ref())?;
        let batch = match &self.projection {
            Some(columns) => batch.project(columns)?,
            None => batch,
        };
        Ok(Some((batch, self)))
    }
}
