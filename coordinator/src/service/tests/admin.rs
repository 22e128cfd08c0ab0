//! Admin changes: a topic grows and changes retention (kept across a restart), and
//! groups are listed with their state, deleted, and lose committed offsets, as a Kafka
//! broker does it.

use std::sync::Arc;

use silt_core::coordinator::{
    ChunkOutcome, Coordinator, CoordinatorError, SegmentCommit, Setting, TopicAlteration,
};
use silt_core::groups::{
    KafkaGroupRequest, KafkaGroupResponse, ListedGroup, PartitionOffset, TopicPartition,
};

use super::{Backend, chunk, topic};
use crate::CoordinatorService;

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

pub(super) async fn a_topic_grows_and_changes_retention(backend: Backend) {
    let coordinator = backend.open().await;
    let created = coordinator
        .create_topic(topic("grows", 2))
        .await
        .expect("create");
    let grow = |partitions, validate_only| TopicAlteration {
        partitions: Some(partitions),
        validate_only,
        ..TopicAlteration::default()
    };
    let checked = coordinator
        .alter_topic("grows", grow(4, true))
        .await
        .expect("validate");
    assert_eq!(checked.partitions, 4);
    assert_eq!(
        coordinator
            .get_topic("grows")
            .await
            .expect("get")
            .partitions,
        2,
        "validate_only changed the topic"
    );
    for refused in [1, 2] {
        assert!(
            matches!(
                coordinator.alter_topic("grows", grow(refused, false)).await,
                Err(CoordinatorError::InvalidPartitions(_))
            ),
            "{refused}"
        );
    }
    assert_eq!(
        coordinator.alter_topic("nope", grow(3, false)).await,
        Err(CoordinatorError::TopicNotFound("nope".into()))
    );
    let grown = coordinator
        .alter_topic(
            "grows",
            TopicAlteration {
                partitions: Some(4),
                retention_ms: Some(Setting::Set(60_000)),
                retention_bytes: Some(Setting::Set(-1)),
                validate_only: false,
                ..TopicAlteration::default()
            },
        )
        .await
        .expect("grow");
    assert_eq!(
        (grown.partitions, grown.retention_ms, grown.retention_bytes),
        (4, Some(60_000), Some(-1))
    );
    // A new partition takes commits at once.
    let outcomes = coordinator
        .commit_segment(SegmentCommit {
            object_key: "segments/new-partition.seg".into(),
            object_size: 100,
            chunks: vec![chunk(created.topic_id, "grows", 3, 2, 0)],
        })
        .await
        .expect("commit");
    assert_eq!(outcomes, vec![ChunkOutcome::Committed { base_offset: 0 }]);
    let schema = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    let reset = coordinator
        .alter_topic(
            "grows",
            TopicAlteration {
                retention_ms: Some(Setting::Default),
                value_schema: Some(Setting::Set(schema.clone())),
                ..TopicAlteration::default()
            },
        )
        .await
        .expect("reset");
    assert_eq!(reset.value_schema.as_ref(), Some(&schema));
    let refused = TopicAlteration {
        value_schema: Some(Setting::Set(serde_json::json!({"type": "array"}))),
        ..TopicAlteration::default()
    };
    assert!(matches!(
        coordinator.alter_topic("grows", refused).await,
        Err(CoordinatorError::InvalidArgument(_))
    ));
    assert_eq!(
        (reset.retention_ms, reset.retention_bytes),
        (None, Some(-1))
    );
    drop(coordinator);
    // All of it is in the store.
    let reopened = backend.open().await;
    let description = reopened.describe_topic("grows").await.expect("describe");
    assert_eq!(description.topic.partitions, 4);
    assert_eq!(description.partitions.len(), 4);
    assert_eq!(description.partitions[3].high_watermark, 2);
    assert_eq!(
        (
            description.topic.retention_ms,
            description.topic.retention_bytes
        ),
        (None, Some(-1))
    );
    assert_eq!(
        description.topic.value_schema,
        Some(schema),
        "kept, the refused one not"
    );
}

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

/// A member of group `group` subscribed to `topics`, stable; its member id.
async fn member(coordinator: &Arc<CoordinatorService>, group: &str, topics: &[&str]) -> String {
    let joined = coordinator
        .kafka_group(KafkaGroupRequest::Join {
            group: group.into(),
            member_id: String::new(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(topics))],
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            require_member_id: false,
            client_id: "rdkafka".into(),
            client_host: "/10.1.2.3".into(),
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
    coordinator
        .kafka_group(KafkaGroupRequest::Sync {
            group: group.into(),
            member_id: member_id.clone(),
            generation,
            assignments: vec![(member_id.clone(), Vec::new())],
            group_instance_id: None,
        })
        .await
        .expect("sync");
    member_id
}

async fn call(
    coordinator: &Arc<CoordinatorService>,
    request: KafkaGroupRequest,
) -> KafkaGroupResponse {
    coordinator.kafka_group(request).await.expect("group call")
}

async fn commit(coordinator: &Arc<CoordinatorService>, group: &str, offsets: &[(&str, u32)]) {
    let answer = call(
        coordinator,
        KafkaGroupRequest::Commit {
            group: group.into(),
            member_id: String::new(),
            generation: -1,
            offsets: offsets
                .iter()
                .map(|(topic, partition)| PartitionOffset::new(*topic, *partition, 0))
                .collect(),
            group_instance_id: None,
        },
    )
    .await;
    assert_eq!(answer, KafkaGroupResponse::Done { error_code: NONE });
}

async fn committed(coordinator: &Arc<CoordinatorService>, group: &str) -> Vec<(String, u32)> {
    match call(
        coordinator,
        KafkaGroupRequest::Fetch {
            group: group.into(),
            topics: None,
        },
    )
    .await
    {
        KafkaGroupResponse::Offsets { offsets } => offsets
            .into_iter()
            .map(|offset| (offset.topic, offset.partition))
            .collect(),
        other => panic!("{other:?}"),
    }
}

async fn listed(coordinator: &Arc<CoordinatorService>) -> Vec<ListedGroup> {
    match call(coordinator, KafkaGroupRequest::List).await {
        KafkaGroupResponse::Listed { groups } => groups,
        other => panic!("{other:?}"),
    }
}

fn state_of(groups: &[ListedGroup], group: &str) -> Option<String> {
    groups
        .iter()
        .find(|listed| listed.group == group)
        .map(|listed| listed.state.clone())
}

pub(super) async fn groups_are_listed_deleted_and_lose_offsets(backend: Backend) {
    let coordinator = backend.open().await;
    for name in ["t1", "t2"] {
        coordinator
            .create_topic(topic(name, 2))
            .await
            .expect("create");
    }
    // A group that only committed (no members) is Empty; one with a member is Stable.
    commit(&coordinator, "idle", &[("t1", 0), ("t2", 1)]).await;
    let member_id = member(&coordinator, "busy", &["t1"]).await;
    assert!(member_id.starts_with("rdkafka-"), "{member_id}");
    commit(&coordinator, "busy", &[("t1", 0), ("t2", 0)]).await;
    let groups = listed(&coordinator).await;
    assert_eq!(state_of(&groups, "idle").as_deref(), Some("Empty"));
    assert_eq!(state_of(&groups, "busy").as_deref(), Some("Stable"));
    let KafkaGroupResponse::Described { clients, .. } = call(
        &coordinator,
        KafkaGroupRequest::Describe {
            group: "busy".into(),
        },
    )
    .await
    else {
        panic!("not described");
    };
    assert_eq!(
        clients,
        vec![(member_id.clone(), "rdkafka".into(), "/10.1.2.3".into())]
    );

    // OffsetDelete: a topic the live member subscribes to is refused, others go.
    let answer = call(
        &coordinator,
        KafkaGroupRequest::DeleteOffsets {
            group: "busy".into(),
            partitions: vec![
                TopicPartition {
                    topic: "t1".into(),
                    partition: 0,
                },
                TopicPartition {
                    topic: "t2".into(),
                    partition: 0,
                },
                TopicPartition {
                    topic: "t9".into(),
                    partition: 0,
                },
            ],
        },
    )
    .await;
    let KafkaGroupResponse::OffsetsDeleted {
        error_code: NONE,
        partitions,
    } = answer
    else {
        panic!("{answer:?}");
    };
    let codes: Vec<i16> = partitions.iter().map(|(_, code)| *code).collect();
    assert_eq!(
        codes,
        vec![GROUP_SUBSCRIBED_TO_TOPIC, NONE, UNKNOWN_TOPIC_OR_PARTITION]
    );
    assert_eq!(
        committed(&coordinator, "busy").await,
        vec![("t1".into(), 0)]
    );
    let unknown = call(
        &coordinator,
        KafkaGroupRequest::DeleteOffsets {
            group: "never".into(),
            partitions: Vec::new(),
        },
    )
    .await;
    assert!(
        matches!(
            unknown,
            KafkaGroupResponse::OffsetsDeleted {
                error_code: GROUP_ID_NOT_FOUND,
                ..
            }
        ),
        "{unknown:?}"
    );

    // DeleteGroups: not while it has members; not a group that never was.
    let delete = |group: &str| KafkaGroupRequest::DeleteGroup {
        group: group.into(),
    };
    let done = |error_code| KafkaGroupResponse::Done { error_code };
    assert_eq!(
        call(&coordinator, delete("busy")).await,
        done(NON_EMPTY_GROUP)
    );
    assert_eq!(
        call(&coordinator, delete("never")).await,
        done(GROUP_ID_NOT_FOUND)
    );
    let describe_never = call(
        &coordinator,
        KafkaGroupRequest::Describe {
            group: "never".into(),
        },
    )
    .await;
    assert!(
        matches!(&describe_never, KafkaGroupResponse::Described { state, .. } if state == "Dead"),
        "{describe_never:?}"
    );
    assert_eq!(call(&coordinator, delete("idle")).await, done(NONE));
    assert_eq!(
        call(&coordinator, delete("idle")).await,
        done(GROUP_ID_NOT_FOUND)
    );
    assert!(committed(&coordinator, "idle").await.is_empty());
    let left = call(
        &coordinator,
        KafkaGroupRequest::Leave {
            group: "busy".into(),
            member_ids: vec![member_id],
            members: Vec::new(),
        },
    )
    .await;
    assert_eq!(left, done(NONE));
    assert_eq!(
        state_of(&listed(&coordinator).await, "busy").as_deref(),
        Some("Empty")
    );
    // Without members, a subscribed topic's offsets may go too.
    let answer = call(
        &coordinator,
        KafkaGroupRequest::DeleteOffsets {
            group: "busy".into(),
            partitions: vec![TopicPartition {
                topic: "t1".into(),
                partition: 0,
            }],
        },
    )
    .await;
    assert!(
        matches!(&answer, KafkaGroupResponse::OffsetsDeleted { error_code: NONE, partitions } if partitions[0].1 == NONE),
        "{answer:?}"
    );
    commit(&coordinator, "busy", &[("t2", 1)]).await;
    assert_eq!(call(&coordinator, delete("busy")).await, done(NONE));
    let groups = listed(&coordinator).await;
    assert_eq!(state_of(&groups, "busy"), None);
    assert_eq!(state_of(&groups, "idle"), None);
    drop(coordinator);
    // Deleted in the store, not only in memory.
    let reopened = backend.open().await;
    assert!(committed(&reopened, "busy").await.is_empty());
    assert!(committed(&reopened, "idle").await.is_empty());
    assert_eq!(
        reopened.list_groups().await.expect("list"),
        Vec::<String>::new()
    );
}
