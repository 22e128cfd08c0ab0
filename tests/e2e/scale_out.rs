//! Several gateways on one `silt coordinator`: any gateway serves any member, reads
//! what another wrote, and recognises another's idempotent retries.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_coordinator() {
    let env = moto().bucket("scale-out").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = Silt::coordinator(&dir.path().join("coordinator"));
    let one = Silt::gateway(
        &dir.path().join("g1"),
        "s3://scale-out/log",
        &coordinator.url,
        &env,
    );
    let two = Silt::gateway(
        &dir.path().join("g2"),
        "s3://scale-out/log",
        &coordinator.url,
        &env,
    );
    let (g1, g2) = (Api::new(&one.url), Api::new(&two.url));

    g1.create_topic("orders", 4).await;
    let (status, topic) = g2.get("/v1/topics/orders").await;
    assert_eq!((status, topic["partition_count"].as_u64()), (200, Some(4)));

    // Written through one gateway, read through the other (from the bucket).
    let records: Vec<Value> = (0..40)
        .map(|i| json!({"key": format!("k{i}"), "value": i}))
        .collect();
    let (status, produced) = g1
        .post("/v1/topics/orders/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{produced}");
    let mut values = Vec::new();
    for partition in 0..4 {
        values.extend(
            g2.read_partition("orders", partition)
                .await
                .iter()
                .map(|r| r["value"].as_i64().expect("value")),
        );
    }
    values.sort_unstable();
    assert_eq!(values, (0..40).collect::<Vec<i64>>());
    // The coordinator process serves its own metrics: it leads, and committed what the
    // gateway flushed.
    let coordinator_api = Api::new(&coordinator.url);
    assert_eq!(coordinator_api.metric("silt_coordinator_leader").await, 1);
    assert_eq!(
        coordinator_api
            .metric("silt_coordinator_segments_committed_total")
            .await,
        g1.metric("silt_flushes_total").await
    );

    // A long-poll on one gateway, at the end of a partition, wakes when the other commits.
    let (_, topic) = g2.get("/v1/topics/orders").await;
    let end = topic["partitions"][2]["high_watermark"]
        .as_u64()
        .expect("hw");
    let poll = {
        let g2 = g2.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let path = format!("/v1/topics/orders/partitions/2/records?offset={end}&wait_ms=10000");
            (g2.get(&path).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = g1
        .post(
            "/v1/topics/orders/records",
            json!({"records": [{"value": "late", "partition": 2}]}),
        )
        .await;
    assert_eq!(status, 200);
    let ((status, body), elapsed) = poll.await.expect("poll");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["records"]
            .as_array()
            .expect("records")
            .iter()
            .any(|r| r["value"] == "late"),
        "{body}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "cross-gateway long-poll took {elapsed:?}"
    );

    // A member joins through one gateway and fetches and commits through the other.
    let (status, member) = g1
        .post("/v1/groups/billing/members", json!({"topics": ["orders"]}))
        .await;
    assert_eq!(status, 200, "{member}");
    let id = member["member_id"].as_str().expect("id");
    let (status, fetched) = g2
        .get(&format!(
            "/v1/groups/billing/members/{id}/records?max_records=1000"
        ))
        .await;
    assert_eq!(status, 200, "{fetched}");
    let fetched_records = fetched["records"].as_array().expect("records");
    assert_eq!(fetched_records.len(), 41);
    let mut next = std::collections::BTreeMap::new();
    for record in fetched_records {
        next.insert(
            record["partition"].as_u64().expect("p"),
            record["offset"].as_u64().expect("o") + 1,
        );
    }
    let offsets: Vec<Value> = next
        .iter()
        .map(|(p, o)| json!({"topic": "orders", "partition": p, "offset": o}))
        .collect();
    let (status, body) = g2
        .post(
            "/v1/groups/billing/offsets",
            json!({"member_id": id, "generation": fetched["generation"], "offsets": offsets}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, description) = g1.get("/v1/groups/billing").await;
    assert!(
        description["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .all(|p| p["lag"] == 0),
        "{description}"
    );

    // An idempotent retry sent to the other gateway is recognised.
    let (_, producer) = g1.post("/v1/producers", json!({})).await;
    let stamped = json!({"producer": {"id": producer["producer_id"], "epoch": 0, "sequence": 0}, "records": [{"value": "once"}]});
    let (status, first) = g1.post("/v1/topics/orders/records", stamped.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        g2.post("/v1/topics/orders/records", stamped).await,
        (200, first)
    );
}

/// `silt compactor` as its own process beside a coordinator and a gateway: it compacts
/// what has aged, and the gateway then serves the same records from Parquet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_compactor_compacts_behind_the_gateway() {
    let env = moto().bucket("standalone-compactor").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = Silt::coordinator(&dir.path().join("coordinator"));
    let gateway = Silt::gateway(
        &dir.path().join("gateway"),
        "s3://standalone-compactor",
        &coordinator.url,
        &env,
    );
    let api = Api::new(&gateway.url);
    api.create_topic("clicks", 2).await;
    let records: Vec<Value> = (0..500)
        .map(|i| json!({"key": format!("k{i}"), "value": i}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/clicks/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
    let before = [
        api.read_partition("clicks", 0).await,
        api.read_partition("clicks", 1).await,
    ];

    let metrics_address = format!("127.0.0.1:{}", crate::harness::free_port());
    let mut compactor = std::process::Command::new(crate::harness::SILT)
        .args([
            "compactor",
            "--coordinator",
            &coordinator.url,
            "--object-store",
            "s3://standalone-compactor",
            "--listen",
            &metrics_address,
        ])
        .arg("--data-dir")
        .arg(dir.path().join("compactor"))
        .args(["--interval-ms", "200", "--min-age-ms", "0"])
        .envs(
            env.iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("silt compactor");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, listed) = api.get("/v1/topics/clicks/tables").await;
        if listed["tables"]
            .as_array()
            .is_some_and(|tables| !tables.is_empty())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the compactor did not compact: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its own /metrics shows the progress: the files it swapped in and every record
    // (counted just after each swap, so give it a moment).
    let compactor_api = Api::new(&format!("http://{metrics_address}"));
    let all = (before[0].len() + before[1].len()) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while compactor_api
        .metric("silt_compactor_records_compacted_total")
        .await
        != all
    {
        assert!(
            Instant::now() < deadline,
            "compaction progress never reached {all}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        compactor_api
            .metric("silt_compactor_files_written_total")
            .await
            >= 1
    );
    let _ = compactor.kill();
    let _ = compactor.wait();
    assert_eq!(
        [
            api.read_partition("clicks", 0).await,
            api.read_partition("clicks", 1).await
        ],
        before
    );
}
