use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, Coordinator, CoordinatorError, SegmentCommit, TopicConfig,
};

use crate::{CoordinatorService, SqliteStore};

async fn open(dir: &tempfile::TempDir) -> Arc<CoordinatorService<SqliteStore>> {
    crate::open_sqlite(&dir.path().join("meta.db"))
        .await
        .expect("open")
}

fn topic(name: &str, partitions: u32) -> TopicConfig {
    TopicConfig {
        name: name.into(),
        partitions,
        retention_ms: None,
        retention_bytes: None,
    }
}

fn chunk(
    topic_id: i64,
    topic: &str,
    partition: u32,
    record_count: u32,
    byte_offset: u64,
) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        topic: topic.into(),
        partition,
        record_count,
        byte_offset,
        byte_len: 100,
        min_timestamp: 1,
        max_timestamp: 2,
        producer: None,
        request: 0,
    }
}

#[tokio::test]
async fn topics_create_list_describe_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(&dir).await;
    let created = coordinator
        .create_topic(topic("orders", 3))
        .await
        .expect("create");
    assert_eq!(created.partitions, 3);
    assert_eq!(
        coordinator.create_topic(topic("orders", 3)).await,
        Err(CoordinatorError::TopicExists("orders".into()))
    );
    for bad in [topic("bad name", 1), topic("ok", 0), topic("ok", 10_001)] {
        assert!(matches!(
            coordinator.create_topic(bad).await,
            Err(CoordinatorError::InvalidArgument(_))
        ));
    }
    assert_eq!(coordinator.list_topics().await.expect("list").len(), 1);
    let description = coordinator
        .describe_topic("orders")
        .await
        .expect("describe");
    assert_eq!(description.partitions.len(), 3);
    assert!(
        description
            .partitions
            .iter()
            .all(|p| p.high_watermark == 0 && p.log_start_offset == 0)
    );
    coordinator.delete_topic("orders").await.expect("delete");
    assert_eq!(
        coordinator.get_topic("orders").await,
        Err(CoordinatorError::TopicNotFound("orders".into()))
    );
    assert_eq!(
        coordinator.delete_topic("orders").await,
        Err(CoordinatorError::TopicNotFound("orders".into()))
    );
}

#[tokio::test]
async fn commit_assigns_contiguous_offsets_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(&dir).await;
    let orders = coordinator
        .create_topic(topic("orders", 2))
        .await
        .expect("create");
    let first = SegmentCommit {
        object_key: "segments/0000/a.seg".into(),
        object_size: 1000,
        chunks: vec![
            chunk(orders.topic_id, "orders", 0, 5, 12),
            chunk(orders.topic_id, "orders", 1, 3, 112),
        ],
    };
    let outcomes = coordinator
        .commit_segment(first.clone())
        .await
        .expect("commit");
    assert_eq!(
        outcomes,
        vec![
            ChunkOutcome::Committed { base_offset: 0 },
            ChunkOutcome::Committed { base_offset: 0 }
        ]
    );
    let second = SegmentCommit {
        object_key: "segments/0000/b.seg".into(),
        object_size: 1000,
        chunks: vec![chunk(orders.topic_id, "orders", 0, 7, 12)],
    };
    assert_eq!(
        coordinator.commit_segment(second).await.expect("commit"),
        vec![ChunkOutcome::Committed { base_offset: 5 }]
    );
    // Committing the same object again is a no-op returning the original outcomes.
    assert_eq!(
        coordinator.commit_segment(first).await.expect("recommit"),
        outcomes
    );
    assert_eq!(
        coordinator
            .partition_offsets("orders", 0)
            .await
            .expect("offsets")
            .high_watermark,
        12
    );

    let lookup = coordinator
        .lookup("orders", 0, 6, 10)
        .await
        .expect("lookup");
    assert_eq!(lookup.entries.len(), 1);
    assert_eq!(lookup.entries[0].base_offset, 5);
    assert_eq!(lookup.entries[0].object_key, "segments/0000/b.seg");
    let lookup = coordinator
        .lookup("orders", 0, 0, 10)
        .await
        .expect("lookup");
    assert_eq!(
        lookup
            .entries
            .iter()
            .map(|e| e.base_offset)
            .collect::<Vec<_>>(),
        vec![0, 5]
    );
    assert!(
        coordinator
            .lookup("orders", 0, 12, 10)
            .await
            .expect("lookup at hw")
            .entries
            .is_empty()
    );
    assert_eq!(
        coordinator.lookup("orders", 0, 13, 10).await,
        Err(CoordinatorError::OffsetOutOfRange {
            offset: 13,
            log_start_offset: 0,
            high_watermark: 12
        })
    );
    assert!(matches!(
        coordinator.lookup("orders", 2, 0, 10).await,
        Err(CoordinatorError::PartitionNotFound { .. })
    ));

    drop(coordinator);
    let reopened = open(&dir).await;
    assert_eq!(
        reopened
            .partition_offsets("orders", 0)
            .await
            .expect("offsets")
            .high_watermark,
        12
    );
    assert_eq!(
        reopened
            .partition_offsets("orders", 1)
            .await
            .expect("offsets")
            .high_watermark,
        3
    );
    assert_eq!(
        reopened
            .lookup("orders", 0, 11, 10)
            .await
            .expect("lookup")
            .entries[0]
            .base_offset,
        5
    );
}

#[tokio::test]
async fn chunks_of_a_deleted_or_recreated_topic_are_rejected_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(&dir).await;
    let old = coordinator
        .create_topic(topic("events", 1))
        .await
        .expect("create");
    let other = coordinator
        .create_topic(topic("other", 1))
        .await
        .expect("create");
    coordinator.delete_topic("events").await.expect("delete");
    let recreated = coordinator
        .create_topic(topic("events", 1))
        .await
        .expect("recreate");
    assert_ne!(old.topic_id, recreated.topic_id);
    let outcomes = coordinator
        .commit_segment(SegmentCommit {
            object_key: "segments/0000/c.seg".into(),
            object_size: 10,
            chunks: vec![
                chunk(old.topic_id, "events", 0, 4, 12),
                chunk(other.topic_id, "other", 0, 2, 30),
            ],
        })
        .await
        .expect("commit");
    assert!(matches!(outcomes[0], ChunkOutcome::Rejected { .. }));
    assert_eq!(outcomes[1], ChunkOutcome::Committed { base_offset: 0 });
    assert_eq!(
        coordinator
            .partition_offsets("events", 0)
            .await
            .expect("offsets")
            .high_watermark,
        0
    );
}

#[tokio::test]
async fn long_poll_wakes_on_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(&dir).await;
    let orders = coordinator
        .create_topic(topic("orders", 1))
        .await
        .expect("create");
    let waiter = {
        let coordinator = Arc::clone(&coordinator);
        tokio::spawn(async move {
            let started = Instant::now();
            let offsets = coordinator
                .wait_for_records("orders", 0, 0, Duration::from_secs(10))
                .await;
            (offsets, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    coordinator
        .commit_segment(SegmentCommit {
            object_key: "segments/0000/d.seg".into(),
            object_size: 10,
            chunks: vec![chunk(orders.topic_id, "orders", 0, 1, 12)],
        })
        .await
        .expect("commit");
    let (offsets, elapsed) = waiter.await.expect("join");
    assert_eq!(offsets.expect("offsets").high_watermark, 1);
    assert!(elapsed < Duration::from_secs(5), "woke after {elapsed:?}");

    let timed_out = coordinator
        .wait_for_records("orders", 0, 1, Duration::from_millis(50))
        .await
        .expect("offsets");
    assert_eq!(timed_out.high_watermark, 1);
}
