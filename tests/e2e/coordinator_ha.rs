//! The coordinator on a real PostgreSQL: a standby takes over when the leader dies, a
//! leader that loses its database stops serving, and `silt coordinator restore`
//! rebuilds a dropped database from the bucket.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, SILT, Silt, localstack, moto, note};
use crate::test_postgres;

/// Produces `count` keyed records and returns (key → (partition, offset)).
async fn produce(
    api: &Api,
    topic: &str,
    prefix: &str,
    count: usize,
) -> BTreeMap<String, (u64, u64)> {
    let records: Vec<Value> = (0..count)
        .map(|i| json!({"key": format!("{prefix}-{i}"), "value": i}))
        .collect();
    let (status, body) = api
        .post(
            &format!("/v1/topics/{topic}/records"),
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .enumerate()
        .map(|(i, offset)| {
            (
                format!("{prefix}-{i}"),
                (
                    offset["partition"].as_u64().expect("partition"),
                    offset["offset"].as_u64().expect("offset"),
                ),
            )
        })
        .collect()
}

/// Every record of `topic` as (key → (partition, offset)); offsets must be contiguous.
async fn read_all(api: &Api, topic: &str, partitions: u32) -> BTreeMap<String, (u64, u64)> {
    let mut all = BTreeMap::new();
    for partition in 0..partitions {
        for (expected, record) in api
            .read_partition(topic, partition)
            .await
            .iter()
            .enumerate()
        {
            let offset = record["offset"].as_u64().expect("offset");
            assert_eq!(
                offset, expected as u64,
                "contiguous offsets in partition {partition}"
            );
            let key = record["key"].as_str().expect("key").to_owned();
            assert!(
                all.insert(key.clone(), (u64::from(partition), offset))
                    .is_none(),
                "{key} twice"
            );
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_and_a_leader_without_its_database_stops() {
    let env = moto().bucket("coordinator-ha").await;
    let postgres = test_postgres::server();
    let database = postgres.create_database();
    let url = postgres.url(&database);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = Silt::coordinator_on_postgres(&url, "s3://coordinator-ha", 500, &env, true);
    let mut second = Silt::coordinator_on_postgres(&url, "s3://coordinator-ha", 500, &env, false);
    assert!(
        !second.answers_ok("/readyz", Duration::from_secs(1)),
        "the second coordinator must wait as a standby"
    );
    let gateway = Silt::gateway(
        &dir.path().join("gateway"),
        "s3://coordinator-ha",
        &format!("{},{}", first.url, second.url),
        &env,
    );
    let api = Api::new(&gateway.url);
    api.create_topic("orders", 3).await;
    let mut acknowledged = produce(&api, "orders", "before", 100).await;

    // The leader dies: the standby takes the lock and the gateway follows it.
    first.kill9();
    let killed = Instant::now();
    assert!(
        second.answers_ok("/readyz", Duration::from_secs(20)),
        "the standby did not take over; log:\n{}",
        second.log_text()
    );
    let takeover = killed.elapsed();
    note(&format!(
        "standby took over {takeover:?} after the leader was killed"
    ));
    assert!(
        takeover < Duration::from_secs(10),
        "took over after {takeover:?}"
    );
    acknowledged.extend(produce(&api, "orders", "after-failover", 100).await);
    assert_eq!(read_all(&api, "orders", 3).await, acknowledged);

    // The old leader comes back as a standby; the new leader loses its database
    // connection (and with it the lock): it stops, and the standby leads.
    first.restart_in_place(false);
    assert!(!first.answers_ok("/readyz", Duration::from_millis(500)));
    let terminated = postgres.psql(
        &database,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert_eq!(terminated, "1", "one connection holds the leader lock");
    let status = second
        .wait_exit(Duration::from_secs(15))
        .expect("a leader without its database must stop");
    assert!(!status.success(), "it stops with an error: {status}");
    assert!(
        second.log_text().contains("lost the metadata database"),
        "{}",
        second.log_text()
    );
    assert!(
        first.answers_ok("/readyz", Duration::from_secs(20)),
        "the standby did not take over; log:\n{}",
        first.log_text()
    );
    acknowledged.extend(produce(&api, "orders", "after-loss", 100).await);
    assert_eq!(read_all(&api, "orders", 3).await, acknowledged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rebuilds_a_dropped_database_from_the_bucket() {
    let env = localstack().bucket("restore").await;
    let postgres = test_postgres::server();
    let database = postgres.create_database();
    let url = postgres.url(&database);
    let dir = tempfile::tempdir().expect("tempdir");
    // Snapshots only when a coordinator starts to lead, so that the test knows which
    // records the snapshot holds and which must be replayed from the segments.
    let mut coordinator =
        Silt::coordinator_on_postgres(&url, "s3://restore", 3_600_000, &env, true);
    let mut gateway = Silt::gateway(
        &dir.path().join("gateway"),
        "s3://restore",
        &coordinator.url,
        &env,
    );
    let api = Api::new(&gateway.url);
    api.create_topic("orders", 4).await;
    let mut acknowledged = produce(&api, "orders", "in-snapshot", 200).await;
    let (status, member) = api
        .post("/v1/groups/billing/members", json!({"topics": ["orders"]}))
        .await;
    assert_eq!(status, 200, "{member}");
    let offsets: Vec<Value> = (0..4)
        .map(|partition| json!({"topic": "orders", "partition": partition, "offset": 10}))
        .collect();
    let (status, body) = api
        .post(
            "/v1/groups/billing/offsets",
            json!({"member_id": member["member_id"], "generation": member["generation"], "offsets": offsets}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A restart writes a snapshot at once; what follows is only in segments.
    coordinator.restart_in_place(true);
    acknowledged.extend(produce(&api, "orders", "after-snapshot", 150).await);
    acknowledged.extend(produce(&api, "orders", "after-snapshot-2", 50).await);
    let before = read_all(&api, "orders", 4).await;
    assert_eq!(before, acknowledged);

    // The database is lost.
    coordinator.kill9();
    gateway.kill9();
    postgres.psql(
        "postgres",
        &format!("DROP DATABASE {database} WITH (FORCE)"),
    );
    postgres.psql("postgres", &format!("CREATE DATABASE {database}"));

    let output = std::process::Command::new(SILT)
        .args(["coordinator", "restore", "--metadata-url", &url])
        .args(["--object-store", "s3://restore"])
        .envs(
            env.iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
        .output()
        .expect("silt coordinator restore");
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    note(&format!("restore: {report}"));
    assert_eq!(report["topics"], 1, "{report}");
    assert_eq!(report["records_replayed"], 200, "{report}");
    assert!(
        report["segments_replayed"].as_u64().expect("replayed") >= 2,
        "{report}"
    );
    // Restoring again refuses: the store is no longer empty.
    let again = std::process::Command::new(SILT)
        .args(["coordinator", "restore", "--metadata-url", &url])
        .args(["--object-store", "s3://restore"])
        .envs(
            env.iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
        .output()
        .expect("silt coordinator restore");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    coordinator.restart_in_place(true);
    std::fs::remove_dir_all(dir.path().join("gateway")).ok();
    gateway.restart_in_place(true);
    let api = Api::new(&gateway.url);
    assert_eq!(
        read_all(&api, "orders", 4).await,
        before,
        "the same records at the same offsets"
    );
    let (_, group) = api.get("/v1/groups/billing").await;
    assert!(
        group["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .all(|partition| partition["committed_offset"] == 10),
        "{group}"
    );
}
