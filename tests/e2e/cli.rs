//! The client commands against a running `silt dev`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{SILT, Silt};

fn silt(url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(SILT)
        .args(args)
        .env("SILT_URL", url)
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
