use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, Coordinator, CoordinatorError, PartitionOffsets, SegmentCommit,
    TopicConfig,
};

use crate::CoordinatorService;

#[path = "../../../tests/support/postgres.rs"]
mod test_postgres;

mod admin;
mod commit_metadata;
mod hostile_commits;
mod kafka_rebalance;
mod topic_configs;
mod topic_lifecycle;
mod topic_names;

/// Where a test's coordinator keeps its metadata: every test of this suite runs once
/// against each backend.
pub(super) enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().expect("tempdir"))
    }

    fn postgres() -> Self {
        let server = test_postgres::server();
        Backend::Postgres(server.url(&server.create_database()))
    }

    /// A coordinator on this backend's store (the same store on every call).
    pub(super) async fn open(&self) -> Arc<CoordinatorService> {
        self.open_with(crate::DEFAULT_PRODUCER_IDLE_EXPIRY_MS).await
    }

    async fn open_with(&self, producer_idle_expiry_ms: i64) -> Arc<CoordinatorService> {
        match self {
            Backend::Sqlite(dir) => {
                crate::open_sqlite_with(&dir.path().join("meta.db"), producer_idle_expiry_ms)
                    .await
                    .expect("open sqlite")
            }
            Backend::Postgres(url) => {
                crate::open_postgres_with(url, producer_idle_expiry_ms)
                    .await
                    .expect("open postgres")
                    .0
            }
        }
    }
}

/// Runs each named test against SQLite (`sqlite::name`) and PostgreSQL
/// (`postgres::name`).
macro_rules! on_both_backends {
    ($($name:ident => $test:path),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    $test(super::Backend::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    $test(super::Backend::postgres()).await
                }
            )*
        }
    };
}

fn topic(name: &str, partitions: u32) -> TopicConfig {
    TopicConfig {
        value_schema: None,
        name: name.into(),
        partitions,
        retention_ms: None,
        retention_bytes: None,
        configs: Default::default(),
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
        kafka: None,
        request: 0,
    }
}

async fn topics_create_list_describe_delete(backend: Backend) {
    let coordinator = backend.open().await;
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

async fn commit_assigns_contiguous_offsets_and_survives_reopen(backend: Backend) {
    let coordinator = backend.open().await;
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
    let reopened = backend.open().await;
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

async fn chunks_of_a_deleted_or_recreated_topic_are_rejected_alone(backend: Backend) {
    let coordinator = backend.open().await;
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

async fn long_poll_wakes_on_commit(backend: Backend) {
    let coordinator = backend.open().await;
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

mod groups {
    use std::sync::Arc;
    use std::time::Duration;

    use silt_core::coordinator::{Coordinator, CoordinatorError, SegmentCommit};
    use silt_core::groups::{AutoOffsetReset, JoinGroup, PartitionOffset, ResetTarget};

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
            sample(
                "silt_group_committed_offset{group=\"billing\",topic=\"orders\",partition=\"1\"}"
            ),
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
            .fetch_plan("g", &a.member_id)
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
            .fetch_plan("g", &a.member_id)
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

    pub(super) async fn a_silent_member_is_removed_and_its_work_redelivered(
        backend: super::Backend,
    ) {
        let coordinator = backend.open().await;
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
        // A fetched up to 8 but never committed.
        coordinator
            .advance_positions(
                "g",
                &a.member_id,
                vec![PartitionOffset::new(
                    a_partition.topic.clone(),
                    a_partition.partition,
                    8,
                )],
            )
            .await
            .expect("advance");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let plan = coordinator
            .fetch_plan("g", &b.member_id)
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
        let plan = reopened.fetch_plan("g", &c.member_id).await.expect("plan");
        assert!(plan.positions.iter().all(|p| p.offset == 3));
    }
}

/// The same operations through `silt coordinator`'s HTTP API and `RemoteCoordinator`.
mod remote {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use silt_core::Coordinator;
    use silt_core::coordinator::{ChunkOutcome, CoordinatorError, SegmentCommit};
    use silt_core::groups::{AutoOffsetReset, JoinGroup};

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
                        .wait_for_records("orders", 1, 0, Duration::from_secs(10))
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
            .fetch_plan("g", &member.member_id)
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
}

async fn idle_producers_expire(backend: Backend) {
    let coordinator = backend.open_with(50).await;
    let orders = coordinator
        .create_topic(topic("orders", 1))
        .await
        .expect("create");
    let idle = coordinator.init_producer(None).await.expect("producer");
    let stamped = |producer_id: i64, object: &str| SegmentCommit {
        object_key: object.into(),
        object_size: 10,
        chunks: vec![ChunkCommit {
            producer: Some(silt_core::coordinator::ProducerStamp {
                producer_id,
                epoch: 0,
                sequence: 0,
            }),
            ..chunk(orders.topic_id, "orders", 0, 1, 12)
        }],
    };
    tokio::time::sleep(Duration::from_millis(120)).await;
    // Any producer request sweeps the idle ones.
    let fresh = coordinator.init_producer(None).await.expect("producer");
    let outcomes = coordinator
        .commit_segment(stamped(idle.producer_id, "segments/0000/x.seg"))
        .await
        .expect("commit");
    assert!(
        matches!(&outcomes[0], ChunkOutcome::Rejected { error_code, .. } if error_code == "unknown_producer"),
        "{outcomes:?}"
    );
    let outcomes = coordinator
        .commit_segment(stamped(fresh.producer_id, "segments/0000/y.seg"))
        .await
        .expect("commit");
    assert_eq!(outcomes, vec![ChunkOutcome::Committed { base_offset: 0 }]);
}

/// Creates `orders` with one partition and commits one segment per `(name, records)`.
async fn one_partition_with_chunks(
    coordinator: &Arc<CoordinatorService>,
    chunks: &[(&str, u32)],
) -> silt_core::coordinator::Topic {
    let orders = coordinator
        .create_topic(topic("orders", 1))
        .await
        .expect("create");
    for (object, count) in chunks {
        let commit = SegmentCommit {
            object_key: format!("segments/0000/{object}.seg"),
            object_size: 10,
            chunks: vec![chunk(orders.topic_id, "orders", 0, *count, 12)],
        };
        coordinator.commit_segment(commit).await.expect("commit");
    }
    orders
}

async fn a_compacted_file_replaces_exactly_the_chunks_it_covers(backend: Backend) {
    use silt_core::coordinator::{EntryFormat, TableCommit, TableRange};
    let coordinator = backend.open().await;
    let orders = one_partition_with_chunks(&coordinator, &[("a", 5), ("b", 7), ("c", 4)]).await;
    let table = |key: &str, base_offset: u64, record_count: u64| TableCommit {
        topic_id: orders.topic_id,
        topic: "orders".into(),
        object_key: key.into(),
        object_size: 100,
        ranges: vec![TableRange {
            partition: 0,
            base_offset,
            record_count,
            min_timestamp: 1,
            max_timestamp: 2,
            byte_size: 50,
        }],
        replaces: Vec::new(),
    };
    // A range that splits a chunk is refused and changes nothing.
    assert!(matches!(
        coordinator
            .commit_table(table("tables/orders/x.parquet", 0, 10))
            .await,
        Err(CoordinatorError::InvalidArgument(_))
    ));
    assert_eq!(
        coordinator
            .lookup("orders", 0, 0, 10)
            .await
            .expect("lookup")
            .entries
            .len(),
        3
    );

    coordinator
        .commit_table(table("tables/orders/y.parquet", 0, 12))
        .await
        .expect("swap");
    coordinator
        .commit_table(table("tables/orders/y.parquet", 0, 12))
        .await
        .expect("repeat is a no-op");
    let entries = coordinator
        .lookup("orders", 0, 7, 10)
        .await
        .expect("lookup")
        .entries;
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.base_offset, e.record_count, e.format))
            .collect::<Vec<_>>(),
        vec![(0, 12, EntryFormat::Parquet), (12, 4, EntryFormat::Segment)]
    );
    assert_eq!(entries[0].object_key, "tables/orders/y.parquet");
    // Already-compacted offsets cannot be compacted again.
    assert!(
        coordinator
            .commit_table(table("tables/orders/z.parquet", 0, 12))
            .await
            .is_err()
    );
    assert_eq!(
        coordinator
            .partition_offsets("orders", 0)
            .await
            .expect("offsets")
            .high_watermark,
        16
    );
}

async fn truncation_moves_the_log_start_and_forgets_old_entries(backend: Backend) {
    let coordinator = backend.open().await;
    one_partition_with_chunks(&coordinator, &[("a", 5), ("b", 5), ("c", 5)]).await;
    let offsets = coordinator
        .truncate_before("orders", 0, 7)
        .await
        .expect("truncate");
    assert_eq!((offsets.log_start_offset, offsets.high_watermark), (7, 15));
    assert_eq!(
        coordinator.lookup("orders", 0, 6, 10).await,
        Err(CoordinatorError::OffsetOutOfRange {
            offset: 6,
            log_start_offset: 7,
            high_watermark: 15
        })
    );
    let entries = coordinator
        .lookup("orders", 0, 7, 10)
        .await
        .expect("lookup")
        .entries;
    assert_eq!(
        entries.iter().map(|e| e.base_offset).collect::<Vec<_>>(),
        vec![5, 10],
        "the straddling entry stays"
    );
    // Never backwards, never past the end.
    assert_eq!(
        coordinator
            .truncate_before("orders", 0, 3)
            .await
            .expect("no-op")
            .log_start_offset,
        7
    );
    assert_eq!(
        coordinator
            .truncate_before("orders", 0, 99)
            .await
            .expect("clamped")
            .log_start_offset,
        15
    );
    assert!(
        coordinator
            .lookup("orders", 0, 15, 10)
            .await
            .expect("lookup")
            .entries
            .is_empty()
    );
    drop(coordinator);
    let reopened = backend.open().await;
    assert_eq!(
        reopened
            .partition_offsets("orders", 0)
            .await
            .expect("offsets")
            .log_start_offset,
        15
    );
}

/// Concurrent commits share transactions, and each still gets its own offsets.
async fn concurrent_commits_share_transactions(backend: Backend) {
    let coordinator = backend.open().await;
    let orders = coordinator
        .create_topic(topic("orders", 4))
        .await
        .expect("create");
    let commits: Vec<_> = (0..64u32)
        .map(|index| {
            let coordinator = Arc::clone(&coordinator);
            tokio::spawn(async move {
                coordinator
                    .commit_segment(SegmentCommit {
                        object_key: format!("segments/0000/{index:032x}.seg"),
                        object_size: 200,
                        chunks: vec![
                            chunk(orders.topic_id, "orders", index % 4, 5, 0),
                            chunk(orders.topic_id, "nope", 0, 5, 100),
                        ],
                    })
                    .await
            })
        })
        .collect();
    let mut bases = vec![Vec::new(); 4];
    for (index, commit) in futures_join(commits.into_iter())
        .await
        .into_iter()
        .enumerate()
    {
        let outcomes = commit.expect("commit");
        let ChunkOutcome::Committed { base_offset } = outcomes[0] else {
            panic!("chunk of commit {index} was not committed: {outcomes:?}");
        };
        bases[index % 4].push(base_offset);
        assert!(matches!(outcomes[1], ChunkOutcome::Rejected { .. }));
    }
    for partition in bases.iter_mut() {
        partition.sort_unstable();
        assert_eq!(*partition, (0..16).map(|i| i * 5).collect::<Vec<u64>>());
    }
    let stats = coordinator.commit_stats();
    assert_eq!(stats.segments, 64);
    assert!(
        stats.transactions < 64 && stats.max_batch > 1,
        "64 concurrent commits should share transactions: {stats:?}"
    );
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task"));
    }
    results
}

/// A snapshot restored into an empty store gives back the same topics, offsets,
/// index, groups and producers; a store that is not empty refuses it.
async fn a_snapshot_restores_into_an_empty_store(backend: Backend) {
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
                    high_watermark: 6
                },
                PartitionOffsets {
                    partition: 1,
                    log_start_offset: 0,
                    high_watermark: 3
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
async fn kafka_sequences_dedupe_retries_per_partition(backend: Backend) {
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

on_both_backends! {
    topics_create_list_describe_delete => super::topics_create_list_describe_delete,
    commit_assigns_contiguous_offsets_and_survives_reopen => super::commit_assigns_contiguous_offsets_and_survives_reopen,
    chunks_of_a_deleted_or_recreated_topic_are_rejected_alone => super::chunks_of_a_deleted_or_recreated_topic_are_rejected_alone,
    long_poll_wakes_on_commit => super::long_poll_wakes_on_commit,
    members_share_partitions_and_commits_are_guarded => super::groups::members_share_partitions_and_commits_are_guarded,
    a_silent_member_is_removed_and_its_work_redelivered => super::groups::a_silent_member_is_removed_and_its_work_redelivered,
    every_call_and_error_crosses_the_wire => super::remote::every_call_and_error_crosses_the_wire,
    idle_producers_expire => super::idle_producers_expire,
    a_compacted_file_replaces_exactly_the_chunks_it_covers => super::a_compacted_file_replaces_exactly_the_chunks_it_covers,
    truncation_moves_the_log_start_and_forgets_old_entries => super::truncation_moves_the_log_start_and_forgets_old_entries,
    concurrent_commits_share_transactions => super::concurrent_commits_share_transactions,
    a_snapshot_restores_into_an_empty_store => super::a_snapshot_restores_into_an_empty_store,
    kafka_sequences_dedupe_retries_per_partition => super::kafka_sequences_dedupe_retries_per_partition,
    metrics_report_commits_and_group_lag => super::groups::metrics_report_commits_and_group_lag,
    a_recreated_topic_starts_without_the_deleted_topics_offsets => super::topic_lifecycle::a_recreated_topic_starts_without_the_deleted_topics_offsets,
    a_restore_drops_offsets_of_deleted_topics => super::topic_lifecycle::a_restore_drops_offsets_of_deleted_topics,
    a_future_generation_is_illegal_an_older_one_stale => super::hostile_commits::a_future_generation_is_illegal_an_older_one_stale,
    a_commit_naming_a_partition_twice_is_refused_whole => super::hostile_commits::a_commit_naming_a_partition_twice_is_refused_whole,
    colliding_topic_names_are_refused => super::topic_names::colliding_topic_names_are_refused,
    existing_colliding_topics_survive_the_migration => super::topic_names::existing_colliding_topics_survive_the_migration,
    commit_metadata_is_kept_and_read_back => super::commit_metadata::commit_metadata_is_kept_and_read_back,
    offsets_from_before_the_migration_read_back_without_metadata => super::commit_metadata::offsets_from_before_the_migration_read_back_without_metadata,
    a_dead_member_holds_a_rebalance_only_for_its_session => super::kafka_rebalance::a_dead_member_holds_a_rebalance_only_for_its_session,
    an_abandoned_join_is_dropped_after_its_session => super::kafka_rebalance::an_abandoned_join_is_dropped_after_its_session,
    a_new_member_that_never_returns_is_forgotten => super::kafka_rebalance::a_new_member_that_never_returns_is_forgotten,
    a_topic_grows_and_changes_retention => super::admin::a_topic_grows_and_changes_retention,
    groups_are_listed_deleted_and_lose_offsets => super::admin::groups_are_listed_deleted_and_lose_offsets,
    topic_configs_are_stored_altered_and_snapshotted => super::topic_configs::topic_configs_are_stored_altered_and_snapshotted,
    a_rewrite_replaces_only_the_compacted_files_it_read => super::topic_configs::a_rewrite_replaces_only_the_compacted_files_it_read,
}
