//! Rows of compacted files below their partition's log start offset: retention (or a
//! deletion of records) moved the start into a file that still holds older rows, which
//! a query must not see, as a fetch does not.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, Int32Array, Int64Array};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;

/// Keeps the rows of its input at or past their partition's start. The input's last
/// two columns are `partition` and `offset`; the output has the columns before them.
#[derive(Debug)]
pub struct LogStartExec {
    input: Arc<dyn ExecutionPlan>,
    starts: Arc<HashMap<u32, u64>>,
    kept_columns: usize,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl LogStartExec {
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        starts: Vec<(u32, u64)>,
        kept_columns: usize,
        schema: SchemaRef,
    ) -> Result<LogStartExec> {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            input.properties().partitioning.clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(LogStartExec {
            input,
            starts: Arc::new(starts.into_iter().collect()),
            kept_columns,
            schema,
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for LogStartExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SiltLogStart: {} partitions start past offset 0",
            self.starts.len()
        )
    }
}

/// The rows of `batch` (partition and offset last) at or past their start.
fn keep(
    batch: &RecordBatch,
    starts: &HashMap<u32, u64>,
    kept: usize,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let columns = batch.num_columns();
    let wrong = || DataFusionError::Internal("partition and offset columns expected".into());
    let partitions = batch
        .column(columns - 2)
        .as_any()
        .downcast_ref::<Int32Array>()
        .ok_or_else(wrong)?;
    let offsets = batch
        .column(columns - 1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(wrong)?;
    let mask: BooleanArray = (0..batch.num_rows())
        .map(|row| {
            let start = starts
                .get(&(partitions.value(row) as u32))
                .copied()
                .unwrap_or(0);
            Some(offsets.value(row) as u64 >= start)
        })
        .collect();
    let filtered = filter_record_batch(batch, &mask)?;
    let options = RecordBatchOptions::new().with_row_count(Some(filtered.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        filtered.columns()[..kept].to_vec(),
        &options,
    )?)
}

impl ExecutionPlan for LogStartExec {
    fn name(&self) -> &str {
        "SiltLogStart"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children
            .pop()
            .ok_or_else(|| DataFusionError::Internal("one child expected".into()))?;
        Ok(Arc::new(LogStartExec {
            properties: Arc::new(PlanProperties::new(
                EquivalenceProperties::new(Arc::clone(&self.schema)),
                input.properties().partitioning.clone(),
                EmissionType::Incremental,
                Boundedness::Bounded,
            )),
            input,
            starts: Arc::clone(&self.starts),
            kept_columns: self.kept_columns,
            schema: Arc::clone(&self.schema),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let starts = Arc::clone(&self.starts);
        let kept = self.kept_columns;
        let schema = Arc::clone(&self.schema);
        let stream = input.map(move |batch| keep(&batch?, &starts, kept, &schema));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}
