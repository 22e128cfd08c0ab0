//! SQL over records not yet compacted: visible as soon as their produce is answered,
//! each once; filters on partition and offset; limits answered as errors.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{create, harness, post};

#[tokio::test]
async fn fresh_records_are_queryable_at_once_and_once() {
    let h = harness().await;
    create(&h.router, "orders", 3).await;
    let query = |sql: &str| post(&h.router, "/v1/query", json!({ "sql": sql }));
    let (status, body) = query("SELECT count(*) AS n FROM orders").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"n": 0})));
    // Times out of order within each partition: a time filter must not stop early.
    let records: Vec<Value> = (0..300)
        .map(|i| {
            json!({"key": format!("k{}", i % 17), "value": {"n": i},
                   "timestamp": 1_000_000 + (i * 7919) % 300 * 1000})
        })
        .collect();
    let (status, body) = post(
        &h.router,
        "/v1/topics/orders/records",
        json!({ "records": records }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = query(
        "SELECT count(*) AS n, count(DISTINCT concat(\"partition\", '-', \"offset\")) AS places, \
         sum(json_get_int(TRY_CAST(value AS VARCHAR), 'n')) AS total FROM orders",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"n": 300, "places": 300, "total": 299 * 300 / 2})
    );
    let (_, topic) = super::get(&h.router, "/v1/topics/orders").await;
    let high_watermark = topic["partitions"][1]["high_watermark"]
        .as_u64()
        .expect("hw");
    assert!(high_watermark > 20, "{topic}");
    let (status, body) = query("SELECT count(*) AS n FROM orders WHERE \"partition\" = 1").await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"n": high_watermark}))
    );
    let (status, body) = query(
        "SELECT count(*) AS n, min(\"offset\") AS first, max(\"offset\") AS last FROM orders \
         WHERE \"partition\" = 1 AND \"offset\" > 4 AND \"offset\" <= 14",
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"n": 10, "first": 5, "last": 14}))
    );
    let (status, body) =
        query("SELECT count(*) AS n FROM orders WHERE \"offset\" > 100000 OR \"partition\" = 7")
            .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"n": 0})));
    for since in [1_000_000, 1_150_000, 1_150_001, 1_299_000, 1_299_001] {
        let (status, body) = query(&format!(
            "SELECT count(*) AS n FROM orders WHERE \"timestamp\" >= to_timestamp_millis({since})"
        ))
        .await;
        let expected = (0..300)
            .filter(|i| 1_000_000 + (i * 7919) % 300 * 1000 >= since)
            .count();
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({ "n": expected })),
            "since {since}"
        );
    }
    let (status, body) =
        query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"table_name": "orders"}))
    );
    // Limits: rows and time, each a 400 that names it.
    let (status, body) = post(
        &h.router,
        "/v1/query",
        json!({"sql": "SELECT * FROM orders", "max_rows": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], json!("query_row_limit"), "{body}");
    let (status, body) = query("SELECT * FROM orders WHERE nonsense = 1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nonsense"),
        "{body}"
    );
}
