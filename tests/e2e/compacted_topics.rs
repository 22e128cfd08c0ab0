//! Topic configs that change behaviour, through real clients against the real binary:
//! a compacted topic (`cleanup.policy=compact`) keeps exactly the latest record of each
//! key across compactions, drops tombstones after `delete.retention.ms` and keeps the
//! other records at their offsets, and both confluent-kafka and kafka-python read it
//! from offset 0 to its end over the gaps; a LogAppendTime topic answers with the
//! gateway's time; `max.message.bytes` refuses a larger batch. Also over HTTP.

use serde_json::{Value, json};

use crate::harness::Api;
use crate::kafka::{python, silt_with_kafka};

/// librdkafka's and kafka-python's codes for a LogAppendTime timestamp.
const LIBRDKAFKA_LOG_APPEND_TIME: u64 = 2;
const KAFKA_PYTHON_LOG_APPEND_TIME: u64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_log_append_time_and_size_limited_topics_with_real_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);

    let setup = python("compacted_topics.py", &[&bootstrap, "setup"]);
    for created in ["create_table", "create_stamped", "create_small", "alter"] {
        assert_eq!(setup[created], "ok", "{created}: {setup}");
    }
    assert_eq!(setup["bad_lag"], "INVALID_CONFIG", "{setup}");
    assert_eq!(setup["alter_bad"], "INVALID_CONFIG", "{setup}");
    // DYNAMIC_TOPIC_CONFIG (1) as set, DEFAULT_CONFIG (5) otherwise; all alterable.
    assert_eq!(
        setup["described"],
        json!({
            "cleanup.policy": ["compact", 1, false],
            "delete.retention.ms": ["0", 1, false],
            "min.compaction.lag.ms": ["0", 1, false],
            "message.timestamp.type": ["CreateTime", 5, false],
            "max.message.bytes": ["1048576", 5, false],
        }),
        "{setup}"
    );
    assert_eq!(setup["keyless"], "INVALID_RECORD", "{setup}");
    assert_eq!(setup["too_large"], "MSG_SIZE_TOO_LARGE", "{setup}");
    assert_eq!(setup["fits"], "ok", "{setup}");
    // The produce answer of a LogAppendTime topic carries the append time.
    let window = (
        setup["window"][0].as_u64().expect("from"),
        setup["window"][1].as_u64().expect("to"),
    );
    let stamped = &setup["stamped"][0];
    assert_eq!(stamped[1], "ok", "{setup}");
    assert_eq!(stamped[2], LIBRDKAFKA_LOG_APPEND_TIME, "{setup}");
    let within = |at: &Value| {
        at.as_u64()
            .is_some_and(|at| window.0 <= at && at <= window.1)
    };
    assert!(within(&stamped[3]), "{setup}");

    // Over HTTP too: a keyless record, a record over max.message.bytes.
    let (status, body) = api
        .post(
            "/v1/topics/table/records",
            json!({"records": [{"value": 1}]}),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("invalid_record")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs a key")),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/v1/topics/small/records",
            json!({"records": [{"key": "big", "value": "x".repeat(2000)}]}),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (413, Some("record_too_large")),
        "{body}"
    );

    // Round 1 (offsets 0..12, four keys three times), compacted: one value per key left.
    let compact = |topic: &'static str| {
        let api = &api;
        async move {
            let (status, summary) = api
                .post(&format!("/v1/topics/{topic}/compact"), json!({}))
                .await;
            assert_eq!(status, 200, "{summary}");
            summary
        }
    };
    let summary = compact("table").await;
    assert_eq!(summary["records_removed"], 8, "{summary}");
    let offsets: Vec<u64> = api
        .read_partition("table", 0)
        .await
        .iter()
        .map(|record| record["offset"].as_u64().expect("offset"))
        .collect();
    assert_eq!(offsets, vec![8, 9, 10, 11]);

    // Round 2 (offsets 12..20): new values, tombstones; compacted across both files.
    let round2 = python("compacted_topics.py", &[&bootstrap, "round2"]);
    let acked: Vec<u64> = round2["round2"]
        .as_array()
        .expect("round2")
        .iter()
        .map(|answer| answer[0].as_u64().expect("offset"))
        .collect();
    assert_eq!(acked, (12..20).collect::<Vec<_>>(), "{round2}");
    let summary = compact("table").await;
    // k0..k3 of round 1, k3's first value, and the three tombstones with what they delete.
    assert_eq!(summary["records_removed"], 9, "{summary}");

    // Exactly the latest value of each key that was not deleted, at its offset.
    let expected = json!([
        [12, "k1", "v2-k1"],
        [14, "k4", "v2-k4"],
        [17, "k3", "v2-k3-last"]
    ]);
    let consumed = python("compacted_topics.py", &[&bootstrap, "consume"]);
    for client in ["librdkafka", "kafka_python"] {
        let read = &consumed["table"][client];
        let seen: Vec<Value> = read["seen"]
            .as_array()
            .expect("seen")
            .iter()
            .map(|record| json!([record[0], record[1], record[2]]))
            .collect();
        assert_eq!(Value::Array(seen), expected, "{client}: {consumed}");
    }
    // Both stepped over the gaps to the end (20: the tombstones were last): kafka-python's
    // position is its next fetch offset; librdkafka's is past the last record it
    // delivered (18), and it reports the partition's end, having fetched past the gap.
    assert_eq!(
        consumed["table"]["kafka_python"]["position"], 20,
        "{consumed}"
    );
    assert_eq!(
        consumed["table"]["librdkafka"]["position"], 18,
        "{consumed}"
    );
    assert_eq!(consumed["table"]["librdkafka"]["ended"], true, "{consumed}");

    // HTTP reads the same records and ends at the high watermark.
    let http: Vec<Value> = api
        .read_partition("table", 0)
        .await
        .iter()
        .map(|record| {
            // Not JSON, so the value comes back as base64.
            let value = record["value_base64"].as_str().and_then(|encoded| {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()?;
                String::from_utf8(bytes).ok()
            });
            json!([record["offset"], record["key"], value])
        })
        .collect();
    assert_eq!(Value::Array(http), expected);
    let (status, body) = api
        .get("/v1/topics/table/partitions/0/records?offset=18")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["records"].as_array().map(Vec::len),
            &body["next_offset"]
        ),
        (Some(0), &json!(20)),
        "{body}"
    );

    // The LogAppendTime record reads back with the gateway's time and that type.
    let librdkafka = &consumed["stamped"]["librdkafka"]["seen"][0];
    assert_eq!(librdkafka[3], LIBRDKAFKA_LOG_APPEND_TIME, "{consumed}");
    assert!(within(&librdkafka[4]), "{consumed}");
    let kafka_python = &consumed["stamped"]["kafka_python"]["seen"][0];
    assert_eq!(kafka_python[3], KAFKA_PYTHON_LOG_APPEND_TIME, "{consumed}");
    assert_eq!(kafka_python[4], librdkafka[4], "{consumed}");
    let (status, topic) = api.get("/v1/topics/stamped").await;
    assert_eq!(status, 200, "{topic}");
    assert_eq!(
        topic["configs"],
        json!({"message.timestamp.type": "LogAppendTime"})
    );
}

/// Topic configs over HTTP: set at creation, changed and reset with PATCH, refused with
/// a message when a value is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, _) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    let (status, body) = api
        .post(
            "/v1/topics",
            json!({"name": "t", "configs": {"cleanup.policy": "compact,delete", "delete.retention.ms": 1000}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["configs"],
        json!({"cleanup.policy": "compact,delete", "delete.retention.ms": "1000"})
    );
    let (status, body) = api
        .post(
            "/v1/topics",
            json!({"name": "u", "configs": {"cleanup.policy": "tidy"}}),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("invalid_config")),
        "{body}"
    );
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/v1/topics/t",
            Some(json!({"configs": {"cleanup.policy": null, "max.message.bytes": "4096"}})),
        )
        .await
        .expect("request");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["configs"],
        json!({"delete.retention.ms": "1000", "max.message.bytes": "4096"})
    );
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/v1/topics/t",
            Some(json!({"configs": {"min.compaction.lag.ms": -1}})),
        )
        .await
        .expect("request");
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("invalid_config")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("min.compaction.lag.ms")),
        "{body}"
    );
}
