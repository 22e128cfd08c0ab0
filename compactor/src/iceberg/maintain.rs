//! Iceberg's rules for what may go: a snapshot stays readable for the snapshot retention
//! after a newer one replaced it; a data file stays while any retained snapshot lists
//! it; a metadata file (version, manifest list, manifest) goes once no retained version
//! needs it and it is older than garbage collection's grace period (so a commit in
//! progress keeps its files).

use std::collections::HashSet;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStoreExt};
use silt_core::coordinator::Topic;
use silt_core::keys::{TABLES_DIR, iceberg_metadata_dir, iceberg_version_key};
use silt_core::now_ms;
use tracing::{info, instrument};

use super::avro::Status;
use super::model::TableMetadata;
use super::{COMMIT_ATTEMPTS, IcebergError, IcebergTables};

/// S3 reports `LastModified` to the second.
const LAST_MODIFIED_PRECISION_MS: i64 = 1000;

/// Drops the snapshots that a newer one replaced more than `retention_ms` ago (never
/// the current one). Answers whether any went.
pub(super) fn expire(metadata: &mut TableMetadata, now: i64, retention_ms: i64) -> bool {
    let cutoff = now.saturating_sub(retention_ms);
    let log = metadata.snapshot_log.clone();
    let replaced_at = |id: i64| -> Option<i64> {
        let position = log.iter().position(|entry| entry.snapshot_id == id)?;
        log.get(position + 1).map(|next| next.timestamp_ms)
    };
    let current = metadata.current_snapshot_id;
    let before = metadata.snapshots.len();
    metadata.snapshots.retain(|snapshot| {
        Some(snapshot.snapshot_id) == current
            || replaced_at(snapshot.snapshot_id).is_none_or(|at| at >= cutoff)
                && log
                    .iter()
                    .any(|entry| entry.snapshot_id == snapshot.snapshot_id)
    });
    let kept: HashSet<i64> = metadata
        .snapshots
        .iter()
        .map(|snapshot| snapshot.snapshot_id)
        .collect();
    metadata
        .snapshot_log
        .retain(|entry| kept.contains(&entry.snapshot_id));
    for snapshot in &mut metadata.snapshots {
        if snapshot
            .parent_snapshot_id
            .is_some_and(|parent| !kept.contains(&parent))
        {
            snapshot.parent_snapshot_id = None;
        }
    }
    metadata.snapshots.len() != before
}

/// What one maintenance of a table found.
pub struct Maintained {
    /// Keys of data files that a retained snapshot lists.
    pub protected: HashSet<String>,
    pub snapshots_expired: usize,
    pub metadata_files_deleted: u64,
}

impl IcebergTables {
    /// Expires `topic`'s snapshots replaced longer ago than the snapshot retention
    /// (committing a version when any go), deletes the metadata files no retained
    /// version needs and older than `grace_ms`, and answers the data files retained
    /// snapshots still list, which garbage collection must keep.
    #[instrument(skip(self, topic), fields(topic = %topic.name))]
    pub async fn maintain(&self, topic: &Topic, grace_ms: i64) -> Result<Maintained, IcebergError> {
        let mut result = Maintained {
            protected: HashSet::new(),
            snapshots_expired: 0,
            metadata_files_deleted: 0,
        };
        let mut attempts = 0;
        let (version, metadata) = loop {
            let (version, base) = self.load(topic).await?;
            let Some(mut metadata) = base else {
                self.done(&topic.name);
                return Ok(result);
            };
            let before = metadata.snapshots.len();
            let now = now_ms();
            if !expire(&mut metadata, now, self.config.snapshot_retention_ms) {
                break (version, metadata);
            }
            metadata.follow(self.url(&iceberg_version_key(&topic.name, version)), now);
            if self
                .put_version(&topic.name, version + 1, &metadata)
                .await?
            {
                result.snapshots_expired = before - metadata.snapshots.len();
                info!(
                    expired = result.snapshots_expired,
                    "expired the table's old snapshots"
                );
                break (version + 1, metadata);
            }
            attempts += 1;
            if attempts >= COMMIT_ATTEMPTS {
                return Err(IcebergError::Conflict {
                    topic: topic.name.clone(),
                    attempts,
                });
            }
        };
        let mut needed: HashSet<String> = HashSet::new();
        needed.insert(iceberg_version_key(&topic.name, version));
        needed.insert(format!(
            "{}version-hint.text",
            iceberg_metadata_dir(&topic.name)
        ));
        for entry in &metadata.metadata_log {
            needed.insert(self.key(&entry.metadata_file)?.to_owned());
        }
        for snapshot in &metadata.snapshots {
            needed.insert(self.key(&snapshot.manifest_list)?.to_owned());
            for manifest in self.read_snapshot(snapshot).await? {
                needed.insert(self.key(&manifest.file.path)?.to_owned());
                for entry in manifest.entries {
                    if entry.status != Status::Deleted {
                        result
                            .protected
                            .insert(self.key(&entry.file.path)?.to_owned());
                    }
                }
            }
        }
        let (deleted, waiting) = self
            .delete_metadata_except(&topic.name, &needed, grace_ms)
            .await?;
        result.metadata_files_deleted = deleted;
        if !waiting && metadata.snapshots.len() <= 1 {
            self.done(&topic.name);
        }
        Ok(result)
    }

    /// Deletes the objects of `topic`'s metadata folder not in `needed` and older than
    /// the grace period. Answers how many went and whether younger ones wait.
    async fn delete_metadata_except(
        &self,
        topic: &str,
        needed: &HashSet<String>,
        grace_ms: i64,
    ) -> Result<(u64, bool), IcebergError> {
        let cutoff = now_ms().saturating_sub(grace_ms);
        let mut deleted = 0;
        let mut waiting = false;
        for meta in self.list(&iceberg_metadata_dir(topic)).await? {
            let key = meta.location.to_string();
            if needed.contains(&key) {
                continue;
            }
            if meta.last_modified.timestamp_millis() + LAST_MODIFIED_PRECISION_MS >= cutoff {
                waiting = true;
                continue;
            }
            self.delete(&key).await?;
            deleted += 1;
        }
        Ok((deleted, waiting))
    }

    /// Deletes the metadata folders of tables whose topic no longer exists (once older
    /// than the grace period). Answers the objects deleted.
    pub async fn forget_deleted_topics(
        &self,
        existing: &HashSet<String>,
        grace_ms: i64,
    ) -> Result<u64, IcebergError> {
        let listed = self
            .store
            .list_with_delimiter(Some(&ObjectPath::from(TABLES_DIR)))
            .await
            .map_err(|source| IcebergError::Storage {
                key: TABLES_DIR.to_owned(),
                source,
            })?;
        let mut deleted = 0;
        for prefix in listed.common_prefixes {
            let Some(topic) = prefix.filename() else {
                continue;
            };
            if existing.contains(topic) {
                continue;
            }
            let (gone, _) = self
                .delete_metadata_except(topic, &HashSet::new(), grace_ms)
                .await?;
            deleted += gone;
            if let Ok(mut synced) = self.synced.lock() {
                synced.remove(topic);
            }
        }
        Ok(deleted)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, IcebergError> {
        self.store
            .list(Some(&ObjectPath::from(prefix)))
            .try_collect()
            .await
            .map_err(|source| IcebergError::Storage {
                key: prefix.to_owned(),
                source,
            })
    }

    async fn delete(&self, key: &str) -> Result<(), IcebergError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(IcebergError::Storage {
                key: key.to_owned(),
                source,
            }),
        }
    }
}
