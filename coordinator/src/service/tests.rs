use silt_core::transactions::Isolation;
use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, Coordinator, CoordinatorError, SegmentCommit, TopicConfig,
};

use crate::CoordinatorService;

#[path = "../../../tests/support/postgres.rs"]
mod test_postgres;

mod admin;
mod commit_metadata;
mod durability;
mod groups;
mod hostile_commits;
mod kafka_rebalance;
mod kafka_static;
mod remote;
mod security;
mod topic_configs;
mod topic_lifecycle;
mod topic_names;
mod transactions;

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

    /// A coordinator on this backend's store that reads time from `clock`.
    pub(super) async fn open_with_clock(
        &self,
        producer_idle_expiry_ms: i64,
        clock: Arc<dyn silt_core::clock::Clock>,
    ) -> Arc<CoordinatorService> {
        let service = match self {
            Backend::Sqlite(dir) => {
                let store =
                    crate::SqliteStore::open(&dir.path().join("meta.db")).expect("open sqlite");
                CoordinatorService::start_with_clock(store, clock).await
            }
            Backend::Postgres(url) => {
                let store = crate::PostgresStore::connect(url)
                    .await
                    .expect("open postgres");
                CoordinatorService::start_with_clock(store, clock).await
            }
        };
        Arc::new(
            service
                .expect("start")
                .with_producer_idle_expiry_ms(producer_idle_expiry_ms),
        )
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
        txn: None,
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
                .wait_for_records(
                    "orders",
                    0,
                    0,
                    Isolation::ReadUncommitted,
                    Duration::from_secs(10),
                )
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
        .wait_for_records(
            "orders",
            0,
            1,
            Isolation::ReadUncommitted,
            Duration::from_millis(50),
        )
        .await
        .expect("offsets");
    assert_eq!(timed_out.high_watermark, 1);
}

async fn idle_producers_expire(backend: Backend) {
    let clock = Arc::new(silt_core::clock::ManualClock::new());
    let coordinator = backend.open_with_clock(50, clock.clone()).await;
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
    clock.advance(Duration::from_millis(120));
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
    let storage = coordinator.topic_storage("orders").await.expect("storage");
    assert_eq!(
        (
            storage.segment_chunks,
            storage.segment_bytes,
            storage.parquet_files
        ),
        (3, 300, 0)
    );
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
    let storage = coordinator.topic_storage("orders").await.expect("storage");
    assert_eq!(
        (
            storage.segment_chunks,
            storage.segment_bytes,
            storage.parquet_files,
            storage.parquet_bytes
        ),
        (1, 100, 1, 50)
    );
    assert!(matches!(
        coordinator.topic_storage("nope").await,
        Err(CoordinatorError::TopicNotFound(_))
    ));
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

on_both_backends! {
    topics_create_list_describe_delete => super::topics_create_list_describe_delete,
    commit_assigns_contiguous_offsets_and_survives_reopen => super::commit_assigns_contiguous_offsets_and_survives_reopen,
    chunks_of_a_deleted_or_recreated_topic_are_rejected_alone => super::chunks_of_a_deleted_or_recreated_topic_are_rejected_alone,
    long_poll_wakes_on_commit => super::long_poll_wakes_on_commit,
    members_share_partitions_and_commits_are_guarded => super::groups::members_share_partitions_and_commits_are_guarded,
    a_silent_member_is_removed_and_its_work_redelivered => super::groups::a_silent_member_is_removed_and_its_work_redelivered,
    an_unacknowledged_answer_is_given_again => super::groups::an_unacknowledged_answer_is_given_again,
    every_call_and_error_crosses_the_wire => super::remote::every_call_and_error_crosses_the_wire,
    idle_producers_expire => super::idle_producers_expire,
    a_compacted_file_replaces_exactly_the_chunks_it_covers => super::a_compacted_file_replaces_exactly_the_chunks_it_covers,
    truncation_moves_the_log_start_and_forgets_old_entries => super::truncation_moves_the_log_start_and_forgets_old_entries,
    concurrent_commits_share_transactions => super::concurrent_commits_share_transactions,
    a_snapshot_restores_into_an_empty_store => super::durability::a_snapshot_restores_into_an_empty_store,
    kafka_sequences_dedupe_retries_per_partition => super::durability::kafka_sequences_dedupe_retries_per_partition,
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
    a_static_member_rejoins_without_a_rebalance => super::kafka_static::a_static_member_rejoins_without_a_rebalance,
    a_gone_static_member_is_removed_after_its_session => super::kafka_static::a_gone_static_member_is_removed_after_its_session,
    a_rebalance_keeps_static_members_that_did_not_join => super::kafka_static::a_rebalance_keeps_static_members_that_did_not_join,
    leave_group_answers_each_member => super::kafka_static::leave_group_answers_each_member,
    empty_instance_ids_and_a_leave_during_a_rebalance => super::kafka_static::empty_instance_ids_and_a_leave_during_a_rebalance,
    topic_configs_are_stored_altered_and_snapshotted => super::topic_configs::topic_configs_are_stored_altered_and_snapshotted,
    a_rewrite_replaces_only_the_compacted_files_it_read => super::topic_configs::a_rewrite_replaces_only_the_compacted_files_it_read,
    a_transaction_ends_whole_and_fences_older_epochs => super::transactions::a_transaction_ends_whole_and_fences_older_epochs,
    a_transaction_past_its_timeout_is_aborted => super::transactions::a_transaction_past_its_timeout_is_aborted,
    users_keys_and_acls_are_kept_and_versioned => super::security::users_keys_and_acls_are_kept_and_versioned,
}
