//! Kafka consumer groups with real clients (kafka-python and confluent-kafka): commit
//! metadata read back by both and over HTTP.

use serde_json::{Value, json};

use crate::harness::Api;
use crate::kafka::{python, silt_with_kafka};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_metadata_comes_back_to_both_clients_and_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("checkpointed", 3).await;
    let result = python("commit_metadata.py", &[&bootstrap, "checkpointed"]);
    assert_eq!(
        result["kafka_python"],
        json!([[3, "kafka-python \u{2713}"], [1, ""]]),
        "{result}"
    );
    assert_eq!(
        result["kafka_python_too_large"], "OFFSET_METADATA_TOO_LARGE",
        "{result}"
    );
    assert_eq!(
        result["kafka_python_after_refusal"],
        Value::Null,
        "{result}"
    );
    assert_eq!(
        result["librdkafka"][0],
        json!([5, "librdkafka \u{2713}", 4]),
        "{result}"
    );
    assert_eq!(result["librdkafka"][1][0], 2, "{result}");
    assert_eq!(
        result["librdkafka_too_large"], "OFFSET_METADATA_TOO_LARGE",
        "{result}"
    );
    // Over HTTP, the group description shows what was committed.
    let (status, group) = api.get("/v1/groups/meta-librdkafka").await;
    assert_eq!(status, 200, "{group}");
    let partition = &group["partitions"][0];
    assert_eq!(partition["committed_offset"], 5, "{group}");
    // confluent-kafka's Python binding sends the C string's terminating NUL as part of
    // the metadata (a Kafka broker keeps it too); librdkafka drops it when it reads.
    assert_eq!(
        partition["committed_metadata"]
            .as_str()
            .map(|metadata| metadata.trim_end_matches('\0')),
        Some("librdkafka \u{2713}"),
        "{group}"
    );
    assert_eq!(partition["committed_leader_epoch"], 4, "{group}");
    let (_, group) = api.get("/v1/groups/meta-kafka-python").await;
    assert_eq!(
        group["partitions"][0]["committed_metadata"], "kafka-python \u{2713}",
        "{group}"
    );
    assert_eq!(group["partitions"][1]["committed_metadata"], "", "{group}");
    assert_eq!(
        group["partitions"][2]["committed_offset"],
        Value::Null,
        "{group}"
    );
}
