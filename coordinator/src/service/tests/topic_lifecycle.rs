//! Deleting and recreating a topic: no state of the deleted topic reaches the new one.

use std::sync::Arc;

use silt_core::coordinator::{Coordinator, CoordinatorError, SegmentCommit};
use silt_core::groups::{
    AutoOffsetReset, FetchAck, JoinGroup, KafkaGroupRequest, KafkaGroupResponse, PartitionOffset,
};

use super::{Backend, chunk, topic};
use crate::CoordinatorService;

/// Kafka's error codes the test expects.
const NONE: i16 = 0;
const REBALANCE_IN_PROGRESS: i16 = 27;

fn join(topics: &[&str]) -> JoinGroup {
    JoinGroup {
        member_id: None,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        session_timeout_ms: 10_000,
        auto_offset_reset: AutoOffsetReset::Earliest,
    }
}

async fn with_records(coordinator: &Arc<CoordinatorService>, name: &str, records: u32) {
    let created = coordinator
        .create_topic(topic(name, 2))
        .await
        .expect("create");
    let commit = SegmentCommit {
        object_key: format!("segments/0000/{name}-{}.seg", created.topic_id),
        object_size: 10,
        chunks: (0..2)
            .map(|p| chunk(created.topic_id, name, p, records, 12))
            .collect(),
    };
    coordinator.commit_segment(commit).await.expect("commit");
}

/// A Kafka consumer's subscription metadata (ConsumerProtocolSubscription v0).
fn subscription(topics: &[&str]) -> Vec<u8> {
    let mut metadata = 0i16.to_be_bytes().to_vec();
    metadata.extend((topics.len() as i32).to_be_bytes());
    for topic in topics {
        metadata.extend((topic.len() as i16).to_be_bytes());
        metadata.extend(topic.as_bytes());
    }
    metadata.extend((-1i32).to_be_bytes());
    metadata
}

/// A Kafka group "k" with one member subscribed to `t1`, stable; (member, generation).
async fn stable_kafka_member(coordinator: &Arc<CoordinatorService>) -> (String, i32) {
    let joined = coordinator
        .kafka_group(KafkaGroupRequest::Join {
            group: "k".into(),
            member_id: String::new(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(&["t1"]))],
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            require_member_id: false,
            client_id: "test".into(),
            client_host: String::new(),
            group_instance_id: None,
            skip_assignment_supported: false,
        })
        .await
        .expect("join");
    let KafkaGroupResponse::Joined {
        error_code: NONE,
        generation,
        member_id,
        ..
    } = joined
    else {
        panic!("{joined:?}");
    };
    let synced = coordinator
        .kafka_group(KafkaGroupRequest::Sync {
            group: "k".into(),
            member_id: member_id.clone(),
            generation,
            assignments: vec![(member_id.clone(), Vec::new())],
            group_instance_id: None,
        })
        .await
        .expect("sync");
    assert!(
        matches!(
            synced,
            KafkaGroupResponse::Synced {
                error_code: NONE,
                ..
            }
        ),
        "{synced:?}"
    );
    (member_id, generation)
}

async fn kafka_heartbeat(
    coordinator: &Arc<CoordinatorService>,
    member_id: &str,
    generation: i32,
) -> KafkaGroupResponse {
    coordinator
        .kafka_group(KafkaGroupRequest::Heartbeat {
            group: "k".into(),
            member_id: member_id.to_owned(),
            generation,
            group_instance_id: None,
        })
        .await
        .expect("heartbeat")
}

/// The reproduction of issue #21: commit offset 4 on partition 1, delete the topic,
/// create it again and produce: the group must start the new topic at 0.
pub(in crate::service) async fn a_recreated_topic_starts_without_the_deleted_topics_offsets(
    backend: Backend,
) {
    let coordinator = backend.open().await;
    with_records(&coordinator, "t1", 10).await;
    let member = coordinator
        .join_group("g2", join(&["t1"]))
        .await
        .expect("join");
    assert_eq!(member.assignments.len(), 2);
    let before = member.generation;
    let commit = |generation: u64| {
        coordinator.commit_offsets(
            "g2",
            &member.member_id,
            generation,
            vec![PartitionOffset::new("t1", 1, 4)],
        )
    };
    commit(before).await.expect("commit");
    // A Kafka group commits too, one as a consumer outside any generation.
    let kafka_commit = KafkaGroupRequest::Commit {
        group: "kafka-offsets".into(),
        member_id: String::new(),
        generation: -1,
        offsets: vec![PartitionOffset::new("t1", 0, 3)],
        group_instance_id: None,
    };
    coordinator
        .kafka_group(kafka_commit)
        .await
        .expect("kafka commit");
    let (kafka_member, kafka_generation) = stable_kafka_member(&coordinator).await;
    assert_eq!(
        kafka_heartbeat(&coordinator, &kafka_member, kafka_generation).await,
        KafkaGroupResponse::Done { error_code: NONE }
    );

    coordinator.delete_topic("t1").await.expect("delete");
    let snapshot = coordinator.snapshot().await.expect("snapshot");
    assert_eq!(
        snapshot.group_offsets,
        Vec::new(),
        "the store deletes the topic's offsets"
    );
    let after_delete = coordinator
        .heartbeat("g2", &member.member_id)
        .await
        .expect("heartbeat");
    assert!(after_delete.generation > before, "{after_delete:?}");
    assert_eq!(after_delete.assignments, Vec::new());
    assert!(
        matches!(
            commit(before).await,
            Err(CoordinatorError::StaleGeneration { .. })
        ),
        "a commit of the old generation is refused"
    );
    assert_eq!(
        kafka_heartbeat(&coordinator, &kafka_member, kafka_generation).await,
        KafkaGroupResponse::Done {
            error_code: REBALANCE_IN_PROGRESS
        },
        "the Kafka group rebalances too"
    );

    with_records(&coordinator, "t1", 6).await;
    let plan = coordinator
        .fetch_plan("g2", &member.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert!(plan.member.generation > after_delete.generation, "{plan:?}");
    assert_eq!(
        plan.member.assignments.len(),
        2,
        "subscribers get the new topic"
    );
    assert_eq!(
        plan.positions
            .iter()
            .map(|position| (position.partition, position.offset))
            .collect::<Vec<_>>(),
        vec![(0, 0), (1, 0)],
        "the new topic is read from its start"
    );
    let fetched = coordinator
        .kafka_group(KafkaGroupRequest::Fetch {
            group: "kafka-offsets".into(),
            topics: None,
        })
        .await
        .expect("offset fetch");
    assert_eq!(
        fetched,
        KafkaGroupResponse::Offsets {
            offsets: Vec::new()
        }
    );
    let described = coordinator.describe_group("g2").await.expect("describe");
    assert!(
        described
            .partitions
            .iter()
            .all(|partition| partition.committed_offset.is_none() && partition.lag == 6),
        "{described:?}"
    );

    // And after a restart, from the store alone.
    let generation = plan.member.generation;
    drop(coordinator);
    let reopened = backend.open().await;
    let described = reopened.describe_group("g2").await.expect("describe");
    assert_eq!(described.generation, generation);
    assert!(
        described
            .partitions
            .iter()
            .all(|partition| partition.committed_offset.is_none()),
        "{described:?}"
    );
}

/// A snapshot taken before deleting a topic deleted its offsets may hold offsets of a
/// topic id that no topic has; a topic created after the restore may get that id.
pub(in crate::service) async fn a_restore_drops_offsets_of_deleted_topics(backend: Backend) {
    let coordinator = backend.open().await;
    let kept = coordinator
        .create_topic(topic("kept", 1))
        .await
        .expect("create");
    let mut snapshot = coordinator.snapshot().await.expect("snapshot");
    drop(coordinator);
    let gone = kept.topic_id + 1;
    snapshot.groups.push(("g".to_owned(), 1).into());
    snapshot
        .group_offsets
        .push(("g".to_owned(), gone, 0, 4, 1).into());

    let empty = match &backend {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres(),
    };
    let restored = empty.open().await;
    restored.restore(snapshot).await.expect("restore");
    let recreated = restored.create_topic(topic("t1", 1)).await.expect("create");
    assert_eq!(recreated.topic_id, gone, "the restore let the id be reused");
    let described = restored.describe_group("g").await.expect("describe");
    assert_eq!(described.partitions, Vec::new(), "{described:?}");
}
