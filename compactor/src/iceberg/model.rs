//! Iceberg table metadata (format version 2) as JSON, with the parts Silt writes: one
//! partition spec by day of `timestamp` (and an unpartitioned one for files whose
//! records span several days), no sort order, a `main` branch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Previous metadata files a version lists.
pub const METADATA_LOG_LENGTH: usize = 10;

/// The partition spec of files whose records all fall on one UTC day.
pub const DAY_SPEC_ID: i32 = 0;
/// The partition spec of files whose records span several days.
pub const UNPARTITIONED_SPEC_ID: i32 = 1;
/// The field id of the `timestamp` column, which the day spec partitions by.
pub const TIMESTAMP_ID: i32 = 3;
/// The partition field id of `timestamp_day`.
pub const DAY_FIELD_ID: i32 = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TableMetadata {
    pub format_version: u8,
    pub table_uuid: String,
    pub location: String,
    pub last_sequence_number: i64,
    pub last_updated_ms: i64,
    pub last_column_id: i32,
    pub current_schema_id: i32,
    pub schemas: Vec<Schema>,
    pub default_spec_id: i32,
    pub partition_specs: Vec<PartitionSpec>,
    pub last_partition_id: i32,
    pub default_sort_order_id: i32,
    pub sort_orders: Vec<SortOrder>,
    pub properties: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_snapshot_id: Option<i64>,
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    #[serde(default)]
    pub snapshot_log: Vec<SnapshotLogEntry>,
    #[serde(default)]
    pub metadata_log: Vec<MetadataLogEntry>,
    #[serde(default)]
    pub refs: BTreeMap<String, SnapshotRef>,
}

impl TableMetadata {
    pub fn current_schema(&self) -> Option<&Schema> {
        self.schemas
            .iter()
            .find(|schema| schema.schema_id == self.current_schema_id)
    }

    pub fn current_snapshot(&self) -> Option<&Snapshot> {
        let id = self.current_snapshot_id?;
        self.snapshots
            .iter()
            .find(|snapshot| snapshot.snapshot_id == id)
    }

    /// Makes this the version after the one in `previous` (its metadata file's URL):
    /// logs that file, keeping the newest [`METADATA_LOG_LENGTH`], and stamps the time.
    pub fn follow(&mut self, previous: String, now: i64) {
        self.metadata_log.push(MetadataLogEntry {
            metadata_file: previous,
            timestamp_ms: self.last_updated_ms,
        });
        let excess = self.metadata_log.len().saturating_sub(METADATA_LOG_LENGTH);
        self.metadata_log.drain(..excess);
        self.last_updated_ms = now.max(self.last_updated_ms);
    }

    pub fn spec(&self, spec_id: i32) -> Option<&PartitionSpec> {
        self.partition_specs
            .iter()
            .find(|spec| spec.spec_id == spec_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Schema {
    #[serde(rename = "type")]
    pub kind: String,
    pub schema_id: i32,
    pub fields: Vec<NestedField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NestedField {
    pub id: i32,
    pub name: String,
    pub required: bool,
    #[serde(rename = "type")]
    pub kind: Type,
}

/// A primitive type's name, or a struct or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Type {
    Primitive(String),
    Struct(StructType),
    List(ListType),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructType {
    #[serde(rename = "type")]
    pub kind: String,
    pub fields: Vec<NestedField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListType {
    #[serde(rename = "type")]
    pub kind: String,
    pub element_id: i32,
    pub element_required: bool,
    pub element: Box<Type>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PartitionSpec {
    pub spec_id: i32,
    pub fields: Vec<PartitionField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PartitionField {
    pub source_id: i32,
    pub field_id: i32,
    pub name: String,
    pub transform: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SortOrder {
    pub order_id: i32,
    pub fields: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Snapshot {
    pub snapshot_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_snapshot_id: Option<i64>,
    pub sequence_number: i64,
    pub timestamp_ms: i64,
    pub manifest_list: String,
    pub summary: BTreeMap<String, String>,
    pub schema_id: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotLogEntry {
    pub snapshot_id: i64,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MetadataLogEntry {
    pub metadata_file: String,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotRef {
    pub snapshot_id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The two partition specs of every Silt table.
pub fn partition_specs() -> Vec<PartitionSpec> {
    vec![
        PartitionSpec {
            spec_id: DAY_SPEC_ID,
            fields: vec![PartitionField {
                source_id: TIMESTAMP_ID,
                field_id: DAY_FIELD_ID,
                name: "timestamp_day".to_owned(),
                transform: "day".to_owned(),
            }],
        },
        PartitionSpec {
            spec_id: UNPARTITIONED_SPEC_ID,
            fields: Vec::new(),
        },
    ]
}

/// The UTC day (days since 1970-01-01) of a time in milliseconds.
pub fn day_of(timestamp_ms: i64) -> i32 {
    i32::try_from(timestamp_ms.div_euclid(86_400_000)).unwrap_or(if timestamp_ms < 0 {
        i32::MIN
    } else {
        i32::MAX
    })
}
