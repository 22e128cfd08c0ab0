//! Group commit: segment commits from every gateway queue here, and whoever takes the
//! commit lock commits everything queued in one store transaction, then publishes the
//! new high watermarks to long-polls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use silt_core::coordinator::{ChunkOutcome, CoordinatorError, PartitionOffsets, SegmentCommit};
use tokio::sync::oneshot;
use tracing::warn;

use super::{CoordinatorService, poisoned};
use crate::store::SegmentOutcome;

impl CoordinatorService {
    /// Group commit: every segment commit queued while the previous transaction ran goes
    /// into one transaction. If that fails, each is retried alone so that one bad commit
    /// cannot fail the others. Must be called with `write_order` held.
    pub(super) async fn commit_batch(&self, batch: Vec<PendingCommit>) {
        if batch.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let (commits, replies): (Vec<SegmentCommit>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.commit, pending.reply))
            .unzip();
        let names: Vec<Vec<(i64, String)>> = commits
            .iter()
            .map(|commit| {
                commit
                    .chunks
                    .iter()
                    .map(|chunk| (chunk.topic_id, chunk.topic.clone()))
                    .collect()
            })
            .collect();
        let now = self.clock.now_ms();
        let single = commits.len() == 1;
        let retry = if single { Vec::new() } else { commits.clone() };
        let results: Vec<Result<SegmentOutcome, CoordinatorError>> = match self
            .store
            .commit_segments(commits, now)
            .await
        {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(error) if single => vec![Err(error.into())],
            Err(error) => {
                warn!(%error, segments = retry.len(), "group commit failed; committing one by one");
                let mut results = Vec::with_capacity(retry.len());
                for commit in retry {
                    results.push(
                        self.store
                            .commit_segments(vec![commit], now)
                            .await
                            .map_err(CoordinatorError::from)
                            .and_then(|mut outcome| {
                                outcome.pop().ok_or_else(|| {
                                    CoordinatorError::Internal(
                                        "the store returned no outcome".into(),
                                    )
                                })
                            }),
                    );
                }
                results
            }
        };
        self.stats.record_batch(results.len(), started.elapsed());
        for ((result, reply), names) in results.into_iter().zip(replies).zip(names) {
            let answer = match result {
                Ok((outcomes, advanced)) => self.publish(&names, advanced).map(|()| outcomes),
                Err(error) => Err(error),
            };
            // A caller that went away no longer needs its answer.
            let _ = reply.send(answer);
        }
    }

    /// Wakes long-polls on partitions whose high watermark moved.
    fn publish(
        &self,
        names: &[(i64, String)],
        advanced: Vec<(i64, PartitionOffsets)>,
    ) -> Result<(), CoordinatorError> {
        let topics = self.topics.read().map_err(|_| poisoned())?;
        for (topic_id, offsets) in advanced {
            let Some((_, name)) = names.iter().find(|(id, _)| *id == topic_id) else {
                continue;
            };
            if let Some(state) = topics
                .get(name)
                .filter(|state| state.topic.topic_id == topic_id)
                && let Some(sender) = state.partitions.get(offsets.partition as usize)
            {
                sender.send_replace(offsets);
            }
        }
        Ok(())
    }

    /// Commit counters since start-up.
    pub fn commit_stats(&self) -> CommitStats {
        self.stats.read()
    }
}

/// A segment commit waiting for the next group-commit transaction.
pub(super) struct PendingCommit {
    pub(super) commit: SegmentCommit,
    pub(super) reply: oneshot::Sender<Result<Vec<ChunkOutcome>, CoordinatorError>>,
}

/// Group-commit counters, for `/metrics`.
#[derive(Debug)]
pub(super) struct Stats {
    pub(super) transactions: AtomicU64,
    pub(super) segments: AtomicU64,
    pub(super) micros: AtomicU64,
    pub(super) max_batch: AtomicU64,
    pub(super) transaction_seconds: silt_core::metrics::Histogram,
    pub(super) batch_segments: silt_core::metrics::Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            transactions: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            max_batch: AtomicU64::new(0),
            transaction_seconds: silt_core::metrics::Histogram::seconds(),
            batch_segments: silt_core::metrics::Histogram::counts(),
        }
    }
}

impl Stats {
    fn record_batch(&self, segments: usize, elapsed: Duration) {
        self.transaction_seconds.record_duration(elapsed);
        self.batch_segments.record(segments as u64);
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.segments.fetch_add(segments as u64, Ordering::Relaxed);
        self.micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.max_batch.fetch_max(segments as u64, Ordering::Relaxed);
    }

    pub(super) fn read(&self) -> CommitStats {
        CommitStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            segments: self.segments.load(Ordering::Relaxed),
            seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
            max_batch: self.max_batch.load(Ordering::Relaxed),
        }
    }
}

/// How group commit has done since start-up.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommitStats {
    /// Store transactions that committed segments.
    pub transactions: u64,
    /// Segments committed (so `segments / transactions` is the mean batch).
    pub segments: u64,
    /// Time spent in those transactions.
    pub seconds: f64,
    /// The largest batch.
    pub max_batch: u64,
}
