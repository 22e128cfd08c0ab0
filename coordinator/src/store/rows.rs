//! Rows both backends read, as named structs, with the one conversion of each into
//! what the coordinator uses; and the SQL both databases run alike (placeholders are
//! `$1`, `$2`, … in order of first appearance, which SQLite binds by position too).

use silt_core::coordinator::{EntryFormat, IndexEntry, TableFile, TableRange};
use silt_core::transactions::{EntryTxn, TxnOutcome};

use crate::error::StoreError;

/// `format` of a segment object's `segments` and `index_entries` rows.
pub const FORMAT_SEGMENT: i64 = 0;
/// `format` of a compacted file's `segments` and `index_entries` rows.
pub const FORMAT_PARQUET: i64 = 1;
/// `format` of a transaction marker as the lookup and the table swap read it (markers
/// live in `txn_markers`; the SQL writes the 2 itself).
pub const FORMAT_MARKER: i64 = 2;

pub fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Invalid(format!("negative {what}: {value}")))
}

pub fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} out of range: {value}")))
}

/// The entries of a topic's compacted files, in file order, then partition order.
pub const SELECT_TABLE_ENTRIES: &str =
    "SELECT s.object_key, s.object_size, e.partition, e.base_offset, e.record_count,
        e.min_timestamp, e.max_timestamp, e.byte_len
 FROM index_entries e JOIN segments s USING (segment_id)
 WHERE e.topic_id = $1 AND e.format = $2 ORDER BY s.segment_id, e.partition";

/// A topic's index entries summed by format: entries, bytes, distinct objects.
pub const SELECT_TOPIC_STORAGE: &str =
    "SELECT e.format AS format, COUNT(*) AS entries, CAST(COALESCE(SUM(e.byte_len), 0) AS BIGINT) AS bytes,
        COUNT(DISTINCT e.segment_id) AS objects
 FROM index_entries e WHERE e.topic_id = $1 GROUP BY e.format";

/// A compacted file's entry, as [`SELECT_TABLE_ENTRIES`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntryRow {
    pub object_key: String,
    pub object_size: i64,
    pub partition: i64,
    pub base_offset: i64,
    pub record_count: i64,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    pub byte_len: i64,
}

/// Groups entries by their file, keeping the order they were read in.
pub fn group_tables(rows: Vec<TableEntryRow>) -> Result<Vec<TableFile>, StoreError> {
    let mut tables: Vec<TableFile> = Vec::new();
    for row in rows {
        let range = TableRange {
            partition: to_u32(row.partition, "partition")?,
            base_offset: to_u64(row.base_offset, "offset")?,
            record_count: to_u64(row.record_count, "record count")?,
            min_timestamp: row.min_timestamp,
            max_timestamp: row.max_timestamp,
            byte_size: to_u64(row.byte_len, "byte size")?,
        };
        match tables.last_mut() {
            Some(table) if table.object_key == row.object_key => table.ranges.push(range),
            _ => tables.push(TableFile {
                object_key: row.object_key,
                object_size: to_u64(row.object_size, "object size")?,
                ranges: vec![range],
            }),
        }
    }
    Ok(tables)
}

/// A partition's entries from the one holding offset `$3` on, with the transaction
/// markers among them, at most `$4` in all (each side limited first, so the database
/// reads no further than the lookup needs).
pub const SELECT_INDEX_ENTRIES: &str =
    "SELECT base_offset, record_count, object_key, byte_offset, byte_len, max_timestamp, format,
        object_size, txn_producer, txn_epoch, txn_state FROM (
   SELECT * FROM (
     SELECT e.base_offset, e.record_count, s.object_key, e.byte_offset, e.byte_len,
        e.max_timestamp, e.format, s.object_size, e.txn_producer, e.txn_epoch, e.txn_state
     FROM index_entries e JOIN segments s USING (segment_id)
     WHERE e.topic_id = $1 AND e.partition = $2 AND e.base_offset >= coalesce((
         SELECT max(base_offset) FROM index_entries
         WHERE topic_id = $1 AND partition = $2 AND base_offset <= $3), 0)
     ORDER BY e.base_offset LIMIT $4) entries
   UNION ALL
   SELECT * FROM (
     SELECT m.marker_offset, 1, '', 0, 0, m.timestamp_ms, 2, 0, m.producer_id, m.epoch, m.outcome
     FROM txn_markers m
     WHERE m.topic_id = $1 AND m.partition = $2 AND m.marker_offset >= $3
     ORDER BY m.marker_offset LIMIT $4) markers
 ) located ORDER BY base_offset LIMIT $4";

/// An entry with its object, as [`SELECT_INDEX_ENTRIES`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedEntryRow {
    pub base_offset: i64,
    pub record_count: i64,
    pub object_key: String,
    pub byte_offset: i64,
    pub byte_len: i64,
    pub max_timestamp: i64,
    pub format: i64,
    pub object_size: i64,
    pub txn_producer: Option<i64>,
    pub txn_epoch: Option<i64>,
    pub txn_state: i64,
}

impl TryFrom<LocatedEntryRow> for IndexEntry {
    type Error = StoreError;

    fn try_from(row: LocatedEntryRow) -> Result<Self, StoreError> {
        let txn = match (row.txn_producer, TxnOutcome::from_code(row.txn_state)) {
            (Some(producer_id), Some(outcome)) => Some(EntryTxn {
                producer_id,
                epoch: i32::try_from(row.txn_epoch.unwrap_or(0))
                    .map_err(|_| StoreError::Invalid(format!("epoch {:?}", row.txn_epoch)))?,
                outcome,
            }),
            _ => None,
        };
        Ok(IndexEntry {
            base_offset: to_u64(row.base_offset, "offset")?,
            record_count: to_u32(row.record_count, "record count")?,
            object_key: row.object_key,
            byte_offset: to_u64(row.byte_offset, "byte offset")?,
            byte_len: to_u32(row.byte_len, "byte length")?,
            max_timestamp: row.max_timestamp,
            format: match row.format {
                FORMAT_PARQUET => EntryFormat::Parquet,
                FORMAT_MARKER => EntryFormat::Marker,
                _ => EntryFormat::Segment,
            },
            object_size: to_u64(row.object_size, "object size")?,
            txn,
        })
    }
}

/// Objects no entry points into any more, committed before `$1`, at most `$2`.
pub const SELECT_UNREFERENCED: &str =
    "SELECT s.object_key FROM segments s WHERE s.committed_at_ms < $1
 AND NOT EXISTS (SELECT 1 FROM index_entries e WHERE e.segment_id = s.segment_id)
 ORDER BY s.segment_id LIMIT $2";

/// Forgets object `$1` if no entry points into it.
pub const DELETE_UNREFERENCED: &str = "DELETE FROM segments WHERE object_key = $1
 AND NOT EXISTS (SELECT 1 FROM index_entries e WHERE e.segment_id = segments.segment_id)";
