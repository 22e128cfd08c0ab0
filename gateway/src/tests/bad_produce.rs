//! Produce requests that must be refused whole, and idempotent producers' retries
//! and sequences.

use super::*;

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let h = harness().await;
    create(&h.router, "orders", 2).await;
    let uri = "/v1/topics/orders/records";
    let big = "x".repeat(5000);
    let cases: Vec<(&str, String, &str, StatusCode, &str)> = vec![
        (
            "malformed json",
            "{\"records\": [".into(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "not an object",
            "[1,2]".into(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "missing value",
            json!({"records": [{"value": 1}, {"key": "k"}]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_record",
        ),
        (
            "partition out of range",
            json!({"records": [{"value": 1, "partition": 2}]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_record",
        ),
        (
            "negative partition",
            json!({"records": [{"value": 1, "partition": -1}]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_record",
        ),
        (
            "record too large",
            json!({"records": [{"value": 1}, {"value": big}]}).to_string(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "record_too_large",
        ),
        (
            "body too large",
            json!({"records": [{"value": "y".repeat(300 << 10)}]}).to_string(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "empty batch",
            json!({"records": []}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "bad base64",
            json!({"records": [{"value_base64": "!!"}]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_record",
        ),
        (
            "both value kinds",
            json!({"records": [{"value": 1, "value_base64": "AA=="}]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_record",
        ),
        (
            "unknown field",
            json!({"records": [{"value": 1, "colour": "red"}]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_record",
        ),
        (
            "bad ndjson line",
            "{\"value\":1}\n{oops".into(),
            "application/x-ndjson",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (name, body, content_type, status, code) in cases {
        let (got_status, got) = call(&h.router, "POST", uri, content_type, body).await;
        assert_eq!(got_status, status, "{name}: {got}");
        assert_eq!(got["error_code"], code, "{name}: {got}");
        assert!(
            got["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {got}"
        );
    }
    let (_, got) = post(
        &h.router,
        uri,
        json!({"records": [{"value": 1}, {"key": "k"}]}),
    )
    .await;
    assert_eq!(
        got["record_index"], 1,
        "the invalid record is named by index: {got}"
    );
    assert!(
        got["message"]
            .as_str()
            .is_some_and(|m| m.contains("record 1")),
        "{got}"
    );

    let (status, got) = post(
        &h.router,
        "/v1/topics/nope/records",
        json!({"records": [{"value": 1}]}),
    )
    .await;
    assert_eq!(
        (status, got["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("topic_not_found"))
    );
    assert_eq!(
        h.counts.puts(),
        0,
        "nothing may be written for rejected requests"
    );
    let description = h
        .coordinator
        .describe_topic("orders")
        .await
        .expect("describe");
    assert!(description.partitions.iter().all(|p| p.high_watermark == 0));

    // Topic administration errors.
    for (body, status, code) in [
        (
            json!({"name": "bad name!", "partitions": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            json!({"name": "x".repeat(250), "partitions": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            json!({"name": "ok", "partitions": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            json!({"name": "ok", "partitions": -3}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            json!({"name": "orders", "partitions": 1}),
            StatusCode::CONFLICT,
            "topic_exists",
        ),
        (
            json!({"partitions": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ] {
        let (got_status, got) = post(&h.router, "/v1/topics", body.clone()).await;
        assert_eq!(
            (got_status, got["error_code"].as_str()),
            (status, Some(code)),
            "{body}: {got}"
        );
    }
    let (status, got) = get(&h.router, "/v1/topics/nope").await;
    assert_eq!(
        (status, got["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("topic_not_found"))
    );

    // Fetch errors.
    post(
        &h.router,
        uri,
        json!({"records": [{"value": 1, "partition": 0}]}),
    )
    .await;
    for (query, status, code) in [
        (
            "partitions/0/records?offset=-1",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "partitions/0/records?offset=abc",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "partitions/0/records?offset=99999999999999999999999",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "partitions/0/records?offset=2",
            StatusCode::RANGE_NOT_SATISFIABLE,
            "offset_out_of_range",
        ),
        (
            "partitions/0/records?offset=0&wait_ms=30001",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "partitions/0/records?offset=0&max_records=0",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "partitions/5/records?offset=0",
            StatusCode::NOT_FOUND,
            "partition_not_found",
        ),
        (
            "partitions/x/records?offset=0",
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
    ] {
        let (got_status, got) = get(&h.router, &format!("/v1/topics/orders/{query}")).await;
        assert_eq!(
            (got_status, got["error_code"].as_str()),
            (status, Some(code)),
            "{query}: {got}"
        );
    }
    let (_, got) = get(&h.router, "/v1/topics/orders/partitions/0/records?offset=2").await;
    assert_eq!(
        (
            got["log_start_offset"].as_u64(),
            got["high_watermark"].as_u64()
        ),
        (Some(0), Some(1)),
        "{got}"
    );
}

#[tokio::test]
async fn idempotent_retries_write_once_and_sequences_are_enforced() {
    let h = harness().await;
    create(&h.router, "pay", 3).await;
    let (status, producer) = call(
        &h.router,
        "POST",
        "/v1/producers",
        "application/json",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{producer}");
    let (id, epoch) = (
        producer["producer_id"].as_i64().expect("id"),
        producer["epoch"].as_i64().expect("epoch"),
    );
    assert_eq!(epoch, 0);
    let request = |epoch: i64, sequence: i64| {
        json!({
            "producer": {"id": id, "epoch": epoch, "sequence": sequence},
            "records": [{"key": "a", "value": sequence}, {"key": "b", "value": sequence}, {"value": "c", "partition": 0}]
        })
    };
    let total = |h: &Harness| {
        let coordinator = Arc::clone(&h.coordinator);
        async move {
            let description = coordinator.describe_topic("pay").await.expect("describe");
            description
                .partitions
                .iter()
                .map(|p| p.high_watermark)
                .sum::<u64>()
        }
    };

    // The same request three times (lost answers): one copy, the same offsets each time.
    let (status, first) = post(&h.router, "/v1/topics/pay/records", request(0, 0)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    for _ in 0..2 {
        let (status, again) = post(&h.router, "/v1/topics/pay/records", request(0, 0)).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, first);
    }
    assert_eq!(total(&h).await, 3);

    // Two copies racing into the same batch are still one.
    let (a, b) = tokio::join!(
        post(&h.router, "/v1/topics/pay/records", request(0, 1)),
        post(&h.router, "/v1/topics/pay/records", request(0, 1))
    );
    assert_eq!(
        (a.0, b.0),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        a.1,
        b.1
    );
    assert_eq!(a.1, b.1);
    assert_eq!(total(&h).await, 6);

    // A gap is refused and writes nothing; so is an old sequence.
    let (status, body) = post(&h.router, "/v1/topics/pay/records", request(0, 5)).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::CONFLICT, Some("out_of_order_sequence")),
        "{body}"
    );
    let (status, body) = post(&h.router, "/v1/topics/pay/records", request(0, 0)).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate_sequence")),
        "{body}"
    );
    assert_eq!(total(&h).await, 6);

    // A new epoch fences the old one.
    let (status, bumped) = post(&h.router, "/v1/producers", json!({"producer_id": id})).await;
    assert_eq!(
        (status, bumped["epoch"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{bumped}"
    );
    let (status, body) = post(&h.router, "/v1/topics/pay/records", request(0, 2)).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::CONFLICT, Some("producer_fenced")),
        "{body}"
    );
    let (status, body) = post(&h.router, "/v1/topics/pay/records", request(1, 0)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(total(&h).await, 9);

    // Unknown producers and malformed stamps.
    let unknown =
        json!({"producer": {"id": 999, "epoch": 0, "sequence": 0}, "records": [{"value": 1}]});
    let (status, body) = post(&h.router, "/v1/topics/pay/records", unknown).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_producer")),
        "{body}"
    );
    let negative =
        json!({"producer": {"id": id, "epoch": 1, "sequence": -1}, "records": [{"value": 1}]});
    let (status, _) = post(&h.router, "/v1/topics/pay/records", negative).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post(&h.router, "/v1/producers", json!({"producer_id": 12345})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_producer"))
    );
    assert_eq!(total(&h).await, 9);
}
