//! OffsetCommit and OffsetFetch on the group coordinator.

use crate::groups::Committed;
use crate::groups::GroupCoordinator;
use crate::kafka_groups::{Phase, check_member, code, done};
use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{KafkaGroupResponse, PartitionOffset};

impl GroupCoordinator {
    /// Commits offsets of a group member's generation, or (generation -1 with an empty
    /// member id and no instance id) of a consumer outside any generation. `member` is
    /// the member id and, for a static member, its instance id.
    pub(super) async fn kafka_commit(
        &self,
        group: &str,
        member: (&str, Option<&str>),
        generation: i32,
        offsets: Vec<PartitionOffset>,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let (member_id, instance) = member;
        let mut groups = self.groups().lock().await;
        let state = self.group_entry(&mut groups, group, true).await?;
        let now = self.clock.now();
        {
            let kafka = state.kafka();
            kafka.expire(now);
            kafka.maybe_complete(now);
            // A consumer outside any generation (manual assignment) commits freely.
            if generation >= 0 || !member_id.is_empty() || instance.is_some() {
                if let Err(error_code) = check_member(kafka, member_id, instance, generation, now) {
                    return Ok(done(error_code));
                }
                if matches!(kafka.phase, Phase::Preparing { .. }) {
                    return Ok(done(code::REBALANCE_IN_PROGRESS));
                }
            }
        }
        // The gateway answers an oversized metadata for its partition alone; a caller
        // that did not is refused whole.
        if offsets.iter().any(PartitionOffset::metadata_too_large) {
            return Ok(done(code::OFFSET_METADATA_TOO_LARGE));
        }
        let catalog = self.catalog()?;
        let mut rows = Vec::with_capacity(offsets.len());
        for offset in &offsets {
            let Some(key) = catalog.key(&offset.topic, offset.partition) else {
                return Ok(done(code::UNKNOWN_TOPIC_OR_PARTITION));
            };
            rows.push((key, Committed::of(offset)));
        }
        if rows.is_empty() {
            return Ok(done(code::NONE));
        }
        self.store()
            .commit_group_offsets(
                group,
                rows.iter()
                    .map(|(key, committed)| committed.stored(key))
                    .collect(),
                self.clock.now_ms(),
            )
            .await?;
        for (key, committed) in rows {
            state.record_commit(key, committed);
        }
        Ok(done(code::NONE))
    }

    /// The group's committed offsets, of every topic or of `topics`, with their
    /// metadata (`""` for none) and leader epochs.
    pub(super) async fn kafka_fetch_offsets(
        &self,
        group: &str,
        topics: Option<Vec<String>>,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let mut groups = self.groups().lock().await;
        let state = match self.group_entry(&mut groups, group, false).await {
            Ok(state) => state,
            Err(CoordinatorError::GroupNotFound(_)) => {
                return Ok(KafkaGroupResponse::Offsets {
                    offsets: Vec::new(),
                });
            }
            Err(error) => return Err(error),
        };
        let catalog = self.catalog()?;
        let mut offsets: Vec<PartitionOffset> = state
            .committed_offsets()
            .filter_map(|(key, committed)| {
                let tp = catalog.topic_partition(key)?;
                Some(PartitionOffset {
                    topic: tp.topic,
                    partition: tp.partition,
                    offset: committed.offset,
                    metadata: Some(committed.metadata.clone()),
                    leader_epoch: committed.leader_epoch,
                })
            })
            .filter(|offset| {
                topics
                    .as_ref()
                    .is_none_or(|topics| topics.contains(&offset.topic))
            })
            .collect();
        offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(KafkaGroupResponse::Offsets { offsets })
    }
}
