//! Issue 13's fetch and metadata bugs as kafka-python meets them: a partition with no
//! new data answered with an empty record set (not null), the request-level
//! `max_bytes` of Fetch bounding the answer as KIP-74 says, and Metadata for a name
//! Kafka does not allow answered INVALID_TOPIC_EXCEPTION.

use serde_json::{Value, json};

use crate::harness::{Api, note};
use crate::kafka::{python, silt_with_kafka, sparse_topic, wide_topic};

const INVALID_TOPIC_EXCEPTION: i64 = 17;
const LIMIT: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_reads_empty_partitions_within_max_bytes_and_learns_bad_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);

    // Partitions 1 and 2 stay empty.
    sparse_topic(&api).await;
    let eof = python(
        "kafka_python_edges.py",
        &["eof", &bootstrap, "sparse", "3", "2"],
    );
    note(&format!("kafka-python at the end of a sparse topic: {eof}"));
    assert_eq!(eof["received"], 2, "{eof}");
    assert_eq!(eof["errors"], json!([]), "{eof}");
    assert_eq!(eof["at_end"], json!([0, 1, 2]), "{eof}");
    assert_eq!(eof["empty_answers"], json!([0, 1, 2]), "{eof}");
    assert_eq!(eof["null_answers"], json!([]), "{eof}");

    // 8 partitions of 2 requests of 3 random 100 kB values: 4.8 MB in all.
    wide_topic(&api, 2, 11).await;
    let wide = python(
        "kafka_python_edges.py",
        &["max_bytes", &bootstrap, "wide", "8", &LIMIT.to_string()],
    );
    note(&format!("kafka-python fetches of 1 MiB: {wide}"));
    assert_eq!(wide["errors"], json!([]), "{wide}");
    assert_eq!(wide["offsets"], json!([6, 6, 6, 6, 6, 6, 6, 6]), "{wide}");
    let sizes = wide["sizes"].as_array().expect("sizes");
    let firsts = wide["firsts"].as_array().expect("firsts");
    assert!(
        sizes.len() >= 5,
        "4.8 MB needs several answers of 1 MiB: {wide}"
    );
    for (size, first) in sizes.iter().zip(firsts) {
        let (size, first) = (size.as_u64().expect("size"), first.as_u64().expect("first"));
        // The first batch may exceed the limit (KIP-74), nothing after it.
        assert!(
            size <= LIMIT.max(first),
            "an answer of {size} bytes: {wide}"
        );
    }

    let invalid = python(
        "kafka_python_edges.py",
        &["invalid_topic", &bootstrap, "no spaces!"],
    );
    assert_eq!(
        invalid["errors"],
        json!([INVALID_TOPIC_EXCEPTION]),
        "{invalid}"
    );
}

/// Issue 13's admin edges through kafka-python: an unknown config refused at
/// CreateTopics, Silt's value schema set there, shown by DescribeConfigs and fixed
/// after, and a group's member described with its client id, host and a member id
/// that starts with the client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_admin_refuses_unknown_configs_and_describes_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let admin = python("kafka_python_admin.py", &["run", &bootstrap]);
    note(&format!("kafka-python admin: {admin}"));
    const INVALID_CONFIG: i64 = 40;
    assert_eq!(
        admin["unknown_config"],
        json!([["kp-unknown", INVALID_CONFIG]]),
        "{admin}"
    );
    assert_eq!(admin["unknown_created"], false, "{admin}");
    assert_eq!(admin["typed"], json!([["kp-typed", 0]]), "{admin}");
    assert_eq!(
        admin["described_schema"],
        json!({"type": "object", "properties": {"amount": {"type": "integer"}}}),
        "{admin}"
    );
    assert_eq!(admin["alter_schema"], json!([INVALID_CONFIG]), "{admin}");
    // A topic without a schema shows it as null, not as an empty string.
    assert_eq!(admin["plain"], json!([["kp-plain", 0]]), "{admin}");
    assert_eq!(admin["plain_schema"], Value::Null, "{admin}");
    assert_eq!(admin["assigned"], json!([0, 1]), "{admin}");
    assert_eq!(admin["listed"], json!(["kp-group"]), "{admin}");
    assert_eq!(admin["state"], "Stable", "{admin}");
    assert_eq!(
        admin["members"],
        json!([{"client_id": "kp-client", "host_set": true, "id_starts_with_client_id": true}]),
        "{admin}"
    );
    // HTTP shows the same schema.
    let api = Api::new(&silt.url);
    let (status, topic) = api.get("/v1/topics/kp-typed").await;
    assert_eq!(status, 200, "{topic}");
    assert_eq!(topic["value_schema"], admin["described_schema"], "{topic}");
}
