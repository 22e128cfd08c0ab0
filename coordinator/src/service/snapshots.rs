//! Snapshots of the store and restores into it, and the fence that keeps garbage
//! collection from deleting what the newest written snapshot refers to.

use std::collections::HashSet;

use silt_core::coordinator::CoordinatorError;

use super::{CoordinatorService, poisoned};
use crate::store::Snapshot;

/// Keeps garbage collection from deleting what the newest snapshot in the bucket still
/// refers to, so that a restore from it never points at a deleted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SnapshotFence {
    /// No snapshots are written: nothing to protect.
    Off,
    /// Snapshots are on but none is written yet: delete nothing.
    Pending,
    /// The object keys that the newest written snapshot refers to.
    Written(HashSet<String>),
}

impl CoordinatorService {
    /// A consistent copy of the whole store.
    pub async fn snapshot(&self) -> Result<Snapshot, CoordinatorError> {
        Ok(self.store.snapshot(self.clock.now_ms()).await?)
    }

    /// Loads `snapshot` into this coordinator's store, which must be empty, and serves
    /// what it holds.
    pub async fn restore(&self, snapshot: Snapshot) -> Result<(), CoordinatorError> {
        let _order = self.write_order.lock().await;
        self.store.restore(snapshot).await?;
        self.topics.replace(self.store.load().await?)?;
        Ok(())
    }

    /// From now on, garbage collection keeps every object that the newest written
    /// snapshot refers to (until one is written: every object). Call before the first
    /// [`CoordinatorService::snapshot_written`].
    pub fn protect_snapshots(&self) -> Result<(), CoordinatorError> {
        *self.fence.write().map_err(|_| poisoned())? = SnapshotFence::Pending;
        Ok(())
    }

    /// `snapshot` is durable in the bucket: it is now the one to protect.
    pub fn snapshot_written(&self, snapshot: &Snapshot) -> Result<(), CoordinatorError> {
        let referenced: HashSet<i64> = snapshot
            .index_entries
            .iter()
            .map(|entry| entry.segment_id)
            .collect();
        let keys = snapshot
            .segments
            .iter()
            .filter(|segment| referenced.contains(&segment.segment_id))
            .map(|segment| segment.object_key.clone())
            .collect();
        *self.fence.write().map_err(|_| poisoned())? = SnapshotFence::Written(keys);
        Ok(())
    }
}
