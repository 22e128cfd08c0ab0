//! Commit metadata: the string and leader epoch a commit carries are kept with the
//! offset, read back by Kafka's OffsetFetch and the HTTP group description, survive a
//! restart and a snapshot, and are bounded in size.

use std::sync::Arc;

use silt_core::coordinator::{Coordinator, CoordinatorError, SegmentCommit};
use silt_core::groups::{
    AutoOffsetReset, JoinGroup, KafkaGroupRequest, KafkaGroupResponse, MAX_OFFSET_METADATA_BYTES,
    PartitionOffset,
};

use super::{Backend, chunk, topic};
use crate::CoordinatorService;

const NONE: i16 = 0;
const OFFSET_METADATA_TOO_LARGE: i16 = 12;

async fn topic_with_records(coordinator: &Arc<CoordinatorService>) {
    let created = coordinator
        .create_topic(topic("t", 3))
        .await
        .expect("create");
    coordinator
        .commit_segment(SegmentCommit {
            object_key: "segments/0000/metadata.seg".into(),
            object_size: 10,
            chunks: (0..3)
                .map(|p| chunk(created.topic_id, "t", p, 10, 0))
                .collect(),
        })
        .await
        .expect("records");
}

fn with(
    partition: u32,
    offset: u64,
    metadata: Option<&str>,
    epoch: Option<i32>,
) -> PartitionOffset {
    PartitionOffset {
        metadata: metadata.map(str::to_owned),
        leader_epoch: epoch,
        ..PartitionOffset::new("t", partition, offset)
    }
}

/// A Kafka commit outside any generation (manual assignment).
async fn kafka_commit(
    coordinator: &Arc<CoordinatorService>,
    group: &str,
    offsets: Vec<PartitionOffset>,
) -> i16 {
    match coordinator
        .kafka_group(KafkaGroupRequest::Commit {
            group: group.into(),
            member_id: String::new(),
            generation: -1,
            offsets,
            group_instance_id: None,
        })
        .await
        .expect("commit")
    {
        KafkaGroupResponse::Done { error_code } => error_code,
        other => panic!("{other:?}"),
    }
}

async fn kafka_fetch(coordinator: &Arc<CoordinatorService>, group: &str) -> Vec<PartitionOffset> {
    match coordinator
        .kafka_group(KafkaGroupRequest::Fetch {
            group: group.into(),
            topics: None,
        })
        .await
        .expect("fetch")
    {
        KafkaGroupResponse::Offsets { offsets } => offsets,
        other => panic!("{other:?}"),
    }
}

pub(in crate::service) async fn commit_metadata_is_kept_and_read_back(backend: Backend) {
    let coordinator = backend.open().await;
    topic_with_records(&coordinator).await;
    let committed = vec![
        with(0, 3, Some("kafka meta ✓"), Some(7)),
        // A null metadata reads back as "", as in Kafka; no epoch as none.
        with(1, 1, None, None),
    ];
    assert_eq!(kafka_commit(&coordinator, "k", committed).await, NONE);
    let expected = vec![
        with(0, 3, Some("kafka meta ✓"), Some(7)),
        with(1, 1, Some(""), None),
    ];
    assert_eq!(kafka_fetch(&coordinator, "k").await, expected);

    // Metadata of exactly the limit is kept; one byte more is refused, nothing changes.
    let largest = "m".repeat(MAX_OFFSET_METADATA_BYTES);
    assert_eq!(
        kafka_commit(&coordinator, "k", vec![with(2, 2, Some(&largest), None)]).await,
        NONE
    );
    let too_large = "m".repeat(MAX_OFFSET_METADATA_BYTES + 1);
    assert_eq!(
        kafka_commit(&coordinator, "k", vec![with(2, 5, Some(&too_large), None)]).await,
        OFFSET_METADATA_TOO_LARGE
    );
    assert_eq!(kafka_fetch(&coordinator, "k").await[2].offset, 2);

    // Over HTTP: a member's commit carries metadata, and the description shows it.
    let member = coordinator
        .join_group(
            "h",
            JoinGroup {
                member_id: None,
                topics: vec!["t".into()],
                session_timeout_ms: 10_000,
                auto_offset_reset: AutoOffsetReset::Earliest,
            },
        )
        .await
        .expect("join");
    let refused = coordinator
        .commit_offsets(
            "h",
            &member.member_id,
            member.generation,
            vec![with(0, 4, Some(&too_large), None)],
        )
        .await;
    assert_eq!(
        refused,
        Err(CoordinatorError::OffsetMetadataTooLarge {
            topic: "t".into(),
            partition: 0,
            bytes: MAX_OFFSET_METADATA_BYTES + 1,
            limit: MAX_OFFSET_METADATA_BYTES,
        })
    );
    coordinator
        .commit_offsets(
            "h",
            &member.member_id,
            member.generation,
            vec![with(0, 4, Some("http meta"), None), with(1, 2, None, None)],
        )
        .await
        .expect("http commit");
    let described = coordinator.describe_group("h").await.expect("describe");
    let shown: Vec<_> = described
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition,
                p.committed_offset,
                p.committed_metadata.as_deref(),
                p.committed_leader_epoch,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (0, Some(4), Some("http meta"), None),
            (1, Some(2), Some(""), None),
            (2, None, None, None),
        ]
    );
    // The HTTP group's offsets read over Kafka with their metadata, and back.
    assert_eq!(
        kafka_fetch(&coordinator, "h").await[0].metadata.as_deref(),
        Some("http meta")
    );
    let kafka_described = coordinator.describe_group("k").await.expect("describe k");
    assert_eq!(
        kafka_described.partitions[0].committed_leader_epoch,
        Some(7)
    );

    // A later commit without metadata replaces it.
    assert_eq!(
        kafka_commit(&coordinator, "k", vec![with(0, 5, None, None)]).await,
        NONE
    );
    let expected = vec![
        with(0, 5, Some(""), None),
        with(1, 1, Some(""), None),
        with(2, 2, Some(&largest), None),
    ];
    assert_eq!(kafka_fetch(&coordinator, "k").await, expected);
    assert_eq!(
        kafka_commit(&coordinator, "k", vec![with(0, 5, Some("again"), Some(9))]).await,
        NONE
    );
    let expected = vec![
        with(0, 5, Some("again"), Some(9)),
        with(1, 1, Some(""), None),
        with(2, 2, Some(&largest), None),
    ];

    // Durable: a restarted coordinator reads them from the store.
    drop(coordinator);
    let coordinator = backend.open().await;
    assert_eq!(kafka_fetch(&coordinator, "k").await, expected);

    // A snapshot carries them into an empty store.
    let snapshot = coordinator.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.group_offset_metadata.len(), 3, "{snapshot:?}");
    let empty = match &backend {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres(),
    };
    let restored = empty.open().await;
    restored.restore(snapshot.clone()).await.expect("restore");
    drop(restored);
    let restored = empty.open().await;
    assert_eq!(kafka_fetch(&restored, "k").await, expected);
    assert_eq!(
        kafka_fetch(&restored, "h").await[0].metadata.as_deref(),
        Some("http meta")
    );

    // A snapshot written before commit metadata existed (no such field) still restores:
    // its offsets read back without metadata.
    let mut old = serde_json::to_value(&snapshot).expect("json");
    old.as_object_mut()
        .expect("object")
        .remove("group_offset_metadata");
    let old: crate::store::Snapshot = serde_json::from_value(old).expect("an old snapshot reads");
    let older = match &backend {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres(),
    };
    let restored = older.open().await;
    restored
        .restore(old)
        .await
        .expect("restore the old snapshot");
    let bare = vec![
        with(0, 5, Some(""), None),
        with(1, 1, Some(""), None),
        with(2, 2, Some(""), None),
    ];
    assert_eq!(kafka_fetch(&restored, "k").await, bare);
}

/// Offsets committed before the store kept metadata read back with none after the
/// migration, and take metadata from then on.
pub(in crate::service) async fn offsets_from_before_the_migration_read_back_without_metadata(
    backend: Backend,
) {
    match &backend {
        Backend::Sqlite(dir) => {
            let mut connection =
                rusqlite::Connection::open(dir.path().join("meta.db")).expect("open");
            crate::store::sqlite::migrate_to(&mut connection, 8).expect("migrate");
            connection
                .execute_batch(
                    "INSERT INTO topics (topic_id, name, partitions, created_at_ms, collision_key)
                         VALUES (1, 't', 1, 0, 't');
                     INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
                         VALUES (1, 0, 0, 10);
                     INSERT INTO groups (group_name, generation) VALUES ('old', 0);
                     INSERT INTO group_offsets (group_name, topic_id, partition, committed_offset, updated_at_ms)
                         VALUES ('old', 1, 0, 6, 0);",
                )
                .expect("legacy rows");
        }
        Backend::Postgres(url) => {
            let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            let connection = tokio::spawn(connection);
            crate::store::postgres::migrate_to(&mut client, 4)
                .await
                .expect("migrate");
            client
                .batch_execute(
                    "INSERT INTO topics (topic_id, name, partitions, created_at_ms, collision_key)
                         VALUES (1, 't', 1, 0, 't');
                     SELECT setval(pg_get_serial_sequence('topics', 'topic_id'), 100);
                     INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
                         VALUES (1, 0, 0, 10);
                     INSERT INTO groups (group_name, generation) VALUES ('old', 0);
                     INSERT INTO group_offsets (group_name, topic_id, partition, committed_offset, updated_at_ms)
                         VALUES ('old', 1, 0, 6, 0);",
                )
                .await
                .expect("legacy rows");
            drop(client);
            let _ = connection.await;
        }
    }
    let coordinator = backend.open().await;
    assert_eq!(
        kafka_fetch(&coordinator, "old").await,
        [with(0, 6, Some(""), None)]
    );
    assert_eq!(
        kafka_commit(&coordinator, "old", vec![with(0, 7, Some("new"), Some(1))]).await,
        NONE
    );
    drop(coordinator);
    let coordinator = backend.open().await;
    assert_eq!(
        kafka_fetch(&coordinator, "old").await,
        [with(0, 7, Some("new"), Some(1))]
    );
}
