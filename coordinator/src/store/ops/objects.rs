//! Reads of the index and of objects: where offsets are stored, the compacted files of
//! a topic, and the objects garbage collection may delete.

use silt_core::coordinator::{IndexEntry, TableFile, TopicStorage};

use super::stored_offset;
use crate::error::StoreError;
use crate::store::db::{Tx, cells};
use crate::store::rows::{self, FORMAT_PARQUET, LocatedEntryRow, TableEntryRow};
use crate::store::sql;

pub async fn list_tables(tx: &mut impl Tx, topic_id: i64) -> Result<Vec<TableFile>, StoreError> {
    let mut entries = Vec::new();
    for mut row in tx
        .query(rows::SELECT_TABLE_ENTRIES, cells![topic_id, FORMAT_PARQUET])
        .await?
    {
        entries.push(TableEntryRow {
            object_key: row.get("object_key")?,
            object_size: row.get("object_size")?,
            partition: row.get("partition")?,
            base_offset: row.get("base_offset")?,
            record_count: row.get("record_count")?,
            min_timestamp: row.get("min_timestamp")?,
            max_timestamp: row.get("max_timestamp")?,
            byte_len: row.get("byte_len")?,
        });
    }
    rows::group_tables(entries)
}

/// What a topic's live index entries take, by format.
pub async fn topic_storage(tx: &mut impl Tx, topic_id: i64) -> Result<TopicStorage, StoreError> {
    let mut storage = TopicStorage::default();
    for mut row in tx
        .query(rows::SELECT_TOPIC_STORAGE, cells![topic_id])
        .await?
    {
        let format: i64 = row.get("format")?;
        let entries: i64 = row.get("entries")?;
        let bytes: i64 = row.get("bytes")?;
        let objects: i64 = row.get("objects")?;
        let count = |value: i64| u64::try_from(value).unwrap_or(0);
        match format {
            rows::FORMAT_SEGMENT => {
                storage.segment_chunks = count(entries);
                storage.segment_bytes = count(bytes);
            }
            rows::FORMAT_PARQUET => {
                storage.parquet_files = count(objects);
                storage.parquet_bytes = count(bytes);
            }
            _ => {}
        }
    }
    Ok(storage)
}

/// Entries of a partition from the one holding `offset` on, in offset order.
pub async fn index_entries(
    tx: &mut impl Tx,
    topic_id: i64,
    partition: u32,
    offset: u64,
    max_entries: u32,
) -> Result<Vec<IndexEntry>, StoreError> {
    let params = cells![topic_id, partition, stored_offset(offset), max_entries];
    let mut entries = Vec::new();
    for mut row in tx.query(rows::SELECT_INDEX_ENTRIES, params).await? {
        entries.push(IndexEntry::try_from(LocatedEntryRow {
            base_offset: row.get("base_offset")?,
            record_count: row.get("record_count")?,
            object_key: row.get("object_key")?,
            byte_offset: row.get("byte_offset")?,
            byte_len: row.get("byte_len")?,
            max_timestamp: row.get("max_timestamp")?,
            format: row.get("format")?,
            object_size: row.get("object_size")?,
            txn_producer: row.get("txn_producer")?,
            txn_epoch: row.get("txn_epoch")?,
            txn_state: row.get("txn_state")?,
        })?);
    }
    Ok(entries)
}

pub async fn unreferenced(
    tx: &mut impl Tx,
    committed_before_ms: i64,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    for mut row in tx
        .query(
            rows::SELECT_UNREFERENCED,
            cells![committed_before_ms, limit],
        )
        .await?
    {
        keys.push(row.get("object_key")?);
    }
    Ok(keys)
}

pub async fn forget(tx: &mut impl Tx, object_key: &str) -> Result<bool, StoreError> {
    Ok(tx
        .execute(rows::DELETE_UNREFERENCED, cells![object_key])
        .await?
        > 0)
}

/// Those of `object_keys` the store knows.
pub async fn known(tx: &mut impl Tx, object_keys: Vec<String>) -> Result<Vec<String>, StoreError> {
    let mut known = Vec::new();
    for key in object_keys {
        if tx
            .query_opt(sql::SEGMENT_EXISTS, cells![&key])
            .await?
            .is_some()
        {
            known.push(key);
        }
    }
    Ok(known)
}
