//! Smoke test against LocalStack, which users run Silt on: produce, restart, read back.

use serde_json::json;

use crate::harness::{Api, Silt, localstack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localstack_produce_restart_consume() {
    let server = localstack();
    let env = server.bucket("silt-smoke").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(
        &dir.path().join("data"),
        Some("s3://silt-smoke/prefix"),
        &env,
    );
    let api = Api::new(&silt.url);
    api.create_topic("smoke", 3).await;
    let records: Vec<_> = (0..300)
        .map(|i| json!({"key": format!("k{i}"), "value": {"i": i}}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/smoke/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");

    let silt = silt.restart();
    let api = Api::new(&silt.url);
    let mut seen: Vec<i64> = Vec::new();
    for partition in 0..3 {
        seen.extend(
            api.read_partition("smoke", partition)
                .await
                .iter()
                .map(|r| r["value"]["i"].as_i64().expect("i")),
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..300).collect::<Vec<i64>>());
    let keys = server.object_keys("silt-smoke").await;
    assert!(
        !keys.is_empty() && keys.iter().all(|key| key.starts_with("prefix/segments/")),
        "{keys:?}"
    );
}
