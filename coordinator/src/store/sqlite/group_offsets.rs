//! Groups' committed offsets in the SQLite store, with the metadata string and leader
//! epoch each commit carried.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::store::rows::{to_u32, to_u64};
use crate::store::{StoredGroup, StoredOffset};

fn leader_epoch(value: Option<i64>) -> Result<Option<i32>, StoreError> {
    value
        .map(|epoch| {
            i32::try_from(epoch)
                .map_err(|_| StoreError::Invalid(format!("leader epoch out of range: {epoch}")))
        })
        .transpose()
}

pub(super) fn load_group(
    connection: &Connection,
    group: &str,
) -> Result<Option<StoredGroup>, StoreError> {
    let generation: Option<i64> = connection
        .query_row(
            "SELECT generation FROM groups WHERE group_name = ?1",
            [group],
            |row| row.get(0),
        )
        .optional()?;
    let Some(generation) = generation else {
        return Ok(None);
    };
    let mut statement = connection.prepare_cached(
        "SELECT topic_id, partition, committed_offset, metadata, leader_epoch
         FROM group_offsets WHERE group_name = ?1",
    )?;
    let offsets = statement
        .query_map([group], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<i64>>(4)?,
            ))
        })?
        .map(|row| {
            let (topic_id, partition, offset, metadata, epoch) = row?;
            Ok(StoredOffset {
                topic_id,
                partition: to_u32(partition, "partition")?,
                offset: to_u64(offset, "committed offset")?,
                metadata,
                leader_epoch: leader_epoch(epoch)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(StoredGroup {
        generation: to_u64(generation, "generation")?,
        offsets,
    }))
}

pub(super) fn commit(
    connection: &mut Connection,
    group: &str,
    offsets: Vec<StoredOffset>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute(
        "INSERT INTO groups (group_name, generation) VALUES (?1, 0) ON CONFLICT (group_name) DO NOTHING",
        [group],
    )?;
    {
        let mut upsert = transaction.prepare_cached(
            "INSERT INTO group_offsets
                 (group_name, topic_id, partition, committed_offset, updated_at_ms, metadata, leader_epoch)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (group_name, topic_id, partition)
             DO UPDATE SET committed_offset = excluded.committed_offset,
                 updated_at_ms = excluded.updated_at_ms,
                 metadata = excluded.metadata,
                 leader_epoch = excluded.leader_epoch",
        )?;
        for offset in offsets {
            upsert.execute(params![
                group,
                offset.topic_id,
                offset.partition,
                offset.offset as i64,
                now_ms,
                offset.metadata,
                offset.leader_epoch,
            ])?;
        }
    }
    transaction.commit()?;
    Ok(())
}
