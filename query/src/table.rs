//! A topic as a SQL table: its compacted Parquet files (chosen by the coordinator's
//! ranges, then pruned by row-group statistics and read with projection) and its
//! fresh tail (the offsets past them), in one plan. Each partition's offsets are split
//! at the end of its compacted ranges: rows below come from the files, rows at or
//! past it from the tail, so no record is read twice, even while the compactor swaps.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::catalog::TableProvider;
use datafusion::common::{DFSchema, Result};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use silt_core::coordinator::{PartitionOffsets, TableFile, Topic};
use silt_core::schema::ValueSchema;
use silt_core::transactions::Isolation;
use silt_reader::Reader;
use silt_reader::table::table_schema_for;

use crate::bounds::Bounds;
use crate::retention::LogStartExec;
use crate::tail::{TailExec, TailRange, TailScan};

/// A topic's table as of the moment the query was planned.
pub struct TopicTable {
    pub(crate) topic: Topic,
    pub(crate) value_schema: Option<ValueSchema>,
    pub(crate) schema: SchemaRef,
    pub(crate) files: Vec<TableFile>,
    pub(crate) offsets: Vec<PartitionOffsets>,
    pub(crate) reader: Arc<Reader>,
    pub(crate) store_url: ObjectStoreUrl,
}

impl std::fmt::Debug for TopicTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicTable")
            .field("topic", &self.topic.name)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl TopicTable {
    pub fn new(
        topic: Topic,
        files: Vec<TableFile>,
        offsets: Vec<PartitionOffsets>,
        reader: Arc<Reader>,
        store_url: ObjectStoreUrl,
    ) -> TopicTable {
        let value_schema = topic
            .value_schema
            .as_ref()
            .and_then(|schema| ValueSchema::parse(schema).ok());
        TopicTable {
            schema: table_schema_for(value_schema.as_ref()),
            topic,
            value_schema,
            files,
            offsets,
            reader,
            store_url,
        }
    }

    /// Where each partition's compacted ranges end (its tail starts there).
    fn compacted_ends(&self) -> HashMap<u32, u64> {
        let mut ends = HashMap::new();
        for range in self.files.iter().flat_map(|file| &file.ranges) {
            let end = ends.entry(range.partition).or_insert(0);
            *end = (*end).max(range.base_offset + range.record_count);
        }
        ends
    }

    /// The compacted files that may hold wanted records.
    fn wanted_files(&self, bounds: &Bounds) -> Vec<&TableFile> {
        let starts: HashMap<u32, u64> = self
            .offsets
            .iter()
            .map(|offsets| (offsets.partition, offsets.log_start_offset))
            .collect();
        self.files
            .iter()
            .filter(|file| {
                file.ranges.iter().any(|range| {
                    let from = range
                        .base_offset
                        .max(starts.get(&range.partition).copied().unwrap_or(0));
                    bounds.partition(range.partition)
                        && bounds.offsets_overlap(from, range.base_offset + range.record_count)
                        && bounds.timestamps_overlap(range.min_timestamp, range.max_timestamp)
                })
            })
            .collect()
    }

    /// For each wanted partition, the tail past its compacted ranges, up to what a
    /// committed reader reads now.
    fn tail_ranges(&self, bounds: &Bounds) -> Vec<TailRange> {
        let ends = self.compacted_ends();
        self.offsets
            .iter()
            .filter(|offsets| bounds.partition(offsets.partition))
            .filter_map(|offsets| {
                let from = ends
                    .get(&offsets.partition)
                    .copied()
                    .unwrap_or(0)
                    .max(offsets.log_start_offset)
                    .max(bounds.offsets.0);
                let to = offsets
                    .readable_end(Isolation::ReadCommitted)
                    .min(bounds.offsets.1.saturating_add(1));
                bounds.offsets_overlap(from, to).then_some(TailRange {
                    partition: offsets.partition,
                    from,
                    to,
                    searched: false,
                })
            })
            .collect()
    }

    fn parquet_scan(
        &self,
        state: &dyn Session,
        files: &[&TableFile],
        projection: Option<Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut source = ParquetSource::new(Arc::clone(&self.schema))
            .with_table_parquet_options(state.table_options().parquet.clone());
        if let Some(predicate) = conjunction(filters.iter().cloned()) {
            let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
            source = source.with_predicate(state.create_physical_expr(predicate, &df_schema)?);
        }
        // Files spread over the session's partitions by size, so that they are read
        // side by side.
        let groups_wanted = state.config_options().execution.target_partitions.max(1);
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); groups_wanted];
        let mut by_size: Vec<&&TableFile> = files.iter().collect();
        by_size.sort_by_key(|file| std::cmp::Reverse(file.object_size));
        for file in by_size {
            if let Some(group) = groups.iter_mut().min_by_key(|(size, _)| *size) {
                group.0 += file.object_size;
                group.1.push(PartitionedFile::new(
                    file.object_key.clone(),
                    file.object_size,
                ));
            }
        }
        let groups: Vec<FileGroup> = groups
            .into_iter()
            .filter(|(_, files)| !files.is_empty())
            .map(|(_, files)| FileGroup::new(files))
            .collect();
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source))
            .with_file_groups(groups)
            .with_limit(limit)
            .with_projection_indices(projection)?
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

#[async_trait]
impl TableProvider for TopicTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters choose files, row groups and the tail; each row is still filtered.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(columns) => Arc::new(self.schema.project(columns)?),
            None => Arc::clone(&self.schema),
        };
        let bounds = Bounds::of(filters);
        if bounds.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let files = self.wanted_files(&bounds);
        let pruning = format!("compacted files={} of {}", files.len(), self.files.len());
        let tail = Arc::new(TailExec::new(TailScan {
            reader: Arc::clone(&self.reader),
            topic: self.topic.name.clone(),
            value_schema: self.value_schema.clone(),
            ranges: self.tail_ranges(&bounds),
            partitions: state.config_options().execution.target_partitions,
            projection: projection.cloned(),
            limit,
            since: bounds.timestamps.0,
            pruning,
            schema: Arc::clone(&projected),
        }));
        if files.is_empty() {
            return Ok(tail);
        }
        // Retention (or a deletion of records) may have moved a partition's start into
        // a compacted file, which still holds the older rows: those are filtered out.
        let starts: Vec<(u32, u64)> = self
            .offsets
            .iter()
            .filter(|offsets| offsets.log_start_offset > 0)
            .map(|offsets| (offsets.partition, offsets.log_start_offset))
            .collect();
        let compacted = if starts.is_empty() {
            self.parquet_scan(state, &files, projection.cloned(), filters, limit)?
        } else {
            let wanted: Vec<usize> = match projection {
                Some(columns) => columns.clone(),
                None => (0..self.schema.fields().len()).collect(),
            };
            let (partition, offset) = (
                self.schema.index_of("partition")?,
                self.schema.index_of("offset")?,
            );
            let mut read = wanted.clone();
            read.extend([partition, offset]);
            let scan = self.parquet_scan(state, &files, Some(read), filters, None)?;
            Arc::new(LogStartExec::new(scan, starts, wanted.len(), projected)?)
        };
        Ok(UnionExec::try_new(vec![compacted, tail])?)
    }
}
