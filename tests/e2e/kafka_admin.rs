//! The Kafka admin APIs that change topics and groups, through confluent-kafka's
//! AdminClient against the real binary: CreatePartitions, IncrementalAlterConfigs,
//! AlterConfigs, ListGroups, DescribeGroups and DeleteGroups (OffsetDelete through
//! kafka-python's client: confluent-kafka's Python AdminClient has no call for it).

use serde_json::json;

use crate::kafka::{python, silt_with_kafka};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_grows_topics_and_alters_their_configs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_silt, bootstrap) = silt_with_kafka(dir.path());
    let answer = python("confluent_admin_alter.py", &[&bootstrap]);
    assert_eq!(answer["validate_only"], "ok", "{answer}");
    assert_eq!(answer["after_validate_only"], 2, "{answer}");
    assert_eq!(answer["grow"], "ok", "{answer}");
    assert_eq!(answer["after_grow"], 4, "{answer}");
    assert_eq!(answer["same_count"][0], "INVALID_PARTITIONS", "{answer}");
    assert!(
        answer["same_count"][1]
            .as_str()
            .is_some_and(|message| message.contains("already has 4 partitions")),
        "{answer}"
    );
    assert_eq!(answer["shrink"], "INVALID_PARTITIONS", "{answer}");
    assert_eq!(answer["unknown_topic"], "UNKNOWN_TOPIC_OR_PART", "{answer}");
    assert_eq!(answer["assigned"], "ok", "{answer}");
    assert_eq!(
        answer["assigned_elsewhere"], "INVALID_REPLICA_ASSIGNMENT",
        "{answer}"
    );
    assert_eq!(answer["after_assigned"], 5, "{answer}");
    assert_eq!(answer["produced_to"], json!([4]), "{answer}");

    // DYNAMIC_TOPIC_CONFIG (1) once set, DEFAULT_CONFIG (5) otherwise; alterable.
    assert_eq!(answer["set_ms"], "ok", "{answer}");
    assert_eq!(answer["set_bytes_validate_only"], "ok", "{answer}");
    assert_eq!(
        answer["after_set"],
        json!({"retention.ms": ["60000", 1, false], "retention.bytes": ["-1", 5, false]}),
        "{answer}"
    );
    assert_eq!(answer["delete_unset"], "ok", "{answer}");
    assert_eq!(answer["append_number"], "INVALID_REQUEST", "{answer}");
    assert_eq!(answer["not_honoured"], "INVALID_CONFIG", "{answer}");
    assert_eq!(answer["unknown_config"], "INVALID_CONFIG", "{answer}");
    assert_eq!(
        answer["incremental_unknown_topic"], "UNKNOWN_TOPIC_OR_PART",
        "{answer}"
    );
    assert_eq!(answer["broker"], "INVALID_REQUEST", "{answer}");
    assert_eq!(answer["delete_set"], "ok", "{answer}");
    assert_eq!(
        answer["after_delete"]["retention.ms"],
        json!(["-1", 5, false]),
        "{answer}"
    );
    assert_eq!(answer["replace_validate_only"], "ok", "{answer}");
    assert_eq!(answer["incremental_again"], "ok", "{answer}");
    assert_eq!(answer["replace"], "ok", "{answer}");
    assert_eq!(
        answer["after_replace"],
        json!({"retention.ms": ["-1", 5, false], "retention.bytes": ["2048", 1, false]}),
        "{answer}"
    );
    assert_eq!(answer["replace_not_honoured"], "INVALID_CONFIG", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_lists_describes_and_deletes_groups_and_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_silt, bootstrap) = silt_with_kafka(dir.path());
    let answer = python("confluent_admin_groups.py", &[&bootstrap]);
    assert_eq!(answer["states_with_member"]["live"], "STABLE", "{answer}");
    assert_eq!(answer["states_with_member"]["idle"], "EMPTY", "{answer}");
    assert_eq!(answer["described_state"], "STABLE", "{answer}");
    let member = &answer["members"][0];
    assert!(
        member[0]
            .as_str()
            .is_some_and(|id| id.starts_with("silt-e2e-")),
        "{answer}"
    );
    assert_eq!(member[1], "silt-e2e", "{answer}");
    assert_eq!(member[2], "/127.0.0.1", "{answer}");
    assert_eq!(
        answer["offset_delete"],
        json!({"g1/0": "GROUP_SUBSCRIBED_TO_TOPIC", "g2/0": "ok"}),
        "{answer}"
    );
    // g1's offset stays, g2's is gone (-1001: none committed).
    assert_eq!(
        answer["committed_after_offset_delete"],
        json!([1, -1001]),
        "{answer}"
    );
    assert_eq!(
        answer["offset_delete_unknown_group"], "GROUP_ID_NOT_FOUND",
        "{answer}"
    );
    assert_eq!(
        answer["offset_delete_unknown_topic"],
        json!({"no-such-topic/0": "UNKNOWN_TOPIC_OR_PART"}),
        "{answer}"
    );
    assert_eq!(answer["delete_with_member"], "NON_EMPTY_GROUP", "{answer}");
    assert_eq!(answer["delete_unknown"], "GROUP_ID_NOT_FOUND", "{answer}");
    assert_eq!(answer["delete_idle"], "ok", "{answer}");
    assert_eq!(answer["states_after_close"]["live"], "EMPTY", "{answer}");
    assert_eq!(answer["delete_live"], "ok", "{answer}");
    assert_eq!(answer["states_after_delete"], json!({}), "{answer}");
    assert_eq!(
        answer["idle_committed_after_delete"],
        json!([-1001]),
        "{answer}"
    );
}
