//! Topics and producer ids in the SQLite store: loading, creating and deleting topics,
//! and handing out producer ids and epochs.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use silt_core::coordinator::{
    CoordinatorError, PartitionOffsets, ProducerIdentity, Topic, TopicConfig,
};

use super::{execute, query, query_opt};
use crate::error::StoreError;
use crate::store::rows::PartitionBoundsRow;
use crate::store::snapshot::{TopicRow, select_topics};
use crate::store::{StoredState, TOPIC_TABLES, plan, sql};

fn read_topic(row: &rusqlite::Row<'_>) -> Result<TopicRow, rusqlite::Error> {
    Ok(TopicRow {
        topic_id: row.get(0)?,
        name: row.get(1)?,
        partitions: row.get(2)?,
        retention_ms: row.get(3)?,
        retention_bytes: row.get(4)?,
        created_at_ms: row.get(5)?,
        value_schema: row.get(6)?,
    })
}

pub(super) fn load(connection: &Connection) -> Result<StoredState, StoreError> {
    let mut statement = connection.prepare(&select_topics("ORDER BY name"))?;
    let topics = statement
        .query_map([], read_topic)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut state = StoredState::default();
    for row in topics {
        let topic = Topic::try_from(row)?;
        let partitions = query(
            connection,
            sql::SELECT_PARTITIONS,
            &[&topic.topic_id],
            |row| {
                Ok(PartitionBoundsRow {
                    partition: row.get(0)?,
                    log_start_offset: row.get(1)?,
                    high_watermark: row.get(2)?,
                })
            },
        )?
        .into_iter()
        .map(PartitionOffsets::try_from)
        .collect::<Result<Vec<_>, StoreError>>()?;
        state.push(topic, partitions)?;
    }
    Ok(state)
}

pub(super) fn create(
    connection: &mut Connection,
    config: TopicConfig,
    created_at_ms: i64,
) -> Result<Topic, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let collision_key = crate::topic_keys::sqlite_check(&transaction, &config.name)?;
    transaction.execute(
        "INSERT INTO topics (name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema,
         collision_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            config.name,
            config.partitions,
            config.retention_ms,
            config.retention_bytes,
            created_at_ms,
            config.value_schema.as_ref().map(|schema| schema.to_string()),
            collision_key
        ],
    )?;
    let topic_id = transaction.last_insert_rowid();
    {
        let mut insert = transaction.prepare(
            "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark) VALUES (?1, ?2, 0, 0)",
        )?;
        for partition in 0..config.partitions {
            insert.execute(params![topic_id, partition])?;
        }
    }
    transaction.commit()?;
    Ok(plan::created_topic(config, topic_id, created_at_ms))
}

pub(super) fn delete(
    connection: &mut Connection,
    name: String,
    generations: Vec<(String, u64)>,
) -> Result<Topic, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = transaction
        .query_row(&select_topics("WHERE name = ?1"), [&name], read_topic)
        .optional()?;
    let Some(row) = row else {
        return Err(CoordinatorError::TopicNotFound(name).into());
    };
    let topic = Topic::try_from(row)?;
    for table in TOPIC_TABLES {
        transaction.execute(
            &format!("DELETE FROM {table} WHERE topic_id = ?1"),
            [topic.topic_id],
        )?;
    }
    for (group, generation) in generations {
        execute(
            &transaction,
            sql::UPDATE_GENERATION,
            &[&group, &(generation as i64)],
        )?;
    }
    transaction.commit()?;
    Ok(topic)
}

pub(super) fn init_producer(
    connection: &mut Connection,
    producer_id: Option<i64>,
    now_ms: i64,
    expire_before_ms: i64,
) -> Result<ProducerIdentity, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    execute(&transaction, sql::EXPIRE_PRODUCERS[0], &[&expire_before_ms])?;
    execute(&transaction, sql::EXPIRE_PRODUCERS[1], &[])?;
    let identity = match producer_id {
        None => {
            let producer_id = query_opt(&transaction, sql::INSERT_PRODUCER, &[&now_ms], |row| {
                row.get(0)
            })?
            .ok_or_else(|| StoreError::Invalid("no producer id".into()))?;
            ProducerIdentity {
                producer_id,
                epoch: 0,
            }
        }
        Some(producer_id) => {
            let epoch: Option<i64> =
                query_opt(&transaction, sql::SELECT_EPOCH, &[&producer_id], |row| {
                    row.get(0)
                })?;
            let Some(epoch) = epoch else {
                return Err(CoordinatorError::UnknownProducer(producer_id).into());
            };
            let epoch = plan::next_epoch(epoch)?;
            execute(
                &transaction,
                sql::BUMP_EPOCH[0],
                &[&producer_id, &epoch, &now_ms],
            )?;
            execute(&transaction, sql::BUMP_EPOCH[1], &[&producer_id])?;
            ProducerIdentity { producer_id, epoch }
        }
    };
    transaction.commit()?;
    Ok(identity)
}
