//! Idempotent producers end to end on moto's S3: retries of one request leave one copy,
//! also across a restart of the process.

use serde_json::json;

use crate::harness::{Api, Silt, moto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_requests_leave_one_copy_across_restarts() {
    let env = moto().bucket("idempotent").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), Some("s3://idempotent"), &env);
    let api = Api::new(&silt.url);
    api.create_topic("payments", 4).await;
    let (status, producer) = api.post("/v1/producers", json!({})).await;
    assert_eq!(status, 200, "{producer}");
    let id = producer["producer_id"].as_i64().expect("id");
    let request = |sequence: i64| {
        let records: Vec<_> = (0..20)
            .map(|i| json!({"key": format!("{sequence}-{i}"), "value": {"seq": sequence, "i": i}}))
            .collect();
        json!({"producer": {"id": id, "epoch": 0, "sequence": sequence}, "records": records})
    };
    let (status, original) = api.post("/v1/topics/payments/records", request(0)).await;
    assert_eq!(status, 200, "{original}");
    for _ in 0..2 {
        assert_eq!(
            api.post("/v1/topics/payments/records", request(0)).await,
            (200, original.clone())
        );
    }

    // The producer's state is durable: after a restart the retry is still recognised.
    let silt = silt.restart();
    let api = Api::new(&silt.url);
    assert_eq!(
        api.post("/v1/topics/payments/records", request(0)).await,
        (200, original.clone())
    );
    let (status, next) = api.post("/v1/topics/payments/records", request(1)).await;
    assert_eq!(status, 200, "{next}");
    let (status, gap) = api.post("/v1/topics/payments/records", request(3)).await;
    assert_eq!(
        (status, gap["error_code"].as_str()),
        (409, Some("out_of_order_sequence"))
    );

    let mut seen = Vec::new();
    for partition in 0..4 {
        for record in api.read_partition("payments", partition).await {
            seen.push(record["key"].as_str().expect("key").to_owned());
        }
    }
    seen.sort();
    let mut expected: Vec<String> = (0..2)
        .flat_map(|s| (0..20).map(move |i| format!("{s}-{i}")))
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "every record exactly once");
}
