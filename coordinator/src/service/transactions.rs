//! Transactions: each step checked against the mirror of topics, applied by the store in
//! one transaction, and the partitions whose markers moved their bounds published, so
//! that `read_committed` long-polls wake when a transaction ends. Open transactions that
//! outlive their timeout are aborted by [`CoordinatorService::abort_expired_transactions`],
//! which [`CoordinatorService::spawn_transaction_timeouts`] runs every second.

use std::sync::{Arc, Weak};
use std::time::Duration;

use silt_core::coordinator::{CoordinatorError, PartitionOffsets};
use silt_core::groups::MAX_OFFSET_METADATA_BYTES;
use silt_core::transactions::{
    MAX_TRANSACTION_TIMEOUT_MS, REQUEST_TRANSACTION_EXPIRATION_MS, REQUEST_TRANSACTION_PREFIX,
    TRANSACTIONAL_ID_EXPIRATION_MS, TopicPartition, TxnOffset, TxnRequest, TxnResponse,
};
use tracing::{info, warn};

use super::{CoordinatorService, poisoned};
use crate::catalog::PartitionKey;
use crate::groups::Committed;
use crate::mirror::Topics;
use crate::store::{GroupOffsets, StoredOffset, TxnApplied, TxnStep};

/// Longest transactional id, in bytes.
pub const MAX_TRANSACTIONAL_ID_BYTES: usize = 1024;

/// How often open transactions are checked against their timeouts.
const TIMEOUT_CHECK: Duration = Duration::from_secs(1);

fn check_id(transactional_id: &str) -> Result<(), CoordinatorError> {
    if transactional_id.is_empty() || transactional_id.len() > MAX_TRANSACTIONAL_ID_BYTES {
        return Err(CoordinatorError::InvalidArgument(format!(
            "a transactional id is 1 to {MAX_TRANSACTIONAL_ID_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_timeout(timeout_ms: i32) -> Result<(), CoordinatorError> {
    if !(1..=MAX_TRANSACTION_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(CoordinatorError::InvalidArgument(format!(
            "transaction timeout {timeout_ms} ms is outside 1..={MAX_TRANSACTION_TIMEOUT_MS}"
        )));
    }
    Ok(())
}

impl CoordinatorService {
    pub(super) async fn transaction_impl(
        &self,
        request: TxnRequest,
    ) -> Result<TxnResponse, CoordinatorError> {
        let step = match request {
            TxnRequest::InitProducer {
                transactional_id,
                timeout_ms,
            } => {
                check_id(&transactional_id)?;
                check_timeout(timeout_ms)?;
                // Idle producers are forgotten when a client initialises one, not at
                // each request that is a transaction of its own.
                let expire_before_ms = if transactional_id.starts_with(REQUEST_TRANSACTION_PREFIX) {
                    i64::MIN
                } else {
                    self.clock
                        .now_ms()
                        .saturating_sub(self.producer_idle_expiry_ms)
                };
                TxnStep::Init {
                    transactional_id,
                    timeout_ms,
                    expire_before_ms,
                }
            }
            TxnRequest::AddPartitions {
                transactional_id,
                producer,
                partitions,
            } => TxnStep::AddPartitions {
                partitions: self.resolve(&partitions)?,
                transactional_id,
                producer,
            },
            TxnRequest::AddOffsets {
                transactional_id,
                producer,
                group,
            } => {
                if group.is_empty() {
                    return Err(CoordinatorError::InvalidArgument(
                        "a group id is required".into(),
                    ));
                }
                TxnStep::AddOffsets {
                    transactional_id,
                    producer,
                }
            }
            TxnRequest::CommitOffsets {
                transactional_id,
                producer,
                group,
                offsets,
                only_forward,
                generation,
            } => TxnStep::CommitOffsets {
                offsets: GroupOffsets {
                    offsets: self.stored_offsets(&offsets)?,
                    group,
                    only_forward,
                    generation,
                },
                transactional_id,
                producer,
            },
            TxnRequest::Begin {
                transactional_id,
                timeout_ms,
                partitions,
                group,
                offsets,
                generation,
            } => {
                check_id(&transactional_id)?;
                check_timeout(timeout_ms)?;
                let offsets = match group {
                    Some(group) => Some(GroupOffsets {
                        offsets: self.stored_offsets(&offsets)?,
                        group,
                        only_forward: true,
                        generation,
                    }),
                    None => None,
                };
                TxnStep::Begin {
                    partitions: self.resolve(&partitions)?,
                    transactional_id,
                    timeout_ms,
                    offsets,
                }
            }
            TxnRequest::End {
                transactional_id,
                producer,
                commit,
            } => TxnStep::End {
                transactional_id,
                producer,
                commit,
            },
            TxnRequest::Describe { transactional_ids } => {
                let transactions = self.store.transactions(Some(transactional_ids)).await?;
                return Ok(TxnResponse::Described { transactions });
            }
            TxnRequest::PendingOffsets { group } => {
                let partitions = self
                    .store
                    .pending_offsets(&group)
                    .await?
                    .into_iter()
                    .map(|(topic, partition)| TopicPartition { topic, partition })
                    .collect();
                return Ok(TxnResponse::Pending { partitions });
            }
            TxnRequest::List {
                states,
                producer_ids,
            } => {
                let mut transactions = self.store.transactions(None).await?;
                transactions.retain(|txn| {
                    (states.is_empty() || states.contains(&txn.state))
                        && (producer_ids.is_empty() || producer_ids.contains(&txn.producer_id))
                });
                return Ok(TxnResponse::Described { transactions });
            }
        };
        let applied = self.apply_txn_step(step).await?;
        Ok(match applied.producer {
            Some(producer) => TxnResponse::Producer { producer },
            None => TxnResponse::Done,
        })
    }

    /// (topic id, partition) of each partition, all existing, each once.
    fn resolve(&self, partitions: &[TopicPartition]) -> Result<Vec<(i64, u32)>, CoordinatorError> {
        let mut resolved = Vec::with_capacity(partitions.len());
        for TopicPartition { topic, partition } in partitions {
            let topic_id = self.topics.with_topic(topic, |state| {
                Topics::partition_sender(state, *partition)?;
                Ok(state.topic.topic_id)
            })?;
            if !resolved.contains(&(topic_id, *partition)) {
                resolved.push((topic_id, *partition));
            }
        }
        Ok(resolved)
    }

    fn stored_offsets(&self, offsets: &[TxnOffset]) -> Result<Vec<StoredOffset>, CoordinatorError> {
        let mut stored: Vec<StoredOffset> = Vec::with_capacity(offsets.len());
        for offset in offsets {
            if offset.metadata.len() > MAX_OFFSET_METADATA_BYTES {
                return Err(CoordinatorError::OffsetMetadataTooLarge {
                    topic: offset.topic.clone(),
                    partition: offset.partition,
                    bytes: offset.metadata.len(),
                    limit: MAX_OFFSET_METADATA_BYTES,
                });
            }
            let topic_id = self.topics.with_topic(&offset.topic, |state| {
                Topics::partition_sender(state, offset.partition)?;
                Ok(state.topic.topic_id)
            })?;
            if stored
                .iter()
                .any(|seen| seen.topic_id == topic_id && seen.partition == offset.partition)
            {
                return Err(CoordinatorError::DuplicatePartition {
                    topic: offset.topic.clone(),
                    partition: offset.partition,
                });
            }
            stored.push(StoredOffset {
                topic_id,
                partition: offset.partition,
                offset: offset.offset,
                metadata: offset.metadata.clone(),
                leader_epoch: offset.leader_epoch,
            });
        }
        Ok(stored)
    }

    /// Applies a step in the store's commit order and publishes the bounds it moved. A
    /// commit holds the groups from the store's transaction to their update in memory,
    /// so that a group never reads an offset older than the store's.
    async fn apply_txn_step(&self, step: TxnStep) -> Result<TxnApplied, CoordinatorError> {
        let _order = self.write_order.lock().await;
        let commits = matches!(step, TxnStep::End { commit: true, .. });
        let mut groups = match commits {
            true => Some(self.groups.groups().lock().await),
            false => None,
        };
        let applied = self.store.transaction(step, self.clock.now_ms()).await?;
        if let Some(groups) = groups.as_mut() {
            for (group, offsets) in &applied.committed {
                if let Some(state) = groups.get_mut(group) {
                    for offset in offsets {
                        state.record_commit(
                            PartitionKey {
                                topic_id: offset.topic_id,
                                partition: offset.partition,
                            },
                            Committed {
                                offset: offset.offset,
                                metadata: offset.metadata.clone(),
                                leader_epoch: offset.leader_epoch,
                            },
                        );
                    }
                }
            }
        }
        self.publish_bounds(&applied.advanced)?;
        Ok(applied)
    }

    /// Sets the offsets of partitions (by topic id) the store moved, waking long-polls.
    fn publish_bounds(&self, advanced: &[(i64, PartitionOffsets)]) -> Result<(), CoordinatorError> {
        if advanced.is_empty() {
            return Ok(());
        }
        let topics = self.topics.read().map_err(|_| poisoned())?;
        for (topic_id, offsets) in advanced {
            if let Some(state) = topics
                .values()
                .find(|state| state.topic.topic_id == *topic_id)
                && let Some(sender) = state.partitions.get(offsets.partition as usize)
            {
                sender.send_replace(*offsets);
            }
        }
        Ok(())
    }

    /// Forgets transactional ids idle for longer than Kafka's
    /// `transactional.id.expiration.ms` (requests' own: an hour); answers how many.
    pub async fn forget_idle_transactional_ids(&self) -> Result<u64, CoordinatorError> {
        let now = self.clock.now_ms();
        let step = TxnStep::Forget {
            idle_before_ms: now.saturating_sub(TRANSACTIONAL_ID_EXPIRATION_MS),
            request_idle_before_ms: now.saturating_sub(REQUEST_TRANSACTION_EXPIRATION_MS),
        };
        Ok(self.apply_txn_step(step).await?.forgotten)
    }

    /// Aborts every open transaction whose timeout has passed; answers how many.
    pub async fn abort_expired_transactions(&self) -> Result<usize, CoordinatorError> {
        let expired = self.store.expired_transactions(self.clock.now_ms()).await?;
        let count = expired.len();
        for (transactional_id, started_at_ms) in expired {
            info!(%transactional_id, started_at_ms, "transaction timed out; aborting it");
            self.apply_txn_step(TxnStep::Expire {
                transactional_id,
                started_at_ms,
            })
            .await?;
        }
        Ok(count)
    }

    /// Checks open transactions against their timeouts every second, and forgets idle
    /// transactional ids every minute, for as long as the service lives.
    pub fn spawn_transaction_timeouts(service: &Arc<CoordinatorService>) {
        let service: Weak<CoordinatorService> = Arc::downgrade(service);
        tokio::spawn(async move {
            for tick in 0u64.. {
                tokio::time::sleep(TIMEOUT_CHECK).await;
                let Some(service) = service.upgrade() else {
                    return;
                };
                if let Err(error) = service.abort_expired_transactions().await {
                    warn!(%error, "aborting timed-out transactions failed; retrying");
                }
                if tick % 60 == 0
                    && let Err(error) = service.forget_idle_transactional_ids().await
                {
                    warn!(%error, "forgetting idle transactional ids failed; retrying");
                }
            }
        });
    }
}
