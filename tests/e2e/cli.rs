//! The client commands against a running `silt dev`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{SILT, Silt};

fn silt(url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    silt_with(url, &[], args, stdin)
}

/// `silt <args>` against `url` with `env` (credentials, say).
fn silt_with(
    url: &str,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let mut child = Command::new(SILT)
        .args(args)
        .env("SILT_URL", url)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn topics_produce_consume_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Silt::start(&dir.path().join("data"), None, &[]);
    let url = server.url.as_str();
    let (ok, out, err) = silt(url, &["topics", "create", "cli", "--partitions", "2"], None);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = silt(url, &["topics", "list"], None);
    assert!(ok && out.contains("cli\t2 partitions"), "{out}");

    let (ok, out, err) = silt(
        url,
        &["produce", "cli", "--key-separator", "=", "--print-offsets"],
        Some("a=apple\nb={\"n\":1}\nplain\n"),
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(err.contains("produced 3 records"), "{err}");

    let (ok, out, err) = silt(url, &["consume", "cli", "--from-beginning"], None);
    assert!(ok, "{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, vec!["apple", "plain", "{\"n\":1}"]);

    let (ok, out, _) = silt(
        url,
        &[
            "consume",
            "cli",
            "--from-beginning",
            "--full",
            "--max-records",
            "1",
            "--partition",
            "0",
        ],
        None,
    );
    assert!(ok);
    let record: serde_json::Value = serde_json::from_str(out.trim()).expect("json line");
    assert_eq!(record["offset"], 0);

    let schema = r#"{"type": "object", "properties": {"amount": {"type": "integer"}}}"#;
    let (ok, out, err) = silt(
        url,
        &["topics", "create", "typed", "--value-schema", schema],
        None,
    );
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        created["value_schema"]["properties"]["amount"]["type"],
        "integer"
    );
    let (ok, _, err) = silt(
        url,
        &["topics", "create", "bad", "--value-schema", "{not json"],
        None,
    );
    assert!(!ok && err.contains("not JSON"), "{err}");

    let (ok, _, err) = silt(url, &["topics", "describe", "missing"], None);
    assert!(!ok && err.contains("topic_not_found"), "{err}");
    let (ok, _, err) = silt(url, &["topics", "delete", "cli"], None);
    assert!(ok, "{err}");
}

/// A short `silt bench --consume --json -`: what it reports adds up with what the
/// server counted.
#[test]
fn bench_reports_throughput_latency_and_object_store_cost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Silt::start(&dir.path().join("data"), None, &[]);
    let url = server.url.as_str();
    let report = bench_report(
        url,
        &[
            "--topic",
            "bench",
            "--partitions",
            "4",
            "--batch",
            "50",
            "--record-bytes",
            "256",
            "--consume",
            "--replay",
        ],
    );
    let requests = report["produce"]["requests_ok"].as_u64().expect("requests");
    assert!(requests >= 40, "{report}");
    assert_eq!(report["produce"]["requests_failed"], 0, "{report}");
    // Every acknowledged record reached a consumer, and had a latency measured.
    assert_eq!(report["records_consumed"], requests * 50, "{report}");
    let end_to_end = &report["produce_to_consume_latency_ms"];
    assert_eq!(end_to_end["samples"], requests * 50, "{report}");
    assert!(end_to_end["p50"].as_f64().expect("p50") > 0.0, "{report}");
    assert!(report["ack_latency_ms"]["p99"].as_f64().expect("p99") > 0.0);
    // One PUT per flush, so a few PUTs for what was produced; priced per GiB.
    let object_store = &report["object_store"];
    let puts = object_store["puts"].as_f64().expect("puts");
    assert!(puts >= 1.0 && puts <= requests as f64, "{report}");
    assert!(object_store["puts_per_gib"].as_f64().expect("per GiB") > 0.0);
    assert!(object_store["request_dollars_per_gib"].as_f64().expect("$") > 0.0);
    // The replay read every record back, all of it from the cache the flushes filled.
    let replay = &report["replay"];
    assert_eq!(replay["records"], requests * 50, "{report}");
    assert!(replay["value_bytes"].as_u64().expect("bytes") > requests * 50 * 200);
    assert!(
        replay["cache_lookups"].as_f64().expect("lookups") > 0.0,
        "{report}"
    );
    assert_eq!(replay["cache_hit_ratio"], 1.0, "{report}");
    assert_eq!(replay["gets"], 0.0, "{report}");

    // --linger-ms: 1,000 records/s per producer gathered for 10 ms are requests of 10.
    let (ok, _, err) = silt(
        url,
        &["bench", "--duration", "1", "--linger-ms", "10"],
        None,
    );
    assert!(!ok && err.contains("--linger-ms needs --rate"), "{err}");
    let report = bench_report(
        url,
        &[
            "--topic",
            "linger",
            "--partitions",
            "2",
            "--record-bytes",
            "100",
            "--linger-ms",
            "10",
        ],
    );
    assert_eq!(report["config"]["batch"], 10, "{report}");
    let requests = report["produce"]["requests_ok"].as_u64().expect("requests");
    assert!((300..=400).contains(&requests), "{report}");
    assert_eq!(report["produce"]["requests_failed"], 0, "{report}");
}

/// Runs a short paced `silt bench` (2 producers, 2,000 records/s for 2 s) with `args`
/// and returns its JSON report.
fn bench_report(url: &str, args: &[&str]) -> serde_json::Value {
    let paced = [
        "--concurrency",
        "2",
        "--duration",
        "2",
        "--warmup",
        "0",
        "--rate",
        "2000",
    ];
    let args: Vec<&str> = std::iter::once("bench")
        .chain(paced)
        .chain(args.iter().copied())
        .chain(["--json", "-"])
        .collect();
    let (ok, out, err) = silt(url, &args, None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("records/s"), "the summary table: {out}");
    let json_start = out.find("{\n").expect("a JSON report");
    serde_json::from_str(&out[json_start..]).expect("json")
}

/// Connection limits of 0 are refused at start with a message naming the setting,
/// before anything listens (a server that starts anyway is killed and fails the test).
#[test]
fn zero_connection_limits_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    for (flag, name) in [
        ("--max-connections", "max_connections"),
        ("--header-timeout-ms", "header_timeout_ms"),
        ("--body-timeout-ms", "body_timeout_ms"),
        ("--http-idle-timeout-ms", "http_idle_timeout_ms"),
        ("--kafka-idle-timeout-ms", "kafka_idle_timeout_ms"),
    ] {
        let mut child = Command::new(SILT)
            .arg("dev")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0"])
            .args([flag, "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("{flag} 0: the server started");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && err.contains(name),
            "{flag}: {err}"
        );
    }
}

#[test]
fn users_keys_and_acls_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("SILT_AUTH".to_owned(), "true".to_owned()),
        (
            "SILT_BOOTSTRAP_ADMIN_PASSWORD".to_owned(),
            "admin-password-1".to_owned(),
        ),
    ];
    let server = Silt::start(&dir.path().join("data"), None, &env);
    let url = server.url.as_str();
    let admin = [
        ("SILT_USER", "admin"),
        ("SILT_PASSWORD", "admin-password-1"),
    ];
    // Without credentials the commands are refused with the server's answer.
    let (ok, _, err) = silt(url, &["users", "list"], None);
    assert!(!ok && err.contains("unauthenticated"), "{err}");

    let (ok, out, err) = silt_with(
        url,
        &admin,
        &["users", "create", "alice"],
        Some("alice-password-1\n"),
    );
    assert!(ok, "{out}{err}");
    let (ok, out, _) = silt_with(url, &admin, &["users", "list"], None);
    assert!(
        ok && out.contains("\"User:alice\"") && out.contains("SCRAM-SHA-512"),
        "{out}"
    );
    assert!(!out.contains("alice-password-1"), "{out}");

    let (ok, out, err) = silt_with(
        url,
        &admin,
        &[
            "keys",
            "create",
            "--principal",
            "User:alice",
            "--description",
            "cli",
        ],
        None,
    );
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("json");
    let key = created["key"].as_str().expect("key").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let alice = [("SILT_API_KEY", key.as_str())];

    let (ok, _, err) = silt_with(url, &admin, &["topics", "create", "ledger"], None);
    assert!(ok, "{err}");
    // Her key works but, without an ACL, may not write.
    let (ok, _, err) = silt_with(url, &alice, &["produce", "ledger"], Some("one\n"));
    assert!(!ok && err.contains("topic_authorization_failed"), "{err}");
    let acl = [
        "--principal",
        "User:alice",
        "--resource-type",
        "topic",
        "--resource-name",
        "led",
        "--pattern-type",
        "prefixed",
        "--operation",
        "write",
    ];
    let (ok, _, err) = silt_with(url, &admin, &[&["acls", "add"][..], &acl].concat(), None);
    assert!(ok, "{err}");
    let (ok, _, err) = silt_with(url, &alice, &["produce", "ledger"], Some("one\n"));
    assert!(ok, "{err}");
    let (ok, out, _) = silt_with(
        url,
        &admin,
        &["acls", "list", "--principal", "User:alice"],
        None,
    );
    assert!(ok && out.contains("\"prefixed\""), "{out}");
    let (ok, out, err) = silt_with(
        url,
        &admin,
        &["acls", "remove", "--principal", "User:alice"],
        None,
    );
    assert!(ok && out.contains("\"removed\""), "{out}{err}");
    let (ok, _, err) = silt_with(url, &alice, &["produce", "ledger"], Some("two\n"));
    assert!(!ok && err.contains("topic_authorization_failed"), "{err}");

    // A revoked key stops working.
    let (ok, _, err) = silt_with(url, &admin, &["keys", "revoke", &id], None);
    assert!(ok, "{err}");
    let (ok, _, err) = silt_with(url, &alice, &["topics", "list"], None);
    assert!(!ok && err.contains("unauthenticated"), "{err}");
    let (ok, out, _) = silt_with(url, &admin, &["topics", "describe", "ledger"], None);
    assert!(
        ok && out.contains("high watermark 1") || out.contains("\"high_watermark\": 1"),
        "{out}"
    );
    let (ok, _, err) = silt_with(url, &admin, &["users", "delete", "alice"], None);
    assert!(ok, "{err}");
}
