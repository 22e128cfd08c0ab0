//! Compaction end to end on moto's S3: 100,000 records over many flushes are rewritten
//! into Parquet, and every offset reads back exactly as before, also while compaction
//! runs and after a restart with an empty cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto, note};

const PARTITIONS: u32 = 4;
const RECORDS: usize = 100_000;

async fn read_all(api: &Api) -> Vec<Vec<Value>> {
    let mut all = Vec::new();
    for partition in 0..PARTITIONS {
        all.push(api.read_partition("history", partition).await);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_records_read_back_identically() {
    let server = moto();
    let env = server.bucket("compaction").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), Some("s3://compaction/log"), &env);
    let api = Api::new(&silt.url);
    api.create_topic("history", PARTITIONS).await;
    for start in (0..RECORDS).step_by(2000) {
        let records: Vec<Value> = (start..start + 2000)
            .map(|i| json!({"key": format!("user-{}", i % 997), "value": {"i": i, "kind": "click"}, "headers": {"n": i.to_string()}}))
            .collect();
        let (status, body) = api
            .post("/v1/topics/history/records", json!({ "records": records }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    note("produced");
    let before = read_all(&api).await;
    note("read before compaction");
    assert_eq!(before.iter().map(Vec::len).sum::<usize>(), RECORDS);

    // A consumer keeps re-reading partition 0 while the compactor swaps the index.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let api = api.clone();
        let expected = before[0].clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::Relaxed) || rounds == 0 {
                let records = api.read_partition("history", 0).await;
                assert_eq!(
                    records, expected,
                    "a reader saw a gap or a change during compaction"
                );
                rounds += 1;
            }
            rounds
        })
    };
    let (status, summary) = api.post("/v1/topics/history/compact", json!({})).await;
    done.store(true, Ordering::Relaxed);
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["records"], RECORDS);
    note(&format!("compaction: {summary}"));
    let rounds = watcher.await.expect("watcher");
    assert!(rounds >= 1);

    note(&format!("watcher read partition 0 {rounds} times"));
    let after = read_all(&api).await;
    note("read after compaction");
    assert_eq!(
        after, before,
        "every offset reads back identically from Parquet"
    );
    let keys = server.object_keys("compaction").await;
    assert!(
        keys.iter()
            .any(|key| key.starts_with("log/tables/history/date=") && key.ends_with(".parquet")),
        "{keys:?}"
    );

    // Nothing is left to compact; a fetch inside a row group starts at that offset.
    let (_, again) = api.post("/v1/topics/history/compact", json!({})).await;
    assert_eq!(again["records"], 0);
    let middle = before[1][before[1].len() / 2].clone();
    let offset = middle["offset"].as_u64().expect("offset");
    let (status, body) = api
        .get(&format!(
            "/v1/topics/history/partitions/1/records?offset={offset}&max_records=3"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["records"][0], middle);

    // A new process with an empty cache reads the Parquet files from the bucket.
    let mut silt = silt;
    silt.kill9();
    std::fs::remove_dir_all(dir.path().join("data/cache")).ok();
    let silt = silt.restart();
    let api = Api::new(&silt.url);
    assert_eq!(read_all(&api).await, before);
    // New records after compaction continue the offsets and read back too.
    let (status, body) = api
        .post(
            "/v1/topics/history/records",
            json!({"records": [{"value": "after", "partition": 2}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["offsets"][0]["offset"].as_u64(),
        Some(before[2].len() as u64)
    );
}

/// DuckDB (from PyPI) reads the compacted files straight from the bucket folder, with
/// Hive partitioning by date, and agrees with the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_compacted_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), None, &[]);
    let api = Api::new(&silt.url);
    api.create_topic("payments", 3).await;
    for start in (0..3000).step_by(500) {
        let records: Vec<Value> = (start..start + 500)
            .map(|i| json!({"key": format!("user-{}", i % 97), "value": {"amount": i % 250, "user": format!("user-{}", i % 97)}}))
            .collect();
        let (status, body) = api
            .post("/v1/topics/payments/records", json!({ "records": records }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, summary) = api.post("/v1/topics/payments/compact", json!({})).await;
    assert_eq!(
        (status, summary["records"].as_u64()),
        (200, Some(3000)),
        "{summary}"
    );

    let (_, topic) = api.get("/v1/topics/payments").await;
    let glob = dir.path().join("data/bucket/tables/payments/**/*.parquet");
    let script = r#"
import duckdb, json, sys
con = duckdb.connect()
files = f"read_parquet('{sys.argv[1]}', hive_partitioning = true)"
partitions = con.execute(f'select "partition", count(*), min("offset"), max("offset"), count(distinct date) from {files} group by 1 order by 1').fetchall()
over_100 = con.execute(f"select count(*) from {files} where json_extract(decode(value), '$.amount')::INTEGER > 100").fetchone()[0]
print(json.dumps({"partitions": partitions, "over_100": over_100}))
"#;
    let answer = duckdb(script, &glob);
    let partitions = answer["partitions"].as_array().expect("partitions");
    // Partitions that received no record have no rows in the files.
    let with_records: Vec<&Value> = topic["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .filter(|p| p["high_watermark"].as_u64() > Some(0))
        .collect();
    assert_eq!(partitions.len(), with_records.len());
    for (row, offsets) in partitions.iter().zip(&with_records) {
        let high_watermark = offsets["high_watermark"].as_u64().expect("hw");
        assert_eq!(row[0], offsets["partition"]);
        assert_eq!(
            row[1].as_u64(),
            Some(high_watermark),
            "count(*) per partition"
        );
        assert_eq!(row[2].as_u64(), Some(0), "min(offset)");
        assert_eq!(row[3].as_u64(), Some(high_watermark - 1), "max(offset)");
        assert_eq!(row[4].as_u64(), Some(1), "one date partition");
    }
    let expected_over_100 = (0..3000).filter(|i| i % 250 > 100).count() as u64;
    assert_eq!(answer["over_100"].as_u64(), Some(expected_over_100));

    // The API lists the same file with each partition's offset range.
    let (status, listed) = api.get("/v1/topics/payments/tables").await;
    assert_eq!(status, 200, "{listed}");
    let tables = listed["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 1, "{listed}");
    let key = tables[0]["object_key"].as_str().expect("key");
    assert!(
        key.starts_with("tables/payments/date=")
            && dir.path().join("data/bucket").join(key).exists(),
        "{key}"
    );
    for (range, offsets) in tables[0]["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .zip(&with_records)
    {
        assert_eq!(range["partition"], offsets["partition"]);
        assert_eq!(
            (range["start_offset"].as_u64(), range["end_offset"].clone()),
            (Some(0), offsets["high_watermark"].clone())
        );
    }
    let (status, _) = api.get("/v1/topics/missing/tables").await;
    assert_eq!(status, 404);
}

async fn produce_batch(api: &Api, topic: &str, label: &str, timestamp: u64) {
    // One request per partition and batch: each becomes its own segment chunk.
    let records: Vec<Value> = (0..50)
        .map(|i| json!({"value": format!("{label}-{i}"), "partition": 0, "timestamp": timestamp, "key": format!("{label}-{i}")}))
        .collect();
    let (status, body) = api
        .post(
            &format!("/v1/topics/{topic}/records"),
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Retention by time and by size removes exactly the expired prefix of whole chunks,
/// and nothing newer; fetches below the new log start get 416.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_exactly_the_expired_prefix() {
    let env = moto().bucket("retention").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), Some("s3://retention"), &env);
    let api = Api::new(&silt.url);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;

    let (status, _) = api
        .post(
            "/v1/topics",
            json!({"name": "by-time", "partitions": 1, "retention_ms": 3_600_000}),
        )
        .await;
    assert_eq!(status, 201);
    produce_batch(&api, "by-time", "old", now - 3 * 3_600_000).await;
    produce_batch(&api, "by-time", "older-but-kept", now - 1_800_000).await;
    produce_batch(&api, "by-time", "new", now).await;
    let (status, summary) = api.post("/v1/topics/by-time/compact", json!({})).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["expired_records"], 50);
    let (_, topic) = api.get("/v1/topics/by-time").await;
    assert_eq!(topic["partitions"][0]["log_start_offset"], 50);
    let (status, body) = api
        .get("/v1/topics/by-time/partitions/0/records?offset=49")
        .await;
    assert_eq!(
        (status, body["log_start_offset"].as_u64()),
        (416, Some(50)),
        "{body}"
    );
    let kept = api.read_partition("by-time", 0).await;
    assert_eq!(kept.len(), 100);
    assert_eq!(kept[0]["value"], "older-but-kept-0");
    assert_eq!(kept[99]["value"], "new-49");

    // By size: keep at least the limit, dropping whole oldest chunks only.
    let (status, _) = api
        .post(
            "/v1/topics",
            json!({"name": "by-size", "partitions": 1, "retention_bytes": 1}),
        )
        .await;
    assert_eq!(status, 201);
    for label in ["a", "b", "c"] {
        produce_batch(&api, "by-size", label, now).await;
    }
    let (status, summary) = api.post("/v1/topics/by-size/compact", json!({})).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary["expired_records"], 100,
        "everything but the newest chunk holds at least 1 byte"
    );
    let kept = api.read_partition("by-size", 0).await;
    assert_eq!(
        kept.iter()
            .map(|r| r["value"].as_str().expect("v").to_owned())
            .collect::<Vec<_>>(),
        (0..50).map(|i| format!("c-{i}")).collect::<Vec<_>>()
    );
}

/// Garbage collection deletes what nothing references (compacted segments, orphans)
/// and never a referenced object, even while producers and the compactor keep going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_keeps_every_referenced_object() {
    let server = moto();
    let env = server.bucket("gc-race").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), Some("s3://gc-race/p"), &env);
    let api = Api::new(&silt.url);
    api.create_topic("busy", 2).await;
    let orphan = "p/segments/abcd/0123456789abcdef0123456789abcdef.seg";
    server
        .put_object("gc-race", orphan, b"never committed")
        .await;
    // The state a compactor killed between its PUT and the swap leaves behind.
    let unswapped = "p/tables/busy/date=2026-01-01/0123456789abcdef0123456789abcdef.parquet";
    server
        .put_object(
            "gc-race",
            unswapped,
            b"PAR1 a file whose swap never happened",
        )
        .await;

    // Producers keep writing while compaction and collection run in rounds.
    let producer = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut acked = 0u64;
            for round in 0..60 {
                let records: Vec<Value> = (0..50)
                    .map(|i| json!({"value": format!("{round}-{i}")}))
                    .collect();
                let (status, body) = api
                    .post("/v1/topics/busy/records", json!({ "records": records }))
                    .await;
                assert_eq!(status, 200, "{body}");
                acked += 50;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            acked
        })
    };
    let (mut collected, mut orphans) = (0, 0);
    for _ in 0..6 {
        let (status, body) = api.post("/v1/topics/busy/compact", json!({})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = api.post("/v1/admin/gc?grace_ms=2000", json!({})).await;
        assert_eq!(status, 200, "{body}");
        collected += body["unreferenced_deleted"].as_u64().expect("count");
        orphans += body["orphans_deleted"].as_u64().expect("count");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let acked = producer.await.expect("producer");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, last) = api.post("/v1/topics/busy/compact", json!({})).await;
    assert!(last["records"].as_u64().is_some(), "{last}");
    let (status, gc) = api.post("/v1/admin/gc?grace_ms=0", json!({})).await;
    assert_eq!(status, 200, "{gc}");
    collected += gc["unreferenced_deleted"].as_u64().expect("count");
    orphans += gc["orphans_deleted"].as_u64().expect("count");
    assert_eq!(orphans, 2, "exactly the planted orphans: {gc}");
    let keys = server.object_keys("gc-race").await;
    assert!(
        !keys.iter().any(|key| key == orphan || key == unswapped),
        "{keys:?}"
    );
    assert!(collected > 0, "compacted segments were collected");

    // Everything acknowledged still reads back, exactly once, and only Parquet is left.
    let mut values = Vec::new();
    for partition in 0..2 {
        values.extend(
            api.read_partition("busy", partition)
                .await
                .iter()
                .map(|r| r["value"].as_str().expect("v").to_owned()),
        );
    }
    let unique: std::collections::BTreeSet<&String> = values.iter().collect();
    assert_eq!((values.len() as u64, unique.len() as u64), (acked, acked));
    let keys = server.object_keys("gc-race").await;
    assert!(
        !keys.iter().any(|key| key.starts_with("p/segments/")),
        "every segment was compacted and collected: {keys:?}"
    );
    assert!(
        keys.iter().any(|key| key.starts_with("p/tables/busy/")),
        "{keys:?}"
    );
    let (status, _) = api.post("/v1/admin/gc?grace_ms=-1", json!({})).await;
    assert_eq!(status, 400);
}

/// Runs a Python script with DuckDB (installed by scripts/test-servers.sh) on `glob`
/// and parses the JSON it prints.
fn duckdb(script: &str, glob: &std::path::Path) -> Value {
    let glob = glob.as_os_str();
    crate::harness::venv_json(
        "duckdb",
        &[std::ffi::OsStr::new("-c"), script.as_ref(), glob],
    )
}

/// A topic's declared value schema becomes typed columns: DuckDB filters on them
/// directly, and values that do not fit are flagged in `_rejected` instead of failing
/// the compaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_columns_are_queryable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), None, &[]);
    let api = Api::new(&silt.url);
    let schema = json!({"type": "object", "properties": {
        "amount": {"type": "integer"},
        "user": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}},
        "tags": {"type": "array", "items": {"type": "string"}}
    }});
    let (status, created) = api
        .post(
            "/v1/topics",
            json!({"name": "orders", "partitions": 2, "value_schema": schema}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["value_schema"], schema);
    let (status, refused) = api.post("/v1/topics", json!({"name": "bad", "value_schema": {"type": "object", "properties": {"offset": {"type": "integer"}}}})).await;
    assert_eq!(
        (status, refused["error_code"].as_str()),
        (400, Some("invalid_argument")),
        "{refused}"
    );

    let mut records: Vec<Value> = (0..300)
        .map(|i| json!({"value": {"amount": i, "user": format!("u{}", i % 5), "at": "2026-11-23T10:00:00Z",
            "address": {"city": if i % 2 == 0 { "Berlin" } else { "Paris" }}, "tags": ["a", "b"], "note": "undeclared is fine"}}))
        .collect();
    records.push(json!({"value": {"amount": "not a number"}}));
    records.push(json!({"value": "just text"}));
    records.push(json!({"value_base64": "AAEC"}));
    let (status, body) = api
        .post("/v1/topics/orders/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, summary) = api.post("/v1/topics/orders/compact", json!({})).await;
    assert_eq!(
        (status, summary["records"].as_u64()),
        (200, Some(303)),
        "{summary}"
    );

    let glob = dir.path().join("data/bucket/tables/orders/**/*.parquet");
    let script = r#"
import duckdb, json, sys
con = duckdb.connect()
files = f"read_parquet('{sys.argv[1]}')"
print(json.dumps({
    "over_100": con.execute(f"select count(*) from {files} where amount > 100").fetchone()[0],
    "rejected": con.execute(f"select count(*) from {files} where _rejected").fetchone()[0],
    "berlin": con.execute(f"select count(*) from {files} where address.city = 'Berlin'").fetchone()[0],
    "types": dict(con.execute(f"select column_name, column_type from (describe select * from {files})").fetchall()),
}))
"#;
    let answer = duckdb(script, &glob);
    assert_eq!(answer["over_100"], 199, "{answer}");
    assert_eq!(answer["rejected"], 3, "{answer}");
    assert_eq!(answer["berlin"], 150, "{answer}");
    assert_eq!(answer["types"]["amount"], "BIGINT", "{answer}");
    assert_eq!(answer["types"]["at"], "TIMESTAMP", "{answer}");
    // The raw value is kept, so every record still reads back as produced.
    let mut values = Vec::new();
    for partition in 0..2 {
        values.extend(api.read_partition("orders", partition).await);
    }
    assert_eq!(values.len(), 303);
    assert!(values.iter().any(|r| r["value"] == "just text"));
    assert!(values.iter().any(|r| r["value_base64"] == "AAEC"));
}

/// `kill -9` between writing a Parquet file and swapping the index leaves the log
/// intact; the file nobody references is collected later, and compaction then works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_put_and_swap_loses_nothing() {
    let server = moto();
    let env = server.bucket("crash-swap").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut paused = env.clone();
    paused.push((
        "SILT_TEST_PAUSE_BEFORE_SWAP_MS".to_owned(),
        "60000".to_owned(),
    ));
    let mut silt = Silt::start(&data, Some("s3://crash-swap"), &paused);
    let api = Api::new(&silt.url);
    api.create_topic("ledger", 2).await;
    let records: Vec<Value> = (0..2000)
        .map(|i| json!({"key": format!("k{i}"), "value": {"i": i}}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/ledger/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
    let before = [
        api.read_partition("ledger", 0).await,
        api.read_partition("ledger", 1).await,
    ];

    let compaction = {
        let api = api.clone();
        tokio::spawn(async move {
            api.send(reqwest::Method::POST, "/v1/topics/ledger/compact", None)
                .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let parquet_written = || async {
        server
            .object_keys("crash-swap")
            .await
            .iter()
            .any(|key| key.starts_with("tables/ledger/") && key.ends_with(".parquet"))
    };
    while !parquet_written().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the compactor never wrote its file"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    silt.kill9();
    assert!(
        compaction.await.expect("join").is_err(),
        "the compaction request died with the process"
    );

    let silt = Silt::start(&data, Some("s3://crash-swap"), &env);
    let api = Api::new(&silt.url);
    assert_eq!(
        [
            api.read_partition("ledger", 0).await,
            api.read_partition("ledger", 1).await
        ],
        before
    );
    let (_, listed) = api.get("/v1/topics/ledger/tables").await;
    assert_eq!(listed["tables"], json!([]), "the swap never happened");
    // S3 timestamps have a precision of a second; let the file age past it.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, gc) = api.post("/v1/admin/gc?grace_ms=0", json!({})).await;
    assert_eq!(
        (status, gc["orphans_deleted"].as_u64()),
        (200, Some(1)),
        "{gc}"
    );
    assert!(!parquet_written().await);
    let (status, summary) = api.post("/v1/topics/ledger/compact", json!({})).await;
    assert_eq!(
        (status, summary["records"].as_u64()),
        (200, Some(2000)),
        "{summary}"
    );
    assert_eq!(
        [
            api.read_partition("ledger", 0).await,
            api.read_partition("ledger", 1).await
        ],
        before
    );
}
