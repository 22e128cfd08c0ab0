//! Topic names that collide ([`topic_collision_key`]: they differ only in case or in
//! '.' versus '_') cannot exist side by side. Each `topics` row stores its name's key,
//! and a unique index over the keys refuses a second topic with the same one; creating
//! a topic first looks the key up, so the refusal names the existing topic.
//!
//! Databases from before this rule may already hold colliding topics. The migration
//! keeps them all (refusing to start would strand their data): the oldest topic of each
//! key holds it under the unique index, the others are marked `legacy_collision` and
//! left out of the index, and the lookup still finds them, so no new topic can collide
//! with any of them. Both stores run these statements through `store::ops::topics`.

use std::collections::HashSet;

use silt_core::coordinator::CoordinatorError;
use silt_core::names::topic_collision_key;
use tracing::warn;

use crate::error::StoreError;

pub(crate) const INDEXES: &str = "
CREATE UNIQUE INDEX topics_by_collision_key ON topics (collision_key) WHERE legacy_collision = 0;
CREATE INDEX topics_by_any_collision_key ON topics (collision_key);
";

/// For topics in id order (oldest first): each one's key and whether an older topic
/// already holds it.
pub(crate) fn keys(topics: Vec<(i64, String)>) -> Vec<(i64, String, i64)> {
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
pub(crate) fn refusal(name: &str, existing: String) -> StoreError {
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

pub(crate) const SELECT_ALL: &str = "SELECT topic_id, name FROM topics ORDER BY topic_id";
/// The topic that holds collision key `$1`.
pub(crate) const SELECT_HOLDER: &str =
    "SELECT name FROM topics WHERE collision_key = $1 ORDER BY legacy_collision, topic_id LIMIT 1";
pub(crate) const UPDATE_KEY: &str =
    "UPDATE topics SET collision_key = $2, legacy_collision = $3 WHERE topic_id = $1";

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
