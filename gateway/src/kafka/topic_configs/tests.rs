use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopicConfig,
};
use kafka_protocol::protocol::StrBytes;

use super::*;

fn topic(partitions: i32, configs: &[(&str, Option<&str>)]) -> CreatableTopic {
    let mut topic = CreatableTopic::default();
    topic.num_partitions = partitions;
    topic.replication_factor = 3;
    topic.configs = configs
        .iter()
        .map(|(name, value)| {
            let mut config = CreatableTopicConfig::default();
            config.name = StrBytes::from_string((*name).to_owned());
            config.value = value.map(|value| StrBytes::from_string(value.to_owned()));
            config
        })
        .collect();
    topic
}

fn assigned(indexes: &[i32], broker: i32) -> CreatableTopic {
    let mut topic = topic(-1, &[]);
    topic.replication_factor = -1;
    topic.assignments = indexes
        .iter()
        .map(|index| {
            let mut assignment = CreatableReplicaAssignment::default();
            assignment.partition_index = *index;
            assignment.broker_ids = vec![BrokerId(broker)];
            assignment
        })
        .collect();
    topic
}

#[test]
fn known_configs_are_applied_or_accepted_and_unknown_ones_refused() {
    let asked = topic(
        3,
        &[
            ("retention.ms", Some("60000")),
            ("retention.bytes", Some("-1")),
            ("min.insync.replicas", Some("2")),
            ("cleanup.policy", Some("compact")),
            ("delete.retention.ms", Some("0")),
            ("message.timestamp.type", Some("LogAppendTime")),
        ],
    );
    assert_eq!(
        requested(&asked, 1, 0),
        Ok(Requested {
            partitions: 3,
            retention_ms: Some(60_000),
            retention_bytes: Some(-1),
            configs: TopicConfigs {
                cleanup_policy: Some(silt_core::topic_configs::CleanupPolicy::Compact),
                delete_retention_ms: Some(0),
                message_timestamp_type: Some(
                    silt_core::topic_configs::TimestampType::LogAppendTime
                ),
                ..TopicConfigs::default()
            },
            value_schema: None,
        })
    );
    for (config, value) in [
        ("retention.msx", Some("1")),
        ("retention.ms", Some("soon")),
        ("retention.ms", None),
        ("cleanup.policy", Some("compress")),
        ("min.compaction.lag.ms", Some("-1")),
        ("max.message.bytes", Some("big")),
        ("silt.value.schema", Some("{not json")),
        ("silt.value.schema", Some(r#"{"type": "array"}"#)),
        ("silt.value.schema", None),
    ] {
        let error = requested(&topic(1, &[(config, value)]), 1, 0).expect_err(config);
        assert_eq!(error.0, INVALID_CONFIG, "{config}: {}", error.1);
    }
}

#[test]
fn partition_counts_and_assignments_are_checked_as_kafka_does() {
    assert_eq!(
        requested(&topic(-1, &[]), 6, 0).map(|t| t.partitions),
        Ok(6)
    );
    for count in [0, -2] {
        assert_eq!(
            requested(&topic(count, &[]), 6, 0).map_err(|e| e.0),
            Err(INVALID_PARTITIONS)
        );
    }
    // The assignment gives the count.
    assert_eq!(
        requested(&assigned(&[1, 0, 3, 2], 0), 6, 0).map(|t| t.partitions),
        Ok(4)
    );
    // Not both.
    let mut both = assigned(&[0, 1], 0);
    both.num_partitions = 2;
    assert_eq!(
        requested(&both, 6, 0).map_err(|e| e.0),
        Err(INVALID_REQUEST)
    );
    // Gaps, repeats and other brokers.
    for (indexes, broker) in [(&[0, 2][..], 0), (&[0, 0][..], 0), (&[0, 1][..], 5)] {
        assert_eq!(
            requested(&assigned(indexes, broker), 6, 0).map_err(|e| e.0),
            Err(INVALID_REPLICA_ASSIGNMENT),
            "{indexes:?} on {broker}"
        );
    }
}

#[test]
fn alterations_set_and_reset_retention_and_refuse_what_silt_does_not_honour() {
    let set = alteration(
        &[
            ("retention.ms", Op::Set, Some("60000")),
            ("retention.bytes", Op::Delete, None),
            ("cleanup.policy", Op::Set, Some("compact")),
            ("min.compaction.lag.ms", Op::Delete, None),
            ("segment.bytes", Op::Delete, None),
        ],
        false,
        &TopicConfigs::default(),
    )
    .expect("valid");
    assert_eq!(
        set,
        TopicAlteration {
            retention_ms: Some(Setting::Set(60_000)),
            retention_bytes: Some(Setting::Default),
            configs: vec![
                ("cleanup.policy".into(), Some("compact".into())),
                ("min.compaction.lag.ms".into(), None),
            ],
            ..TopicAlteration::default()
        }
    );
    // AlterConfigs replaces the whole set: what it does not name goes back to default.
    let replaced = alteration(
        &[("retention.bytes", Op::Set, Some("1000"))],
        true,
        &TopicConfigs::default(),
    );
    assert_eq!(
        replaced.map(|change| (
            change.retention_ms,
            change.retention_bytes,
            change.reset_configs
        )),
        Ok((Some(Setting::Default), Some(Setting::Set(1000)), true))
    );
    let current = TopicConfigs {
        cleanup_policy: Some(silt_core::topic_configs::CleanupPolicy::Compact),
        ..TopicConfigs::default()
    };
    let refused = |configs: &[(&str, Op, Option<&str>)]| {
        alteration(configs, false, &current).map_err(|(code, _)| code)
    };
    assert_eq!(
        refused(&[("retention.ms", Op::Append, Some("1"))]),
        Err(INVALID_REQUEST)
    );
    assert_eq!(
        refused(&[("retention.ms", Op::Subtract, Some("1"))]),
        Err(INVALID_REQUEST)
    );
    assert_eq!(
        refused(&[("retention.ms", Op::Set, Some("soon"))]),
        Err(INVALID_CONFIG)
    );
    assert_eq!(
        refused(&[("retention.ms", Op::Set, None)]),
        Err(INVALID_CONFIG)
    );
    assert_eq!(
        refused(&[("no.such.config", Op::Set, Some("1"))]),
        Err(INVALID_CONFIG)
    );
    assert_eq!(
        refused(&[("no.such.config", Op::Delete, None)]),
        Err(INVALID_CONFIG)
    );
    // cleanup.policy is a list: APPEND and SUBTRACT work on the topic's current one.
    let policy = |op| {
        alteration(&[("cleanup.policy", op, Some("delete"))], false, &current)
            .map(|change| change.configs)
    };
    assert_eq!(
        policy(Op::Append),
        Ok(vec![(
            "cleanup.policy".into(),
            Some("compact,delete".into())
        )])
    );
    assert_eq!(
        policy(Op::Subtract),
        Ok(vec![("cleanup.policy".into(), Some("compact".into()))])
    );
    assert_eq!(
        refused(&[("delete.retention.ms", Op::Append, Some("1"))]),
        Err(INVALID_REQUEST)
    );
    let (code, message) = alteration(
        &[("segment.bytes", Op::Set, Some("1024"))],
        false,
        &TopicConfigs::default(),
    )
    .expect_err("not honoured");
    assert_eq!(code, INVALID_CONFIG);
    assert!(
        message.contains("does not honour segment.bytes"),
        "{message}"
    );
    assert_eq!(
        refused(&[
            ("retention.ms", Op::Set, Some("1")),
            ("retention.ms", Op::Set, Some("2"))
        ]),
        Err(INVALID_REQUEST)
    );
    assert_eq!(
        Op::from_code(4).map_err(|(code, _)| code),
        Err(INVALID_REQUEST)
    );
}

#[test]
fn the_value_schema_is_taken_at_creation_and_fixed_after() {
    let schema = r#"{"type": "object", "properties": {"amount": {"type": "integer"}}}"#;
    let asked =
        requested(&topic(1, &[("silt.value.schema", Some(schema))]), 1, 0).expect("a schema");
    assert_eq!(
        asked.value_schema,
        Some(serde_json::from_str::<serde_json::Value>(schema).expect("json"))
    );
    for op in [Op::Set, Op::Delete, Op::Append] {
        let (code, message) = alteration(
            &[("silt.value.schema", op, Some(schema))],
            false,
            &TopicConfigs::default(),
        )
        .expect_err("fixed");
        assert_eq!(code, INVALID_CONFIG);
        assert!(
            message.contains("fixed when a topic is created"),
            "{message}"
        );
    }
}
