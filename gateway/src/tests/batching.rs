//! When a batch is sealed: at once while nothing is being flushed (as group commit
//! does), no sooner than the floor interval after the previous flush, and with what
//! arrived during a flush gathered into the next.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use serde_json::json;
use silt_reader::storage::InterceptedStore;

use super::{Gate, create, harness_with, post};
use crate::GatewayConfig;

/// A linger no test waits for: batches here are sealed by the flusher being idle.
const LONG_LINGER_MS: u64 = 600_000;

#[tokio::test]
async fn a_lone_request_does_not_wait_for_the_linger() {
    let config = GatewayConfig {
        linger_ms: LONG_LINGER_MS,
        min_flush_interval_ms: 0,
        ..Default::default()
    };
    let h = harness_with(config, Arc::new(InMemory::new())).await;
    create(&h.router, "quiet", 1).await;
    for round in 0..3 {
        let produce = post(
            &h.router,
            "/v1/topics/quiet/records",
            json!({"records": [{"value": round}]}),
        );
        let (status, body) = tokio::time::timeout(Duration::from_secs(10), produce)
            .await
            .expect("acknowledged without waiting for the linger");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(h.state.metrics.flushes.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn what_arrives_during_a_flush_goes_out_together_in_the_next() {
    let gated = Arc::new(InterceptedStore::new(
        Arc::new(InMemory::new()),
        Gate(tokio::sync::Semaphore::new(0)),
    ));
    let config = GatewayConfig {
        linger_ms: LONG_LINGER_MS,
        min_flush_interval_ms: 0,
        ..Default::default()
    };
    let h = harness_with(config, Arc::clone(&gated) as Arc<dyn ObjectStore>).await;
    create(&h.router, "busy", 4).await;
    let send = |value: u32| {
        let router = h.router.clone();
        tokio::spawn(async move {
            post(
                &router,
                "/v1/topics/busy/records",
                json!({"records": [{"value": value, "partition": value % 4}]}),
            )
            .await
        })
    };
    // The first request's flush is held in its PUT; five more arrive meanwhile.
    let first = send(0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rest: Vec<_> = (1..6).map(send).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.state.metrics.flushes.load(Ordering::Relaxed), 0);
    gated.interceptor().0.add_permits(1000);
    let (status, body) = first.await.expect("first");
    assert_eq!(status, StatusCode::OK, "{body}");
    for request in rest {
        let (status, body) = tokio::time::timeout(Duration::from_secs(10), request)
            .await
            .expect("acknowledged after the first flush")
            .expect("request");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // One flush for the first request, one for the five that waited behind it.
    assert_eq!(h.state.metrics.flushes.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_trickle_is_flushed_no_more_often_than_the_floor_allows() {
    let config = GatewayConfig {
        linger_ms: LONG_LINGER_MS,
        min_flush_interval_ms: 300,
        ..Default::default()
    };
    let h = harness_with(config, Arc::new(InMemory::new())).await;
    create(&h.router, "trickle", 1).await;
    let started = Instant::now();
    for round in 0..3 {
        let (status, body) = post(
            &h.router,
            "/v1/topics/trickle/records",
            json!({"records": [{"value": round}]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Three flushes began at least 300 ms apart: the third no sooner than 600 ms in.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.state.metrics.flushes.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn batches_of_an_eighth_of_the_batch_size_are_not_held_by_the_floor() {
    let config = GatewayConfig {
        linger_ms: LONG_LINGER_MS,
        min_flush_interval_ms: 300,
        max_batch_bytes: 64 << 10,
        ..Default::default()
    };
    let h = harness_with(config, Arc::new(InMemory::new())).await;
    create(&h.router, "busy", 1).await;
    let value = "x".repeat(10 << 10);
    let started = Instant::now();
    for _ in 0..3 {
        let (status, body) = post(
            &h.router,
            "/v1/topics/busy/records",
            json!({"records": [{"value": value}]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Each 10 KiB request is more than 8 KiB: flushed as soon as the flusher was idle,
    // where the floor would have held the third until 600 ms.
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.state.metrics.flushes.load(Ordering::Relaxed), 3);
}
