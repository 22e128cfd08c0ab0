//! The Kafka wire protocol, driven by Kafka clients nobody here wrote (kafka-python and
//! confluent-kafka from PyPI, installed into `.venv/kafka-clients` by
//! `scripts/test-servers.sh`), against the real binary.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Api, Silt, free_port, workspace_root};

/// `silt dev` on the local filesystem with its Kafka listener on a free port; returns
/// the server and the bootstrap address.
fn silt_with_kafka(dir: &std::path::Path) -> (Silt, String) {
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let silt = Silt::start(
        dir,
        None,
        &[("SILT_KAFKA_LISTEN".into(), bootstrap.clone())],
    );
    (silt, bootstrap)
}

/// Runs `tests/kafka/<script>` with the Kafka clients' Python; returns its last line as JSON.
fn python(script: &str, args: &[&str]) -> Value {
    let python = workspace_root().join(".venv/kafka-clients/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-servers.sh (or scripts/test.sh)",
        python.display()
    );
    let output = Command::new(python)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_produces_and_consumes_the_seed_snippet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
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
    // The same records over HTTP: the topic was created on first use, keys are text and
    // JSON values read back as JSON.
    let api = Api::new(&silt.url);
    let records = api.read_partition("salary-updates", 0).await;
    assert_eq!(records.len(), 200);
    assert_eq!(records[0]["key"], "employee_id_0");
    assert_eq!(records[0]["value"]["salary"], 50_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_python_consumer_group_reads_everything_and_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("salary-updates", 3).await;
    let result = python("kafka_python_group.py", &[&bootstrap, "300"]);
    let seen = result["seen"].as_array().expect("seen");
    let mut keys: Vec<&str> = seen.iter().map(|s| s[2].as_str().expect("key")).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 300, "every record once: {result}");
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
