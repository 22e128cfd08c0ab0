//! SQL over topics (`POST /v1/query`, `silt query`): the same answers as DuckDB (from
//! PyPI) reading the same compacted Parquet files, the fresh tail visible at once and
//! exactly once (also while the compactor swaps), pruning shown by EXPLAIN, and bad
//! input answered with a clear 4xx that changes nothing.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Api, SILT, Silt};

const DAY_MS: i64 = 86_400_000;
/// 2026-11-01T00:00:00Z.
const FIRST_MS: i64 = 1_793_491_200_000;

/// Posts a query asking for NDJSON; answers the status and the rows (or the error).
async fn query(api: &Api, sql: &str) -> (u16, Vec<Value>) {
    query_with(api, json!({ "sql": sql }), "application/x-ndjson").await
}

async fn query_with(api: &Api, body: Value, accept: &str) -> (u16, Vec<Value>) {
    let (status, text) = raw(api, body, accept).await;
    if status != 200 {
        return (
            status,
            vec![serde_json::from_str(&text).unwrap_or(Value::String(text))],
        );
    }
    let rows = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("an NDJSON row"))
        .collect();
    (status, rows)
}

async fn raw(api: &Api, body: Value, accept: &str) -> (u16, String) {
    let response = api
        .request(reqwest::Method::POST, "/v1/query")
        .header("accept", accept)
        .json(&body)
        .send()
        .await
        .expect("query");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The first column of the only row.
async fn scalar(api: &Api, sql: &str) -> Value {
    let (status, rows) = query(api, sql).await;
    assert_eq!(status, 200, "{sql}: {rows:?}");
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0]
        .as_object()
        .and_then(|row| row.values().next().cloned())
        .expect("a column")
}

/// Produces records `start..start + count` to `payments`: typed values, some that do
/// not fit the schema, tombstones, repeated headers, keys absent or present, days apart.
async fn produce(api: &Api, start: u64, count: u64) {
    let records: Vec<Value> = (start..start + count)
        .map(|i| {
            let city = ["Berlin", "Paris", "Lagos", "Lima"][(i % 4) as usize];
            let value = match i % 50 {
                0 => Value::Null,
                1 => json!({"amount": "not a number", "city": city}),
                _ => json!({
                    "amount": (i * 37) % 2000,
                    "city": city,
                    "address": {"zip": format!("{:05}", i % 13)},
                }),
            };
            let mut record = json!({
                "value": value,
                "headers": [["n", i.to_string()], ["n", null]],
                "timestamp": FIRST_MS + (i % 5) as i64 * DAY_MS + i as i64,
            });
            if i % 3 != 0 {
                record["key"] = json!(format!("user-{}", i % 11));
            }
            record
        })
        .collect();
    let (status, body) = api
        .post("/v1/topics/payments/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Runs a DuckDB script (tests/e2e venv) over the compacted files of `payments`.
fn duckdb(data: &std::path::Path, queries: &Value) -> Value {
    let glob = data.join("bucket/tables/payments/**/*.parquet");
    let script = r#"
import duckdb, json, sys
con = duckdb.connect()
con.execute(f"create view payments as select * exclude (date) from read_parquet('{sys.argv[1]}', hive_partitioning = true, union_by_name = true)")
answers = {}
for name, sql in json.loads(sys.argv[2]).items():
    answers[name] = [list(row) for row in con.execute(sql).fetchall()]
print(json.dumps(answers, default=str))
"#;
    crate::harness::venv_json(
        "duckdb",
        &[
            std::ffi::OsStr::new("-c"),
            script.as_ref(),
            glob.as_os_str(),
            queries.to_string().as_ref(),
        ],
    )
}

/// The rows of `sql` in column order (asked for as CSV; no value here has a comma).
async fn values(api: &Api, sql: &str) -> Vec<Vec<Value>> {
    let (status, csv) = raw(api, json!({ "sql": sql }), "text/csv").await;
    assert_eq!(status, 200, "{sql}: {csv}");
    csv.lines()
        .skip(1)
        .map(|line| line.split(',').map(|cell| json!(cell)).collect())
        .collect()
}

/// Same numbers, whether a JSON integer or DuckDB's float or decimal text.
fn same(ours: &[Vec<Value>], theirs: &Value) -> bool {
    let number = |value: &Value| match value {
        Value::Number(n) => n.as_f64().map(|f| format!("{f:.3}")),
        Value::String(text) => text.parse::<f64>().ok().map(|f| format!("{f:.3}")),
        _ => None,
    };
    let text = |value: &Value| {
        number(value).unwrap_or_else(|| {
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned)
        })
    };
    let ours: Vec<Vec<String>> = ours
        .iter()
        .map(|row| row.iter().map(text).collect())
        .collect();
    let theirs: Vec<Vec<String>> = theirs
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row.as_array().expect("row").iter().map(text).collect())
        .collect();
    ours == theirs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_answers_like_duckdb_and_sees_fresh_records_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let silt = Silt::start(
        &data,
        None,
        &[(
            "SILT_TEST_PAUSE_BEFORE_SWAP_MS".to_owned(),
            "1500".to_owned(),
        )],
    );
    let api = Api::new(&silt.url);
    let schema = json!({"type": "object", "properties": {
        "amount": {"type": "integer"},
        "city": {"type": "string"},
        "address": {"type": "object", "properties": {"zip": {"type": "string"}}},
    }});
    let (status, body) = api
        .post(
            "/v1/topics",
            json!({"name": "payments", "partitions": 3, "value_schema": schema}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Before anything is produced: an empty table.
    assert_eq!(
        scalar(&api, "SELECT count(*) FROM payments").await,
        json!(0)
    );
    for start in (0..3000).step_by(1000) {
        produce(&api, start, 1000).await;
    }
    let (status, summary) = api.post("/v1/topics/payments/compact", json!({})).await;
    assert_eq!(
        (status, summary["records"].as_u64()),
        (200, Some(3000)),
        "{summary}"
    );

    // The same questions to Silt and to DuckDB over the same compacted files.
    let questions = [
        ("count", "SELECT count(*) FROM payments"),
        (
            "by_city",
            "SELECT city, count(*), sum(amount), min(\"offset\") FROM payments WHERE amount > 1000 AND NOT _rejected GROUP BY city ORDER BY city",
        ),
        (
            "partitions",
            "SELECT \"partition\", count(*), max(\"offset\") FROM payments WHERE \"partition\" IN (0, 2) AND \"offset\" >= 100 GROUP BY 1 ORDER BY 1",
        ),
        (
            "rejected_and_tombstones",
            "SELECT count(*) FILTER (WHERE _rejected), count(*) FILTER (WHERE value IS NULL), count(*) FILTER (WHERE key IS NULL) FROM payments",
        ),
        (
            "day",
            "SELECT count(*) FROM payments WHERE \"timestamp\" >= TIMESTAMP '2026-11-03 00:00:00' AND \"timestamp\" < TIMESTAMP '2026-11-04 00:00:00'",
        ),
        (
            "headers",
            "SELECT sum(cardinality(headers)) FROM payments WHERE \"partition\" = 1",
        ),
    ];
    let duck_questions: serde_json::Map<String, Value> = questions
        .iter()
        .map(|(name, sql)| ((*name).to_owned(), json!(sql.replace("cardinality(headers)", "len(headers)"))))
        .chain([
            (
                "zip".to_owned(),
                json!("SELECT address.zip, count(*) FROM payments WHERE address.zip IN ('00003', '00007') GROUP BY 1 ORDER BY 1"),
            ),
            (
                "json".to_owned(),
                json!("SELECT json_extract_string(decode(value), '$.city'), count(*) FROM payments WHERE value IS NOT NULL GROUP BY 1 ORDER BY 1"),
            ),
        ])
        .collect();
    let duck = duckdb(&data, &Value::Object(duck_questions));
    for (name, sql) in questions {
        let rows = values(&api, sql).await;
        assert!(
            same(&rows, &duck[name]),
            "{name}: Silt {rows:?} vs DuckDB {}",
            duck[name]
        );
    }
    let rows = values(
        &api,
        "SELECT payments.address['zip'] AS zip, count(*) FROM payments WHERE payments.address['zip'] IN ('00003', '00007') GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert!(same(&rows, &duck["zip"]), "{rows:?} vs {}", duck["zip"]);
    let rows = values(
        &api,
        "SELECT json_get_str(TRY_CAST(value AS VARCHAR), 'city') AS city, count(*) FROM payments WHERE value IS NOT NULL GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert!(same(&rows, &duck["json"]), "{rows:?} vs {}", duck["json"]);
    assert_eq!(duck["count"][0][0], json!(3000));

    // Records not yet compacted are there at once, each once.
    produce(&api, 3000, 500).await;
    assert_eq!(
        scalar(&api, "SELECT count(*) FROM payments").await,
        json!(3500)
    );
    let (_, topic) = api.get("/v1/topics/payments").await;
    let (status, rows) = query(
        &api,
        "SELECT \"partition\", count(*) AS records, count(DISTINCT \"offset\") AS offsets, min(\"offset\") AS first, max(\"offset\") AS last FROM payments GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(status, 200, "{rows:?}");
    for (row, partition) in rows.iter().zip(topic["partitions"].as_array().expect("p")) {
        let high_watermark = partition["high_watermark"].as_u64().expect("hw");
        assert_eq!(row["records"].as_u64(), Some(high_watermark), "{row}");
        assert_eq!(row["offsets"].as_u64(), Some(high_watermark), "{row}");
        assert_eq!(row["first"].as_u64(), Some(0), "{row}");
        assert_eq!(row["last"].as_u64(), Some(high_watermark - 1), "{row}");
    }
    // The newest record, by its key, the moment its produce was answered.
    let (status, body) = api
        .post(
            "/v1/topics/payments/records",
            json!({"records": [{"key": "just-now", "value": {"amount": 1, "city": "Oslo"}}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        scalar(
            &api,
            "SELECT count(*) FROM payments WHERE key = CAST('just-now' AS BYTEA) AND city = 'Oslo'"
        )
        .await,
        json!(1)
    );

    // While the compactor swaps (it pauses before the swap), queries count each record
    // once: before, during and after.
    let compaction = {
        let api = Api::new(&silt.url);
        tokio::spawn(async move { api.post("/v1/topics/payments/compact", json!({})).await })
    };
    let mut counts = Vec::new();
    while !compaction.is_finished() {
        counts.push(scalar(&api, "SELECT count(*) FROM payments").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, summary) = compaction.await.expect("compaction");
    assert_eq!(
        (status, summary["records"].as_u64()),
        (200, Some(501)),
        "{summary}"
    );
    counts.push(scalar(&api, "SELECT count(*) FROM payments").await);
    assert!(counts.len() >= 5, "{counts:?}");
    assert!(
        counts.iter().all(|count| *count == json!(3501)),
        "{counts:?}"
    );

    // EXPLAIN shows what pruning left: one day of five is one compacted file of two at
    // most, and a partition filter leaves one partition's tail.
    let (status, rows) = query(
        &api,
        "EXPLAIN SELECT count(*) FROM payments WHERE \"timestamp\" < TIMESTAMP '2026-11-01 01:00:00' AND \"partition\" = 1",
    )
    .await;
    assert_eq!(status, 200, "{rows:?}");
    let plan = rows
        .iter()
        .map(|row| row["plan"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("SiltTopicScan: topic=payments"), "{plan}");
    assert!(plan.contains("tail=0 partitions"), "{plan}");
    assert!(plan.contains("of 2"), "{plan}");

    // Other formats: CSV with a header, Arrow IPC through `silt query`.
    let (status, csv) = raw(
        &api,
        json!({"sql": "SELECT city, count(*) AS n FROM payments WHERE city IS NOT NULL GROUP BY city ORDER BY city"}),
        "text/csv",
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    assert!(csv.starts_with("city,n\nBerlin,"), "{csv}");
    let output = Command::new(SILT)
        .args([
            "query",
            "--url",
            &silt.url,
            "SELECT count(*) AS total FROM payments",
        ])
        .output()
        .expect("silt query");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("total") && printed.contains("3501"),
        "{printed}"
    );
    let output = Command::new(SILT)
        .args([
            "query",
            "--url",
            &silt.url,
            "--format",
            "csv",
            "SELECT 1 AS one",
        ])
        .output()
        .expect("silt query");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "one\n1\n");
    let (status, body) = raw(&api, json!({"sql": "SELECT 1"}), "image/png").await;
    assert_eq!(status, 406, "{body}");

    bad_input_changes_nothing(&api, &silt).await;
}

/// Each refused query answers a 4xx naming the problem; produce and queries go on.
async fn bad_input_changes_nothing(api: &Api, silt: &Silt) {
    let refusals = [
        (
            json!({"sql": "SELEC count(*) FROM payments"}),
            "invalid_query",
            "SELEC",
        ),
        (
            json!({"sql": "SELECT count(*) FROM nope"}),
            "invalid_query",
            "nope",
        ),
        (
            json!({"sql": "SELECT wrong_column FROM payments"}),
            "invalid_query",
            "wrong_column",
        ),
        (json!({"sql": "DROP TABLE payments"}), "invalid_query", ""),
        (
            json!({"sql": "CREATE TABLE t AS SELECT 1"}),
            "invalid_query",
            "",
        ),
        (
            json!({"sql": "INSERT INTO payments SELECT * FROM payments"}),
            "invalid_query",
            "",
        ),
        (
            json!({"sql": "SET datafusion.execution.batch_size = 1"}),
            "invalid_query",
            "",
        ),
        (json!({"sql": ""}), "invalid_query", ""),
        (json!({"sql": "SELECT 1; SELECT 2"}), "invalid_query", ""),
        (json!({"sql": "SELECT 1 / 0"}), "invalid_query", ""),
        (
            json!({"sql": format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000))}),
            "invalid_query",
            "",
        ),
        (
            json!({"sql": "SELECT \"offset\" FROM payments", "max_rows": 10}),
            "query_row_limit",
            "10",
        ),
        (
            json!({"sql": "SELECT count(*) FROM payments a, payments b, payments c", "timeout_ms": 200}),
            "query_timeout",
            "200",
        ),
        (json!({"query": "SELECT 1"}), "invalid_json", "query"),
    ];
    for (body, code, named) in refusals {
        let (status, answer) = query_with(api, body.clone(), "application/x-ndjson").await;
        let answer = &answer[0];
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error_code"], json!(code), "{body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains(named),
            "{body}: {answer}"
        );
    }
    // A memory limit: a gateway whose queries may take 2 MiB sorts more than that.
    let small = tempfile::tempdir().expect("tempdir");
    let limited = Silt::start(
        &small.path().join("data"),
        None,
        &[("SILT_QUERY_MEMORY_BYTES".to_owned(), (2 << 20).to_string())],
    );
    let limited_api = Api::new(&limited.url);
    let (status, answer) = query(
        &limited_api,
        "SELECT v, count(*) FROM (SELECT value * 7919 % 1000003 AS v FROM generate_series(1, 3000000) AS t(value)) GROUP BY v ORDER BY v LIMIT 1",
    )
    .await;
    assert_eq!(status, 400, "{answer:?}");
    assert_eq!(
        answer[0]["error_code"],
        json!("query_memory_limit"),
        "{answer:?}"
    );
    drop(limited);
    // A query past its timeout stops working, even one whose operators make many
    // batches from few (a cross join): the process goes idle.
    let (status, answer) = query_with(
        api,
        json!({"sql": "SELECT count(*) FROM payments a, payments b, payments c", "timeout_ms": 300}),
        "application/x-ndjson",
    )
    .await;
    assert_eq!(status, 400, "{answer:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = silt.cpu_time();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = silt.cpu_time() - before;
    assert!(
        used < Duration::from_millis(800),
        "{used:?} of CPU in 2 s after a timeout"
    );
    // Nothing changed, and everything still works.
    assert_eq!(
        scalar(api, "SELECT count(*) FROM payments").await,
        json!(3501)
    );
    let (status, body) = api
        .post(
            "/v1/topics/payments/records",
            json!({"records": [{"value": {"amount": 5}}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        scalar(api, "SELECT count(*) FROM payments").await,
        json!(3502)
    );
}

/// With authentication on, a query reads only topics the caller may read: another is a
/// 403 that names it, and the table list shows only the readable ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_reads_only_topics_the_caller_may_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, admin) = Silt::authenticated(dir.path());
    for topic in ["visible", "hidden"] {
        admin.create_topic(topic, 2).await;
        let (status, body) = admin
            .post(
                &format!("/v1/topics/{topic}/records"),
                json!({"records": [{"value": 1}, {"value": 2}, {"value": 3}]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let key = admin.key_allowed("User:analyst", "visible", "read").await;
    let analyst = Api::new(&silt.url).with_authorization(&format!("Bearer {key}"));
    assert_eq!(
        scalar(&analyst, "SELECT count(*) FROM visible").await,
        json!(3)
    );
    for sql in [
        "SELECT count(*) FROM hidden",
        "SELECT count(*) FROM visible JOIN hidden USING (\"offset\")",
        "SELECT * FROM (SELECT value FROM hidden) AS inner_query",
    ] {
        let (status, answer) = query(&analyst, sql).await;
        assert_eq!(status, 403, "{sql}: {answer:?}");
        assert!(
            answer[0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("hidden"),
            "{answer:?}"
        );
    }
    let (status, rows) = query(
        &analyst,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .await;
    assert_eq!(
        (status, rows),
        (200, vec![json!({"table_name": "visible"})])
    );
    let (status, _) = query(&Api::new(&silt.url), "SELECT 1").await;
    assert_eq!(status, 401);
    // The administrator reads both.
    assert_eq!(
        scalar(&admin, "SELECT count(*) FROM visible, hidden").await,
        json!(9)
    );
}
