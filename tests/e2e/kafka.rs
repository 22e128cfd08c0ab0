//! The Kafka wire protocol, driven by Kafka clients nobody here wrote (kafka-python and
//! confluent-kafka from PyPI, installed into `.venv/kafka-clients` by
//! `scripts/test-servers.sh`), against the real binary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, Silt, free_port, note, random_values, workspace_root};

/// `silt dev` on the local filesystem with its Kafka listener on a free port; returns
/// the server and the bootstrap address.
pub(crate) fn silt_with_kafka(dir: &std::path::Path) -> (Silt, String) {
    silt_advertising(dir, None)
}

/// As [`silt_with_kafka`], telling clients to connect to `advertised_host`.
fn silt_advertising(dir: &std::path::Path, advertised_host: Option<&str>) -> (Silt, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut env = vec![("SILT_KAFKA_LISTEN".into(), listen.clone())];
    if let Some(host) = advertised_host {
        env.push((
            "SILT_KAFKA_ADVERTISED_ADDRESS".into(),
            format!("{host}:{port}"),
        ));
    }
    let silt = Silt::start(dir, None, &env);
    (
        silt,
        advertised_host.map_or(listen, |host| format!("{host}:{port}")),
    )
}

pub(crate) fn clients_python() -> std::path::PathBuf {
    let python = workspace_root().join(".venv/kafka-clients/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-servers.sh (or scripts/test.sh)",
        python.display()
    );
    python
}

/// Runs `tests/kafka/<script>` with the Kafka clients' Python; returns its last line as JSON.
pub(crate) fn python(script: &str, args: &[&str]) -> Value {
    let output = Command::new(clients_python())
        .arg(workspace_root().join("tests/kafka").join(script))
        .args(args)
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|error| panic!("{script} printed {stdout}: {error}"))
}

/// Runs `tests/<script>` with the Kafka clients' Python, whatever its exit (a script
/// that SIGKILLs itself is -9); answers the status and its last line as JSON.
pub(crate) fn run_script(script: &str, args: &[&str]) -> (i32, Value) {
    let output = Command::new(clients_python())
        .arg(workspace_root().join("tests").join(script))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or("{}");
    (
        output.status.code().unwrap_or(-9),
        serde_json::from_str(last).unwrap_or(json!({ "unparsed": last })),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_produces_and_consumes_the_seed_snippet() {
    let dir = tempfile::tempdir().expect("tempdir");
    // As in the seed snippet, clients know the broker as `localhost`.
    let (silt, bootstrap) = silt_advertising(dir.path(), Some("localhost"));
    let result = python("kafka_python_assign.py", &[&bootstrap, "200"]);
    let acked = result["acked"].as_array().expect("acked");
    assert_eq!(acked.len(), 200);
    let seen = result["seen"].as_array().expect("seen");
    assert_eq!(seen.len(), 200, "{result}");
    // Every acknowledged (partition, offset) was read back, with its key and value.
    let mut acked_at: Vec<(u64, u64)> = acked
        .iter()
        .map(|a| (a[0].as_u64().expect("p"), a[1].as_u64().expect("o")))
        .collect();
    let mut seen_at: Vec<(u64, u64)> = seen
        .iter()
        .map(|s| (s[0].as_u64().expect("p"), s[1].as_u64().expect("o")))
        .collect();
    acked_at.sort_unstable();
    seen_at.sort_unstable();
    assert_eq!(acked_at, seen_at);
    for record in seen {
        let key = record[2].as_str().expect("key");
        let employee: u64 = key.trim_start_matches("employee_id_").parse().expect("n");
        assert_eq!(record[3].as_u64(), Some(50_000 + employee));
    }
    // A fetch from offset 5, inside the batch the producer sent, starts at offset 5.
    assert_eq!(result["seek"][0], 0);
    assert_eq!(result["seek"][1], 5);
    let at_five = seen
        .iter()
        .find(|record| record[0] == 0 && record[1] == 5)
        .expect("offset 5");
    assert_eq!(result["seek"][2], at_five[2]);
    // Fetches were served the batches kafka-python sent, as they were stored: none was
    // decoded or encoded, and the seek was served the stored batches again.
    let api = Api::new(&silt.url);
    let encoded = api.metric("silt_kafka_batches_encoded_total").await;
    let as_sent = api.metric("silt_kafka_chunks_served_as_sent_total").await;
    assert_eq!(encoded, 0, "{encoded} batches encoded");
    assert!(as_sent >= 2, "{as_sent} chunks served as sent");
    // The same records over HTTP: the topic was created on first use, keys are text and
    // JSON values read back as JSON.
    let records = api.read_partition("salary-updates", 0).await;
    assert_eq!(records.len(), 200);
    assert_eq!(records[0]["key"], "employee_id_0");
    assert_eq!(records[0]["value"]["salary"], 50_000);
    // After compaction into Parquet a Kafka consumer replays the same records.
    let before = python(
        "kafka_python_read.py",
        &[&bootstrap, "salary-updates", "200"],
    );
    let (status, summary) = api
        .post("/v1/topics/salary-updates/compact", json!({}))
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["records"], 200, "{summary}");
    let after = python(
        "kafka_python_read.py",
        &[&bootstrap, "salary-updates", "200"],
    );
    assert_eq!(before["seen"].as_array().map(Vec::len), Some(200));
    assert_eq!(before, after);
    // ListOffsets: earliest, latest and by timestamp, from segments and from Parquet.
    for listed in [&before, &after] {
        let offsets = [
            &listed["earliest"],
            &listed["latest"],
            &listed["records_in_first"],
            &listed["by_timestamp"],
            &listed["after_the_end"],
        ];
        assert_eq!(listed["earliest"], 0, "{offsets:?}");
        assert_eq!(listed["latest"], listed["records_in_first"], "{offsets:?}");
        assert_eq!(
            listed["by_timestamp"][0], listed["by_timestamp"][1],
            "{offsets:?}"
        );
        assert_eq!(listed["after_the_end"], true, "{offsets:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_python_consumer_group_reads_everything_and_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("salary-updates", 3).await;
    // Interop: records produced over HTTP are read by the kafka-python group too.
    let over_http: Vec<Value> = (0..50)
        .map(|i| json!({"key": format!("http-{i}"), "value": {"salary": i}}))
        .collect();
    let (status, body) = api
        .post(
            "/v1/topics/salary-updates/records",
            json!({ "records": over_http }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let result = python("kafka_python_group.py", &[&bootstrap, "300", "50"]);
    let seen = result["seen"].as_array().expect("seen");
    let mut keys: Vec<&str> = seen.iter().map(|s| s[2].as_str().expect("key")).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 350, "every record once: {result}");
    assert_eq!(seen.len(), 350, "{result}");
    assert!((0..50).all(|i| keys.contains(&format!("http-{i}").as_str())));
    assert_eq!(result["assignment"], serde_json::json!([0, 1, 2]));
    // The group's commits are the group's offsets over HTTP too.
    let (status, group) = api.get("/v1/groups/payroll").await;
    assert_eq!(status, 200, "{group}");
    for partition in group["partitions"].as_array().expect("partitions") {
        assert_eq!(
            partition["committed_offset"], partition["high_watermark"],
            "{group}"
        );
        assert_eq!(partition["lag"], 0);
    }
}

/// A consumer process whose JSON lines are collected as they come.
struct ConsumerProcess {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl ConsumerProcess {
    fn start(args: &[&str]) -> ConsumerProcess {
        let mut child = Command::new(clients_python())
            .arg(workspace_root().join("tests/kafka/confluent_consume.py"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("consumer");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    sink.lock().expect("lines").push(value);
                }
            }
        });
        ConsumerProcess { child, lines }
    }

    fn keys(&self) -> BTreeSet<String> {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .filter_map(|line| line["k"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_idempotent_producers_every_codec_and_a_group_that_survives_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("payments", 6).await;

    // librdkafka: idempotent, acks=all, gzip, snappy, lz4 and zstd.
    let produced = python("confluent_produce.py", &[&bootstrap, "payments", "100"]);
    assert_eq!(produced["failed"], json!([]), "{produced}");
    let acked = produced["acked"].as_array().expect("acked");
    assert_eq!(acked.len(), 400);

    // Interop: what librdkafka produced reads back over HTTP at its acknowledged place,
    // with text keys and JSON values.
    let mut over_http: BTreeMap<String, (u64, u64, Value)> = BTreeMap::new();
    for partition in 0..6 {
        for record in api.read_partition("payments", partition).await {
            let key = record["key"].as_str().expect("key").to_owned();
            let at = (
                u64::from(partition),
                record["offset"].as_u64().expect("offset"),
                record["value"].clone(),
            );
            assert!(over_http.insert(key.clone(), at).is_none(), "{key} twice");
        }
    }
    assert_eq!(over_http.len(), 400);
    for report in acked {
        let key = report[0].as_str().expect("key");
        let (partition, offset, value) = &over_http[key];
        assert_eq!(
            (*partition, *offset),
            (
                report[1].as_u64().expect("p"),
                report[2].as_u64().expect("o")
            ),
            "{key}"
        );
        assert_eq!(
            value["codec"].as_str(),
            key.split('-').next(),
            "{key}: {value}"
        );
    }
    // And the other way: records produced over HTTP are consumed by librdkafka below.
    let records: Vec<Value> = (0..200)
        .map(|i| json!({"key": format!("http-{i}"), "value": {"n": i}}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/payments/records", json!({ "records": records }))
        .await;
    assert_eq!(status, 200, "{body}");
    let all: BTreeSet<String> = over_http
        .keys()
        .cloned()
        .chain((0..200).map(|i| format!("http-{i}")))
        .collect();

    // A group of three librdkafka consumers splits the six partitions; one of them never
    // commits and is killed; the others take over its partitions and get its records.
    let group = "payment-readers";
    let steady = ConsumerProcess::start(&[&bootstrap, "payments", group, "commit", "120"]);
    let other = ConsumerProcess::start(&[&bootstrap, "payments", group, "commit", "120"]);
    let mut victim = ConsumerProcess::start(&[&bootstrap, "payments", group, "no-commit", "120"]);
    wait_until(
        "the three consumers read everything between them",
        Duration::from_secs(90),
        || {
            let mut seen = steady.keys();
            seen.extend(other.keys());
            seen.extend(victim.keys());
            seen.len() == all.len()
                && !victim.keys().is_empty()
                && !steady.keys().is_empty()
                && !other.keys().is_empty()
        },
    );
    let victims = victim.keys();
    note(&format!(
        "the victim read {} records before it was killed",
        victims.len()
    ));
    let _ = victim.child.kill();
    let _ = victim.child.wait();
    let killed = Instant::now();
    wait_until(
        "the survivors received the victim's uncommitted records",
        Duration::from_secs(90),
        || {
            let mut seen = steady.keys();
            seen.extend(other.keys());
            victims.is_subset(&seen)
        },
    );
    note(&format!(
        "the survivors had the victim's records {:?} after the kill",
        killed.elapsed()
    ));
    // The survivors committed everything; the group's offsets say so over HTTP too.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, description) = api.get(&format!("/v1/groups/{group}")).await;
        assert_eq!(status, 200, "{description}");
        let partitions = description["partitions"].as_array().expect("partitions");
        if partitions.len() == 6 && partitions.iter().all(|p| p["lag"] == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not commit everything: {description}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_kafka_retry_returns_the_original_offset_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("retried", 2).await;
    let answers = python("kafka_python_retries.py", &[&bootstrap, "retried"]);
    // (error code, base offset) per produce.
    assert_eq!(answers["first"], json!([0, 0]), "{answers}");
    assert_eq!(answers["retry"], json!([0, 0]), "{answers}");
    assert_eq!(answers["second"], json!([0, 3]), "{answers}");
    assert_eq!(answers["retry_first_again"], json!([0, 0]), "{answers}");
    assert_eq!(answers["other_partition"], json!([0, 0]), "{answers}");
    // OUT_OF_ORDER_SEQUENCE_NUMBER for a gap.
    assert_eq!(answers["gap"][0], 45, "{answers}");
    // Each record is stored once.
    let keys: Vec<String> = api
        .read_partition("retried", 0)
        .await
        .iter()
        .map(|record| record["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(keys, ["a0", "a1", "a2", "b0", "b1"]);
    assert_eq!(api.read_partition("retried", 1).await.len(), 1);
}

/// librdkafka at the edges of Fetch: an empty partition ends (its record set is empty,
/// not null), and a consumer whose `fetch.max.bytes` and response ceiling are 1 MiB
/// reads 8 partitions of 1.2 MB each (a response of all of them would be refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_sees_empty_partitions_end_and_gets_no_more_than_fetch_max_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    sparse_topic(&api).await;
    let eof = python(
        "confluent_fetch_edges.py",
        &["eof", &bootstrap, "sparse", "3"],
    );
    assert_eq!(eof["ended"], json!([0, 1, 2]), "{eof}");
    assert_eq!(eof["received"], 2, "{eof}");

    // 8 partitions of 4 chunks of 3 random 100 kB values (each chunk under 1 MiB).
    wide_topic(&api, 4, 7).await;
    let wide = python(
        "confluent_fetch_edges.py",
        &["max_bytes", &bootstrap, "wide", "8", "96", "1048576"],
    );
    assert_eq!(wide["received"], 96, "{wide}");
    assert_eq!(wide["errors"], json!([]), "{wide}");
}

/// A topic name Kafka does not allow fails a librdkafka producer's message at once
/// (INVALID_TOPIC_EXCEPTION), instead of being retried until its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_fails_at_once_for_an_invalid_topic_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_silt, bootstrap) = silt_with_kafka(dir.path());
    let answer = python("confluent_invalid_topic.py", &[&bootstrap, "no spaces!"]);
    assert_eq!(answer["delivered"], false, "{answer}");
    assert_eq!(answer["error"], "TOPIC_EXCEPTION", "{answer}");
    assert!(
        answer["seconds"].as_f64().expect("seconds") < 20.0,
        "{answer}"
    );
}

/// Kafka's record kept exactly, from two clients' producers to both clients' consumers,
/// over HTTP, and again after compaction into Parquet: null is not empty (keys, values,
/// header values), headers keep their order with a name repeated, and timestamps decades
/// apart in one batch are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_empties_and_repeated_headers_survive_produce_fetch_http_and_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("exact", 2).await;
    let produced = python("kafka_records_exact.py", &["produce", &bootstrap, "exact"]);
    assert_eq!(produced["failed"], json!([]), "{produced}");
    let expected = |partition: u64| {
        // kafka-python (partition 1) cannot send a null header value.
        let first_headers = if partition == 0 {
            json!([["h", "31"], ["h", null], ["e", ""]])
        } else {
            json!([["h", "31"], ["e", ""]])
        };
        // Timestamps decades apart in one batch come back as sent.
        vec![
            json!([partition, 0, 999_999_999_999u64, "74", null, first_headers]),
            json!([partition, 1, 1_764_000_000_000u64, null, "", []]),
            json!([
                partition,
                2,
                1,
                "",
                "76",
                [["a", "31"], ["b", "32"], ["a", "33"]]
            ]),
            json!([
                partition,
                3,
                4_102_444_800_000u64,
                "ff00",
                "00fe",
                [["bin", "ff"]]
            ]),
        ]
    };
    let mut all = expected(0);
    all.extend(expected(1));
    let before = python(
        "kafka_records_exact.py",
        &["consume", &bootstrap, "exact", "8"],
    );
    assert_eq!(before["confluent"], json!(all), "{before}");
    assert_eq!(before["kafka_python"], json!(all), "{before}");
    // Over HTTP: a tombstone is a null value, headers are ordered pairs.
    let records = api.read_partition("exact", 0).await;
    assert_eq!(records[0]["value"], Value::Null, "{}", records[0]);
    assert!(records[0].get("value_base64").is_none(), "{}", records[0]);
    assert_eq!(records[0]["key"], "t");
    assert_eq!(
        records[0]["headers"],
        json!([["h", "1"], ["h", null], ["e", ""]])
    );
    assert_eq!(records[1]["key"], Value::Null);
    assert_eq!(records[1]["value_base64"], "", "{}", records[1]);
    assert_eq!(records[3]["headers"], json!([["bin", {"base64": "/w=="}]]));
    // After compaction the same records come from Parquet.
    let (status, summary) = api.post("/v1/topics/exact/compact", json!({})).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["records"], 8, "{summary}");
    let after = python(
        "kafka_records_exact.py",
        &["consume", &bootstrap, "exact", "8"],
    );
    assert_eq!(after, before);
    assert_eq!(api.read_partition("exact", 0).await, records);
}

/// CreateTopics as a broker checks it, through confluent-kafka's AdminClient: unknown
/// configs and bad values (a cleanup policy Kafka does not have) are INVALID_CONFIG, a replica assignment gives the
/// partition count, a name Kafka does not allow is refused; Metadata carries topic ids
/// that change when a topic is deleted and created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_create_topics_configs_assignments_and_topic_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_silt, bootstrap) = silt_with_kafka(dir.path());
    let answer = python("confluent_admin_topics.py", &[&bootstrap]);
    assert_eq!(answer["unknown_config"], "INVALID_CONFIG", "{answer}");
    assert_eq!(answer["bad_number"], "INVALID_CONFIG", "{answer}");
    assert_eq!(answer["bad_policy"], "INVALID_CONFIG", "{answer}");
    assert_eq!(answer["known_config"], "ok", "{answer}");
    assert_eq!(answer["assigned"], "ok", "{answer}");
    assert_eq!(
        answer["assigned_elsewhere"], "INVALID_REPLICA_ASSIGNMENT",
        "{answer}"
    );
    assert_eq!(answer["invalid_name"], "TOPIC_EXCEPTION", "{answer}");
    assert_eq!(answer["assigned_partitions"], 3, "{answer}");
    assert_eq!(answer["created"], json!(["c4", "c5"]), "{answer}");
    let ids = answer["topic_ids"].as_array().expect("ids");
    assert_ne!(ids[0], ids[1], "{answer}");
    for id in ids {
        assert_ne!(id, "AAAAAAAAAAAAAAAAAAAAAA", "a nil topic id: {answer}");
    }
}

/// DescribeConfigs, DescribeCluster and DeleteRecords through confluent-kafka's
/// AdminClient: a topic's retention as set and the defaults Silt has, the one broker,
/// and a log start that moves (records before it are no longer served).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_describes_configs_and_the_cluster_and_deletes_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    let (status, body) = api
        .post(
            "/v1/topics",
            json!({"name": "configured", "partitions": 2, "retention_ms": 86_400_000}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let records: Vec<Value> = (0..10)
        .map(|i| json!({"value": i, "partition": i % 2}))
        .collect();
    let (status, body) = api
        .post(
            "/v1/topics/configured/records",
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = python("confluent_admin_cluster.py", &[&bootstrap, "configured"]);
    let topic = &answer["topic"];
    // Set explicitly: DYNAMIC_TOPIC_CONFIG (1); defaults: DEFAULT_CONFIG (5).
    assert_eq!(
        topic["retention.ms"],
        json!(["86400000", 1, false]),
        "{answer}"
    );
    assert_eq!(
        topic["retention.bytes"],
        json!(["-1", 5, false]),
        "{answer}"
    );
    // Topic configs Silt honours are alterable; the ones it fixes are read-only.
    assert_eq!(
        topic["cleanup.policy"],
        json!(["delete", 5, false]),
        "{answer}"
    );
    assert_eq!(
        topic["min.insync.replicas"],
        json!(["1", 5, true]),
        "{answer}"
    );
    assert_eq!(
        answer["missing"]["error"], "UNKNOWN_TOPIC_OR_PART",
        "{answer}"
    );
    assert_eq!(
        answer["broker"]["default.replication.factor"][0], "1",
        "{answer}"
    );
    assert_eq!(answer["cluster"]["id"], "silt", "{answer}");
    assert_eq!(
        answer["cluster"]["nodes"].as_array().map(Vec::len),
        Some(1),
        "{answer}"
    );
    assert_eq!(answer["delete_to_3"], 3, "{answer}");
    assert_eq!(answer["delete_past_end"], "OFFSET_OUT_OF_RANGE", "{answer}");
    assert_eq!(answer["delete_all"], 5, "{answer}");
    let (_, described) = api.get("/v1/topics/configured").await;
    assert_eq!(
        described["partitions"][0]["log_start_offset"], 3,
        "{described}"
    );
    assert_eq!(
        described["partitions"][1]["log_start_offset"], 5,
        "{described}"
    );
    let (status, _) = api
        .get("/v1/topics/configured/partitions/0/records?offset=2")
        .await;
    assert_eq!(status, 416);
}

/// Topic `sparse`: 3 partitions, two records in partition 0, the others empty.
pub(crate) async fn sparse_topic(api: &Api) {
    api.create_topic("sparse", 3).await;
    let (status, body) = api
        .post(
            "/v1/topics/sparse/records",
            json!({"records": [{"value": 1, "partition": 0}, {"value": 2, "partition": 0}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Topic `wide`: 8 partitions, each `rounds` requests of 3 random 100 kB values (each
/// request's chunk under 1 MiB), from random state `seed`.
pub(crate) async fn wide_topic(api: &Api, rounds: usize, mut seed: u64) {
    api.create_topic("wide", 8).await;
    for round in 0..rounds {
        for partition in 0..8 {
            let records: Vec<Value> = random_values(&mut seed, 3, 100_000)
                .into_iter()
                .map(|value| json!({"value": value, "partition": partition}))
                .collect();
            let (status, body) = api
                .post("/v1/topics/wide/records", json!({ "records": records }))
                .await;
            assert_eq!(status, 200, "round {round}: {body}");
        }
    }
}
