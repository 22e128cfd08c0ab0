//! Topic configs in the SQLite store: one row per config a topic sets, under its Kafka
//! name (`silt_core::topic_configs`); a config without a row has its default.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};
use silt_core::topic_configs::TopicConfigs;

use crate::error::StoreError;
use crate::store::TopicConfigRow;

pub(super) const MIGRATION: &str = "
CREATE TABLE topic_configs (
    topic_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (topic_id, name)
) WITHOUT ROWID;
";

fn parse(topic_id: i64, rows: &[(String, String)]) -> Result<TopicConfigs, StoreError> {
    TopicConfigs::from_pairs(
        rows.iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
    .map_err(|error| StoreError::Invalid(format!("configs of topic id {topic_id}: {error}")))
}

/// Every topic's configs, by topic id.
pub(super) fn load_all(connection: &Connection) -> Result<HashMap<i64, TopicConfigs>, StoreError> {
    let mut rows: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for row in snapshot_rows(connection)? {
        let (topic_id, name, value) = row;
        rows.entry(topic_id).or_default().push((name, value));
    }
    rows.into_iter()
        .map(|(topic_id, rows)| Ok((topic_id, parse(topic_id, &rows)?)))
        .collect()
}

/// One topic's configs.
pub(super) fn load(connection: &Connection, topic_id: i64) -> Result<TopicConfigs, StoreError> {
    let mut statement =
        connection.prepare_cached("SELECT name, value FROM topic_configs WHERE topic_id = ?1")?;
    let rows = statement
        .query_map([topic_id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    parse(topic_id, &rows)
}

/// Replaces a topic's rows by `configs` (inside the caller's transaction).
pub(super) fn save(
    connection: &Connection,
    topic_id: i64,
    configs: &TopicConfigs,
) -> Result<(), StoreError> {
    delete(connection, topic_id)?;
    let mut insert = connection
        .prepare_cached("INSERT INTO topic_configs (topic_id, name, value) VALUES (?1, ?2, ?3)")?;
    for (name, value) in configs.pairs() {
        insert.execute(params![topic_id, name, value])?;
    }
    Ok(())
}

pub(super) fn delete(connection: &Connection, topic_id: i64) -> Result<(), StoreError> {
    connection.execute("DELETE FROM topic_configs WHERE topic_id = ?1", [topic_id])?;
    Ok(())
}

pub(super) fn snapshot_rows(connection: &Connection) -> Result<Vec<TopicConfigRow>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT topic_id, name, value FROM topic_configs ORDER BY topic_id, name",
    )?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Restores the rows of topics the snapshot holds (checked as they would be loaded).
pub(super) fn restore_rows(
    connection: &Connection,
    rows: &[TopicConfigRow],
    topic_ids: &HashSet<i64>,
) -> Result<(), StoreError> {
    let mut insert = connection
        .prepare_cached("INSERT INTO topic_configs (topic_id, name, value) VALUES (?1, ?2, ?3)")?;
    for (topic_id, name, value) in rows.iter().filter(|row| topic_ids.contains(&row.0)) {
        parse(*topic_id, &[(name.clone(), value.clone())])?;
        insert.execute(params![topic_id, name, value])?;
    }
    Ok(())
}
