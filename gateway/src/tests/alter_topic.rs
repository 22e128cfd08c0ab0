//! `PATCH /v1/topics/{topic}`: a topic grows its partition count (never shrinks) and
//! sets or resets its retention; `validate_only` changes nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{call, create, get, harness};

async fn patch(router: &axum::Router, uri: &str, body: Value) -> (StatusCode, Value) {
    call(router, "PATCH", uri, "application/json", body.to_string()).await
}

#[tokio::test]
async fn a_topic_grows_and_changes_retention_but_never_shrinks() {
    let h = harness().await;
    create(&h.router, "grown", 2).await;

    let (status, body) = patch(
        &h.router,
        "/v1/topics/grown",
        json!({"partitions": 5, "validate_only": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["partition_count"], 5);
    let (_, described) = get(&h.router, "/v1/topics/grown").await;
    assert_eq!(described["partition_count"], 2, "validate_only changed it");

    let (status, body) = patch(
        &h.router,
        "/v1/topics/grown",
        json!({"partitions": 5, "retention_ms": 60000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["partition_count"], 5);
    assert_eq!(body["partitions"].as_array().map(Vec::len), Some(5));
    assert_eq!(body["retention_ms"], 60000);

    // The new partitions take records.
    let (status, body) = super::post(
        &h.router,
        "/v1/topics/grown/records",
        json!({"records": [{"value": "x", "partition": 4}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for (change, code) in [
        (json!({"partitions": 5}), "invalid_partitions"),
        (json!({"partitions": 3}), "invalid_partitions"),
        (json!({"partitions": -1}), "invalid_partitions"),
        (json!({"retention_ms": 0}), "invalid_argument"),
        (json!({"replicas": 3}), "invalid_json"),
    ] {
        let (status, body) = patch(&h.router, "/v1/topics/grown", change.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {body}");
        assert_eq!(body["error_code"], code, "{change}: {body}");
    }
    let (status, body) = patch(&h.router, "/v1/topics/nope", json!({"partitions": 2})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // null: back to the default; a field left out stays.
    let (status, body) = patch(
        &h.router,
        "/v1/topics/grown",
        json!({"retention_ms": null, "retention_bytes": 1024}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retention_ms"], Value::Null);
    assert_eq!(body["retention_bytes"], 1024);
    assert_eq!(body["partition_count"], 5);
}
