//! Offset commits that no well-behaved member sends: each is refused whole, with an
//! error that says what is wrong, and changes nothing.

use std::sync::Arc;

use silt_core::coordinator::{Coordinator, CoordinatorError, SegmentCommit};
use silt_core::groups::{AutoOffsetReset, JoinGroup, MemberAssignment, PartitionOffset};

use super::{Backend, chunk, topic};
use crate::CoordinatorService;

/// `events` (2 partitions, 10 records each) and a group `g` whose one member, after
/// two rebalances, owns both at generation 3.
async fn group_at_generation_three(coordinator: &Arc<CoordinatorService>) -> MemberAssignment {
    let events = coordinator
        .create_topic(topic("events", 2))
        .await
        .expect("create");
    let commit = SegmentCommit {
        object_key: "segments/0000/events.seg".into(),
        object_size: 10,
        chunks: (0..2)
            .map(|p| chunk(events.topic_id, "events", p, 10, 12))
            .collect(),
    };
    coordinator.commit_segment(commit).await.expect("commit");
    let join = || JoinGroup {
        member_id: None,
        topics: vec!["events".into()],
        session_timeout_ms: 10_000,
        auto_offset_reset: AutoOffsetReset::Earliest,
    };
    let member = coordinator.join_group("g", join()).await.expect("join");
    let other = coordinator.join_group("g", join()).await.expect("join");
    coordinator
        .leave_group("g", &other.member_id)
        .await
        .expect("leave");
    let member = coordinator
        .heartbeat("g", &member.member_id)
        .await
        .expect("heartbeat");
    assert_eq!(member.generation, 3);
    assert_eq!(member.assignments.len(), 2);
    member
}

fn offset(partition: u32, offset: u64) -> PartitionOffset {
    PartitionOffset::new("events", partition, offset)
}

async fn committed(coordinator: &Arc<CoordinatorService>) -> Vec<Option<u64>> {
    coordinator
        .describe_group("g")
        .await
        .expect("describe")
        .partitions
        .iter()
        .map(|partition| partition.committed_offset)
        .collect()
}

pub(in crate::service) async fn a_future_generation_is_illegal_an_older_one_stale(
    backend: Backend,
) {
    let coordinator = backend.open().await;
    let member = group_at_generation_three(&coordinator).await;
    let commit = |generation: u64| {
        coordinator.commit_offsets("g", &member.member_id, generation, vec![offset(0, 5)])
    };
    for (generation, expected) in [
        (
            999,
            CoordinatorError::IllegalGeneration {
                given: 999,
                current: 3,
            },
        ),
        (
            4,
            CoordinatorError::IllegalGeneration {
                given: 4,
                current: 3,
            },
        ),
        (
            2,
            CoordinatorError::StaleGeneration {
                given: 2,
                current: 3,
            },
        ),
    ] {
        assert_eq!(commit(generation).await, Err(expected.clone()));
        assert_eq!(
            expected.error_code(),
            if generation > 3 {
                "illegal_generation"
            } else {
                "stale_generation"
            }
        );
    }
    assert_eq!(committed(&coordinator).await, vec![None, None]);
    commit(3).await.expect("the current generation commits");
    assert_eq!(committed(&coordinator).await, vec![Some(5), None]);
}

pub(in crate::service) async fn a_commit_naming_a_partition_twice_is_refused_whole(
    backend: Backend,
) {
    let coordinator = backend.open().await;
    let member = group_at_generation_three(&coordinator).await;
    coordinator
        .commit_offsets("g", &member.member_id, 3, vec![offset(1, 2)])
        .await
        .expect("commit");
    let refused = coordinator
        .commit_offsets(
            "g",
            &member.member_id,
            3,
            vec![offset(0, 4), offset(1, 7), offset(0, 9)],
        )
        .await;
    assert_eq!(
        refused,
        Err(CoordinatorError::DuplicatePartition {
            topic: "events".into(),
            partition: 0
        })
    );
    assert_eq!(
        committed(&coordinator).await,
        vec![None, Some(2)],
        "nothing of a refused commit is written"
    );
    drop(coordinator);
    assert_eq!(committed(&backend.open().await).await, vec![None, Some(2)]);
}
