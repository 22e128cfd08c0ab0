//! Reads of the PostgreSQL store's index and objects: where offsets are stored, the
//! compacted files of a topic, and the objects garbage collection may delete.

use silt_core::coordinator::{IndexEntry, TableFile};
use tokio_postgres::Client;

use super::{Param, execute, query};
use crate::error::StoreError;
use crate::store::rows::{self, FORMAT_PARQUET, LocatedEntryRow, TableEntryRow};

pub(super) async fn list_tables(
    client: &Client,
    topic_id: i64,
) -> Result<Vec<TableFile>, StoreError> {
    let values: [Param<'_>; 2] = [&topic_id, &FORMAT_PARQUET];
    let entries = query(client, rows::SELECT_TABLE_ENTRIES, &values, |row| {
        Ok(TableEntryRow {
            object_key: row.try_get(0)?,
            object_size: row.try_get(1)?,
            partition: row.try_get(2)?,
            base_offset: row.try_get(3)?,
            record_count: row.try_get(4)?,
            min_timestamp: row.try_get(5)?,
            max_timestamp: row.try_get(6)?,
            byte_len: row.try_get(7)?,
        })
    })
    .await?;
    rows::group_tables(entries)
}

pub(super) async fn index_entries(
    client: &Client,
    topic_id: i64,
    partition: u32,
    offset: u64,
    max_entries: u32,
) -> Result<Vec<IndexEntry>, StoreError> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let values: [Param<'_>; 4] = [
        &topic_id,
        &i64::from(partition),
        &offset,
        &i64::from(max_entries),
    ];
    let entries = query(client, rows::SELECT_INDEX_ENTRIES, &values, |row| {
        Ok(LocatedEntryRow {
            base_offset: row.try_get(0)?,
            record_count: row.try_get(1)?,
            object_key: row.try_get(2)?,
            byte_offset: row.try_get(3)?,
            byte_len: row.try_get(4)?,
            max_timestamp: row.try_get(5)?,
            format: row.try_get(6)?,
            object_size: row.try_get(7)?,
        })
    })
    .await?;
    entries.into_iter().map(IndexEntry::try_from).collect()
}

pub(super) async fn unreferenced(
    client: &Client,
    committed_before_ms: i64,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let values: [Param<'_>; 2] = [&committed_before_ms, &i64::from(limit)];
    query(client, rows::SELECT_UNREFERENCED, &values, |row| {
        row.try_get(0)
    })
    .await
}

pub(super) async fn forget(client: &Client, object_key: &str) -> Result<bool, StoreError> {
    Ok(execute(client, rows::DELETE_UNREFERENCED, &[&object_key]).await? > 0)
}

pub(super) async fn known(
    client: &Client,
    object_keys: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    query(
        client,
        "SELECT object_key FROM segments WHERE object_key = ANY($1)",
        &[&object_keys],
        |row| row.try_get(0),
    )
    .await
}

pub(super) async fn list_groups(client: &Client) -> Result<Vec<String>, StoreError> {
    query(client, rows::SELECT_GROUP_NAMES, &[], |row| row.try_get(0)).await
}
