//! The durable log end to end: concurrent producers, exact read-back, one object per
//! flush, long-poll and the SSE tail, against the local filesystem and moto's S3.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto, note};

const CLIENTS: usize = 8;
const RECORDS_PER_CLIENT: usize = 1250;
const BATCH: usize = 50;
const PARTITIONS: u32 = 16;

/// What a producer sent, to compare with what comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub key: String,
    pub value: Value,
    pub headers: Value,
    pub timestamp: u64,
}

pub fn record_for(client: usize, seq: usize) -> Sent {
    Sent {
        key: format!("client-{client}-record-{seq}"),
        value: json!({"client": client, "seq": seq, "note": "héllo \"quoted\" \\ slash", "nested": {"list": [1, 2.5, null, true]}}),
        // Ordered pairs, a name twice and a null value: kept exactly as sent.
        headers: json!([
            ["client", client.to_string()],
            ["seq", seq.to_string()],
            ["client", null]
        ]),
        timestamp: 1_700_000_000_000 + (client * RECORDS_PER_CLIENT + seq) as u64,
    }
}

fn to_json(sent: &Sent) -> Value {
    json!({"key": sent.key, "value": sent.value, "headers": sent.headers, "timestamp": sent.timestamp})
}

/// Produces `CLIENTS` × `RECORDS_PER_CLIENT` records concurrently; returns every
/// acknowledged record by (partition, offset).
async fn produce_concurrently(api: &Api, topic: &str) -> HashMap<(u32, u64), Sent> {
    let producers = (0..CLIENTS).map(|client| {
        let api = api.clone();
        let topic = topic.to_owned();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for start in (0..RECORDS_PER_CLIENT).step_by(BATCH) {
                let batch: Vec<Sent> = (start..(start + BATCH).min(RECORDS_PER_CLIENT))
                    .map(|seq| record_for(client, seq))
                    .collect();
                let body = json!({"records": batch.iter().map(to_json).collect::<Vec<_>>()});
                let (status, answer) = api.post(&format!("/v1/topics/{topic}/records"), body).await;
                assert_eq!(status, 200, "{answer}");
                let offsets = answer["offsets"].as_array().expect("offsets");
                assert_eq!(offsets.len(), batch.len());
                for (sent, offset) in batch.into_iter().zip(offsets) {
                    let partition = offset["partition"].as_u64().expect("partition") as u32;
                    assert_eq!(
                        partition,
                        silt_core_partition(sent.key.as_bytes(), PARTITIONS),
                        "keyed records go where Kafka's partitioner puts them"
                    );
                    acked.push((
                        (partition, offset["offset"].as_u64().expect("offset")),
                        sent,
                    ));
                }
            }
            acked
        })
    });
    let mut all = HashMap::new();
    for producer in futures::future::join_all(producers).await {
        for (position, sent) in producer.expect("producer") {
            assert!(
                all.insert(position, sent).is_none(),
                "offset {position:?} was assigned twice"
            );
        }
    }
    all
}

/// Kafka's default partitioner, computed independently of Silt's code under test.
fn silt_core_partition(key: &[u8], partitions: u32) -> u32 {
    // murmur2 as in Kafka's Utils.murmur2, seed 0x9747b28c.
    let (m, r) = (0x5bd1_e995u32, 24);
    let mut h = 0x9747_b28cu32 ^ key.len() as u32;
    let chunks = key.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    (h & 0x7fff_ffff) % partitions
}

/// Reads every partition back and checks: offsets contiguous from 0, no duplicates,
/// and every acknowledged record at its offset with the same key, value and headers.
/// Returns the records read per partition.
pub async fn verify_log(
    api: &Api,
    topic: &str,
    partitions: u32,
    acked: &HashMap<(u32, u64), Sent>,
) -> Vec<Vec<Value>> {
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for partition in 0..partitions {
        let records = api.read_partition(topic, partition).await;
        for (index, record) in records.iter().enumerate() {
            let offset = record["offset"].as_u64().expect("offset");
            assert_eq!(
                offset, index as u64,
                "partition {partition}: offsets must be contiguous from 0"
            );
            let key = record["key"].as_str().expect("key").to_owned();
            assert!(seen.insert(key.clone()), "record {key} appears twice");
            if let Some(sent) = acked.get(&(partition, offset)) {
                assert_eq!(key, sent.key, "partition {partition} offset {offset}");
                assert_eq!(
                    record["value"], sent.value,
                    "partition {partition} offset {offset}"
                );
                assert_eq!(
                    record["headers"], sent.headers,
                    "partition {partition} offset {offset}"
                );
                assert_eq!(record["timestamp"].as_u64(), Some(sent.timestamp));
            }
        }
        all.push(records);
    }
    for (partition, offset) in acked.keys() {
        assert!(
            (*offset as usize) < all[*partition as usize].len(),
            "acknowledged record at partition {partition} offset {offset} is missing"
        );
    }
    all
}

async fn exactly_once_round_trip(api: &Api) {
    api.create_topic("events", PARTITIONS).await;
    let started = Instant::now();
    let acked = produce_concurrently(api, "events").await;
    note(&format!(
        "produced {} records in {:?}",
        acked.len(),
        started.elapsed()
    ));
    assert_eq!(acked.len(), CLIENTS * RECORDS_PER_CLIENT);
    let read = verify_log(api, "events", PARTITIONS, &acked).await;
    assert_eq!(
        read.iter().map(Vec::len).sum::<usize>(),
        CLIENTS * RECORDS_PER_CLIENT
    );
    let (_, topic) = api.get("/v1/topics/events").await;
    let high_watermarks: u64 = topic["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["high_watermark"].as_u64().expect("hw"))
        .sum();
    assert_eq!(high_watermarks, (CLIENTS * RECORDS_PER_CLIENT) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filesystem_keeps_every_acknowledged_record_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), None, &[]);
    exactly_once_round_trip(&Api::new(&silt.url)).await;
    let segments = walk(&dir.path().join("data/bucket/segments"));
    assert!(
        !segments.is_empty() && segments.iter().all(|path| path.ends_with(".seg")),
        "{segments:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keeps_every_acknowledged_record_exactly_once() {
    let server = moto();
    let env = server.bucket("exactly-once").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(
        &dir.path().join("data"),
        Some("s3://exactly-once/silt"),
        &env,
    );
    let api = Api::new(&silt.url);
    exactly_once_round_trip(&api).await;
    let keys = server.object_keys("exactly-once").await;
    assert!(
        !keys.is_empty() && keys.iter().all(|key| key.starts_with("silt/segments/")),
        "{keys:?}"
    );
    assert!(
        !dir.path().join("data/bucket").exists(),
        "records must go to the bucket, not the local disk"
    );
    // The gateway cached every segment it flushed: reading it all back cost no GET.
    assert_eq!(
        api.metric("silt_object_store_requests_total{operation=\"get\"}")
            .await,
        0
    );

    // A new process with an empty cache reads everything back from the bucket.
    let mut silt = silt;
    silt.kill9();
    std::fs::remove_dir_all(dir.path().join("data/cache")).expect("remove the disk cache");
    let silt = silt.restart();
    let api = Api::new(&silt.url);
    let gets = "silt_object_store_requests_total{operation=\"get\"}";
    let whole = "silt_whole_segment_reads_total";
    // A consumer of one partition reads just that partition's chunks.
    let records = api.read_partition("events", 3).await;
    assert!(!records.is_empty());
    let one_partition = api.metric(gets).await;
    assert!(one_partition > 0);
    assert_eq!(api.metric(whole).await, 0);
    // Reading the other partitions too reads whole segments, each at most once, and
    // every record comes back.
    let mut total = records.len();
    for partition in (0..PARTITIONS).filter(|&p| p != 3) {
        total += api.read_partition("events", partition).await.len();
    }
    assert_eq!(total, CLIENTS * RECORDS_PER_CLIENT);
    let all = api.metric(gets).await - one_partition;
    assert!(api.metric(whole).await > 0);
    assert!(
        all <= keys.len() as u64,
        "{all} GETs for the other partitions of {} segments",
        keys.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_one_flush_for_a_hundred_partitions_is_one_put() {
    let server = moto();
    let env = server.bucket("one-put").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), Some("s3://one-put"), &env);
    let api = Api::new(&silt.url);
    api.create_topic("wide", 100).await;
    let puts = "silt_object_store_requests_total{operation=\"put\"}";
    let before = api.metric(puts).await;
    let records: Vec<Value> = (0..100)
        .map(|p| json!({"value": {"p": p}, "partition": p}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/wide/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.metric(puts).await - before, 1);
    assert_eq!(server.object_keys("one-put").await.len(), 1);
    for partition in [0, 57, 99] {
        let records = api.read_partition("wide", partition).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["value"], json!({"p": partition}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_and_sse_tail_see_new_records_promptly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), None, &[]);
    let api = Api::new(&silt.url);
    api.create_topic("live", 1).await;

    let poll = {
        let api = api.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = api
                .get("/v1/topics/live/partitions/0/records?offset=0&wait_ms=5000")
                .await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = api
        .post(
            "/v1/topics/live/records",
            json!({"records": [{"value": "first"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let ((status, body), elapsed) = poll.await.expect("poll");
    assert_eq!(status, 200);
    assert_eq!(body["records"][0]["value"], "first");
    assert!(
        elapsed < Duration::from_millis(2500),
        "long-poll took {elapsed:?} for a record produced after 300 ms"
    );

    // A long-poll that nothing answers waits about as long as asked, then returns empty.
    let started = Instant::now();
    let (status, body) = api
        .get("/v1/topics/live/partitions/0/records?offset=1&wait_ms=400")
        .await;
    assert_eq!(
        (status, body["records"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    assert!(started.elapsed() >= Duration::from_millis(350));

    // SSE: replay from 0, then tail live.
    api.post(
        "/v1/topics/live/records",
        json!({"records": [{"value": "second"}, {"value": "third"}]}),
    )
    .await;
    let response = api
        .http
        .get(format!(
            "{}/v1/topics/live/partitions/0/stream?offset=0",
            api.url
        ))
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    let mut events = sse_events(response);
    for (expected_id, expected_value) in [(0, "first"), (1, "second"), (2, "third")] {
        let (id, data) = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("event")
            .expect("open");
        assert_eq!(id, expected_id);
        assert_eq!(data["value"], expected_value);
    }
    api.post(
        "/v1/topics/live/records",
        json!({"records": [{"value": "fourth"}]}),
    )
    .await;
    let (id, data) = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("live event")
        .expect("open");
    assert_eq!((id, data["value"].as_str()), (3, Some("fourth")));

    // Resuming with Last-Event-ID continues after that event.
    let response = api
        .http
        .get(format!("{}/v1/topics/live/partitions/0/stream", api.url))
        .header("Last-Event-ID", "1")
        .send()
        .await
        .expect("stream");
    let mut events = sse_events(response);
    let (id, data) = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("event")
        .expect("open");
    assert_eq!((id, data["value"].as_str()), (2, Some("third")));
}

/// Parses `record` events of a server-sent-events response into (id, data).
fn sse_events(response: reqwest::Response) -> impl futures::Stream<Item = (u64, Value)> + Unpin {
    let mut buffer = String::new();
    Box::pin(response.bytes_stream().flat_map(move |chunk| {
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("sse chunk")));
        let mut events = Vec::new();
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("id:") {
                    id = rest.trim().parse::<u64>().ok();
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data = serde_json::from_str::<Value>(rest.trim()).ok();
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, data));
            }
        }
        futures::stream::iter(events)
    }))
}
