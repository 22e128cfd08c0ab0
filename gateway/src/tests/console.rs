//! What the console asks of the API: a fetch from a time, a topic described a page of
//! partitions at a time, the newest compacted files, a page of topics with totals,
//! this gateway's recent samples, and a value schema changed after creation.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{call, create, get, harness, post};

#[tokio::test]
async fn a_fetch_starts_at_the_first_record_at_or_after_a_time() {
    let h = harness().await;
    create(&h.router, "timed", 1).await;
    // Out of order on purpose: the first record at or after 2000 is offset 1 (3000),
    // not the later 2000.
    let records: Vec<Value> = [1000, 3000, 2000, 5000]
        .iter()
        .map(|at| json!({"value": at, "timestamp": at}))
        .collect();
    let (status, body) = post(
        &h.router,
        "/v1/topics/timed/records",
        json!({ "records": records }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = |body: &Value| body["records"][0]["offset"].as_u64();
    for (at, offset) in [
        (0, Some(0)),
        (1000, Some(0)),
        (1001, Some(1)),
        (2000, Some(1)),
        (4000, Some(3)),
    ] {
        let (status, body) = get(
            &h.router,
            &format!("/v1/topics/timed/partitions/0/records?timestamp={at}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(first(&body), offset, "from {at}: {body}");
    }
    // Newer than every record: nothing, from the high watermark.
    let (status, body) = get(
        &h.router,
        "/v1/topics/timed/partitions/0/records?timestamp=9000",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (first(&body), body["next_offset"].as_u64()),
        (None, Some(4))
    );
    let (status, body) = get(
        &h.router,
        "/v1/topics/timed/partitions/0/records?timestamp=1&offset=0",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = get(
        &h.router,
        "/v1/topics/timed/partitions/0/records?timestamp=soon",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn descriptions_and_listings_come_a_page_at_a_time() {
    let h = harness().await;
    create(&h.router, "wide", 250).await;
    for name in ["b", "a", "c"] {
        create(&h.router, name, 1).await;
    }
    let (status, body) = get(
        &h.router,
        "/v1/topics/wide?partitions_from=100&partitions_limit=100",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let partitions: Vec<u64> = body["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .filter_map(|p| p["partition"].as_u64())
        .collect();
    assert_eq!(partitions, (100..200).collect::<Vec<_>>());
    assert_eq!(body["partition_count"], 250);
    let (_, tail) = get(
        &h.router,
        "/v1/topics/wide?partitions_from=240&partitions_limit=100",
    )
    .await;
    assert_eq!(tail["partitions"].as_array().map(Vec::len), Some(10));
    let (_, all) = get(&h.router, "/v1/topics/wide").await;
    assert_eq!(all["partitions"].as_array().map(Vec::len), Some(250));
    let (status, _) = get(&h.router, "/v1/topics/wide?partitions_from=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Topics by name, two a page, with their totals.
    let (status, body) = post(
        &h.router,
        "/v1/topics/a/records",
        json!({"records": [{"value": 1}, {"value": 2}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, first) = get(&h.router, "/v1/console/topics?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let names = |page: &Value| -> Vec<String> {
        page["topics"]
            .as_array()
            .expect("topics")
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&first), vec!["a", "b"]);
    assert_eq!(
        (first["total"].as_u64(), first["next"].as_str()),
        (Some(4), Some("b"))
    );
    assert_eq!(first["topics"][0]["records"], 2);
    assert!(
        first["topics"][0]["segment_bytes"].as_u64() > Some(0),
        "{first}"
    );
    assert_eq!(first["topics"][1]["segment_bytes"], 0);
    let (_, second) = get(&h.router, "/v1/console/topics?limit=2&after=b").await;
    assert_eq!(names(&second), vec!["c", "wide"]);
    assert_eq!(second["next"], Value::Null);
    let (status, _) = get(&h.router, "/v1/console/topics?page=2").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown parameters are refused"
    );

    let (status, tables) = get(&h.router, "/v1/topics/a/tables?limit=5").await;
    assert_eq!(status, StatusCode::OK, "{tables}");
    assert_eq!(
        (
            tables["total"].as_u64(),
            tables["tables"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn the_console_files_are_served_and_samples_are_listed() {
    let h = harness().await;
    for path in ["/ui", "/ui/", "/ui/app.js", "/ui/app.css"] {
        let (status, _) = call(&h.router, "GET", path, "text/plain", String::new()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _) = call(
        &h.router,
        "GET",
        "/ui/../Cargo.toml",
        "text/plain",
        String::new(),
    )
    .await;
    assert_ne!(status, StatusCode::OK);
    let (status, _) = call(
        &h.router,
        "GET",
        "/ui/secret.js",
        "text/plain",
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&h.router, "/v1/console/metrics").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["interval_ms"], 1000);
    assert!(body["samples"].is_array());
}

#[tokio::test]
async fn a_value_schema_is_set_changed_and_removed() {
    let h = harness().await;
    create(&h.router, "typed", 1).await;
    let patch = |body: Value| {
        let router = h.router.clone();
        async move {
            call(
                &router,
                "PATCH",
                "/v1/topics/typed",
                "application/json",
                body.to_string(),
            )
            .await
        }
    };
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    let (status, body) = patch(json!({"value_schema": schema})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value_schema"], schema);
    let (status, body) =
        patch(json!({"value_schema": {"type": "object", "properties": {"n": {"type": "color"}}}}))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("color")),
        "{body}"
    );
    let (_, described) = get(&h.router, "/v1/topics/typed").await;
    assert_eq!(
        described["value_schema"], schema,
        "a refused schema changes nothing"
    );
    let (status, body) = patch(json!({"value_schema": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value_schema"], Value::Null);
}
