//! The web console in a real browser: headless Chromium (Debian's package) driven by
//! Playwright from PyPI against the real `silt dev`, through tests/e2e/console.py. An
//! operator creates a topic, sees the throughput chart move while records arrive,
//! browses to an offset, tails live, watches a group's lag fall to 0 and resets it,
//! deletes the topic with confirmation, and reads API errors as messages; a topic of
//! 10,000 partitions is shown a page at a time; with `--auth` the console signs in and
//! shows only what the key may see. Screenshots of every page are kept in
//! `target/console-screenshots/` (CI artifacts).

use serde_json::{Value, json};

use crate::harness::{Api, Silt, venv_json, workspace_root};

/// Runs one scenario of tests/e2e/console.py against `url`.
fn browser(url: &str, scenario: &str, key: Option<&str>) -> Value {
    let shots = workspace_root().join("target/console-screenshots");
    let script = workspace_root().join("tests/e2e/console.py");
    let mut args = vec![
        script.into_os_string(),
        url.into(),
        shots.into_os_string(),
        scenario.into(),
    ];
    args.extend(key.map(Into::into));
    venv_json("console", &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uses_the_console_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(dir.path(), None, &[]);
    let api = Api::new(&silt.url);
    api.create_topic("wide", 10_000).await;

    let report = browser(&silt.url, "operator", None);
    assert_eq!(report["first_tab"], "Skip to content", "{report}");
    assert!(
        report["content_security_policy"]
            .as_str()
            .is_some_and(|policy| policy.contains("default-src 'self'")),
        "{report}"
    );
    assert_eq!(report["from_time_first_offset"], "0");
    let bad = report["bad_create_error"].as_str().expect("error");
    assert!(bad.contains("retention_ms"), "{bad}");
    assert_ne!(report["produce_rate_shown"], "0");
    let points = report["chart_points"].as_str().expect("points");
    let heights: Vec<f64> = points
        .split_whitespace()
        .filter_map(|point| point.split(',').nth(1)?.parse().ok())
        .collect();
    assert!(
        heights.windows(2).any(|pair| pair[0] != pair[1]),
        "the throughput line moved: {points}"
    );
    let record = report["record_7"].as_str().expect("record");
    assert!(record.contains("\"n\""), "{record}");
    assert_eq!(report["tail_saw"], true);
    assert!(
        report["produced_from_ui"]
            .as_str()
            .is_some_and(|text| text.starts_with("Produced to partition")),
        "{report}"
    );
    assert_eq!(report["lag_fell_to_zero"], true);
    assert_ne!(report["lag_before"], "0");
    let refused = report["reset_with_member"].as_str().expect("refusal");
    assert!(
        refused.contains("HTTP 409") || refused.contains("member"),
        "{refused}"
    );
    assert_eq!(
        report["lag_after_reset"], report["lag_before"],
        "back to the earliest: the whole topic is lag again (the UI record and the live one included)"
    );
    assert_eq!(report["delete_disabled_before_confirming"], true);
    assert_eq!(report["delete_disabled_on_a_typo"], true);
    assert_eq!(report["topics_after_delete"], json!(["wide"]));
    let missing = report["missing_topic_error"].as_str().expect("error");
    assert!(
        missing.contains("orders") && missing.contains("404"),
        "{missing}"
    );
    assert_eq!(report["phone_overflow"], 0, "{report}");
    assert_eq!(report["page_errors"], json!([]));

    let wide = browser(&silt.url, "many_partitions", None);
    assert_eq!(wide["wide_rows"], 100, "{wide}");
    assert_eq!(wide["wide_rows_page_2"], 100, "{wide}");
    crate::harness::note(&format!(
        "console: first page of a 10,000-partition topic in {} s",
        wide["wide_first_page_s"]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_and_shows_what_the_key_may_see() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, admin) = Silt::authenticated(dir.path());
    for topic in ["visible", "hidden"] {
        admin.create_topic(topic, 1).await;
    }
    let key = admin
        .key_allowed("User:viewer", "visible", "describe")
        .await;

    let report = browser(&silt.url, "signed_in", Some(&key));
    assert!(
        report["wrong_key"]
            .as_str()
            .is_some_and(|text| text.contains("not accepted")),
        "{report}"
    );
    assert_eq!(report["visible_topics"], json!(["visible"]));
    let overview = report["overview_error"].as_str().expect("error");
    assert!(
        overview.contains("403"),
        "the overview needs cluster DESCRIBE: {overview}"
    );
}
