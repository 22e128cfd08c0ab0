//! The same operations through `silt coordinator`'s HTTP API and `RemoteCoordinator`.

use silt_core::transactions::Isolation;
use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::Coordinator;
use silt_core::coordinator::{ChunkOutcome, CoordinatorError, SegmentCommit};
use silt_core::groups::{AutoOffsetReset, FetchAck, JoinGroup};

use super::{chunk, topic};
use crate::RemoteCoordinator;

pub(super) async fn every_call_and_error_crosses_the_wire(backend: super::Backend) {
    let local: Arc<dyn Coordinator> = backend.open().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, crate::http::router(local)).await });
    let remote = RemoteCoordinator::new(&format!("http://{address}"));

    let orders = remote
        .create_topic(topic("orders", 2))
        .await
        .expect("create");
    assert_eq!(
        remote.create_topic(topic("orders", 2)).await,
        Err(CoordinatorError::TopicExists("orders".into()))
    );
    assert_eq!(remote.list_topics().await.expect("list").len(), 1);
    let grow = |partitions| silt_core::coordinator::TopicAlteration {
        partitions: Some(partitions),
        ..Default::default()
    };
    remote.create_topic(topic("wide", 1)).await.expect("create");
    assert_eq!(
        remote
            .alter_topic("wide", grow(3))
            .await
            .map(|t| t.partitions),
        Ok(3)
    );
    assert!(matches!(
        remote.alter_topic("wide", grow(3)).await,
        Err(CoordinatorError::InvalidPartitions(_))
    ));
    let waiter = {
        let remote = remote.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (
                remote
                    .wait_for_records(
                        "orders",
                        1,
                        0,
                        Isolation::ReadUncommitted,
                        Duration::from_secs(10),
                    )
                    .await,
                started.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let outcomes = remote
        .commit_segment(SegmentCommit {
            object_key: "segments/0000/r.seg".into(),
            object_size: 10,
            chunks: vec![chunk(orders.topic_id, "orders", 1, 3, 12)],
        })
        .await
        .expect("commit");
    assert_eq!(outcomes, vec![ChunkOutcome::Committed { base_offset: 0 }]);
    let (woken, elapsed) = waiter.await.expect("join");
    assert_eq!(woken.expect("offsets").high_watermark, 3);
    assert!(elapsed < Duration::from_secs(5));
    assert_eq!(
        remote
            .lookup("orders", 1, 1, 10)
            .await
            .expect("lookup")
            .entries
            .len(),
        1
    );
    assert!(matches!(
        remote.lookup("orders", 1, 9, 10).await,
        Err(CoordinatorError::OffsetOutOfRange { .. })
    ));
    let storage = remote.topic_storage("orders").await.expect("storage");
    assert_eq!((storage.segment_chunks, storage.parquet_files), (1, 0));
    assert!(matches!(
        remote.topic_storage("nope").await,
        Err(CoordinatorError::TopicNotFound(_))
    ));
    let producer = remote.init_producer(None).await.expect("producer");
    assert_eq!(
        remote
            .init_producer(Some(producer.producer_id))
            .await
            .expect("bump")
            .epoch,
        1
    );

    let join = JoinGroup {
        member_id: None,
        topics: vec!["orders".into()],
        session_timeout_ms: 10_000,
        auto_offset_reset: AutoOffsetReset::Earliest,
    };
    let member = remote.join_group("g", join).await.expect("join");
    assert_eq!(member.assignments.len(), 2);
    let plan = remote
        .fetch_plan("g", &member.member_id, FetchAck::Implicit)
        .await
        .expect("plan");
    assert_eq!(plan.positions.len(), 2);
    assert!(matches!(
        remote.heartbeat("g", "ghost").await,
        Err(CoordinatorError::UnknownMember { .. })
    ));
    assert_eq!(
        remote.list_groups().await.expect("groups"),
        vec!["g".to_owned()]
    );
    remote
        .leave_group("g", &member.member_id)
        .await
        .expect("leave");
    remote.delete_topic("orders").await.expect("delete");
    assert!(matches!(
        remote.get_topic("orders").await,
        Err(CoordinatorError::TopicNotFound(_))
    ));

    let nobody = RemoteCoordinator::new("http://127.0.0.1:9");
    assert!(matches!(
        nobody.list_topics().await,
        Err(CoordinatorError::Unavailable(_))
    ));
}
