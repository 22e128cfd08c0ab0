//! The topics as groups see them: one consistent copy of name → (topic id, partition
//! count), taken under the coordinator's topic lock. Groups keep their offsets,
//! assignments and fetch positions by [`PartitionKey`], i.e. by topic id, so the state
//! of a deleted topic can never attach to a new topic of the same name; names are what
//! members subscribe to and what the API speaks, and the catalog translates.

use std::collections::{BTreeSet, HashMap};

use silt_core::groups::TopicPartition;

/// One partition of one topic, by topic id (ids are never reused for a new topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PartitionKey {
    pub topic_id: i64,
    pub partition: u32,
}

#[derive(Debug, Default)]
pub(crate) struct TopicCatalog {
    /// name → (topic id, partition count)
    by_name: HashMap<String, (i64, u32)>,
    names: HashMap<i64, String>,
}

impl TopicCatalog {
    /// From (name, topic id, partition count) of every live topic.
    pub(crate) fn new(topics: impl IntoIterator<Item = (String, i64, u32)>) -> Self {
        let mut catalog = TopicCatalog::default();
        for (name, topic_id, partitions) in topics {
            catalog.names.insert(topic_id, name.clone());
            catalog.by_name.insert(name, (topic_id, partitions));
        }
        catalog
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(crate) fn name(&self, topic_id: i64) -> Option<&str> {
        self.names.get(&topic_id).map(String::as_str)
    }

    /// The key of a partition of a live topic (`None` for an unknown topic or a
    /// partition out of range).
    pub(crate) fn key(&self, topic: &str, partition: u32) -> Option<PartitionKey> {
        let (topic_id, partitions) = self.by_name.get(topic)?;
        (partition < *partitions).then_some(PartitionKey {
            topic_id: *topic_id,
            partition,
        })
    }

    /// The name and partition of a key whose topic is still live.
    pub(crate) fn topic_partition(&self, key: &PartitionKey) -> Option<TopicPartition> {
        Some(TopicPartition {
            topic: self.name(key.topic_id)?.to_owned(),
            partition: key.partition,
        })
    }

    /// Every partition of the named topics that exist, in name and partition order.
    pub(crate) fn partitions_of(&self, topics: &BTreeSet<String>) -> Vec<TopicPartition> {
        topics
            .iter()
            .filter_map(|topic| {
                self.by_name
                    .get(topic)
                    .map(|(_, partitions)| (topic, *partitions))
            })
            .flat_map(|(topic, partitions)| {
                (0..partitions).map(move |partition| TopicPartition {
                    topic: topic.clone(),
                    partition,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recreated_topic_has_other_keys() {
        let old = TopicCatalog::new([("t1".to_owned(), 1, 2)]);
        let new = TopicCatalog::new([("t1".to_owned(), 2, 2)]);
        let key = old.key("t1", 1).expect("key");
        assert_eq!(
            old.topic_partition(&key),
            Some(TopicPartition {
                topic: "t1".into(),
                partition: 1
            })
        );
        assert_eq!(new.topic_partition(&key), None);
        assert_ne!(new.key("t1", 1), Some(key));
        assert_eq!(new.key("t1", 2), None, "out of range");
    }
}
