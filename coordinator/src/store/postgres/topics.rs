//! Topics and producer ids in the PostgreSQL store: loading, creating and deleting
//! topics, and handing out producer ids and epochs.

use silt_core::coordinator::{
    CoordinatorError, PartitionOffsets, ProducerIdentity, Topic, TopicConfig,
};
use tokio_postgres::{Client, Row};

use super::{Param, execute, query, query_opt};
use crate::error::StoreError;
use crate::store::rows::PartitionBoundsRow;
use crate::store::snapshot::{TopicRow, select_topics};
use crate::store::{StoredState, TOPIC_TABLES, plan, sql};

fn read_topic(row: &Row) -> Result<TopicRow, tokio_postgres::Error> {
    Ok(TopicRow {
        topic_id: row.try_get(0)?,
        name: row.try_get(1)?,
        partitions: row.try_get(2)?,
        retention_ms: row.try_get(3)?,
        retention_bytes: row.try_get(4)?,
        created_at_ms: row.try_get(5)?,
        value_schema: row.try_get(6)?,
    })
}

pub(super) async fn load(client: &Client) -> Result<StoredState, StoreError> {
    let topics = query(client, &select_topics("ORDER BY name"), &[], read_topic).await?;
    let mut state = StoredState::default();
    for row in topics {
        let topic = Topic::try_from(row)?;
        let partitions = query(client, sql::SELECT_PARTITIONS, &[&topic.topic_id], |row| {
            Ok(PartitionBoundsRow {
                partition: row.try_get(0)?,
                log_start_offset: row.try_get(1)?,
                high_watermark: row.try_get(2)?,
            })
        })
        .await?
        .into_iter()
        .map(PartitionOffsets::try_from)
        .collect::<Result<Vec<_>, StoreError>>()?;
        state.push(topic, partitions)?;
    }
    Ok(state)
}

pub(super) async fn create(
    writer: &mut Client,
    config: TopicConfig,
    created_at_ms: i64,
) -> Result<Topic, StoreError> {
    let transaction = writer.transaction().await?;
    let collision_key = crate::topic_keys::postgres_check(&transaction, &config.name).await?;
    let value_schema = config
        .value_schema
        .as_ref()
        .map(|schema| schema.to_string());
    let partitions = i64::from(config.partitions);
    let values: [Param<'_>; 7] = [
        &config.name,
        &partitions,
        &config.retention_ms,
        &config.retention_bytes,
        &created_at_ms,
        &value_schema,
        &collision_key,
    ];
    let topic_id: i64 = query_opt(
        &transaction,
        "INSERT INTO topics (name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema,
         collision_key) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING topic_id",
        &values,
        |row| row.try_get(0),
    )
    .await?
    .ok_or_else(|| StoreError::Invalid("no topic id".into()))?;
    execute(
        &transaction,
        "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
         SELECT $1, p, 0, 0 FROM generate_series(0::BIGINT, $2::BIGINT - 1) AS p",
        &[&topic_id, &partitions],
    )
    .await?;
    transaction.commit().await?;
    Ok(plan::created_topic(config, topic_id, created_at_ms))
}

pub(super) async fn delete(
    writer: &mut Client,
    name: &str,
    generations: Vec<(String, u64)>,
) -> Result<Topic, StoreError> {
    let transaction = writer.transaction().await?;
    let row = query_opt(
        &transaction,
        &select_topics("WHERE name = $1"),
        &[&name],
        read_topic,
    )
    .await?;
    let Some(row) = row else {
        return Err(CoordinatorError::TopicNotFound(name.to_owned()).into());
    };
    let topic = Topic::try_from(row)?;
    for table in TOPIC_TABLES {
        let delete = format!("DELETE FROM {table} WHERE topic_id = $1");
        execute(&transaction, delete.as_str(), &[&topic.topic_id]).await?;
    }
    for (group, generation) in generations {
        let values: [Param<'_>; 2] = [&group, &(generation as i64)];
        execute(&transaction, sql::UPDATE_GENERATION, &values).await?;
    }
    transaction.commit().await?;
    Ok(topic)
}

pub(super) async fn init_producer(
    writer: &mut Client,
    producer_id: Option<i64>,
    now_ms: i64,
    expire_before_ms: i64,
) -> Result<ProducerIdentity, StoreError> {
    let transaction = writer.transaction().await?;
    execute(&transaction, sql::EXPIRE_PRODUCERS[0], &[&expire_before_ms]).await?;
    execute(&transaction, sql::EXPIRE_PRODUCERS[1], &[]).await?;
    let identity = match producer_id {
        None => {
            let producer_id = query_opt(&transaction, sql::INSERT_PRODUCER, &[&now_ms], |row| {
                row.try_get(0)
            })
            .await?
            .ok_or_else(|| StoreError::Invalid("no producer id".into()))?;
            ProducerIdentity {
                producer_id,
                epoch: 0,
            }
        }
        Some(producer_id) => {
            let epoch: Option<i64> =
                query_opt(&transaction, sql::SELECT_EPOCH, &[&producer_id], |row| {
                    row.try_get(0)
                })
                .await?;
            let Some(epoch) = epoch else {
                return Err(CoordinatorError::UnknownProducer(producer_id).into());
            };
            let epoch = plan::next_epoch(epoch)?;
            let values: [Param<'_>; 3] = [&producer_id, &i64::from(epoch), &now_ms];
            execute(&transaction, sql::BUMP_EPOCH[0], &values).await?;
            execute(&transaction, sql::BUMP_EPOCH[1], &[&producer_id]).await?;
            ProducerIdentity { producer_id, epoch }
        }
    };
    transaction.commit().await?;
    Ok(identity)
}
