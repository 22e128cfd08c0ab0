//! Metadata recovery: the coordinator writes snapshots of its store to the bucket, and
//! `silt coordinator restore` rebuilds an empty store from the newest one plus the
//! segments written after it (`docs/metadata-recovery.md`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use silt_coordinator::{CoordinatorService, Snapshot};
use silt_core::Coordinator;
use silt_core::coordinator::{ChunkCommit, ChunkOutcome, SegmentCommit};
use silt_core::keys::{SEGMENTS_DIR, SNAPSHOTS_DIR, SegmentId, snapshot_object_key};
use silt_core::segment::decode_segment_index;
use tracing::{info, instrument, warn};

use crate::error::CliError;

/// Snapshots kept in the bucket; older ones are deleted after a new one is written.
const SNAPSHOTS_KEPT: usize = 3;

fn failed(what: &str) -> impl Fn(object_store::Error) -> CliError + '_ {
    move |error| CliError::Server(format!("{what}: {error}"))
}

/// Takes a snapshot, writes it to the bucket, makes it the one garbage collection
/// protects, and deletes all but the newest few. Returns its key.
#[instrument(skip_all)]
pub async fn write_snapshot(
    service: &CoordinatorService,
    bucket: &dyn ObjectStore,
) -> Result<String, CliError> {
    let snapshot = service
        .snapshot()
        .await
        .map_err(|error| CliError::Server(format!("taking a snapshot: {error}")))?;
    let key = snapshot_object_key(snapshot.taken_at_ms, uuid::Uuid::now_v7());
    let bytes = serde_json::to_vec(&snapshot)
        .map_err(|error| CliError::Server(format!("encoding a snapshot: {error}")))?;
    let size = bytes.len();
    bucket
        .put(&ObjectPath::from(key.as_str()), bytes.into())
        .await
        .map_err(failed("writing a snapshot"))?;
    service
        .snapshot_written(&snapshot)
        .map_err(|error| CliError::Server(error.to_string()))?;
    info!(
        key,
        bytes = size,
        segments = snapshot.segments.len(),
        "metadata snapshot written"
    );
    let mut keys = snapshot_keys(bucket).await?;
    keys.sort();
    let old = keys.len().saturating_sub(SNAPSHOTS_KEPT);
    for old_key in &keys[..old] {
        if let Err(error) = bucket.delete(&ObjectPath::from(old_key.as_str())).await {
            warn!(key = old_key, %error, "could not delete an old snapshot");
        }
    }
    Ok(key)
}

async fn snapshot_keys(bucket: &dyn ObjectStore) -> Result<Vec<String>, CliError> {
    let listed: Vec<_> = bucket
        .list(Some(&ObjectPath::from(SNAPSHOTS_DIR)))
        .try_collect()
        .await
        .map_err(failed("listing snapshots"))?;
    Ok(listed
        .into_iter()
        .map(|meta| meta.location.to_string())
        .collect())
}

/// Writes a snapshot now and then every `interval` until `shutdown` turns true.
/// Garbage collection deletes nothing until the first one is written.
pub async fn snapshot_periodically(
    service: Arc<CoordinatorService>,
    bucket: Arc<dyn ObjectStore>,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(error) = write_snapshot(&service, bucket.as_ref()).await {
            warn!(%error, "metadata snapshot failed; garbage collection keeps what the last one refers to");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// What `silt coordinator restore` did.
#[derive(Debug, Default, Serialize)]
pub struct RestoreReport {
    pub snapshot: String,
    pub snapshot_taken_at_ms: i64,
    pub topics: usize,
    pub segments_in_snapshot: usize,
    pub segments_replayed: usize,
    pub records_replayed: u64,
    /// Chunks of topics the snapshot does not know (created after it).
    pub chunks_skipped: usize,
    /// Segment objects that could not be read; their records are not restored.
    pub segments_unreadable: Vec<String>,
}

/// Rebuilds `service`'s empty store from a snapshot in `bucket` (the newest unless
/// `snapshot_key` names one), then commits the segments that the snapshot does not
/// know and that were written at most `replay_window_ms` before it or later, in the
/// order of their ids (their creation order).
pub async fn restore(
    service: &CoordinatorService,
    bucket: &dyn ObjectStore,
    snapshot_key: Option<String>,
    replay_window_ms: i64,
) -> Result<RestoreReport, CliError> {
    let key = match snapshot_key {
        Some(key) => key,
        None => {
            let mut keys = snapshot_keys(bucket).await?;
            keys.sort();
            keys.pop().ok_or_else(|| {
                CliError::Config(format!(
                    "no snapshot under {SNAPSHOTS_DIR}/ in the bucket: nothing to restore from"
                ))
            })?
        }
    };
    let bytes = bucket
        .get(&ObjectPath::from(key.as_str()))
        .await
        .map_err(failed("reading the snapshot"))?
        .bytes()
        .await
        .map_err(failed("reading the snapshot"))?;
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .map_err(|error| CliError::Config(format!("snapshot {key} is not valid: {error}")))?;
    let known: HashSet<String> = snapshot
        .segments
        .iter()
        .map(|segment| segment.object_key.clone())
        .collect();
    let mut report = RestoreReport {
        snapshot: key.clone(),
        snapshot_taken_at_ms: snapshot.taken_at_ms,
        topics: snapshot.topics.len(),
        segments_in_snapshot: snapshot.segments.len(),
        ..RestoreReport::default()
    };
    let replay_from_ms = snapshot.taken_at_ms.saturating_sub(replay_window_ms);
    service
        .restore(snapshot)
        .await
        .map_err(|error| CliError::Server(format!("restoring {key}: {error}")))?;
    info!(snapshot = %key, "snapshot restored; replaying later segments");

    let listed: Vec<_> = bucket
        .list(Some(&ObjectPath::from(SEGMENTS_DIR)))
        .try_collect()
        .await
        .map_err(failed("listing segments"))?;
    let mut later: Vec<(SegmentId, String, u64)> = listed
        .into_iter()
        .filter_map(|meta| {
            let key = meta.location.to_string();
            let id = SegmentId::parse_object_key(&key).ok()?;
            let fresh = id.created_ms().is_some_and(|ms| ms >= replay_from_ms);
            (fresh && !known.contains(&key)).then_some((id, key, meta.size))
        })
        .collect();
    later.sort();
    for (_, key, size) in later {
        let object = match bucket.get(&ObjectPath::from(key.as_str())).await {
            Ok(object) => object.bytes().await,
            Err(error) => Err(error),
        };
        let index = match object
            .map_err(|error| error.to_string())
            .and_then(|bytes| decode_segment_index(&bytes).map_err(|error| error.to_string()))
        {
            Ok(index) => index,
            Err(error) => {
                warn!(segment = %key, %error, "cannot read a segment; its records are not restored");
                report.segments_unreadable.push(key);
                continue;
            }
        };
        let mut chunks = Vec::with_capacity(index.chunks.len());
        for chunk in index.chunks {
            let Ok(topic) = service.get_topic(&chunk.topic).await else {
                report.chunks_skipped += 1;
                continue;
            };
            chunks.push(ChunkCommit {
                topic_id: topic.topic_id,
                topic: chunk.topic,
                partition: chunk.partition,
                record_count: chunk.record_count,
                byte_offset: chunk.offset,
                byte_len: chunk.len,
                min_timestamp: chunk.min_timestamp,
                max_timestamp: chunk.max_timestamp,
                producer: None,
                kafka: None,
                txn: None,
                request: 0,
            });
        }
        if chunks.is_empty() {
            continue;
        }
        let outcomes = service
            .commit_segment(SegmentCommit {
                object_key: key.clone(),
                object_size: size,
                chunks: chunks.clone(),
            })
            .await
            .map_err(|error| CliError::Server(format!("replaying {key}: {error}")))?;
        for (chunk, outcome) in chunks.iter().zip(outcomes) {
            match outcome {
                ChunkOutcome::Committed { .. } => {
                    report.records_replayed += u64::from(chunk.record_count);
                }
                ChunkOutcome::Rejected { .. } => report.chunks_skipped += 1,
            }
        }
        report.segments_replayed += 1;
    }
    Ok(report)
}
