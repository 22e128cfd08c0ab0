//! The coordinator's in-memory mirror of topics and partition offsets, so that produce
//! and fetch never wait on the store for them; each partition's offsets sit in a watch
//! channel that wakes long-polls when a commit advances them. The service and group
//! coordination share it.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use silt_core::coordinator::{CoordinatorError, PartitionOffsets, Topic};
use tokio::sync::watch;

use crate::catalog::TopicCatalog;
use crate::store::StoredState;

pub(crate) struct TopicState {
    pub(crate) topic: Topic,
    pub(crate) partitions: Vec<watch::Sender<PartitionOffsets>>,
}

/// Every topic by name.
pub(crate) struct Topics(RwLock<HashMap<String, TopicState>>);

fn poisoned() -> CoordinatorError {
    CoordinatorError::Internal("coordinator state lock poisoned".into())
}

fn topic_states(state: StoredState) -> HashMap<String, TopicState> {
    state
        .topics
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions.into_iter().map(watch::Sender::new).collect();
            (topic.name.clone(), TopicState { topic, partitions })
        })
        .collect()
}

impl Topics {
    pub(crate) fn new(state: StoredState) -> Topics {
        Topics(RwLock::new(topic_states(state)))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.read().map_or(0, |topics| topics.len())
    }

    pub(crate) fn read(
        &self,
    ) -> Result<RwLockReadGuard<'_, HashMap<String, TopicState>>, CoordinatorError> {
        self.0.read().map_err(|_| poisoned())
    }

    pub(crate) fn write(
        &self,
    ) -> Result<RwLockWriteGuard<'_, HashMap<String, TopicState>>, CoordinatorError> {
        self.0.write().map_err(|_| poisoned())
    }

    /// Replaces every topic by the store's (after a restore).
    pub(crate) fn replace(&self, state: StoredState) -> Result<(), CoordinatorError> {
        *self.write()? = topic_states(state);
        Ok(())
    }

    /// One consistent copy of every topic's name, id and partition count.
    pub(crate) fn catalog(&self) -> Result<TopicCatalog, CoordinatorError> {
        let topics = self.read()?;
        Ok(TopicCatalog::new(topics.iter().map(|(name, state)| {
            (name.clone(), state.topic.topic_id, state.topic.partitions)
        })))
    }

    pub(crate) fn partition_bounds(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.with_topic(topic, |state| {
            Ok(*Self::partition_sender(state, partition)?.borrow())
        })
    }

    pub(crate) fn with_topic<T>(
        &self,
        name: &str,
        read: impl FnOnce(&TopicState) -> Result<T, CoordinatorError>,
    ) -> Result<T, CoordinatorError> {
        let topics = self.read()?;
        let state = topics
            .get(name)
            .ok_or_else(|| CoordinatorError::TopicNotFound(name.to_owned()))?;
        read(state)
    }

    pub(crate) fn partition_sender(
        state: &TopicState,
        partition: u32,
    ) -> Result<&watch::Sender<PartitionOffsets>, CoordinatorError> {
        state.partitions.get(partition as usize).ok_or_else(|| {
            CoordinatorError::PartitionNotFound {
                topic: state.topic.name.clone(),
                partition,
                partitions: state.topic.partitions,
            }
        })
    }
}
