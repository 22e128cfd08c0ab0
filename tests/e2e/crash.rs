//! `kill -9` while producers run: every answered record survives at its offset, and
//! new records continue from the high watermark.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::durable_log::{Sent, record_for, verify_log};
use crate::harness::{Api, Silt, moto, note};

const PARTITIONS: u32 = 4;

async fn crash_while_producing(silt: Silt) {
    let api = Api::new(&silt.url);
    api.create_topic("crashy", PARTITIONS).await;
    let stop = Arc::new(AtomicBool::new(false));
    let producers = (0..4usize).map(|client| {
        let api = api.clone();
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut seq = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<Sent> = (seq..seq + 20).map(|s| record_for(client, s)).collect();
                seq += 20;
                let records: Vec<_> = batch
                    .iter()
                    .map(|s| json!({"key": s.key, "value": s.value, "headers": s.headers, "timestamp": s.timestamp}))
                    .collect();
                match api.send(reqwest::Method::POST, "/v1/topics/crashy/records", Some(json!({ "records": records }))).await {
                    Ok((200, answer)) => {
                        for (sent, offset) in batch.into_iter().zip(answer["offsets"].as_array().expect("offsets")) {
                            let position = (offset["partition"].as_u64().expect("p") as u32, offset["offset"].as_u64().expect("o"));
                            acked.push((position, sent));
                        }
                    }
                    // The process died under us: this request is unanswered, not acknowledged.
                    Ok(_) | Err(_) => break,
                }
            }
            acked
        })
    });
    let producers: Vec<_> = producers.collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut silt = silt;
    silt.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut acked: HashMap<(u32, u64), Sent> = HashMap::new();
    for producer in producers {
        for (position, sent) in producer.await.expect("producer") {
            assert!(
                acked.insert(position, sent).is_none(),
                "offset {position:?} acknowledged twice"
            );
        }
    }
    assert!(
        acked.len() >= 100,
        "only {} records were acknowledged before the kill",
        acked.len()
    );
    note(&format!(
        "{} records acknowledged before kill -9",
        acked.len()
    ));

    let silt = silt.restart();
    let api = Api::new(&silt.url);
    let read = verify_log(&api, "crashy", PARTITIONS, &acked).await;

    // New records continue from the high watermark, with no gap.
    for partition in 0..PARTITIONS {
        let (status, answer) = api
            .post(
                "/v1/topics/crashy/records",
                json!({"records": [{"value": "after restart", "partition": partition}]}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["offsets"][0]["offset"].as_u64(),
            Some(read[partition as usize].len() as u64)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_on_local_filesystem_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    crash_while_producing(Silt::start(&dir.path().join("data"), None, &[])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_on_s3_loses_nothing_acknowledged() {
    let env = moto().bucket("crash").await;
    let dir = tempfile::tempdir().expect("tempdir");
    crash_while_producing(Silt::start(
        &dir.path().join("data"),
        Some("s3://crash/p"),
        &env,
    ))
    .await;
}
