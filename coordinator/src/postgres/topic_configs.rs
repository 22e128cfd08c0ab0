//! Topic configs in the PostgreSQL store: one row per config a topic sets, under its
//! Kafka name (`silt_core::topic_configs`); a config without a row has its default.

use std::collections::{HashMap, HashSet};

use silt_core::topic_configs::TopicConfigs;
use tokio_postgres::GenericClient;

use super::select;
use crate::error::StoreError;
use crate::store::TopicConfigRow;

/// SQLite's version 10.
pub(super) const MIGRATION: &str = "
CREATE TABLE topic_configs (
    topic_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (topic_id, name)
);
";

fn parse(topic_id: i64, rows: &[(String, String)]) -> Result<TopicConfigs, StoreError> {
    TopicConfigs::from_pairs(
        rows.iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
    .map_err(|error| StoreError::Invalid(format!("configs of topic id {topic_id}: {error}")))
}

/// Every topic's configs, by topic id.
pub(super) async fn load_all(
    client: &impl GenericClient,
) -> Result<HashMap<i64, TopicConfigs>, StoreError> {
    let mut rows: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (topic_id, name, value) in snapshot_rows(client).await? {
        rows.entry(topic_id).or_default().push((name, value));
    }
    rows.into_iter()
        .map(|(topic_id, rows)| Ok((topic_id, parse(topic_id, &rows)?)))
        .collect()
}

/// One topic's configs.
pub(super) async fn load(
    client: &impl GenericClient,
    topic_id: i64,
) -> Result<TopicConfigs, StoreError> {
    let rows = select(
        client,
        "SELECT name, value FROM topic_configs WHERE topic_id = $1",
        &[&topic_id],
        |row| Ok((row.try_get(0)?, row.try_get(1)?)),
    )
    .await?;
    parse(topic_id, &rows)
}

/// Replaces a topic's rows by `configs` (inside the caller's transaction).
pub(super) async fn save(
    client: &impl GenericClient,
    topic_id: i64,
    configs: &TopicConfigs,
) -> Result<(), StoreError> {
    delete(client, topic_id).await?;
    for (name, value) in configs.pairs() {
        client
            .execute(
                "INSERT INTO topic_configs (topic_id, name, value) VALUES ($1, $2, $3)",
                &[&topic_id, &name, &value],
            )
            .await?;
    }
    Ok(())
}

pub(super) async fn delete(client: &impl GenericClient, topic_id: i64) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM topic_configs WHERE topic_id = $1",
            &[&topic_id],
        )
        .await?;
    Ok(())
}

pub(super) async fn snapshot_rows(
    client: &impl GenericClient,
) -> Result<Vec<TopicConfigRow>, StoreError> {
    select(
        client,
        "SELECT topic_id, name, value FROM topic_configs ORDER BY topic_id, name",
        &[],
        |row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)),
    )
    .await
}

/// Restores the rows of topics the snapshot holds (checked as they would be loaded).
pub(super) async fn restore_rows(
    client: &impl GenericClient,
    rows: &[TopicConfigRow],
    topic_ids: &HashSet<i64>,
) -> Result<(), StoreError> {
    for (topic_id, name, value) in rows.iter().filter(|row| topic_ids.contains(&row.0)) {
        parse(*topic_id, &[(name.clone(), value.clone())])?;
        client
            .execute(
                "INSERT INTO topic_configs (topic_id, name, value) VALUES ($1, $2, $3)",
                &[topic_id, name, value],
            )
            .await?;
    }
    Ok(())
}
