//! Reads of the SQLite store's index and objects: where offsets are stored, the
//! compacted files of a topic, and the objects garbage collection may delete.

use rusqlite::Connection;
use silt_core::coordinator::{IndexEntry, TableFile};

use super::{execute, query, query_opt};
use crate::error::StoreError;
use crate::store::rows::{self, FORMAT_PARQUET, LocatedEntryRow, TableEntryRow};
use crate::store::sql;

pub(super) fn list_tables(
    connection: &Connection,
    topic_id: i64,
) -> Result<Vec<TableFile>, StoreError> {
    let entries = query(
        connection,
        rows::SELECT_TABLE_ENTRIES,
        &[&topic_id, &FORMAT_PARQUET],
        |row| {
            Ok(TableEntryRow {
                object_key: row.get(0)?,
                object_size: row.get(1)?,
                partition: row.get(2)?,
                base_offset: row.get(3)?,
                record_count: row.get(4)?,
                min_timestamp: row.get(5)?,
                max_timestamp: row.get(6)?,
                byte_len: row.get(7)?,
            })
        },
    )?;
    rows::group_tables(entries)
}

pub(super) fn index_entries(
    connection: &Connection,
    topic_id: i64,
    partition: u32,
    offset: u64,
    max_entries: u32,
) -> Result<Vec<IndexEntry>, StoreError> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let values: [&dyn rusqlite::ToSql; 4] = [&topic_id, &partition, &offset, &max_entries];
    let entries = query(connection, rows::SELECT_INDEX_ENTRIES, &values, |row| {
        Ok(LocatedEntryRow {
            base_offset: row.get(0)?,
            record_count: row.get(1)?,
            object_key: row.get(2)?,
            byte_offset: row.get(3)?,
            byte_len: row.get(4)?,
            max_timestamp: row.get(5)?,
            format: row.get(6)?,
            object_size: row.get(7)?,
        })
    })?;
    entries.into_iter().map(IndexEntry::try_from).collect()
}

pub(super) fn unreferenced(
    connection: &Connection,
    committed_before_ms: i64,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    query(
        connection,
        rows::SELECT_UNREFERENCED,
        &[&committed_before_ms, &limit],
        |row| row.get(0),
    )
}

pub(super) fn forget(connection: &mut Connection, object_key: &str) -> Result<bool, StoreError> {
    Ok(execute(connection, rows::DELETE_UNREFERENCED, &[&object_key])? > 0)
}

pub(super) fn known(
    connection: &Connection,
    object_keys: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    let mut known = Vec::new();
    for key in object_keys {
        if query_opt(connection, sql::SEGMENT_EXISTS, &[&key], |_| Ok(()))?.is_some() {
            known.push(key);
        }
    }
    Ok(known)
}

pub(super) fn list_groups(connection: &Connection) -> Result<Vec<String>, StoreError> {
    query(connection, rows::SELECT_GROUP_NAMES, &[], |row| row.get(0))
}
