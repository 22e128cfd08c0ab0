//! What the store keeps across a snapshot and restore, and Kafka producers' sequences
//! across retries, epochs and a reopen.

use std::sync::Arc;

use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, Coordinator, CoordinatorError, PartitionOffsets, SegmentCommit,
};

use super::{Backend, chunk, topic};
use crate::CoordinatorService;

/// A snapshot restored into an empty store gives back the same topics, offsets,
/// index, groups and producers; a store that is not empty refuses it.
pub(super) async fn a_snapshot_restores_into_an_empty_store(backend: Backend) {
    let coordinator = backend.open().await;
    let orders = coordinator
        .create_topic(topic("orders", 2))
        .await
        .expect("create");
    for (index, partition) in [0u32, 1, 0].into_iter().enumerate() {
        coordinator
            .commit_segment(SegmentCommit {
                object_key: format!("segments/0000/{index:032x}.seg"),
                object_size: 100,
                chunks: vec![chunk(orders.topic_id, "orders", partition, 3, 0)],
            })
            .await
            .expect("commit");
    }
    let producer = coordinator.init_producer(None).await.expect("producer");
    let member = coordinator
        .join_group(
            "g",
            silt_core::groups::JoinGroup {
                member_id: None,
                topics: vec!["orders".into()],
                session_timeout_ms: 10_000,
                auto_offset_reset: silt_core::groups::AutoOffsetReset::Earliest,
            },
        )
        .await
        .expect("join");
    coordinator
        .leave_group("g", &member.member_id)
        .await
        .expect("leave");
    coordinator
        .reset_offsets(
            "g",
            silt_core::groups::ResetTarget::Offset(2),
            Some(vec!["orders".into()]),
        )
        .await
        .expect("reset");
    let snapshot = coordinator.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.index_entries.len(), 3);
    assert!(matches!(
        coordinator.restore(snapshot.clone()).await,
        Err(CoordinatorError::InvalidArgument(_))
    ));
    drop(coordinator);

    let empty = match &backend {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres(),
    };
    let restored = empty.open().await;
    restored.restore(snapshot.clone()).await.expect("restore");
    drop(restored);
    let restored = empty.open().await;
    assert_eq!(
        restored.describe_topic("orders").await.expect("describe"),
        silt_core::coordinator::TopicDescription {
            topic: orders.clone(),
            partitions: vec![
                PartitionOffsets {
                    partition: 0,
                    log_start_offset: 0,
                    high_watermark: 6,
                    first_unstable_offset: None,
                },
                PartitionOffsets {
                    partition: 1,
                    log_start_offset: 0,
                    high_watermark: 3,
                    first_unstable_offset: None,
                },
            ],
        }
    );
    let lookup = restored.lookup("orders", 0, 4, 10).await.expect("lookup");
    assert_eq!(lookup.entries.len(), 1);
    assert_eq!(lookup.entries[0].base_offset, 3);
    assert_eq!(
        lookup.entries[0].object_key,
        format!("segments/0000/{:032x}.seg", 2)
    );
    let group = restored.describe_group("g").await.expect("group");
    assert!(
        group
            .partitions
            .iter()
            .all(|partition| partition.committed_offset == Some(2)),
        "{group:?}"
    );
    // The restored producer continues; a new one never reuses an id.
    assert_eq!(
        restored
            .init_producer(Some(producer.producer_id))
            .await
            .expect("next epoch")
            .epoch,
        1
    );
    let fresh = restored.init_producer(None).await.expect("new producer");
    assert!(fresh.producer_id > producer.producer_id + 1000);
    // A new topic gets a new id.
    let other = restored
        .create_topic(topic("other", 1))
        .await
        .expect("create");
    assert!(other.topic_id > orders.topic_id);
    assert_eq!(restored.snapshot().await.expect("snapshot").topics.len(), 2);
}

/// Kafka's idempotent producers: sequences per partition; a retry of any of the last
/// batches (also inside one segment, also in a later one) gets its original offset and
/// writes nothing; a gap or a fenced epoch is refused; a new epoch starts at 0.
pub(super) async fn kafka_sequences_dedupe_retries_per_partition(backend: Backend) {
    let coordinator = backend.open().await;
    let orders = coordinator
        .create_topic(topic("orders", 2))
        .await
        .expect("create");
    let producer = coordinator.init_producer(None).await.expect("producer");
    let batch = |epoch: i32, partition: u32, base_sequence: i32, records: u32| ChunkCommit {
        kafka: Some(silt_core::coordinator::KafkaBatchStamp {
            producer_id: producer.producer_id,
            epoch,
            base_sequence,
            transactional: false,
        }),
        ..chunk(orders.topic_id, "orders", partition, records, 0)
    };
    let commit = |name: &str, chunks: Vec<ChunkCommit>| SegmentCommit {
        object_key: format!("segments/0000/{name}.seg"),
        object_size: 100,
        chunks,
    };
    let committed = |outcomes: Vec<ChunkOutcome>| -> Vec<Option<u64>> {
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                ChunkOutcome::Committed { base_offset } => Some(base_offset),
                ChunkOutcome::Rejected { .. } => None,
            })
            .collect()
    };
    let first = coordinator
        .commit_segment(commit(
            "a",
            vec![batch(0, 0, 0, 3), batch(0, 1, 0, 2), batch(0, 0, 3, 4)],
        ))
        .await
        .expect("commit");
    assert_eq!(committed(first), vec![Some(0), Some(0), Some(3)]);
    // The retries of all three, and the next batch of partition 0.
    let retried = coordinator
        .commit_segment(commit(
            "b",
            vec![
                batch(0, 0, 0, 3),
                batch(0, 1, 0, 2),
                batch(0, 0, 3, 4),
                batch(0, 0, 7, 1),
            ],
        ))
        .await
        .expect("commit");
    assert_eq!(committed(retried), vec![Some(0), Some(0), Some(3), Some(7)]);
    let high_watermarks = |coordinator: Arc<CoordinatorService>| async move {
        let description = coordinator
            .describe_topic("orders")
            .await
            .expect("describe");
        description
            .partitions
            .iter()
            .map(|partition| partition.high_watermark)
            .collect::<Vec<_>>()
    };
    assert_eq!(high_watermarks(Arc::clone(&coordinator)).await, vec![8, 2]);
    // A gap, and a retry with other records, are refused and change nothing.
    let refused = coordinator
        .commit_segment(commit("c", vec![batch(0, 1, 5, 1), batch(0, 0, 3, 2)]))
        .await
        .expect("commit");
    assert!(
        matches!(&refused[0], ChunkOutcome::Rejected { error_code, .. } if error_code == "out_of_order_sequence"),
        "{refused:?}"
    );
    assert!(
        matches!(&refused[1], ChunkOutcome::Rejected { .. }),
        "{refused:?}"
    );
    assert_eq!(high_watermarks(Arc::clone(&coordinator)).await, vec![8, 2]);
    assert_eq!(
        coordinator
            .snapshot()
            .await
            .expect("snapshot")
            .kafka_sequences
            .len(),
        2
    );
    // A new epoch fences the old one and starts its sequences at 0.
    let bumped = coordinator
        .init_producer(Some(producer.producer_id))
        .await
        .expect("epoch");
    assert_eq!(bumped.epoch, 1);
    let fenced = coordinator
        .commit_segment(commit("d", vec![batch(0, 0, 8, 1), batch(1, 0, 0, 2)]))
        .await
        .expect("commit");
    assert!(
        matches!(&fenced[0], ChunkOutcome::Rejected { error_code, .. } if error_code == "producer_fenced"),
        "{fenced:?}"
    );
    assert_eq!(fenced[1], ChunkOutcome::Committed { base_offset: 8 });
    // The state survives a reopen.
    drop(coordinator);
    let reopened = backend.open().await;
    let again = reopened
        .commit_segment(commit("e", vec![batch(1, 0, 0, 2), batch(1, 0, 2, 1)]))
        .await
        .expect("commit");
    assert_eq!(committed(again), vec![Some(8), Some(10)]);
    assert_eq!(high_watermarks(reopened).await, vec![11, 2]);
}
