//! Object store faults (503s and timeouts injected under the gateway, on moto's S3):
//! the write and read paths retry, an idempotent producer retries what still failed,
//! and every acknowledged record is stored exactly once.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto, note};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_injected_faults_exactly_once() {
    let env = moto().bucket("faults").await;
    let mut env_with_faults = env.clone();
    env_with_faults.push((
        "SILT_FAULTS".into(),
        "error_rate=0.25,timeout_rate=0.05,timeout_ms=200,seed=7".into(),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(
        &dir.path().join("data"),
        Some("s3://faults"),
        &env_with_faults,
    );
    let api = Api::new(&silt.url);
    api.create_topic("payments", 3).await;
    let (_, producer) = api.post("/v1/producers", json!({})).await;
    let id = producer["producer_id"].as_i64().expect("id");

    let mut retries = 0;
    for sequence in 0..40i64 {
        let records: Vec<Value> = (0..50)
            .map(|i| json!({"key": format!("{sequence}-{i}"), "value": i}))
            .collect();
        let body =
            json!({"producer": {"id": id, "epoch": 0, "sequence": sequence}, "records": records});
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts <= 30, "request {sequence} never went through");
            match api
                .send(
                    reqwest::Method::POST,
                    "/v1/topics/payments/records",
                    Some(body.clone()),
                )
                .await
            {
                Ok((200, _)) => break,
                Ok((503 | 429, _)) | Err(_) => retries += 1,
                Ok((status, answer)) => panic!("unexpected {status}: {answer}"),
            }
        }
    }
    // Read from the bucket, not the cache: a new process, still under faults.
    let mut silt = silt;
    silt.kill9();
    std::fs::remove_dir_all(dir.path().join("data/cache")).ok();
    let silt = silt.restart();
    let api = Api::new(&silt.url);
    let mut keys = Vec::new();
    for partition in 0..3 {
        let mut offset = 0u64;
        loop {
            let path = format!(
                "/v1/topics/payments/partitions/{partition}/records?offset={offset}&max_records=1000"
            );
            let (status, body) = api
                .send(reqwest::Method::GET, &path, None)
                .await
                .expect("fetch");
            if status == 503 {
                continue;
            }
            assert_eq!(status, 200, "{body}");
            for record in body["records"].as_array().expect("records") {
                assert_eq!(
                    record["offset"].as_u64(),
                    Some(offset),
                    "contiguous offsets"
                );
                keys.push(record["key"].as_str().expect("key").to_owned());
                offset += 1;
            }
            if offset >= body["high_watermark"].as_u64().expect("hw") {
                break;
            }
        }
    }
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(
        (keys.len(), unique.len()),
        (2000, 2000),
        "every record exactly once"
    );
    let injected = api.metric("silt_faults_injected_total").await;
    let gets = api
        .metric("silt_object_store_requests_total{operation=\"get\"}")
        .await;
    note(&format!(
        "while reading: {injected} faults in {gets} GETs; while producing: {retries} client retries"
    ));
    assert!(injected > 0, "faults were injected on the read path");
}
