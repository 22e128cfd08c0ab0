//! Topic names that collide ([`topic_collision_key`]: they differ only in case or in
//! '.' versus '_') cannot exist side by side. Each `topics` row stores its name's key,
//! and a unique index over the keys refuses a second topic with the same one; creating
//! a topic first looks the key up, so the refusal names the existing topic.
//!
//! Databases from before this rule may already hold colliding topics. The migration
//! keeps them all (refusing to start would strand their data): the oldest topic of each
//! key holds it under the unique index, the others are marked `legacy_collision` and
//! left out of the index, and the lookup still finds them, so no new topic can collide
//! with any of them. Both stores share these statements and this logic.

use std::collections::HashSet;

use rusqlite::OptionalExtension;
use silt_core::coordinator::CoordinatorError;
use silt_core::names::topic_collision_key;
use tracing::warn;

use crate::error::StoreError;

const INDEXES: &str = "
CREATE UNIQUE INDEX topics_by_collision_key ON topics (collision_key) WHERE legacy_collision = 0;
CREATE INDEX topics_by_any_collision_key ON topics (collision_key);
";

/// For topics in id order (oldest first): each one's key and whether an older topic
/// already holds it.
fn keys(topics: Vec<(i64, String)>) -> Vec<(i64, String, i64)> {
    let mut held = HashSet::new();
    topics
        .into_iter()
        .map(|(topic_id, name)| {
            let key = topic_collision_key(&name);
            let legacy = !held.insert(key.clone());
            if legacy {
                warn!(topic = %name, topic_id, "topic name collides with an older topic's; kept, but no new topic may collide with it");
            }
            (topic_id, key, i64::from(legacy))
        })
        .collect()
}

/// The refusal for creating `name` when `existing` holds its key.
fn refusal(name: &str, existing: String) -> StoreError {
    if existing == name {
        CoordinatorError::TopicExists(existing).into()
    } else {
        CoordinatorError::TopicCollides {
            topic: name.to_owned(),
            existing,
        }
        .into()
    }
}

const SELECT_ALL: &str = "SELECT topic_id, name FROM topics ORDER BY topic_id";
const SELECT_HOLDER: &str =
    "SELECT name FROM topics WHERE collision_key = $1 ORDER BY legacy_collision, topic_id LIMIT 1";

/// SQLite: gives every row its key (after a migration or a restore).
pub(crate) fn sqlite_assign(transaction: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let topics = transaction
        .prepare(SELECT_ALL)?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for (topic_id, key, legacy) in keys(topics) {
        transaction.execute(
            "UPDATE topics SET collision_key = ?2, legacy_collision = ?3 WHERE topic_id = ?1",
            rusqlite::params![topic_id, key, legacy],
        )?;
    }
    Ok(())
}

/// SQLite: the migration's step after [`COLUMNS`].
pub(crate) fn sqlite_migrate(transaction: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    sqlite_assign(transaction)?;
    transaction.execute_batch(INDEXES)?;
    Ok(())
}

/// SQLite: the key of a new topic `name`, or the refusal naming the topic that holds it.
pub(crate) fn sqlite_check(
    transaction: &rusqlite::Transaction<'_>,
    name: &str,
) -> Result<String, StoreError> {
    let key = topic_collision_key(name);
    let holder: Option<String> = transaction
        .query_row(&SELECT_HOLDER.replace("$1", "?1"), [&key], |row| row.get(0))
        .optional()?;
    match holder {
        Some(existing) => Err(refusal(name, existing)),
        None => Ok(key),
    }
}

/// PostgreSQL: gives every row its key (after a migration or a restore).
pub(crate) async fn postgres_assign(
    transaction: &tokio_postgres::Transaction<'_>,
) -> Result<(), StoreError> {
    let topics = transaction
        .query(SELECT_ALL, &[])
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    for (topic_id, key, legacy) in keys(topics) {
        transaction
            .execute(
                "UPDATE topics SET collision_key = $2, legacy_collision = $3 WHERE topic_id = $1",
                &[&topic_id, &key, &legacy],
            )
            .await?;
    }
    Ok(())
}

/// PostgreSQL: the migration's step after [`COLUMNS`].
pub(crate) async fn postgres_migrate(
    transaction: &tokio_postgres::Transaction<'_>,
) -> Result<(), StoreError> {
    postgres_assign(transaction).await?;
    transaction.batch_execute(INDEXES).await?;
    Ok(())
}

/// PostgreSQL: the key of a new topic `name`, or the refusal naming the topic that
/// holds it.
pub(crate) async fn postgres_check(
    transaction: &tokio_postgres::Transaction<'_>,
    name: &str,
) -> Result<String, StoreError> {
    let key = topic_collision_key(name);
    match transaction.query_opt(SELECT_HOLDER, &[&key]).await? {
        Some(row) => Err(refusal(name, row.try_get(0)?)),
        None => Ok(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_topic_of_a_key_holds_it() {
        let assigned = keys(vec![
            (1, "Orders".into()),
            (2, "a.b".into()),
            (3, "orders".into()),
            (4, "a_b".into()),
            (5, "other".into()),
        ]);
        assert_eq!(
            assigned,
            vec![
                (1, "orders".into(), 0),
                (2, "a_b".into(), 0),
                (3, "orders".into(), 1),
                (4, "a_b".into(), 1),
                (5, "other".into(), 0),
            ]
        );
    }
}
