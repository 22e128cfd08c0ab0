//! Topics and producer ids: loading, creating, growing and deleting topics (with their
//! configs and their names' collision keys, see [`crate::topic_keys`]), and handing out producer ids and
//! epochs.

use std::collections::HashMap;

use silt_core::coordinator::{
    CoordinatorError, PartitionOffsets, ProducerIdentity, Topic, TopicConfig,
};
use silt_core::names::topic_collision_key;
use silt_core::topic_configs::TopicConfigs;

use super::{to_u32, to_u64};
use crate::error::StoreError;
use crate::store::db::{Row, Tx, cells};
use crate::store::snapshot::{TopicRow, select_topics};
use crate::store::{StoredState, TOPIC_TABLES, plan, sql};
use crate::topic_keys;

fn read_topic(mut row: Row) -> Result<Topic, StoreError> {
    Topic::try_from(TopicRow {
        topic_id: row.get("topic_id")?,
        name: row.get("name")?,
        partitions: row.get("partitions")?,
        retention_ms: row.get("retention_ms")?,
        retention_bytes: row.get("retention_bytes")?,
        created_at_ms: row.get("created_at_ms")?,
        value_schema: row.get("value_schema")?,
    })
}

/// Reads `topic_id, name, value` rows into each topic's configs.
fn read_configs(rows: Vec<Row>) -> Result<HashMap<i64, TopicConfigs>, StoreError> {
    let mut pairs: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for mut row in rows {
        let topic_id = row.get("topic_id")?;
        pairs
            .entry(topic_id)
            .or_default()
            .push((row.get("name")?, row.get("value")?));
    }
    pairs
        .into_iter()
        .map(|(topic_id, pairs)| {
            let configs = TopicConfigs::from_pairs(
                pairs
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            )
            .map_err(|error| {
                StoreError::Invalid(format!("configs of topic id {topic_id}: {error}"))
            })?;
            Ok((topic_id, configs))
        })
        .collect()
}

/// One topic's configs.
async fn configs_of(tx: &mut impl Tx, topic_id: i64) -> Result<TopicConfigs, StoreError> {
    let rows = tx.query(sql::SELECT_CONFIGS_OF, cells![topic_id]).await?;
    Ok(read_configs(rows)?.remove(&topic_id).unwrap_or_default())
}

/// Replaces a topic's config rows by `configs`.
async fn save_configs(
    tx: &mut impl Tx,
    topic_id: i64,
    configs: &TopicConfigs,
) -> Result<(), StoreError> {
    tx.execute(sql::DELETE_CONFIGS_OF, cells![topic_id]).await?;
    for (name, value) in configs.pairs() {
        tx.execute(sql::INSERT_CONFIG, cells![topic_id, name, value])
            .await?;
    }
    Ok(())
}

fn read_bounds(mut row: Row) -> Result<PartitionOffsets, StoreError> {
    Ok(PartitionOffsets {
        partition: to_u32(row.get("partition")?, "partition")?,
        log_start_offset: to_u64(row.get("log_start_offset")?, "log start offset")?,
        high_watermark: to_u64(row.get("high_watermark")?, "high watermark")?,
        first_unstable_offset: row
            .get::<Option<i64>>("first_unstable_offset")?
            .map(|offset| to_u64(offset, "first unstable offset"))
            .transpose()?,
    })
}

/// Every topic with its partitions' bounds.
pub async fn load(tx: &mut impl Tx) -> Result<StoredState, StoreError> {
    let topics = tx
        .query(&select_topics("ORDER BY name"), Vec::new())
        .await?;
    let configs = tx.query(sql::SELECT_TOPIC_CONFIGS, Vec::new()).await?;
    let mut configs = read_configs(configs)?;
    let mut state = StoredState::default();
    for row in topics {
        let mut topic = read_topic(row)?;
        topic.configs = configs.remove(&topic.topic_id).unwrap_or_default();
        let partitions = tx
            .query(sql::SELECT_PARTITIONS, cells![topic.topic_id])
            .await?
            .into_iter()
            .map(read_bounds)
            .collect::<Result<Vec<_>, StoreError>>()?;
        state.push(topic, partitions)?;
    }
    Ok(state)
}

/// Adds partitions `from..to` of a topic, empty; those that exist stay as they are.
async fn add_partitions(
    tx: &mut impl Tx,
    topic_id: i64,
    from: u32,
    to: u32,
) -> Result<(), StoreError> {
    tx.execute(sql::INSERT_PARTITIONS, cells![topic_id, from, to])
        .await?;
    Ok(())
}

/// The collision key of a new topic `name`, or the refusal naming the topic holding it.
async fn collision_key(tx: &mut impl Tx, name: &str) -> Result<String, StoreError> {
    let key = topic_collision_key(name);
    match tx
        .query_opt(topic_keys::SELECT_HOLDER, cells![&key])
        .await?
    {
        Some(mut row) => Err(topic_keys::refusal(name, row.get("name")?)),
        None => Ok(key),
    }
}

/// Gives every topic its collision key (after a migration or a restore).
pub async fn assign_collision_keys(tx: &mut impl Tx) -> Result<(), StoreError> {
    let mut topics = Vec::new();
    for mut row in tx.query(topic_keys::SELECT_ALL, Vec::new()).await? {
        topics.push((row.get("topic_id")?, row.get("name")?));
    }
    for (topic_id, key, legacy) in topic_keys::keys(topics) {
        tx.execute(topic_keys::UPDATE_KEY, cells![topic_id, key, legacy])
            .await?;
    }
    Ok(())
}

/// The migration's step after the columns of collision keys are added.
pub async fn migrate_collision_keys(tx: &mut impl Tx) -> Result<(), StoreError> {
    assign_collision_keys(tx).await?;
    tx.batch(topic_keys::INDEXES).await
}

pub async fn create(
    tx: &mut impl Tx,
    config: TopicConfig,
    created_at_ms: i64,
) -> Result<Topic, StoreError> {
    let key = collision_key(tx, &config.name).await?;
    let value_schema = config
        .value_schema
        .as_ref()
        .map(|schema| schema.to_string());
    let params = cells![
        &config.name,
        config.partitions,
        config.retention_ms,
        config.retention_bytes,
        created_at_ms,
        value_schema,
        key
    ];
    let topic_id = tx
        .query_one(sql::INSERT_TOPIC, params)
        .await?
        .get("topic_id")?;
    save_configs(tx, topic_id, &config.configs).await?;
    add_partitions(tx, topic_id, 0, config.partitions).await?;
    Ok(plan::created_topic(config, topic_id, created_at_ms))
}

/// Stores a topic's new partition count (adding the new partitions), retention and
/// configs.
pub async fn alter(tx: &mut impl Tx, topic: Topic) -> Result<(), StoreError> {
    let value_schema = topic.value_schema.as_ref().map(|schema| schema.to_string());
    let params = cells![
        topic.topic_id,
        topic.partitions,
        topic.retention_ms,
        topic.retention_bytes,
        value_schema
    ];
    if tx.execute(sql::ALTER_TOPIC, params).await? == 0 {
        return Err(CoordinatorError::TopicNotFound(topic.name).into());
    }
    save_configs(tx, topic.topic_id, &topic.configs).await?;
    add_partitions(tx, topic.topic_id, 0, topic.partitions).await
}

pub async fn delete(
    tx: &mut impl Tx,
    name: &str,
    generations: Vec<(String, u64)>,
) -> Result<Topic, StoreError> {
    let Some(row) = tx
        .query_opt(&select_topics("WHERE name = $1"), cells![name])
        .await?
    else {
        return Err(CoordinatorError::TopicNotFound(name.to_owned()).into());
    };
    let mut topic = read_topic(row)?;
    topic.configs = configs_of(tx, topic.topic_id).await?;
    for table in TOPIC_TABLES {
        let delete = format!("DELETE FROM {table} WHERE topic_id = $1");
        tx.execute(&delete, cells![topic.topic_id]).await?;
    }
    for (group, generation) in generations {
        let generation = i64::try_from(generation).unwrap_or(i64::MAX);
        tx.execute(sql::UPDATE_GENERATION, cells![group, generation])
            .await?;
    }
    Ok(topic)
}

/// A new producer id, or the next epoch of `producer_id`, after forgetting producers
/// idle since before `expire_before_ms`.
pub async fn init_producer(
    tx: &mut impl Tx,
    producer_id: Option<i64>,
    now_ms: i64,
    expire_before_ms: i64,
) -> Result<ProducerIdentity, StoreError> {
    tx.execute(sql::EXPIRE_PRODUCERS[0], cells![expire_before_ms])
        .await?;
    tx.execute(sql::EXPIRE_PRODUCERS[1], Vec::new()).await?;
    let Some(producer_id) = producer_id else {
        let mut row = tx.query_one(sql::INSERT_PRODUCER, cells![now_ms]).await?;
        return Ok(ProducerIdentity {
            producer_id: row.get("producer_id")?,
            epoch: 0,
        });
    };
    let Some(mut row) = tx.query_opt(sql::SELECT_EPOCH, cells![producer_id]).await? else {
        return Err(CoordinatorError::UnknownProducer(producer_id).into());
    };
    let epoch = plan::next_epoch(row.get("epoch")?)?;
    tx.execute(sql::BUMP_EPOCH[0], cells![producer_id, epoch, now_ms])
        .await?;
    tx.execute(sql::BUMP_EPOCH[1], cells![producer_id]).await?;
    Ok(ProducerIdentity { producer_id, epoch })
}
