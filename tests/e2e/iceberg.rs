//! Topics as Apache Iceberg tables, read by PyIceberg (from PyPI) through Silt's REST
//! catalog and straight from the metadata file: a scan equals the log, each snapshot
//! holds exactly what was compacted by then, a filter on `timestamp` skips manifests, a
//! changed value schema is a schema evolution, a crash between the index swap and the
//! Iceberg commit is repaired without duplicates, and retention and garbage collection
//! follow Iceberg's rules.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto, venv_json, workspace_root};

const DAY_MS: i64 = 86_400_000;
/// The snapshot retention of the retention test.
const SNAPSHOT_RETENTION_MS: u64 = 3000;

/// Runs tests/e2e/iceberg.py with PyIceberg on `request`.
fn pyiceberg(request: &Value) -> Value {
    let script = workspace_root().join("tests/e2e/iceberg.py");
    venv_json(
        "iceberg",
        &[script.into_os_string(), request.to_string().into()],
    )
}

/// Produces `count` records to `topic` with times from `first_ms`, a millisecond apart.
async fn produce(api: &Api, topic: &str, start: u64, count: u64, first_ms: i64) {
    let records: Vec<Value> = (start..start + count)
        .map(|i| {
            let city = ["Berlin", "Paris", "Lagos"][(i % 3) as usize];
            json!({
                "key": format!("user-{}", i % 7),
                "value": {"amount": i, "city": city},
                "headers": {"n": i.to_string()},
                "timestamp": first_ms + (i - start) as i64,
            })
        })
        .collect();
    let (status, body) = api
        .post(
            &format!("/v1/topics/{topic}/records"),
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn compact(api: &Api, topic: &str) -> Value {
    let (status, summary) = api
        .post(&format!("/v1/topics/{topic}/compact"), json!({}))
        .await;
    assert_eq!(status, 200, "{summary}");
    summary
}

/// Every record of the log as (partition, offset, key, value).
async fn log_of(api: &Api, topic: &str, partitions: u32) -> Vec<(u64, u64, String, Value)> {
    let mut records = Vec::new();
    for partition in 0..partitions {
        for record in api.read_partition(topic, partition).await {
            records.push((
                u64::from(partition),
                record["offset"].as_u64().expect("offset"),
                record["key"].as_str().unwrap_or_default().to_owned(),
                record["value"].clone(),
            ));
        }
    }
    records
}

/// The (partition, offset, key, value) of PyIceberg's rows.
fn rows_of(rows: &Value) -> Vec<(u64, u64, String, Value)> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let text = |field: &str| {
                row[field]
                    .as_str()
                    .map(|hex| String::from_utf8(decode_hex(hex)).expect("utf-8"))
            };
            (
                row["partition"].as_u64().expect("partition"),
                row["offset"].as_u64().expect("offset"),
                text("key").unwrap_or_default(),
                text("value")
                    .map(|value| serde_json::from_str(&value).expect("json value"))
                    .unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// On moto's S3: four compactions (one day, the next day, decades apart in one file,
/// then after the value schema changed) are four snapshots that PyIceberg reads through
/// the REST catalog and from the metadata file, each equal to what was compacted by
/// then; a filter on the second day reads fewer manifests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_iceberg_tables_equal_to_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s3 = moto();
    let env = s3.bucket("iceberg-tables").await;
    let silt = Silt::start(dir.path(), Some("s3://iceberg-tables"), &env);
    let api = Api::new(&silt.url);
    let schema = json!({"type": "object", "properties": {
        "amount": {"type": "integer"}, "city": {"type": "string"}}});
    let (status, body) = api
        .post(
            "/v1/topics",
            json!({"name": "payments", "partitions": 3, "value_schema": schema}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let today = silt_core::now_ms() / DAY_MS * DAY_MS;
    let first_day = today - 3 * DAY_MS;
    let second_day = today - 2 * DAY_MS;
    produce(&api, "payments", 0, 300, first_day + 1000).await;
    compact(&api, "payments").await;
    produce(&api, "payments", 300, 300, second_day + 1000).await;
    compact(&api, "payments").await;
    // One batch whose records are decades apart: its file spans many days.
    produce(&api, "payments", 600, 1, 631_152_000_000).await;
    produce(&api, "payments", 601, 99, today - DAY_MS / 2).await;
    compact(&api, "payments").await;
    // amount becomes text and country appears: the table's schema evolves.
    let evolved = json!({"type": "object", "properties": {
        "amount": {"type": "string"}, "city": {"type": "string"},
        "country": {"type": "string"}}});
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/v1/topics/payments",
            Some(json!({"value_schema": evolved})),
        )
        .await
        .expect("patch");
    assert_eq!(status, 200, "{body}");
    let records: Vec<Value> = (700..750)
        .map(|i| json!({"key": format!("user-{}", i % 7), "value": {"amount": format!("{i}.00"), "city": "Berlin", "country": "DE"}, "timestamp": today - DAY_MS / 4}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/payments/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
    compact(&api, "payments").await;

    let log = log_of(&api, "payments", 3).await;
    assert_eq!(log.len(), 750);
    let day_start_us = second_day * 1000;
    let request = json!({
        "catalog": {
            "uri": format!("{}/iceberg", silt.url),
            "s3.access-key-id": "test",
            "s3.secret-access-key": "test",
        },
        "table": "silt.payments",
        "columns": ["amount", "city", "country"],
        "filter": format!("timestamp >= {day_start_us} and timestamp < {}", day_start_us + DAY_MS * 1000),
    });
    let report = pyiceberg(&request);
    assert_eq!(report["namespaces"], json!([["silt"]]));
    assert_eq!(report["tables"], json!([["silt", "payments"]]));
    let location = report["metadata_location"].as_str().expect("location");
    assert!(
        location.starts_with("s3://iceberg-tables/tables/payments/metadata/v"),
        "{location}"
    );

    // The current snapshot is the log, record for record, and so is the table loaded
    // straight from its metadata file.
    let mut current = rows_of(&report["rows"]);
    current.sort_by_key(|row| (row.0, row.1));
    let mut expected = log.clone();
    expected.sort_by_key(|row| (row.0, row.1));
    assert_eq!(current, expected);
    assert_eq!(report["static_rows"], 750);
    let headers_ok = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["headers"].as_array().is_some_and(|h| h.len() == 1))
        .count();
    assert_eq!(headers_ok, 700, "records produced with a header keep it");

    // Each snapshot holds exactly what its compaction had compacted.
    let snapshots = report["snapshots"].as_array().expect("snapshots");
    let counts: Vec<u64> = snapshots
        .iter()
        .map(|snapshot| snapshot["rows"].as_array().expect("rows").len() as u64)
        .collect();
    assert_eq!(counts, vec![300, 600, 700, 750], "{report}");
    for snapshot in snapshots {
        assert_eq!(
            snapshot["total_records"].as_u64(),
            snapshot["rows"].as_array().map(|rows| rows.len() as u64)
        );
        assert_eq!(snapshot["operation"], "append");
    }
    let first: BTreeSet<(u64, u64)> = rows_of(&snapshots[0]["rows"])
        .iter()
        .map(|row| (row.0, row.1))
        .collect();
    let expected_first: BTreeSet<(u64, u64)> = log
        .iter()
        .filter(|row| row.3["amount"].as_u64().is_some_and(|amount| amount < 300))
        .map(|row| (row.0, row.1))
        .collect();
    assert_eq!(first, expected_first);
    // Typed columns: the first snapshot reads amount as a long under its schema; the
    // current schema has amount as a string with a new id, so older files have none.
    assert_eq!(report["schema_ids"], json!([0, 1]));
    assert_eq!(snapshots[0]["schema_id"], 0);
    assert_eq!(snapshots[3]["schema_id"], 1);
    let amounts: u64 = snapshots[0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["amount"].as_u64().expect("amount"))
        .sum();
    assert_eq!(amounts, (0..300).sum::<u64>());
    let schema = &report["current_schema"];
    assert_eq!(schema["amount"][1], "string");
    assert_eq!(schema["country"][1], "string");
    assert_ne!(
        schema["amount"][0],
        json!(12),
        "a retyped column gets a new id"
    );
    assert_eq!(
        schema["city"][0],
        json!(13),
        "an unchanged column keeps its id"
    );
    let rows = report["rows"].as_array().expect("rows");
    let texts = rows.iter().filter(|row| row["amount"].is_string()).count();
    let countries = rows.iter().filter(|row| row["country"] == "DE").count();
    assert_eq!((texts, countries), (50, 50));
    assert_eq!(
        rows.iter().filter(|row| row["city"] == "Berlin").count(),
        100 + 100 + 34 + 50,
        "{:?}",
        rows.iter().map(|r| &r["city"]).collect::<Vec<_>>()
    );

    // A filter on the second day plans the second day's file and the one spanning
    // decades, and reads fewer manifests than the snapshot has.
    let filter = &report["filter"];
    crate::harness::note(&format!("iceberg: a filter on one day planned {filter}"));
    assert_eq!(filter["rows"], 300, "{filter}");
    let files = filter["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{filter}");
    assert!(
        filter["manifests_read"].as_u64() < filter["manifests_total"].as_u64(),
        "{filter}"
    );
    assert_eq!(report["specs"], json!([0, 1]));
}

/// A crash between the index swap and the Iceberg commit leaves the previous snapshot
/// readable; the next run commits the file once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_iceberg_commit_is_repaired_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [(
        "SILT_TEST_PAUSE_BEFORE_ICEBERG_MS".to_owned(),
        "4000".to_owned(),
    )];
    let mut silt = Silt::start(dir.path(), None, &env);
    let api = Api::new(&silt.url);
    api.create_topic("orders", 2).await;
    let now = silt_core::now_ms();
    produce(&api, "orders", 0, 100, now).await;
    compact(&api, "orders").await;
    produce(&api, "orders", 100, 100, now).await;
    let url = silt.url.clone();
    let compaction = tokio::spawn(async move {
        Api::new(&url)
            .post("/v1/topics/orders/compact", json!({}))
            .await
    });
    // The swap happens at once; the commit waits four seconds: kill the process then.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    silt.kill9();
    let _ = compaction.await;
    silt.restart_in_place(true);
    let (status, tables) = api.get("/v1/topics/orders/tables").await;
    assert_eq!(status, 200, "{tables}");
    assert_eq!(
        tables["tables"].as_array().map(Vec::len),
        Some(2),
        "the swap happened before the crash: {tables}"
    );
    let request = json!({
        "catalog": {"uri": format!("{}/iceberg", silt.url)},
        "table": "silt.orders",
    });
    let before = pyiceberg(&request);
    assert_eq!(
        before["rows"].as_array().map(Vec::len),
        Some(100),
        "the table is the last committed snapshot"
    );
    // The next run commits the swapped file, once.
    compact(&api, "orders").await;
    let after = pyiceberg(&request);
    let rows = rows_of(&after["rows"]);
    let distinct: BTreeSet<(u64, u64)> = rows.iter().map(|row| (row.0, row.1)).collect();
    assert_eq!((rows.len(), distinct.len()), (200, 200));
    let mut log = log_of(&api, "orders", 2).await;
    log.sort_by_key(|row| (row.0, row.1));
    let mut sorted = rows.clone();
    sorted.sort_by_key(|row| (row.0, row.1));
    assert_eq!(sorted, log);
    assert_eq!(after["snapshots"].as_array().map(Vec::len), Some(2));
}

/// Retention removes an expired file from the next snapshot only: the snapshot before
/// still reads it, and garbage collection keeps it until that snapshot expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_garbage_collection_follow_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [(
        "SILT_SNAPSHOT_RETENTION_MS".to_owned(),
        SNAPSHOT_RETENTION_MS.to_string(),
    )];
    let silt = Silt::start(dir.path(), None, &env);
    let api = Api::new(&silt.url);
    api.create_topic("events", 1).await;
    let now = silt_core::now_ms();
    produce(&api, "events", 0, 50, now - 3 * DAY_MS).await;
    let old = compact(&api, "events").await;
    let old_file = old["files"][0].as_str().expect("file").to_owned();
    produce(&api, "events", 50, 50, now).await;
    compact(&api, "events").await;
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            "/v1/topics/events",
            Some(json!({"retention_ms": DAY_MS})),
        )
        .await
        .expect("patch");
    assert_eq!(status, 200, "{body}");
    let summary = compact(&api, "events").await;
    assert_eq!(summary["expired_records"], 50, "{summary}");

    let request = json!({
        "catalog": {"uri": format!("{}/iceberg", silt.url)},
        "table": "silt.events",
    });
    let report = pyiceberg(&request);
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(50));
    let snapshots = report["snapshots"].as_array().expect("snapshots");
    let counts: Vec<usize> = snapshots
        .iter()
        .map(|s| s["rows"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(counts, vec![50, 100, 50], "{report}");
    assert_eq!(snapshots[2]["operation"], "delete");

    // While the older snapshots are retained, the file stays for them.
    let path = dir.path().join("bucket").join(&old_file);
    let (status, gc) = api.post("/v1/admin/gc?grace_ms=0", json!({})).await;
    assert_eq!(status, 200, "{gc}");
    assert!(gc["kept_for_snapshots"].as_u64() >= Some(1), "{gc}");
    assert!(path.exists(), "{}", path.display());
    assert_eq!(
        pyiceberg(&request)["snapshots"].as_array().map(Vec::len),
        Some(3)
    );

    // Past their retention, they expire and the file goes.
    tokio::time::sleep(Duration::from_millis(SNAPSHOT_RETENTION_MS + 500)).await;
    let (status, gc) = api.post("/v1/admin/gc?grace_ms=0", json!({})).await;
    assert_eq!(status, 200, "{gc}");
    assert_eq!(gc["snapshots_expired"], 2, "{gc}");
    assert!(!path.exists(), "{}", path.display());
    let report = pyiceberg(&request);
    assert_eq!(report["snapshots"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(50));
}

/// The catalog's edges and its ACLs, with `--auth`: one namespace; Iceberg's error model
/// for an unknown namespace, an unknown topic and a topic nothing was compacted of;
/// writes refused; tables a page at a time; a caller sees the tables of the topics it
/// may describe and loads those it may read, and PyIceberg authenticates with an API
/// key. A key compaction is an `overwrite` snapshot that still equals the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_answers_its_edges_and_checks_acls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, admin) = Silt::authenticated(dir.path());
    let open = Api::new(&silt.url);
    let now = silt_core::now_ms();
    for topic in ["a", "b", "c"] {
        admin.create_topic(topic, 1).await;
        produce(&admin, topic, 0, 10, now).await;
        compact(&admin, topic).await;
    }
    admin.create_topic("empty", 1).await;

    let (status, body) = open.get("/iceberg/v1/namespaces").await;
    assert_eq!(status, 401, "{body}");
    let (status, config) = admin.get("/iceberg/v1/config").await;
    assert_eq!(status, 200, "{config}");
    assert!(
        config["endpoints"]
            .as_array()
            .expect("endpoints")
            .contains(&json!(
                "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}"
            )),
        "{config}"
    );
    let error_type = |body: &Value| body["error"]["type"].as_str().map(str::to_owned);
    let (status, body) = admin.get("/iceberg/v1/namespaces/nope/tables").await;
    assert_eq!(
        (status, error_type(&body).as_deref()),
        (404, Some("NoSuchNamespaceException"))
    );
    for missing in ["empty", "missing"] {
        let (status, body) = admin
            .get(&format!("/iceberg/v1/namespaces/silt/tables/{missing}"))
            .await;
        assert_eq!(
            (status, error_type(&body).as_deref()),
            (404, Some("NoSuchTableException")),
            "{missing}: {body}"
        );
    }
    let (status, body) = admin
        .post("/iceberg/v1/namespaces/silt/tables", json!({"name": "x"}))
        .await;
    assert_eq!(
        (status, error_type(&body).as_deref()),
        (406, Some("UnsupportedOperationException"))
    );

    // A page at a time; the empty topic is no table.
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let (status, page) = admin
            .get(&format!(
                "/iceberg/v1/namespaces/silt/tables?pageSize=1{token}"
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let identifiers = page["identifiers"].as_array().expect("identifiers");
        assert!(identifiers.len() <= 1, "{page}");
        names.extend(identifiers.iter().map(|id| id["name"].clone()));
        match page["next-page-token"].as_str() {
            Some(next) => token = format!("&pageToken={next}"),
            None => break,
        }
    }
    assert_eq!(names, vec![json!("a"), json!("b"), json!("c")]);

    // carol may describe and read a, nothing else.
    let (status, body) = admin
        .post("/v1/admin/keys", json!({"principal": "User:carol"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().expect("key").to_owned();
    for operation in ["describe", "read"] {
        let (status, body) = admin
            .post(
                "/v1/admin/acls",
                json!({"principal": "User:carol", "resource_type": "topic",
                       "resource_name": "a", "operation": operation}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let carol = open.with_authorization(&format!("Bearer {key}"));
    let (status, page) = carol.get("/iceberg/v1/namespaces/silt/tables").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["identifiers"],
        json!([{"namespace": ["silt"], "name": "a"}])
    );
    let (status, body) = carol.get("/iceberg/v1/namespaces/silt/tables/b").await;
    assert_eq!(status, 403, "{body}");
    let report = pyiceberg(&json!({
        "catalog": {"uri": format!("{}/iceberg", silt.url), "token": key},
        "table": "silt.a",
    }));
    assert_eq!(report["tables"], json!([["silt", "a"]]));
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(10));

    // Key compaction rewrites the file: an overwrite snapshot, still the log.
    let (status, body) = admin
        .post(
            "/v1/topics",
            json!({"name": "latest", "partitions": 1, "configs": {"cleanup.policy": "compact"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    produce(&admin, "latest", 0, 21, now).await;
    let summary = compact(&admin, "latest").await;
    assert_eq!(summary["records_removed"], 14, "{summary}");
    let admin_key = {
        let (status, body) = admin
            .post("/v1/admin/keys", json!({"principal": "User:admin"}))
            .await;
        assert_eq!(status, 201, "{body}");
        body["key"].as_str().expect("key").to_owned()
    };
    let report = pyiceberg(&json!({
        "catalog": {"uri": format!("{}/iceberg", silt.url), "token": admin_key},
        "table": "silt.latest",
    }));
    let operations: Vec<&Value> = report["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|snapshot| &snapshot["operation"])
        .collect();
    assert_eq!(operations, vec!["append", "overwrite"], "{report}");
    let mut rows = rows_of(&report["rows"]);
    rows.sort_by_key(|row| (row.0, row.1));
    assert_eq!(rows, log_of(&admin, "latest", 1).await);
    assert_eq!(rows.len(), 7);
}
