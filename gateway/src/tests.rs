//! Router-level tests: the real batcher, reader and SQLite coordinator over an
//! in-memory object store, driven with `oneshot` without opening a port.

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use serde_json::{Value, json};
use silt_core::Coordinator;
use silt_reader::storage::{CountingStore, InterceptedStore, Interceptor, Operation, StoreCounts};
use silt_reader::{CacheConfig, ChunkCache, Reader};
use tower::ServiceExt;

use crate::{AppState, Batcher, GatewayConfig, Metrics, app};

pub(super) struct Harness {
    pub(super) router: Router,
    state: AppState,
    counts: Arc<StoreCounts>,
    coordinator: Arc<dyn Coordinator>,
    _dir: tempfile::TempDir,
}

async fn harness_with(config: GatewayConfig, inner: Arc<dyn ObjectStore>) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator: Arc<dyn Coordinator> =
        silt_coordinator::open_sqlite(&dir.path().join("meta.db"))
            .await
            .expect("coordinator");
    let counting = CountingStore::counting(inner);
    let counts = counting.counts();
    let store: Arc<dyn ObjectStore> = Arc::new(counting);
    let cache = ChunkCache::open(&CacheConfig::default())
        .await
        .expect("cache");
    let metrics = Arc::new(Metrics::default());
    metrics.attach_store_counts(Arc::clone(&counts));
    let (batcher, _task) = Batcher::spawn(
        config.clone(),
        Arc::clone(&store),
        Arc::clone(&coordinator),
        cache.clone(),
        Arc::clone(&metrics),
    );
    let reader = Arc::new(Reader::new(
        Arc::clone(&store),
        Arc::clone(&coordinator),
        cache,
    ));
    let query = Arc::new(
        silt_query::QueryEngine::new(
            store,
            Arc::clone(&coordinator) as Arc<dyn silt_core::Coordinator>,
            Arc::clone(&reader),
            config.query.clone(),
        )
        .expect("query engine"),
    );
    let auth = config.auth.clone();
    let state = AppState {
        config,
        coordinator: Arc::clone(&coordinator),
        reader,
        batcher,
        metrics,
        sticky: Arc::new(AtomicU32::new(0)),
        shutdown: tokio::sync::watch::channel(false).1,
        admin: None,
        request_transactions: Default::default(),
        security: crate::auth::Security::new(auth, Arc::clone(&coordinator)),
        tls: None,
        iceberg: None,
        recent: Default::default(),
        query,
    };
    Harness {
        router: app(state.clone()),
        state,
        counts,
        coordinator,
        _dir: dir,
    }
}

async fn harness() -> Harness {
    let config = GatewayConfig {
        linger_ms: 20,
        max_record_bytes: 4096,
        max_body_bytes: 256 << 10,
        ..Default::default()
    };
    harness_with(config, Arc::new(InMemory::new())).await
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

async fn post(router: &Router, uri: &str, body: Value) -> (StatusCode, Value) {
    call(router, "POST", uri, "application/json", body.to_string()).await
}

pub(super) async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    call(router, "GET", uri, "application/json", Body::empty()).await
}

async fn create(router: &Router, name: &str, partitions: u32) {
    let (status, body) = post(
        router,
        "/v1/topics",
        json!({"name": name, "partitions": partitions}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn produce_then_fetch_returns_what_was_sent() {
    let h = harness().await;
    create(&h.router, "orders", 4).await;
    let records = json!({"records": [
        {"key": "k1", "value": {"amount": 10, "items": ["a", "b"]}, "headers": {"source": "web"}, "partition": 2, "timestamp": 1700000000000u64},
        {"key_base64": "AAEC/w==", "value_base64": "3q2+7w==", "partition": 2},
        {"value": "just a string", "partition": 2},
        {"value": null, "partition": 2},
        {"value": "", "partition": 2, "headers": [["h", "1"], ["h", null], ["bin", {"base64": "/w=="}], ["e", ""]]},
    ]});
    let (status, body) = post(&h.router, "/v1/topics/orders/records", records).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["offsets"],
        json!([
            {"partition": 2, "offset": 0}, {"partition": 2, "offset": 1}, {"partition": 2, "offset": 2}, {"partition": 2, "offset": 3}, {"partition": 2, "offset": 4}
        ])
    );
    let (status, body) = get(&h.router, "/v1/topics/orders/partitions/2/records?offset=0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fetched = body["records"].as_array().expect("records");
    assert_eq!(fetched.len(), 5);
    assert_eq!(
        fetched[0]["value"],
        json!({"amount": 10, "items": ["a", "b"]})
    );
    assert_eq!(fetched[0]["key"], "k1");
    // The object form is a shorthand; headers come back as ordered pairs.
    assert_eq!(fetched[0]["headers"], json!([["source", "web"]]));
    assert_eq!(fetched[0]["timestamp"], 1700000000000u64);
    assert_eq!(fetched[1]["key_base64"], "AAEC/w==");
    assert_eq!(fetched[1]["value_base64"], "3q2+7w==");
    assert_eq!(fetched[2]["value"], "just a string");
    // `"value": null` is a tombstone: null, with no value_base64, and no headers.
    assert_eq!(fetched[3]["value"], Value::Null);
    assert!(fetched[3].get("value_base64").is_none(), "{}", fetched[3]);
    assert_eq!(fetched[3]["headers"], json!([]));
    // An empty value is not null; a repeated header name, a null header value, bytes
    // and an empty header value all come back as sent, in order.
    assert_eq!(fetched[4]["value"], "");
    assert_eq!(
        fetched[4]["headers"],
        json!([["h", "1"], ["h", null], ["bin", {"base64": "/w=="}], ["e", ""]])
    );
    assert_eq!(body["next_offset"], 5);
    assert_eq!(body["high_watermark"], 5);

    // NDJSON, and keyed records land where Kafka's partitioner puts them.
    let ndjson = "{\"key\":\"21\",\"value\":1}\n\n{\"key\":\"foobar\",\"value\":2}\n";
    let (status, body) = call(
        &h.router,
        "POST",
        "/v1/topics/orders/records",
        "application/x-ndjson",
        ndjson,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected_21 = silt_core::partitioner::partition_for_key(b"21", 4);
    let expected_foobar = silt_core::partitioner::partition_for_key(b"foobar", 4);
    assert_eq!(body["offsets"][0]["partition"], expected_21);
    assert_eq!(body["offsets"][1]["partition"], expected_foobar);

    let (status, body) = get(
        &h.router,
        "/v1/topics/orders/partitions/2/records?offset=1&max_records=2",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["records"].as_array().expect("records").len(), 2);
    assert_eq!(body["records"][0]["offset"], 1);
    assert_eq!(body["next_offset"], 3);
}

#[tokio::test]
async fn one_flush_for_a_hundred_partitions_is_one_object() {
    let config = GatewayConfig {
        linger_ms: 200,
        ..Default::default()
    };
    let h = harness_with(config, Arc::new(InMemory::new())).await;
    create(&h.router, "wide", 100).await;
    let records: Vec<Value> = (0..100)
        .map(|p| json!({"value": {"p": p}, "partition": p}))
        .collect();
    let puts_before = h.counts.puts();
    let (status, body) = post(
        &h.router,
        "/v1/topics/wide/records",
        json!({ "records": records }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.counts.puts() - puts_before,
        1,
        "one flush must write exactly one object"
    );
    let description = h
        .coordinator
        .describe_topic("wide")
        .await
        .expect("describe");
    assert!(description.partitions.iter().all(|p| p.high_watermark == 1));

    // Concurrent requests within one linger window share one object too.
    let puts_before = h.counts.puts();
    let requests = (0..10).map(|i| {
        let router = h.router.clone();
        async move {
            let records: Vec<Value> = (0..10)
                .map(|p| json!({"value": i, "partition": i * 10 + p}))
                .collect();
            post(
                &router,
                "/v1/topics/wide/records",
                json!({ "records": records }),
            )
            .await
        }
    });
    for (status, body) in futures::future::join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let puts = h.counts.puts() - puts_before;
    assert!(
        puts <= 2,
        "10 concurrent requests in one linger window wrote {puts} objects"
    );
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_a_record_is_committed() {
    let h = harness().await;
    create(&h.router, "live", 1).await;
    let started = Instant::now();
    let poll = {
        let router = h.router.clone();
        tokio::spawn(async move {
            get(
                &router,
                "/v1/topics/live/partitions/0/records?offset=0&wait_ms=5000",
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = post(
        &h.router,
        "/v1/topics/live/records",
        json!({"records": [{"value": "hello"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = poll.await.expect("join");
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["records"][0]["value"], "hello");
    assert!(
        elapsed < Duration::from_millis(2500),
        "long-poll answered after {elapsed:?}"
    );
}

/// Names that differ only in case or in '.' versus '_' collide in Kafka's metric names:
/// the second topic is refused with 409, naming the first.
#[tokio::test]
async fn colliding_topic_names_are_refused() {
    let h = harness().await;
    create(&h.router, "orders.eu", 1).await;
    for name in ["orders_eu", "ORDERS.EU", "Orders_Eu"] {
        let (status, body) = post(
            &h.router,
            "/v1/topics",
            json!({"name": name, "partitions": 1}),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (StatusCode::CONFLICT, Some("topic_collides")),
            "{name}: {body}"
        );
        let message = body["message"].as_str().expect("message");
        assert!(message.contains("\"orders.eu\""), "{message}");
    }
    let (_, body) = get(&h.router, "/v1/topics").await;
    assert_eq!(
        body["topics"].as_array().expect("topics").len(),
        1,
        "{body}"
    );
    create(&h.router, "orders-eu", 1).await;
}

#[tokio::test]
async fn topics_list_describe_delete() {
    let h = harness().await;
    create(&h.router, "a", 3).await;
    create(&h.router, "b", 1).await;
    let (status, body) = get(&h.router, "/v1/topics").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let (_, body) = get(&h.router, "/v1/topics/a").await;
    assert_eq!(body["partitions"].as_array().expect("partitions").len(), 3);
    assert_eq!(
        body["partitions"][2],
        json!({"partition": 2, "log_start_offset": 0, "high_watermark": 0, "last_stable_offset": 0})
    );
    let (status, _) = call(
        &h.router,
        "DELETE",
        "/v1/topics/a",
        "application/json",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &h.router,
        "DELETE",
        "/v1/topics/a",
        "application/json",
        Body::empty(),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("topic_not_found"))
    );
    let (status, _) = get(&h.router, "/healthz").await;
    assert_eq!(status, StatusCode::OK);

    // `curl -d` sends a form content type; a topic body is read as JSON regardless.
    let body = json!({"name": "from-curl", "partitions": 2}).to_string();
    let (status, created) = call(
        &h.router,
        "POST",
        "/v1/topics",
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["partition_count"], 2);

    let (status, spec) = get(&h.router, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/topics",
        "/v1/topics/{topic}/records",
        "/v1/topics/{topic}/partitions/{partition}/records",
        "/v1/producers",
        "/v1/groups/{group}/members",
        "/v1/groups/{group}/members/{member}/records",
        "/v1/groups/{group}/offsets",
        "/v1/records",
        "/v1/transactions",
        "/v1/transactions/{id}/commit",
    ] {
        assert!(spec["paths"][path].is_object(), "openapi.json lacks {path}");
    }
}

/// Holds every PUT until the test lets it through.
#[derive(Debug)]
struct Gate(tokio::sync::Semaphore);

#[async_trait::async_trait]
impl Interceptor for Gate {
    async fn before(
        &self,
        operation: Operation,
        _location: Option<&object_store::path::Path>,
    ) -> object_store::Result<()> {
        if operation == Operation::Put {
            let _permit = self.0.acquire().await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn backpressure_answers_429_with_retry_after_and_recovers() {
    let gated = Arc::new(InterceptedStore::new(
        Arc::new(InMemory::new()),
        Gate(tokio::sync::Semaphore::new(0)),
    ));
    let config = GatewayConfig {
        linger_ms: 5,
        max_buffered_bytes: 4096,
        ..Default::default()
    };
    let h = harness_with(config, Arc::clone(&gated) as Arc<dyn ObjectStore>).await;
    create(&h.router, "slow", 1).await;
    let held = {
        let router = h.router.clone();
        tokio::spawn(async move {
            post(
                &router,
                "/v1/topics/slow/records",
                json!({"records": [{"value": "a".repeat(3000)}]}),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let request = Request::builder()
        .method("POST")
        .uri("/v1/topics/slow/records")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"records": [{"value": "b".repeat(3000)}]}).to_string(),
        ))
        .expect("request");
    let response = h.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    gated.interceptor().0.add_permits(100);
    let (status, body) = held.await.expect("join");
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        &h.router,
        "/v1/topics/slow/records",
        json!({"records": [{"value": "c"}]}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "after the backlog drains produce works again: {body}"
    );
    assert_eq!(body["offsets"][0]["offset"], 1);
}

mod alter_topic;
mod bad_produce;
mod batching;
mod console;
mod groups;
mod kafka_as_sent;
mod kafka_edges;
mod kafka_sasl;
mod kafka_static;
mod kafka_transactions;
mod limits;
mod query;
mod transactions;

/// Reads one sample of the Prometheus text at `/metrics`.
fn sample(metrics: &str, series: &str) -> f64 {
    silt_core::metrics::read_sample(metrics, series)
        .unwrap_or_else(|| panic!("{series} missing in\n{metrics}"))
}

#[tokio::test]
async fn metrics_report_latencies_bytes_and_cache_lookups() {
    let h = harness().await;
    create(&h.router, "orders", 3).await;
    for _ in 0..2 {
        let records = json!({"records": [{"value": {"n": 1}}, {"value": "two", "partition": 1}]});
        let (status, body) = post(&h.router, "/v1/topics/orders/records", records).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The gateway cached what it flushed: this fetch is a memory hit.
    let (status, body) = get(&h.router, "/v1/topics/orders/partitions/1/records?offset=0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, metrics) = get(&h.router, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let metrics = metrics.as_str().expect("text").to_owned();
    let flushes = sample(&metrics, "silt_flushes_total");
    assert!(flushes >= 1.0);
    assert_eq!(sample(&metrics, "silt_produce_duration_seconds_count"), 2.0);
    assert_eq!(
        sample(
            &metrics,
            "silt_produce_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(&metrics, "silt_flush_duration_seconds_count"),
        flushes
    );
    assert_eq!(sample(&metrics, "silt_flush_records_sum"), 4.0);
    assert_eq!(
        sample(&metrics, "silt_flush_bytes_sum"),
        sample(&metrics, "silt_segment_bytes_written_total")
    );
    assert_eq!(
        sample(&metrics, "silt_object_store_bytes_total{operation=\"put\"}"),
        sample(&metrics, "silt_segment_bytes_written_total")
    );
    assert_eq!(
        sample(
            &metrics,
            "silt_object_store_request_duration_seconds_count{operation=\"put\"}"
        ),
        sample(
            &metrics,
            "silt_object_store_requests_total{operation=\"put\"}"
        )
    );
    assert!(sample(&metrics, "silt_cache_requests_total{result=\"memory_hit\"}") >= 1.0);
    assert_eq!(
        sample(&metrics, "silt_cache_requests_total{result=\"miss\"}"),
        0.0
    );
    // The in-process coordinator reports its group commit here too.
    assert_eq!(
        sample(&metrics, "silt_coordinator_segments_committed_total"),
        flushes
    );
}

/// Many tiny records cost their per-record overhead against the buffer budget, not only
/// their encoded bytes; a request over the record limit is refused whole.
#[tokio::test]
async fn tiny_records_are_charged_their_overhead_and_bounded_per_request() {
    let gated = Arc::new(InterceptedStore::new(
        Arc::new(InMemory::new()),
        Gate(tokio::sync::Semaphore::new(0)),
    ));
    let config = GatewayConfig {
        linger_ms: 5,
        max_buffered_bytes: 4096,
        max_body_bytes: 4 << 20,
        ..Default::default()
    };
    let h = harness_with(config, Arc::clone(&gated) as Arc<dyn ObjectStore>).await;
    create(&h.router, "tiny", 1).await;
    let held = {
        let router = h.router.clone();
        tokio::spawn(async move {
            post(
                &router,
                "/v1/topics/tiny/records",
                json!({"records": [{"value": 1}]}),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 60 records of about 15 encoded bytes: 900 bytes, but 60 waiting records.
    let records: Vec<Value> = (0..60).map(|_| json!({"value": 1})).collect();
    let refused = post(
        &h.router,
        "/v1/topics/tiny/records",
        json!({ "records": records }),
    );
    // Without the per-record charge this request would wait behind the held flush.
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), refused)
        .await
        .expect("refused at once, not queued");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    gated.interceptor().0.add_permits(1000);
    let (status, _) = held.await.expect("held");
    assert_eq!(status, StatusCode::OK);
    // One record over the limit per request: refused whole, nothing written.
    let body = format!(
        "{{\"records\":[{}]}}",
        vec!["{\"value\":1}"; crate::produce::MAX_RECORDS_PER_REQUEST + 1].join(",")
    );
    let (status, answer) = call(
        &h.router,
        "POST",
        "/v1/topics/tiny/records",
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error_code"], "too_many_records");
    let ndjson = vec!["{\"value\":1}"; crate::produce::MAX_RECORDS_PER_REQUEST + 1].join("\n");
    let (status, answer) = call(
        &h.router,
        "POST",
        "/v1/topics/tiny/records",
        "application/x-ndjson",
        ndjson,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let (_, topic) = call(&h.router, "GET", "/v1/topics/tiny", "application/json", "").await;
    assert_eq!(topic["partitions"][0]["high_watermark"], 1, "{topic}");
}
