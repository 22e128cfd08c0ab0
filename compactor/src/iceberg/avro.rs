//! Iceberg manifests and manifest lists (format version 2) as Avro container files,
//! through `apache-avro`: the schemas carry Iceberg's field ids, and the file headers the
//! table schema and partition spec, as the spec asks.

use apache_avro::types::Value;
use apache_avro::{Reader, Schema as AvroSchema, Writer};

use super::IcebergError;
use super::model::{DAY_FIELD_ID, DAY_SPEC_ID};

/// A manifest entry's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Existing = 0,
    Added = 1,
    Deleted = 2,
}

/// One Parquet file of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub path: String,
    pub size: i64,
    pub record_count: i64,
    pub spec_id: i32,
    /// The `timestamp_day` partition value, for the day spec.
    pub day: Option<i32>,
    pub lower_bounds: Vec<(i32, Vec<u8>)>,
    pub upper_bounds: Vec<(i32, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub status: Status,
    pub snapshot_id: i64,
    pub sequence_number: i64,
    pub file_sequence_number: i64,
    pub file: DataFile,
}

/// One manifest as a manifest list names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub length: i64,
    pub spec_id: i32,
    pub sequence_number: i64,
    pub min_sequence_number: i64,
    pub added_snapshot_id: i64,
    pub added_files: i32,
    pub existing_files: i32,
    pub deleted_files: i32,
    pub added_rows: i64,
    pub existing_rows: i64,
    pub deleted_rows: i64,
    /// The lowest and highest `timestamp_day` of the day spec's entries.
    pub days: Option<(i32, i32)>,
}

fn bounds_schema(field_id: i32, key_id: i32, value_id: i32) -> String {
    format!(
        r#"{{"name": "{name}", "type": ["null", {{"type": "array", "logicalType": "map", "items": {{"type": "record", "name": "k{key_id}_v{value_id}", "fields": [{{"name": "key", "type": "int", "field-id": {key_id}}}, {{"name": "value", "type": "bytes", "field-id": {value_id}}}]}}}}], "default": null, "field-id": {field_id}}}"#,
        name = if field_id == 125 {
            "lower_bounds"
        } else {
            "upper_bounds"
        },
    )
}

fn entry_schema(spec_id: i32) -> String {
    let partition_fields = if spec_id == DAY_SPEC_ID {
        format!(
            r#"{{"name": "timestamp_day", "type": ["null", "int"], "default": null, "field-id": {DAY_FIELD_ID}}}"#
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"type": "record", "name": "manifest_entry", "fields": [
  {{"name": "status", "type": "int", "field-id": 0}},
  {{"name": "snapshot_id", "type": ["null", "long"], "default": null, "field-id": 1}},
  {{"name": "sequence_number", "type": ["null", "long"], "default": null, "field-id": 3}},
  {{"name": "file_sequence_number", "type": ["null", "long"], "default": null, "field-id": 4}},
  {{"name": "data_file", "field-id": 2, "type": {{"type": "record", "name": "r2", "fields": [
    {{"name": "content", "type": "int", "field-id": 134}},
    {{"name": "file_path", "type": "string", "field-id": 100}},
    {{"name": "file_format", "type": "string", "field-id": 101}},
    {{"name": "partition", "field-id": 102, "type": {{"type": "record", "name": "r102", "fields": [{partition_fields}]}}}},
    {{"name": "record_count", "type": "long", "field-id": 103}},
    {{"name": "file_size_in_bytes", "type": "long", "field-id": 104}},
    {lower},
    {upper}
  ]}}}}
]}}"#,
        lower = bounds_schema(125, 126, 127),
        upper = bounds_schema(128, 129, 130),
    )
}

const MANIFEST_FILE_SCHEMA: &str = r#"{"type": "record", "name": "manifest_file", "fields": [
  {"name": "manifest_path", "type": "string", "field-id": 500},
  {"name": "manifest_length", "type": "long", "field-id": 501},
  {"name": "partition_spec_id", "type": "int", "field-id": 502},
  {"name": "content", "type": "int", "field-id": 517},
  {"name": "sequence_number", "type": "long", "field-id": 515},
  {"name": "min_sequence_number", "type": "long", "field-id": 516},
  {"name": "added_snapshot_id", "type": "long", "field-id": 503},
  {"name": "added_files_count", "type": "int", "field-id": 504},
  {"name": "existing_files_count", "type": "int", "field-id": 505},
  {"name": "deleted_files_count", "type": "int", "field-id": 506},
  {"name": "added_rows_count", "type": "long", "field-id": 512},
  {"name": "existing_rows_count", "type": "long", "field-id": 513},
  {"name": "deleted_rows_count", "type": "long", "field-id": 514},
  {"name": "partitions", "type": ["null", {"type": "array", "element-id": 508, "items": {"type": "record", "name": "r508", "fields": [
    {"name": "contains_null", "type": "boolean", "field-id": 509},
    {"name": "contains_nan", "type": ["null", "boolean"], "default": null, "field-id": 518},
    {"name": "lower_bound", "type": ["null", "bytes"], "default": null, "field-id": 510},
    {"name": "upper_bound", "type": ["null", "bytes"], "default": null, "field-id": 511}
  ]}}], "default": null, "field-id": 507}
]}"#;

fn parse(schema: &str) -> Result<AvroSchema, IcebergError> {
    AvroSchema::parse_str(schema).map_err(|error| IcebergError::Avro(error.to_string()))
}

fn avro(error: apache_avro::Error) -> IcebergError {
    IcebergError::Avro(error.to_string())
}

fn some(value: Value) -> Value {
    Value::Union(1, Box::new(value))
}

fn optional(value: Option<Value>) -> Value {
    match value {
        Some(value) => some(value),
        None => Value::Union(0, Box::new(Value::Null)),
    }
}

fn bounds(values: &[(i32, Vec<u8>)]) -> Value {
    some(Value::Array(
        values
            .iter()
            .map(|(id, bytes)| {
                Value::Record(vec![
                    ("key".to_owned(), Value::Int(*id)),
                    ("value".to_owned(), Value::Bytes(bytes.clone())),
                ])
            })
            .collect(),
    ))
}

/// Header values of a manifest: the table schema and the partition spec it was written
/// with.
pub struct ManifestHeader<'a> {
    pub schema_json: &'a str,
    pub schema_id: i32,
    pub spec_id: i32,
    pub spec_json: &'a str,
}

/// A manifest of `entries`, all of the header's spec.
pub fn write_manifest(header: &ManifestHeader, entries: &[Entry]) -> Result<Vec<u8>, IcebergError> {
    let schema = parse(&entry_schema(header.spec_id))?;
    let mut writer = Writer::new(&schema, Vec::new());
    for (key, value) in [
        ("schema", header.schema_json.to_owned()),
        ("schema-id", header.schema_id.to_string()),
        ("partition-spec", header.spec_json.to_owned()),
        ("partition-spec-id", header.spec_id.to_string()),
        ("format-version", "2".to_owned()),
        ("content", "data".to_owned()),
    ] {
        writer
            .add_user_metadata(key.to_owned(), value.as_bytes())
            .map_err(avro)?;
    }
    for entry in entries {
        let file = &entry.file;
        let partition = if header.spec_id == DAY_SPEC_ID {
            vec![(
                "timestamp_day".to_owned(),
                optional(file.day.map(Value::Int)),
            )]
        } else {
            Vec::new()
        };
        let data_file = Value::Record(vec![
            ("content".to_owned(), Value::Int(0)),
            ("file_path".to_owned(), Value::String(file.path.clone())),
            (
                "file_format".to_owned(),
                Value::String("PARQUET".to_owned()),
            ),
            ("partition".to_owned(), Value::Record(partition)),
            ("record_count".to_owned(), Value::Long(file.record_count)),
            ("file_size_in_bytes".to_owned(), Value::Long(file.size)),
            ("lower_bounds".to_owned(), bounds(&file.lower_bounds)),
            ("upper_bounds".to_owned(), bounds(&file.upper_bounds)),
        ]);
        writer
            .append(Value::Record(vec![
                ("status".to_owned(), Value::Int(entry.status as i32)),
                (
                    "snapshot_id".to_owned(),
                    some(Value::Long(entry.snapshot_id)),
                ),
                (
                    "sequence_number".to_owned(),
                    some(Value::Long(entry.sequence_number)),
                ),
                (
                    "file_sequence_number".to_owned(),
                    some(Value::Long(entry.file_sequence_number)),
                ),
                ("data_file".to_owned(), data_file),
            ]))
            .map_err(avro)?;
    }
    writer.into_inner().map_err(avro)
}

/// A manifest list of `manifests`.
pub fn write_manifest_list(
    snapshot_id: i64,
    parent_snapshot_id: Option<i64>,
    sequence_number: i64,
    manifests: &[ManifestFile],
) -> Result<Vec<u8>, IcebergError> {
    let schema = parse(MANIFEST_FILE_SCHEMA)?;
    let mut writer = Writer::new(&schema, Vec::new());
    let mut metadata = vec![
        ("snapshot-id", snapshot_id.to_string()),
        ("sequence-number", sequence_number.to_string()),
        ("format-version", "2".to_owned()),
    ];
    if let Some(parent) = parent_snapshot_id {
        metadata.push(("parent-snapshot-id", parent.to_string()));
    }
    for (key, value) in metadata {
        writer
            .add_user_metadata(key.to_owned(), value.as_bytes())
            .map_err(avro)?;
    }
    for manifest in manifests {
        let partitions = if manifest.spec_id == DAY_SPEC_ID {
            let (lower, upper) = manifest.days.map_or((None, None), |(low, high)| {
                (
                    Some(Value::Bytes(low.to_le_bytes().to_vec())),
                    Some(Value::Bytes(high.to_le_bytes().to_vec())),
                )
            });
            some(Value::Array(vec![Value::Record(vec![
                ("contains_null".to_owned(), Value::Boolean(false)),
                ("contains_nan".to_owned(), some(Value::Boolean(false))),
                ("lower_bound".to_owned(), optional(lower)),
                ("upper_bound".to_owned(), optional(upper)),
            ])]))
        } else {
            some(Value::Array(Vec::new()))
        };
        writer
            .append(Value::Record(vec![
                (
                    "manifest_path".to_owned(),
                    Value::String(manifest.path.clone()),
                ),
                ("manifest_length".to_owned(), Value::Long(manifest.length)),
                ("partition_spec_id".to_owned(), Value::Int(manifest.spec_id)),
                ("content".to_owned(), Value::Int(0)),
                (
                    "sequence_number".to_owned(),
                    Value::Long(manifest.sequence_number),
                ),
                (
                    "min_sequence_number".to_owned(),
                    Value::Long(manifest.min_sequence_number),
                ),
                (
                    "added_snapshot_id".to_owned(),
                    Value::Long(manifest.added_snapshot_id),
                ),
                (
                    "added_files_count".to_owned(),
                    Value::Int(manifest.added_files),
                ),
                (
                    "existing_files_count".to_owned(),
                    Value::Int(manifest.existing_files),
                ),
                (
                    "deleted_files_count".to_owned(),
                    Value::Int(manifest.deleted_files),
                ),
                (
                    "added_rows_count".to_owned(),
                    Value::Long(manifest.added_rows),
                ),
                (
                    "existing_rows_count".to_owned(),
                    Value::Long(manifest.existing_rows),
                ),
                (
                    "deleted_rows_count".to_owned(),
                    Value::Long(manifest.deleted_rows),
                ),
                ("partitions".to_owned(), partitions),
            ]))
            .map_err(avro)?;
    }
    writer.into_inner().map_err(avro)
}

fn field<'a>(record: &'a Value, name: &str) -> Result<&'a Value, IcebergError> {
    let Value::Record(fields) = record else {
        return Err(IcebergError::Avro(format!(
            "expected a record holding {name}"
        )));
    };
    let value = fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value)
        .ok_or_else(|| IcebergError::Avro(format!("no field {name}")))?;
    Ok(match value {
        Value::Union(_, inner) => inner,
        other => other,
    })
}

fn long(record: &Value, name: &str) -> Result<i64, IcebergError> {
    match field(record, name)? {
        Value::Long(value) => Ok(*value),
        Value::Int(value) => Ok(i64::from(*value)),
        other => Err(IcebergError::Avro(format!(
            "{name} is {other:?}, not a long"
        ))),
    }
}

fn int(record: &Value, name: &str) -> Result<i32, IcebergError> {
    match field(record, name)? {
        Value::Int(value) => Ok(*value),
        other => Err(IcebergError::Avro(format!(
            "{name} is {other:?}, not an int"
        ))),
    }
}

fn string(record: &Value, name: &str) -> Result<String, IcebergError> {
    match field(record, name)? {
        Value::String(value) => Ok(value.clone()),
        other => Err(IcebergError::Avro(format!(
            "{name} is {other:?}, not a string"
        ))),
    }
}

fn read_bounds(record: &Value, name: &str) -> Result<Vec<(i32, Vec<u8>)>, IcebergError> {
    match field(record, name)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let bytes = match field(item, "value")? {
                    Value::Bytes(bytes) => bytes.clone(),
                    other => {
                        return Err(IcebergError::Avro(format!("a bound is {other:?}")));
                    }
                };
                Ok((int(item, "key")?, bytes))
            })
            .collect(),
        other => Err(IcebergError::Avro(format!("{name} is {other:?}"))),
    }
}

/// The entries of a manifest written by [`write_manifest`] with spec `spec_id`.
pub fn read_manifest(bytes: &[u8], spec_id: i32) -> Result<Vec<Entry>, IcebergError> {
    let reader = Reader::new(bytes).map_err(avro)?;
    let mut entries = Vec::new();
    for value in reader {
        let value = value.map_err(avro)?;
        let status = match int(&value, "status")? {
            0 => Status::Existing,
            1 => Status::Added,
            2 => Status::Deleted,
            other => return Err(IcebergError::Avro(format!("entry status {other}"))),
        };
        let data_file = field(&value, "data_file")?;
        let day = if spec_id == DAY_SPEC_ID {
            match field(field(data_file, "partition")?, "timestamp_day")? {
                Value::Int(day) => Some(*day),
                _ => None,
            }
        } else {
            None
        };
        entries.push(Entry {
            status,
            snapshot_id: long(&value, "snapshot_id")?,
            sequence_number: long(&value, "sequence_number")?,
            file_sequence_number: long(&value, "file_sequence_number")?,
            file: DataFile {
                path: string(data_file, "file_path")?,
                size: long(data_file, "file_size_in_bytes")?,
                record_count: long(data_file, "record_count")?,
                spec_id,
                day,
                lower_bounds: read_bounds(data_file, "lower_bounds")?,
                upper_bounds: read_bounds(data_file, "upper_bounds")?,
            },
        });
    }
    Ok(entries)
}

/// The manifests a manifest list written by [`write_manifest_list`] names.
pub fn read_manifest_list(bytes: &[u8]) -> Result<Vec<ManifestFile>, IcebergError> {
    let reader = Reader::new(bytes).map_err(avro)?;
    let mut manifests = Vec::new();
    for value in reader {
        let value = value.map_err(avro)?;
        let days = match field(&value, "partitions")? {
            Value::Array(summaries) => match summaries.first() {
                Some(summary) => match (
                    field(summary, "lower_bound")?,
                    field(summary, "upper_bound")?,
                ) {
                    (Value::Bytes(low), Value::Bytes(high)) => Some((day(low)?, day(high)?)),
                    _ => None,
                },
                None => None,
            },
            _ => None,
        };
        manifests.push(ManifestFile {
            path: string(&value, "manifest_path")?,
            length: long(&value, "manifest_length")?,
            spec_id: int(&value, "partition_spec_id")?,
            sequence_number: long(&value, "sequence_number")?,
            min_sequence_number: long(&value, "min_sequence_number")?,
            added_snapshot_id: long(&value, "added_snapshot_id")?,
            added_files: int(&value, "added_files_count")?,
            existing_files: int(&value, "existing_files_count")?,
            deleted_files: int(&value, "deleted_files_count")?,
            added_rows: long(&value, "added_rows_count")?,
            existing_rows: long(&value, "existing_rows_count")?,
            deleted_rows: long(&value, "deleted_rows_count")?,
            days,
        });
    }
    Ok(manifests)
}

fn day(bytes: &[u8]) -> Result<i32, IcebergError> {
    let array: [u8; 4] = bytes
        .try_into()
        .map_err(|_| IcebergError::Avro(format!("a day bound of {} bytes", bytes.len())))?;
    Ok(i32::from_le_bytes(array))
}
