//! What creating and deleting a topic does to consumer groups. Deleting a topic deletes
//! every group's committed offsets of it (in the store, in the same transaction as the
//! topic, and in memory) and moves each group that subscribed to it or had it assigned
//! to a new generation, so members get fresh assignments and a commit of the old
//! generation is refused. Creating a topic rebalances the groups whose members subscribe
//! to its name, so they get its partitions without joining again.

use std::collections::HashMap;
use std::time::Instant;

use silt_core::coordinator::CoordinatorError;
use tracing::info;

use super::GroupState;
use crate::catalog::TopicCatalog;
use crate::groups::GroupCoordinator;

impl GroupState {
    /// A member subscribes to the topic, or a partition of it is assigned.
    fn uses_topic(&self, name: &str, topic_id: i64) -> bool {
        self.members
            .values()
            .any(|member| member.topics.contains(name))
            || self.owners.keys().any(|key| key.topic_id == topic_id)
    }
}

/// The groups that deleting the topic moves to a new generation, with that generation.
pub(crate) fn generations_after_deleting(
    groups: &HashMap<String, GroupState>,
    name: &str,
    topic_id: i64,
) -> Vec<(String, u64)> {
    groups
        .iter()
        .filter(|(_, state)| state.uses_topic(name, topic_id))
        .map(|(group, state)| (group.clone(), state.generation + 1))
        .collect()
}

/// Forgets the deleted topic in every group's memory, once the store has deleted it:
/// its committed offsets and fetch positions go, and each group that used it takes the
/// generation [`generations_after_deleting`] gave it, with a fresh assignment.
/// `catalog` no longer holds the topic.
pub(crate) fn forget_topic(
    groups: &mut HashMap<String, GroupState>,
    name: &str,
    topic_id: i64,
    catalog: &TopicCatalog,
    now: Instant,
) {
    for (group, state) in groups.iter_mut() {
        let used = state.uses_topic(name, topic_id);
        state.committed.retain(|key, _| key.topic_id != topic_id);
        state.positions.retain(|key, _| key.topic_id != topic_id);
        if used {
            state.reassign(catalog);
            info!(
                group = %group,
                topic = name,
                generation = state.generation,
                "group rebalanced: a topic it used was deleted"
            );
        }
        if let Some(kafka) = state.kafka.as_deref_mut() {
            kafka.topic_deleted(name, now);
        }
    }
}

impl GroupCoordinator {
    /// Rebalances every group with a member that subscribes to `name`, a topic just
    /// created.
    pub(crate) async fn rebalance_subscribers(&self, name: &str) -> Result<(), CoordinatorError> {
        let mut groups = self.groups().lock().await;
        for (group, state) in groups.iter_mut() {
            if state
                .members
                .values()
                .any(|member| member.topics.contains(name))
            {
                self.rebalance(group, state).await?;
            }
        }
        Ok(())
    }
}
