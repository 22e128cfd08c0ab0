//! Topic configs (`cleanup.policy`, `delete.retention.ms`, `min.compaction.lag.ms`,
//! `message.timestamp.type`, `max.message.bytes`): stored at creation, altered, checked,
//! kept across a restart and in snapshots; and a key compaction's rewrite of compacted
//! files swapping in only over the files it read.

use silt_core::coordinator::{
    Coordinator, CoordinatorError, EntryFormat, TableCommit, TableRange, TopicAlteration,
};
use silt_core::topic_configs::{CleanupPolicy, TimestampType, TopicConfigs};

use super::{Backend, one_partition_with_chunks, topic};

fn compacted() -> TopicConfigs {
    TopicConfigs {
        cleanup_policy: Some(CleanupPolicy::Compact),
        delete_retention_ms: Some(0),
        message_timestamp_type: Some(TimestampType::LogAppendTime),
        max_message_bytes: Some(1000),
        ..TopicConfigs::default()
    }
}

fn other_backend(backend: &Backend) -> Backend {
    match backend {
        Backend::Sqlite(_) => Backend::sqlite(),
        Backend::Postgres(_) => Backend::postgres(),
    }
}

fn change(configs: &[(&str, Option<&str>)], reset_configs: bool) -> TopicAlteration {
    TopicAlteration {
        configs: configs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.map(str::to_owned)))
            .collect(),
        reset_configs,
        ..TopicAlteration::default()
    }
}

pub(super) async fn topic_configs_are_stored_altered_and_snapshotted(backend: Backend) {
    let coordinator = backend.open().await;
    let mut config = topic("table", 2);
    config.configs = compacted();
    let created = coordinator.create_topic(config).await.expect("create");
    assert_eq!(created.configs, compacted());
    assert_eq!(
        coordinator.get_topic("table").await.expect("get").configs,
        compacted()
    );

    // A bad value is refused at creation with a message, and nothing is created.
    let mut bad = topic("bad", 1);
    bad.configs.min_compaction_lag_ms = Some(-1);
    match coordinator.create_topic(bad).await {
        Err(CoordinatorError::InvalidConfig(message)) => {
            assert!(message.contains("min.compaction.lag.ms"), "{message}")
        }
        other => panic!("expected invalid_config, got {other:?}"),
    }
    assert!(coordinator.get_topic("bad").await.is_err());

    // Set one, default another; a bad value or unknown name changes nothing.
    let altered = coordinator
        .alter_topic(
            "table",
            change(
                &[
                    ("min.compaction.lag.ms", Some("5000")),
                    ("message.timestamp.type", None),
                ],
                false,
            ),
        )
        .await
        .expect("alter");
    let mut expected = compacted();
    expected.min_compaction_lag_ms = Some(5000);
    expected.message_timestamp_type = None;
    assert_eq!(altered.configs, expected);
    for refused in [
        change(&[("delete.retention.ms", Some("-5"))], false),
        change(&[("cleanup.policy", Some("compress"))], false),
        change(&[("segment.bytes", Some("1"))], false),
    ] {
        assert!(matches!(
            coordinator.alter_topic("table", refused).await,
            Err(CoordinatorError::InvalidConfig(_))
        ));
    }
    // validate_only answers the change and keeps the topic as it was.
    let mut checked = change(&[("cleanup.policy", Some("compact,delete"))], false);
    checked.validate_only = true;
    let would = coordinator
        .alter_topic("table", checked)
        .await
        .expect("validate");
    assert_eq!(would.configs.cleanup_policy(), CleanupPolicy::CompactDelete);
    assert_eq!(
        coordinator.get_topic("table").await.expect("get").configs,
        expected
    );

    // Kept across a restart.
    drop(coordinator);
    let coordinator = backend.open().await;
    assert_eq!(
        coordinator.get_topic("table").await.expect("get").configs,
        expected
    );

    // A snapshot carries them into an empty store; a deleted topic's configs go with it.
    let mut gone = topic("gone", 1);
    gone.configs = compacted();
    coordinator.create_topic(gone).await.expect("create gone");
    coordinator.delete_topic("gone").await.expect("delete");
    let snapshot = coordinator.snapshot().await.expect("snapshot");
    assert_eq!(
        snapshot.topic_configs.len(),
        expected.pairs().len(),
        "{snapshot:?}"
    );
    let empty = other_backend(&backend);
    let restored = empty.open().await;
    restored.restore(snapshot.clone()).await.expect("restore");
    drop(restored);
    let restored = empty.open().await;
    assert_eq!(
        restored.get_topic("table").await.expect("get").configs,
        expected
    );
    // A topic made again under a deleted one's name starts with the defaults.
    let again = restored
        .create_topic(topic("gone", 1))
        .await
        .expect("recreate");
    assert_eq!(again.configs, TopicConfigs::default());

    // AlterConfigs' replacement: everything not named goes back to its default.
    let replaced = restored
        .alter_topic(
            "table",
            change(&[("cleanup.policy", Some("compact"))], true),
        )
        .await
        .expect("replace");
    assert_eq!(
        replaced.configs,
        TopicConfigs {
            cleanup_policy: Some(CleanupPolicy::Compact),
            ..TopicConfigs::default()
        }
    );

    // A snapshot from before topic configs (no such field) restores with the defaults.
    let mut old = serde_json::to_value(&snapshot).expect("json");
    old.as_object_mut().expect("object").remove("topic_configs");
    let old: crate::store::Snapshot = serde_json::from_value(old).expect("an old snapshot reads");
    let older = other_backend(&backend);
    let restored = older.open().await;
    restored
        .restore(old)
        .await
        .expect("restore the old snapshot");
    assert_eq!(
        restored.get_topic("table").await.expect("get").configs,
        TopicConfigs::default()
    );
}

pub(super) async fn a_rewrite_replaces_only_the_compacted_files_it_read(backend: Backend) {
    let coordinator = backend.open().await;
    let orders = one_partition_with_chunks(&coordinator, &[("a", 5), ("b", 7), ("c", 4)]).await;
    let table = |key: &str, base_offset: u64, record_count: u64, replaces: &[&str]| TableCommit {
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
        replaces: replaces.iter().map(|key| (*key).to_owned()).collect(),
    };
    coordinator
        .commit_table(table("tables/orders/first.parquet", 0, 5, &[]))
        .await
        .expect("first");
    coordinator
        .commit_table(table("tables/orders/second.parquet", 5, 7, &[]))
        .await
        .expect("second");
    // A rewrite that names only one of the two files it would cover is refused.
    assert!(matches!(
        coordinator
            .commit_table(table(
                "tables/orders/bad.parquet",
                0,
                12,
                &["tables/orders/first.parquet"]
            ))
            .await,
        Err(CoordinatorError::InvalidArgument(_))
    ));
    // Naming both, it replaces both with one entry, and leaves the segment after them.
    coordinator
        .commit_table(table(
            "tables/orders/clean.parquet",
            0,
            12,
            &[
                "tables/orders/first.parquet",
                "tables/orders/second.parquet",
            ],
        ))
        .await
        .expect("rewrite");
    let entries = coordinator
        .lookup("orders", 0, 0, 10)
        .await
        .expect("lookup")
        .entries;
    assert_eq!(
        entries
            .iter()
            .map(|e| (
                e.base_offset,
                e.record_count,
                e.format,
                e.object_key.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            (0, 12, EntryFormat::Parquet, "tables/orders/clean.parquet"),
            (12, 4, EntryFormat::Segment, "segments/0000/c.seg"),
        ]
    );
    // The replaced files are no longer referenced: garbage collection may take them.
    let unreferenced = coordinator
        .unreferenced_objects(i64::MAX, 100)
        .await
        .expect("unreferenced");
    for key in [
        "tables/orders/first.parquet",
        "tables/orders/second.parquet",
    ] {
        assert!(unreferenced.iter().any(|k| k == key), "{unreferenced:?}");
    }
}
