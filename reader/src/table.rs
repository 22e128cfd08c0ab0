//! Compacted tables: the Parquet layout the compactor writes, and reading a partition's
//! offsets back from it. Each row group holds one partition's contiguous offsets, so
//! the `partition` and `offset` column statistics find the row groups for an offset
//! without reading any rows.
//!
//! Columns: `partition` int32, `offset` int64, `timestamp` timestamp(ms), `key`
//! binary (null when absent), `value` binary (JSON text when produced as JSON; null for
//! a tombstone), `headers` list<struct<name: utf8, value: binary (null when null)>> in
//! produced order (names may repeat), `attributes` int8 (Silt's record attribute bits,
//! so a record round-trips exactly).
//!
//! Files carry `silt.table_version` in their key-value metadata: 2 since values and
//! header values may be null; files without it (version 1) had neither null and read
//! the same way.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Int8Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, StructBuilder, TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use silt_core::record::{ATTR_VALUE_NULL, RecordParts, StoredRecord};

/// The key-value metadata key naming a compacted file's layout version.
pub const TABLE_VERSION_KEY: &str = "silt.table_version";
/// The layout version the compactor writes.
pub const TABLE_VERSION: &str = "2";
use silt_core::schema::{FieldType, ValueSchema};

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

/// The schema of every compacted file.
pub fn table_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new(
            "headers",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(header_fields()),
                true,
            ))),
            false,
        ),
        Field::new("attributes", DataType::Int8, false),
    ]))
}

fn arrow_type(kind: &FieldType) -> DataType {
    match kind {
        FieldType::String => DataType::Utf8,
        FieldType::Integer => DataType::Int64,
        FieldType::Number => DataType::Float64,
        FieldType::Boolean => DataType::Boolean,
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        FieldType::Object(fields) => DataType::Struct(typed_fields(fields)),
        FieldType::Array(item) => {
            DataType::List(Arc::new(Field::new("item", arrow_type(item), true)))
        }
    }
}

fn typed_fields(fields: &[(String, FieldType)]) -> Fields {
    fields
        .iter()
        .map(|(name, kind)| Field::new(name, arrow_type(kind), true))
        .collect()
}

/// The schema of a topic's compacted files: the fixed columns, then, when the topic
/// declares a value schema, one typed column per declared property and `_rejected`
/// (true where the value did not fit, and the typed columns are null).
pub fn table_schema_for(value_schema: Option<&ValueSchema>) -> SchemaRef {
    let Some(value_schema) = value_schema else {
        return table_schema();
    };
    let mut fields: Vec<Field> = table_schema()
        .fields()
        .iter()
        .map(|field| field.as_ref().clone())
        .collect();
    fields.extend(
        typed_fields(&value_schema.fields)
            .iter()
            .map(|field| field.as_ref().clone()),
    );
    fields.push(Field::new("_rejected", DataType::Boolean, false));
    Arc::new(Schema::new(fields))
}

/// [`rows_to_batch`], plus the typed columns of `value_schema`.
pub fn rows_to_typed_batch(
    rows: &[TableRow],
    value_schema: Option<&ValueSchema>,
) -> Result<RecordBatch, ArrowError> {
    let base = rows_to_batch(rows)?;
    let Some(value_schema) = value_schema else {
        return Ok(base);
    };
    let typed_schema = Arc::new(Schema::new(typed_fields(&value_schema.fields)));
    let mut decoder = arrow_json::ReaderBuilder::new(typed_schema)
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    let mut values = Vec::with_capacity(rows.len());
    let mut rejected = BooleanBuilder::with_capacity(rows.len());
    for row in rows {
        let parsed = row
            .record
            .value_is_json()
            .then(|| serde_json::from_slice::<serde_json::Value>(&row.record.value).ok())
            .flatten()
            .filter(|value| value_schema.matches(value));
        rejected.append_value(parsed.is_none());
        values.push(parsed.unwrap_or_else(|| serde_json::Value::Object(Default::default())));
    }
    decoder.serialize(&values)?;
    let typed = decoder
        .flush()?
        .ok_or_else(|| ArrowError::JsonError("no typed rows decoded".into()))?;
    let mut columns: Vec<ArrayRef> = base.columns().to_vec();
    columns.extend(typed.columns().iter().cloned());
    columns.push(Arc::new(rejected.finish()));
    RecordBatch::try_new(table_schema_for(Some(value_schema)), columns)
}

/// One record with its place in the log.
#[derive(Debug, Clone)]
pub struct TableRow {
    pub partition: u32,
    pub offset: u64,
    pub record: StoredRecord,
}

/// Builds a record batch in the table schema.
pub fn rows_to_batch(rows: &[TableRow]) -> Result<RecordBatch, ArrowError> {
    let mut partitions = Int32Builder::with_capacity(rows.len());
    let mut offsets = Int64Builder::with_capacity(rows.len());
    let mut timestamps = TimestampMillisecondBuilder::with_capacity(rows.len());
    let mut keys = BinaryBuilder::new();
    let mut values = BinaryBuilder::new();
    let mut headers = ListBuilder::new(StructBuilder::from_fields(header_fields(), 0));
    let mut attributes = Int8Builder::with_capacity(rows.len());
    let missing = || ArrowError::SchemaError("header struct builder has unexpected fields".into());
    for row in rows {
        partitions.append_value(row.partition as i32);
        offsets.append_value(row.offset as i64);
        timestamps.append_value(row.record.timestamp);
        match &row.record.key {
            Some(key) => keys.append_value(key),
            None => keys.append_null(),
        }
        match row.record.kafka_value() {
            Some(value) => values.append_value(value),
            None => values.append_null(),
        }
        let entries = headers.values();
        for (name, value) in &row.record.headers {
            entries
                .field_builder::<StringBuilder>(0)
                .ok_or_else(missing)?
                .append_value(String::from_utf8_lossy(name));
            entries
                .field_builder::<BinaryBuilder>(1)
                .ok_or_else(missing)?
                .append_option(value.as_ref());
            entries.append(true);
        }
        headers.append(true);
        attributes.append_value(row.record.attributes as i8);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(partitions.finish()),
        Arc::new(offsets.finish()),
        Arc::new(timestamps.finish()),
        Arc::new(keys.finish()),
        Arc::new(values.finish()),
        Arc::new(headers.finish()),
        Arc::new(attributes.finish()),
    ];
    RecordBatch::try_new(table_schema(), columns)
}

/// The columns of a batch in the table schema that say where a record is and what it
/// is (all but its value and headers): a batch of those alone (a projection) has them.
pub struct KeyColumns<'a> {
    pub partitions: &'a arrow_array::Int32Array,
    pub offsets: &'a arrow_array::Int64Array,
    pub timestamps: &'a arrow_array::TimestampMillisecondArray,
    pub keys: &'a arrow_array::BinaryArray,
    pub attributes: &'a arrow_array::Int8Array,
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is missing")))
}

impl<'a> KeyColumns<'a> {
    /// The columns of `batch`, or which one is missing or of another type.
    pub fn of(batch: &'a RecordBatch) -> Result<KeyColumns<'a>, ArrowError> {
        Ok(KeyColumns {
            partitions: column(batch, "partition")?
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(|| wrong("partition"))?,
            offsets: column(batch, "offset")?
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| wrong("offset"))?,
            timestamps: column(batch, "timestamp")?
                .as_primitive_opt::<TimestampMillisecondType>()
                .ok_or_else(|| wrong("timestamp"))?,
            keys: column(batch, "key")?
                .as_binary_opt::<i32>()
                .ok_or_else(|| wrong("key"))?,
            attributes: column(batch, "attributes")?
                .as_primitive_opt::<Int8Type>()
                .ok_or_else(|| wrong("attributes"))?,
        })
    }
}

/// Turns a batch in the table schema back into records.
pub fn batch_to_rows(batch: &RecordBatch) -> Result<Vec<TableRow>, ArrowError> {
    let KeyColumns {
        partitions,
        offsets,
        timestamps,
        keys,
        attributes,
    } = KeyColumns::of(batch)?;
    let column = |name: &str| column(batch, name);
    let values = column("value")?
        .as_binary_opt::<i32>()
        .ok_or_else(|| wrong("value"))?;
    let headers = column("headers")?
        .as_list_opt::<i32>()
        .ok_or_else(|| wrong("headers"))?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for index in 0..batch.num_rows() {
        let entries = headers.value(index);
        let entries = entries.as_struct_opt().ok_or_else(|| wrong("headers"))?;
        let names = entries
            .column(0)
            .as_string_opt::<i32>()
            .ok_or_else(|| wrong("headers.name"))?;
        let header_values = entries
            .column(1)
            .as_binary_opt::<i32>()
            .ok_or_else(|| wrong("headers.value"))?;
        let header_value = |h: usize| (!header_values.is_null(h)).then(|| header_values.value(h));
        let record_headers: Vec<(Bytes, Option<Bytes>)> = (0..entries.len())
            .map(|h| {
                (
                    Bytes::copy_from_slice(names.value(h).as_bytes()),
                    header_value(h).map(Bytes::copy_from_slice),
                )
            })
            .collect();
        let key = (!keys.is_null(index)).then(|| Bytes::copy_from_slice(keys.value(index)));
        let null_value = values.is_null(index);
        let value = if null_value {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(values.value(index))
        };
        let mut attribute_bits = attributes.value(index) as u8;
        if null_value {
            attribute_bits |= ATTR_VALUE_NULL;
        }
        let borrowed_headers: Vec<(&str, Option<&[u8]>)> = (0..entries.len())
            .map(|h| (names.value(h), header_value(h)))
            .collect();
        let encoded_len = RecordParts {
            timestamp: timestamps.value(index),
            key: key.as_deref().map(|key| (key, false)),
            value: (!null_value).then_some(&value[..]),
            value_is_json: false,
            headers: &borrowed_headers,
            log_append_time: false,
        }
        .encoded_len();
        rows.push(TableRow {
            partition: partitions.value(index) as u32,
            offset: offsets.value(index) as u64,
            record: StoredRecord {
                attributes: attribute_bits,
                timestamp: timestamps.value(index),
                key,
                value,
                headers: record_headers,
                encoded_len,
            },
        });
    }
    Ok(rows)
}

fn wrong(column: &str) -> ArrowError {
    ArrowError::SchemaError(format!("column {column} has an unexpected type"))
}

/// Row groups of `metadata` that hold `partition` at offsets overlapping `from..to`,
/// found from column statistics, in file order, each with its first offset.
pub fn row_groups_for(
    metadata: &ParquetMetaData,
    partition: u32,
    from: u64,
    to: u64,
) -> Vec<(usize, u64)> {
    let schema = metadata.file_metadata().schema_descr();
    let index_of =
        |name: &str| (0..schema.num_columns()).find(|&i| schema.column(i).name() == name);
    let (Some(partition_column), Some(offset_column)) = (index_of("partition"), index_of("offset"))
    else {
        return Vec::new();
    };
    metadata
        .row_groups()
        .iter()
        .enumerate()
        .filter_map(|(index, group)| {
            let partitions = match group.column(partition_column).statistics() {
                Some(Statistics::Int32(stats)) => stats
                    .min_opt()
                    .zip(stats.max_opt())
                    .map(|(a, b)| (*a as i64, *b as i64)),
                _ => None,
            };
            let offsets = match group.column(offset_column).statistics() {
                Some(Statistics::Int64(stats)) => {
                    stats.min_opt().zip(stats.max_opt()).map(|(a, b)| (*a, *b))
                }
                _ => None,
            };
            // The compactor always writes statistics; a group without them is skipped.
            let ((low, high), (first, last)) = (partitions?, offsets?);
            let holds = low <= partition as i64
                && partition as i64 <= high
                && last >= from as i64
                && first < to as i64;
            holds.then_some((index, first.max(0) as u64))
        })
        .collect()
}

/// Encodes rows as a chunk payload, to keep a decoded row group in the chunk cache.
pub fn encode_rows(rows: &[(u64, StoredRecord)]) -> bytes::BytesMut {
    let mut out = bytes::BytesMut::new();
    for (_, record) in rows {
        let headers: Vec<(&str, Option<&[u8]>)> = record
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    std::str::from_utf8(name).unwrap_or_default(),
                    value.as_deref(),
                )
            })
            .collect();
        RecordParts {
            timestamp: record.timestamp,
            key: record
                .key
                .as_deref()
                .map(|key| (key, record.key_is_binary())),
            value: record.kafka_value().map(|value| &value[..]),
            value_is_json: record.value_is_json(),
            headers: &headers,
            log_append_time: record.log_append_time(),
        }
        .encode(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_batch() {
        let rows: Vec<TableRow> = (0..5u64)
            .map(|n| TableRow {
                partition: 3,
                offset: 100 + n,
                record: StoredRecord {
                    // Record 3 is a tombstone: null, not empty.
                    attributes: match n {
                        3 => ATTR_VALUE_NULL,
                        n if n % 2 == 0 => 0b011,
                        _ => 0b000,
                    },
                    timestamp: 1_700_000_000_000 + n as i64,
                    key: (n % 2 == 0).then(|| Bytes::from(format!("k{n}"))),
                    value: if n == 3 {
                        Bytes::new()
                    } else {
                        Bytes::from(format!("{{\"n\":{n}}}"))
                    },
                    // Names repeat ("h0" twice from n = 2 on), some values are null.
                    headers: (0..n)
                        .map(|h| {
                            (
                                Bytes::from(format!("h{}", h % 2)),
                                (h != 1).then(|| Bytes::from(vec![h as u8])),
                            )
                        })
                        .collect(),
                    encoded_len: 0,
                },
            })
            .collect();
        let batch = rows_to_batch(&rows).expect("batch");
        let back = batch_to_rows(&batch).expect("rows");
        for (original, decoded) in rows.iter().zip(&back) {
            assert_eq!(
                (decoded.partition, decoded.offset),
                (original.partition, original.offset)
            );
            let mut expected = original.record.clone();
            expected.encoded_len = decoded.record.encoded_len;
            assert_eq!(decoded.record, expected);
            assert!(decoded.record.encoded_len > 0);
        }
        // The tombstone is a null in the value column, not an empty value.
        let values = batch
            .column_by_name("value")
            .expect("value")
            .as_binary::<i32>();
        assert!(values.is_null(3) && !values.is_null(1));
        for (original, decoded) in rows.iter().zip(&back) {
            assert_eq!(
                decoded.record.value_is_null(),
                original.record.value_is_null()
            );
        }
    }
}

/// A compacted file in the bucket, read with ranged GETs. The file's size comes from
/// one HEAD, and the footer is then read from the end.
#[derive(Debug, Clone)]
pub struct TableFile {
    store: Arc<dyn object_store::ObjectStore>,
    path: object_store::path::Path,
    size: Option<u64>,
}

impl TableFile {
    pub fn new(store: Arc<dyn object_store::ObjectStore>, path: object_store::path::Path) -> Self {
        TableFile {
            store,
            path,
            size: None,
        }
    }
}

fn external(error: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(error))
}

impl parquet::arrow::async_reader::AsyncFileReader for TableFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Bytes>> {
        use futures::FutureExt;
        use object_store::ObjectStoreExt;
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        use futures::FutureExt;
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        use futures::FutureExt;
        use object_store::ObjectStoreExt;
        async move {
            let size = match self.size {
                Some(size) => size,
                None => {
                    let size = self.store.head(&self.path).await.map_err(external)?.size;
                    self.size = Some(size);
                    size
                }
            };
            let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
