//! The writer of one compacted file: the table layout (zstd, chunk statistics, layout
//! version), and each column's Iceberg field id when the topic is an Iceberg table.

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, RowGroupMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use silt_core::coordinator::Topic;
use silt_core::schema::ValueSchema;
use silt_reader::table::{
    TABLE_VERSION, TABLE_VERSION_KEY, TableRow, rows_to_typed_batch, table_schema_for,
};

use crate::iceberg::schema::retype;
use crate::{CompactError, Compactor};

pub(crate) struct TableWriter {
    inner: ArrowWriter<Vec<u8>>,
    /// The schema with field ids, when it differs from the rows' plain one.
    schema: Option<SchemaRef>,
    value_schema: Option<ValueSchema>,
}

impl TableWriter {
    /// Appends `rows` (flushed as row groups of at most the configured size).
    pub fn write_rows(&mut self, rows: &[TableRow]) -> Result<(), CompactError> {
        let batch = rows_to_typed_batch(rows, self.value_schema.as_ref())?;
        match &self.schema {
            Some(schema) => self.inner.write(&retype(&batch, schema)?)?,
            None => self.inner.write(&batch)?,
        }
        Ok(())
    }

    /// Closes the current row group.
    pub fn flush(&mut self) -> Result<(), CompactError> {
        Ok(self.inner.flush()?)
    }

    pub fn flushed_row_groups(&self) -> &[RowGroupMetaData] {
        self.inner.flushed_row_groups()
    }

    /// The whole file.
    pub fn into_inner(self) -> Result<Vec<u8>, CompactError> {
        Ok(self.inner.into_inner()?)
    }
}

impl Compactor {
    /// A writer of one compacted file of `topic`, whose values follow `value_schema`.
    pub(crate) async fn table_writer(
        &self,
        topic: &Topic,
        value_schema: Option<&ValueSchema>,
    ) -> Result<TableWriter, CompactError> {
        let plain = table_schema_for(value_schema);
        let schema = match &self.iceberg {
            Some(iceberg) => Some(iceberg.file_schema(topic, &plain).await?),
            None => None,
        };
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(self.config.row_group_rows))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                TABLE_VERSION_KEY.to_owned(),
                TABLE_VERSION.to_owned(),
            )]))
            .build();
        let inner = ArrowWriter::try_new(
            Vec::new(),
            schema.clone().unwrap_or(plain),
            Some(properties),
        )?;
        Ok(TableWriter {
            inner,
            schema,
            value_schema: value_schema.cloned(),
        })
    }
}
