use std::sync::Arc;
use std::time::Duration;

use silt_core::coordinator::{Coordinator, CoordinatorError, SegmentCommit};
use silt_core::groups::{AutoOffsetReset, FetchAck, JoinGroup, PartitionOffset, ResetTarget};

use super::{chunk, topic};
use crate::CoordinatorService;

fn join(topics: &[&str], session_timeout_ms: u64) -> JoinGroup {
    JoinGroup {
        member_id: None,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        session_timeout_ms,
        auto_offset_reset: AutoOffsetReset::Earliest,
    }
}

/// Creates `orders` with `partitions` partitions holding 10 records each.
async fn orders_with_ten_records_each(
    coordinator: &Arc<CoordinatorService>,
    partitions: u32,
    name: &str,
) {
    let orders = coordinator
        .create_topic(topic("orders", partitions))
        .await
        .expect("create");
    let commit = SegmentCommit {
        object_key: format!("segments/0000/{name}.seg"),
        object_size: 10,
        chunks: (0..partitions)
            .map(|p| chunk(orders.topic_id, "orders", p, 10, 12))
            .collect(),
    };
    coordinator.commit_segment(commit).await.expect("commit");
}

/// `/metrics` of the coordinator: group commit and each group's lag per partition.
pub(super) async fn metrics_report_commits_and_group_lag(backend: super::Backend) {
    let coordinator = backend.open().await;
    orders_with_ten_records_each(&coordinator, 2, "metrics").await;
    let member = coordinator
        .join_group("billing", join(&["orders"], 10_000))
        .await
        .expect("join");
    let offsets = vec![PartitionOffset::new("orders", 1, 4)];
    coordinator
        .commit_offsets("billing", &member.member_id, member.generation, offsets)
        .await
        .expect("commit");
    let text = coordinator.metrics_text().await;
    let sample = |series: &str| -> f64 {
        silt_core::metrics::read_sample(&text, series)
            .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
    };
    assert_eq!(sample("silt_coordinator_segments_committed_total"), 1.0);
    assert_eq!(
        sample("silt_coordinator_commit_duration_seconds_count"),
        1.0
    );
    assert_eq!(sample("silt_coordinator_commit_batch_segments_sum"), 1.0);
    let lag = |partition: u32| {
        sample(&format!(
            "silt_group_lag{{group=\"billing\",topic=\"orders\",partition=\"{partition}\"}}"
        ))
    };
    assert_eq!(lag(1), 6.0);
    assert_eq!(lag(0), 10.0, "nothing committed: all of it");
    assert_eq!(
        sample("silt_group_committed_offset{group=\"billing\",topic=\"orders\",partition=\"1\"}"),
        4.0
    );
}

pub(super) async fn members_share_partitions_and_commits_are_guarded(backend: super::Backend) {
    let coordinator = backend.open().await;
    orders_with_ten_records_each(&coordinator, 4, "g").await;

    let a = coordinator
        .join_group("g", join(&["orders"], 10_000))
        .await
        .expect("join a");
    assert_eq!(a.assignments.len(), 4);
    let b = coordinator
        .join_group("g", join(&["orders"], 10_000))
        .await
        .expect("join b");
    assert_eq!(b.generation, a.generation + 1);
    assert_eq!(b.assignments.len(), 2);
    let a = coordinator
        .heartbeat("g", &a.member_id)
        .await
        .expect("heartbeat");
    assert_eq!(a.assignments.len(), 2);
    assert!(a.assignments.iter().all(|tp| !b.assignments.contains(tp)));

    let plan = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert!(
        plan.positions.iter().all(|p| p.offset == 0),
        "earliest without a commit"
    );
    let owned = &a.assignments[0];
    let commit = |offset: u64| {
        vec![PartitionOffset::new(
            owned.topic.clone(),
            owned.partition,
            offset,
        )]
    };
    coordinator
        .commit_offsets("g", &a.member_id, a.generation, commit(6))
        .await
        .expect("commit");

    // Refusals change nothing.
    let stale = coordinator
        .commit_offsets("g", &a.member_id, a.generation - 1, commit(7))
        .await;
    assert!(
        matches!(stale, Err(CoordinatorError::StaleGeneration { .. })),
        "{stale:?}"
    );
    let beyond = coordinator
        .commit_offsets("g", &a.member_id, a.generation, commit(11))
        .await;
    assert!(
        matches!(beyond, Err(CoordinatorError::OffsetOutOfRange { .. })),
        "{beyond:?}"
    );
    let foreign = &b.assignments[0];
    let not_owned = coordinator
        .commit_offsets(
            "g",
            &a.member_id,
            a.generation,
            vec![PartitionOffset::new(
                foreign.topic.clone(),
                foreign.partition,
                1,
            )],
        )
        .await;
    assert!(
        matches!(not_owned, Err(CoordinatorError::PartitionNotOwned { .. })),
        "{not_owned:?}"
    );
    let unknown = coordinator
        .commit_offsets("g", "nobody", a.generation, commit(7))
        .await;
    assert!(
        matches!(unknown, Err(CoordinatorError::UnknownMember { .. })),
        "{unknown:?}"
    );
    assert!(matches!(
        coordinator.heartbeat("nope", "x").await,
        Err(CoordinatorError::GroupNotFound(_))
    ));
    let description = coordinator.describe_group("g").await.expect("describe");
    let lag = description
        .partitions
        .iter()
        .find(|p| p.partition == owned.partition)
        .expect("partition");
    assert_eq!((lag.committed_offset, lag.lag), (Some(6), 4));

    // B leaves: A owns everything, and starts on B's partitions from their commits.
    coordinator
        .leave_group("g", &b.member_id)
        .await
        .expect("leave");
    let plan = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert_eq!(plan.positions.len(), 4);
    assert!(matches!(
        coordinator
            .reset_offsets("g", ResetTarget::Earliest, None)
            .await,
        Err(CoordinatorError::GroupNotEmpty(_))
    ));
}

pub(super) async fn a_silent_member_is_removed_and_its_work_redelivered(backend: super::Backend) {
    let clock = Arc::new(silt_core::clock::ManualClock::new());
    let coordinator = backend
        .open_with_clock(crate::DEFAULT_PRODUCER_IDLE_EXPIRY_MS, clock.clone())
        .await;
    orders_with_ten_records_each(&coordinator, 2, "h").await;
    let a = coordinator
        .join_group("g", join(&["orders"], 300))
        .await
        .expect("join a");
    let b = coordinator
        .join_group("g", join(&["orders"], 10_000))
        .await
        .expect("join b");
    let a = coordinator
        .heartbeat("g", &a.member_id)
        .await
        .expect("heartbeat");
    let a_partition = a.assignments[0].clone();
    // A fetched up to 8, acknowledged the answer, but never committed.
    let fetched = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    coordinator
        .advance_positions(
            "g",
            &a.member_id,
            fetched.fetch_id,
            vec![PartitionOffset::new(
                a_partition.topic.clone(),
                a_partition.partition,
                8,
            )],
        )
        .await
        .expect("advance");
    let acknowledged = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Received(fetched.fetch_id))
        .await
        .expect("plan");
    assert!(
        acknowledged
            .positions
            .iter()
            .any(|p| p.partition == a_partition.partition && p.offset == 8)
    );
    // A's session (300 ms) passes, B's (10 s) does not; no real time is waited.
    clock.advance(Duration::from_millis(500));
    let plan = coordinator
        .fetch_plan("g", &b.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert_eq!(
        plan.member.assignments.len(),
        2,
        "B took over A's partition"
    );
    let redelivered = plan
        .positions
        .iter()
        .find(|p| p.partition == a_partition.partition)
        .expect("position");
    assert_eq!(
        redelivered.offset, 0,
        "A's uncommitted work is delivered again"
    );
    let late = coordinator
        .commit_offsets(
            "g",
            &a.member_id,
            a.generation,
            vec![PartitionOffset::new(
                a_partition.topic,
                a_partition.partition,
                8,
            )],
        )
        .await;
    assert!(
        matches!(late, Err(CoordinatorError::StaleGeneration { .. })),
        "{late:?}"
    );

    // Generations and commits survive a coordinator restart; members rejoin.
    coordinator
        .leave_group("g", &b.member_id)
        .await
        .expect("leave");
    coordinator
        .reset_offsets("g", ResetTarget::Offset(3), Some(vec!["orders".into()]))
        .await
        .expect("reset");
    let generation = coordinator
        .describe_group("g")
        .await
        .expect("describe")
        .generation;
    drop(coordinator);
    let reopened = backend.open().await;
    let description = reopened.describe_group("g").await.expect("describe");
    assert_eq!(description.generation, generation);
    assert!(
        description
            .partitions
            .iter()
            .all(|p| p.committed_offset == Some(3))
    );
    let c = reopened
        .join_group("g", join(&["orders"], 10_000))
        .await
        .expect("join c");
    assert!(c.generation > generation);
    let plan = reopened
        .fetch_plan("g", &c.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert!(plan.positions.iter().all(|p| p.offset == 3));
}

/// A fetch's positions move only once the member acknowledges its answer: an answer
/// lost with its gateway is given again, never skipped.
pub(super) async fn an_unacknowledged_answer_is_given_again(backend: super::Backend) {
    let coordinator = backend.open().await;
    orders_with_ten_records_each(&coordinator, 1, "u").await;
    let a = coordinator
        .join_group("g", join(&["orders"], 10_000))
        .await
        .expect("join");
    let offset_of = |plan: &silt_core::groups::FetchPlan| plan.positions[0].offset;
    let advance = |fetch_id: u64, offset: u64| {
        let coordinator = &coordinator;
        let member = a.member_id.clone();
        async move {
            coordinator
                .advance_positions(
                    "g",
                    &member,
                    fetch_id,
                    vec![PartitionOffset::new("orders".to_owned(), 0, offset)],
                )
                .await
                .expect("advance");
        }
    };
    let first = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Received(0))
        .await
        .expect("plan");
    assert_eq!((first.fetch_id, offset_of(&first)), (1, 0));
    advance(first.fetch_id, 4).await;
    // The answer never arrived: the member says it last received nothing.
    let again = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Received(0))
        .await
        .expect("plan");
    assert_eq!(offset_of(&again), 0, "the lost answer is given again");
    advance(again.fetch_id, 4).await;
    // A report from a fetch the member has since planned past is stale.
    let next = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Received(again.fetch_id))
        .await
        .expect("plan");
    assert_eq!(
        offset_of(&next),
        4,
        "an acknowledged answer moves the position"
    );
    advance(again.fetch_id, 9).await;
    advance(next.fetch_id, 7).await;
    let implicit = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert_eq!(
        offset_of(&implicit),
        7,
        "no ack: the answer counts as received"
    );
    // An id the member was never given is no acknowledgement.
    advance(implicit.fetch_id, 10).await;
    let unknown = coordinator
        .fetch_plan("g", &a.member_id, FetchAck::Received(implicit.fetch_id + 5))
        .await
        .expect("plan");
    assert_eq!(offset_of(&unknown), 7);
}
