//! Admin changes in the SQLite store: a topic's partition count, retention and configs, and the
//! deletion of a group or of some of its committed offsets. No new tables: these change
//! rows the other statements keep.

use rusqlite::{Connection, TransactionBehavior, params};
use silt_core::coordinator::{CoordinatorError, Topic};

use crate::error::StoreError;

pub(super) fn alter_topic(connection: &mut Connection, topic: Topic) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = transaction.execute(
        "UPDATE topics SET partitions = ?2, retention_ms = ?3, retention_bytes = ?4
         WHERE topic_id = ?1 AND partitions <= ?2",
        params![
            topic.topic_id,
            topic.partitions,
            topic.retention_ms,
            topic.retention_bytes
        ],
    )?;
    if changed == 0 {
        return Err(CoordinatorError::TopicNotFound(topic.name).into());
    }
    super::topic_configs::save(&transaction, topic.topic_id, &topic.configs)?;
    {
        let mut insert = transaction.prepare(
            "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
             VALUES (?1, ?2, 0, 0) ON CONFLICT (topic_id, partition) DO NOTHING",
        )?;
        for partition in 0..topic.partitions {
            insert.execute(params![topic.topic_id, partition])?;
        }
    }
    transaction.commit()?;
    Ok(())
}

pub(super) fn delete_group(connection: &mut Connection, group: &str) -> Result<bool, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let offsets =
        transaction.execute("DELETE FROM group_offsets WHERE group_name = ?1", [group])?;
    let groups = transaction.execute("DELETE FROM groups WHERE group_name = ?1", [group])?;
    transaction.commit()?;
    Ok(offsets + groups > 0)
}

pub(super) fn delete_group_offsets(
    connection: &mut Connection,
    group: &str,
    partitions: Vec<(i64, u32)>,
) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut delete = transaction.prepare(
            "DELETE FROM group_offsets WHERE group_name = ?1 AND topic_id = ?2 AND partition = ?3",
        )?;
        for (topic_id, partition) in partitions {
            delete.execute(params![group, topic_id, partition])?;
        }
    }
    transaction.commit()?;
    Ok(())
}
