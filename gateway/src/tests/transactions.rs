//! Transactions over HTTP through the router: one request that writes to several topics
//! and commits a group member's offsets, all or nothing; multi-request transactions;
//! and what a reader sees at each isolation level.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Harness, create, get, harness, post};

/// Values a partition's fetch at `isolation` returns, and the answer.
async fn values(h: &Harness, topic: &str, partition: u32, isolation: &str) -> (Vec<Value>, Value) {
    let (status, body) = get(
        &h.router,
        &format!(
            "/v1/topics/{topic}/partitions/{partition}/records?offset=0&isolation={isolation}"
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let values = body["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| record["value"].clone())
        .collect();
    (values, body)
}

async fn high_watermarks(h: &Harness, topic: &str) -> Vec<u64> {
    let (_, body) = get(&h.router, &format!("/v1/topics/{topic}")).await;
    body["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|partition| partition["high_watermark"].as_u64().expect("hwm"))
        .collect()
}

#[tokio::test]
async fn one_request_writes_several_topics_and_commits_offsets_or_nothing() {
    let h = harness().await;
    create(&h.router, "in", 1).await;
    create(&h.router, "out-a", 1).await;
    create(&h.router, "out-b", 2).await;
    let inputs: Vec<Value> = (0..6).map(|n| json!({"value": {"n": n}})).collect();
    let (status, _) = post(
        &h.router,
        "/v1/topics/in/records",
        json!({"records": inputs}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, member) = post(
        &h.router,
        "/v1/groups/g/members",
        json!({"topics": ["in"], "session_timeout_ms": 30_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    let member_id = member["member_id"].as_str().expect("member").to_owned();
    let generation = member["generation"].as_u64().expect("generation");
    let request = |offset: u64, generation: u64| {
        json!({
            "records": [
                {"topic": "out-a", "value": {"sum": 1}},
                {"topic": "out-b", "key": "k", "value": {"sum": 2}, "headers": [["h", null]]},
                {"topic": "out-a", "value": null},
            ],
            "commit": {
                "group": "g", "member_id": member_id, "generation": generation,
                "offsets": [{"topic": "in", "partition": 0, "offset": offset, "metadata": "m"}],
            },
        })
    };
    let (status, body) = post(&h.router, "/v1/records", request(3, generation)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offsets = body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), 3);
    assert_eq!(
        offsets[0],
        json!({"topic": "out-a", "partition": 0, "offset": 0})
    );
    assert_eq!(
        offsets[2],
        json!({"topic": "out-a", "partition": 0, "offset": 1})
    );
    assert_eq!(offsets[1]["topic"], "out-b");
    // Committed: visible to read_committed readers, tombstone and all; the marker takes
    // an offset but is no record.
    let (committed, answer) = values(&h, "out-a", 0, "read_committed").await;
    assert_eq!(committed, vec![json!({"sum": 1}), Value::Null]);
    assert_eq!(answer["next_offset"], 3, "{answer}");
    assert_eq!(answer["last_stable_offset"], 3, "{answer}");
    let (_, group) = get(&h.router, "/v1/groups/g").await;
    assert_eq!(group["partitions"][0]["committed_offset"], 3, "{group}");
    assert_eq!(group["partitions"][0]["committed_metadata"], "m", "{group}");

    // A retry of the same request (its answer lost, say) writes nothing visible.
    let (status, body) = post(&h.router, "/v1/records", request(3, generation)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error_code"], "offsets_already_committed", "{body}");
    let (committed, _) = values(&h, "out-a", 0, "read_committed").await;
    assert_eq!(committed.len(), 2);
    let (uncommitted, _) = values(&h, "out-a", 0, "read_uncommitted").await;
    assert_eq!(uncommitted.len(), 4, "the aborted retry is in the log");

    // A member of an older generation is refused before anything is written.
    let (status, _) = post(
        &h.router,
        "/v1/groups/g/members",
        json!({"topics": ["in"], "session_timeout_ms": 30_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let before = high_watermarks(&h, "out-a").await;
    let (status, body) = post(&h.router, "/v1/records", request(6, generation)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error_code"], "stale_generation", "{body}");
    assert_eq!(high_watermarks(&h, "out-a").await, before);

    // Without a commit, the request is still all or nothing across its topics.
    let (status, body) = post(
        &h.router,
        "/v1/records",
        json!({"records": [{"topic": "out-a", "value": 1}, {"topic": "out-b", "partition": 1, "value": 2}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["committed"], 0, "{body}");

    // Bad requests change nothing.
    let before = (
        high_watermarks(&h, "out-a").await,
        high_watermarks(&h, "out-b").await,
    );
    for (bad, code, status) in [
        (
            json!({"records": []}),
            "invalid_request",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"records": [{"value": 1}]}),
            "invalid_record",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"records": [{"topic": "out-a", "value": 1}, {"topic": "out-b", "partition": 9, "value": 1}]}),
            "invalid_record",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"records": [{"topic": "out-a", "value": 1}, {"topic": "nope", "value": 1}]}),
            "topic_not_found",
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"records": [{"topic": "out-a", "value": 1}], "transaction": {"transactional_id": "t", "producer_id": 1, "epoch": 0}, "commit": {"group": "g", "member_id": "m", "generation": 1, "offsets": []}}),
            "invalid_request",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"records": [{"topic": "out-a", "value": 1}], "commit": {"group": "g", "member_id": "nobody", "generation": 1, "offsets": []}}),
            "unknown_member",
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"records": [{"topic": "out-a", "value": 1}], "extra": 1}),
            "invalid_json",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (answered, body) = post(&h.router, "/v1/records", bad.clone()).await;
        assert_eq!(
            (answered, body["error_code"].as_str()),
            (status, Some(code)),
            "{bad}: {body}"
        );
    }
    let after = (
        high_watermarks(&h, "out-a").await,
        high_watermarks(&h, "out-b").await,
    );
    assert_eq!(after, before);
    // A group member reading a transactional topic reads committed records only, and is
    // told to commit past the markers: its lag can reach 0.
    let (status, reader) = post(
        &h.router,
        "/v1/groups/readers/members",
        json!({"topics": ["out-a"], "session_timeout_ms": 30_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reader}");
    let reader_id = reader["member_id"].as_str().expect("member");
    let (status, fetched) = get(
        &h.router,
        &format!("/v1/groups/readers/members/{reader_id}/records?max_records=100"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    let values: Vec<&Value> = fetched["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| &record["value"])
        .collect();
    assert_eq!(values, vec![&json!({"sum": 1}), &Value::Null, &json!(1)]);
    assert_eq!(
        fetched["next_offsets"],
        json!([{"topic": "out-a", "partition": 0, "offset": after.0[0]}]),
        "{fetched}"
    );
    // A topic's own endpoint takes no topic in its records.
    let (status, body) = post(
        &h.router,
        "/v1/topics/out-a/records",
        json!({"records": [{"topic": "out-a", "value": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_transaction_over_several_requests_commits_aborts_and_fences() {
    let h = harness().await;
    create(&h.router, "out", 1).await;
    let begin = |id: &str| json!({"transactional_id": id, "timeout_ms": 30_000});
    let (status, txn) = post(&h.router, "/v1/transactions", begin("app")).await;
    assert_eq!(status, StatusCode::OK, "{txn}");
    let producer = json!({
        "transactional_id": "app",
        "producer_id": txn["producer_id"],
        "epoch": txn["epoch"],
    });
    for n in 0..2 {
        let (status, body) = post(
            &h.router,
            "/v1/records",
            json!({"records": [{"topic": "out", "value": n}], "transaction": producer}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Open: read_committed readers wait at the last stable offset.
    let (committed, answer) = values(&h, "out", 0, "read_committed").await;
    assert!(committed.is_empty());
    assert_eq!(
        (
            answer["high_watermark"].as_u64(),
            answer["last_stable_offset"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let (uncommitted, _) = values(&h, "out", 0, "read_uncommitted").await;
    assert_eq!(uncommitted, vec![json!(0), json!(1)]);
    let (status, described) = get(&h.router, "/v1/transactions/app").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(described["state"], "ongoing", "{described}");
    assert_eq!(
        described["partitions"],
        json!([{"topic": "out", "partition": 0}])
    );
    let (_, listed) = get(&h.router, "/v1/transactions?state=ongoing").await;
    assert_eq!(
        listed["transactions"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let end = json!({"producer_id": txn["producer_id"], "epoch": txn["epoch"]});
    let (status, body) = post(&h.router, "/v1/transactions/app/commit", end.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (committed, _) = values(&h, "out", 0, "read_committed").await;
    assert_eq!(committed, vec![json!(0), json!(1)]);
    // A retry of the commit is answered as the commit was.
    let (status, _) = post(&h.router, "/v1/transactions/app/commit", end.clone()).await;
    assert_eq!(status, StatusCode::OK);

    // A new begin fences the old producer; an aborted transaction stays invisible.
    let (_, successor) = post(&h.router, "/v1/transactions", begin("app")).await;
    assert_eq!(successor["epoch"], 1, "{successor}");
    let (status, body) = post(
        &h.router,
        "/v1/records",
        json!({"records": [{"topic": "out", "value": "zombie"}], "transaction": producer}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error_code"], "producer_fenced", "{body}");
    let next =
        json!({"transactional_id": "app", "producer_id": successor["producer_id"], "epoch": 1});
    let (status, _) = post(
        &h.router,
        "/v1/records",
        json!({"records": [{"topic": "out", "value": "dropped"}], "transaction": next}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let end = json!({"producer_id": successor["producer_id"], "epoch": 1});
    let (status, body) = post(&h.router, "/v1/transactions/app/abort", end).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (committed, answer) = values(&h, "out", 0, "read_committed").await;
    assert_eq!(committed, vec![json!(0), json!(1)]);
    assert_eq!(answer["next_offset"], 5, "{answer}");
    let (uncommitted, _) = values(&h, "out", 0, "read_uncommitted").await;
    assert_eq!(uncommitted, vec![json!(0), json!(1), json!("dropped")]);

    // Bad requests.
    for (path, body, status, code) in [
        (
            "/v1/transactions",
            json!({"transactional_id": "__silt_x"}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "/v1/transactions",
            json!({"transactional_id": "t", "timeout_ms": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "/v1/transactions",
            json!({"transactional_id": ""}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "/v1/transactions/none/commit",
            json!({"producer_id": 1, "epoch": 0}),
            StatusCode::NOT_FOUND,
            "unknown_transactional_id",
        ),
        (
            "/v1/transactions/app/abort",
            json!({"producer_id": 1, "epoch": 0, "commit": {"group": "g", "member_id": "m", "generation": 1, "offsets": []}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (answered, answer) = post(&h.router, path, body.clone()).await;
        assert_eq!(
            (answered, answer["error_code"].as_str()),
            (status, Some(code)),
            "{path} {body}: {answer}"
        );
    }
    let (status, _) = get(&h.router, "/v1/transactions/none").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&h.router, "/v1/transactions?state=sleeping").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
