//! Kafka consumer groups with real clients (kafka-python and confluent-kafka): commit
//! metadata read back by both and over HTTP; a member that died, or a join its client
//! abandoned, holds a new member's join only for its session timeout; and shutting the
//! server down answers pending joins and long-polls at once.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, note, workspace_root};
use crate::kafka::{clients_python, python, silt_with_kafka};

/// A client script whose JSON lines are collected as they come; killed when dropped.
pub(crate) struct Client {
    child: Child,
    /// Each line, with when it came (after the client's start).
    lines: Arc<Mutex<Vec<(Duration, Value)>>>,
    started: Instant,
}

impl Client {
    pub(crate) fn start(script: &str, args: &[&str]) -> Client {
        let mut child = Command::new(clients_python())
            .arg(workspace_root().join("tests/kafka").join(script))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("client");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let started = Instant::now();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    sink.lock().expect("lines").push((started.elapsed(), value));
                }
            }
        });
        Client {
            child,
            lines,
            started,
        }
    }

    /// A librdkafka group member (`confluent_consume.py`, session timeout 6 s).
    fn consumer(bootstrap: &str, topic: &str, group: &str) -> Client {
        Client::start(
            "confluent_consume.py",
            &[bootstrap, topic, group, "commit", "120"],
        )
    }

    /// When the client printed its first assignment, after its start.
    fn assigned(&self) -> Option<Duration> {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .find(|(_, line)| line.get("assigned").is_some())
            .map(|(at, _)| *at)
    }

    /// Waits until `timeout` after the client started for its first assignment; how
    /// long after its start it came.
    fn wait_assigned(&self, what: &str, timeout: Duration) -> Duration {
        loop {
            if let Some(at) = self.assigned() {
                assert!(at < timeout, "{what}: assigned only after {at:?}");
                return at;
            }
            assert!(
                self.started.elapsed() < timeout,
                "{what}: no assignment within {timeout:?} (a join waiting for the rebalance timeout?)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every JSON line so far, in order.
    pub(crate) fn events(&self) -> Vec<Value> {
        let lines = self.lines.lock().expect("lines");
        lines.iter().map(|(_, line)| line.clone()).collect()
    }

    /// Waits up to `timeout` for a line that `wanted` accepts; returns it.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.events().into_iter().find(|line| wanted(line)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; the client printed {:?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_metadata_comes_back_to_both_clients_and_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("checkpointed", 3).await;
    let result = python("commit_metadata.py", &[&bootstrap, "checkpointed"]);
    assert_eq!(
        result["kafka_python"],
        json!([[3, "kafka-python \u{2713}"], [1, ""]]),
        "{result}"
    );
    assert_eq!(
        result["kafka_python_too_large"], "OFFSET_METADATA_TOO_LARGE",
        "{result}"
    );
    assert_eq!(
        result["kafka_python_after_refusal"],
        Value::Null,
        "{result}"
    );
    assert_eq!(
        result["librdkafka"][0],
        json!([5, "librdkafka \u{2713}", 4]),
        "{result}"
    );
    assert_eq!(result["librdkafka"][1][0], 2, "{result}");
    assert_eq!(
        result["librdkafka_too_large"], "OFFSET_METADATA_TOO_LARGE",
        "{result}"
    );
    // Over HTTP, the group description shows what was committed.
    let (status, group) = api.get("/v1/groups/meta-librdkafka").await;
    assert_eq!(status, 200, "{group}");
    let partition = &group["partitions"][0];
    assert_eq!(partition["committed_offset"], 5, "{group}");
    // confluent-kafka's Python binding sends the C string's terminating NUL as part of
    // the metadata (a Kafka broker keeps it too); librdkafka drops it when it reads.
    assert_eq!(
        partition["committed_metadata"]
            .as_str()
            .map(|metadata| metadata.trim_end_matches('\0')),
        Some("librdkafka \u{2713}"),
        "{group}"
    );
    assert_eq!(partition["committed_leader_epoch"], 4, "{group}");
    let (_, group) = api.get("/v1/groups/meta-kafka-python").await;
    assert_eq!(
        group["partitions"][0]["committed_metadata"], "kafka-python \u{2713}",
        "{group}"
    );
    assert_eq!(group["partitions"][1]["committed_metadata"], "", "{group}");
    assert_eq!(
        group["partitions"][2]["committed_offset"],
        Value::Null,
        "{group}"
    );
}

/// A librdkafka consumer (session timeout 6 s, max.poll.interval.ms 300 s, so a
/// rebalance may wait 300 s for members that are alive) is killed; a new one joins
/// its group. Another group's leader is a JoinGroup v3 whose client went away before
/// SyncGroup; a new one joins that group. A third gets MEMBER_ID_REQUIRED (v5) and
/// never comes back. Each new member must get its assignment within about the dead
/// one's session timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_member_or_an_abandoned_join_holds_a_join_only_for_its_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("tasks", 2).await;

    let mut victim = Client::consumer(&bootstrap, "tasks", "dead-member");
    victim.wait_assigned("the first member", Duration::from_secs(30));
    victim.kill();
    let after_kill = Client::consumer(&bootstrap, "tasks", "dead-member");

    let abandoned = python(
        "abandoned_join.py",
        &[&bootstrap, "tasks", "abandoned", "3"],
    );
    assert_eq!(abandoned["error_code"], 0, "{abandoned}");
    let after_abandoned = Client::consumer(&bootstrap, "tasks", "abandoned");

    let pending = python("abandoned_join.py", &[&bootstrap, "tasks", "pending", "5"]);
    // MEMBER_ID_REQUIRED, with the id to join with.
    assert_eq!(pending["error_code"], 79, "{pending}");
    assert!(!pending["member_id"].as_str().unwrap_or_default().is_empty());
    let after_pending = Client::consumer(&bootstrap, "tasks", "pending");

    // 6 s of session timeout, plus the clients' own pace.
    let limit = Duration::from_secs(25);
    let waited = [
        after_kill.wait_assigned("after a killed member", limit),
        after_abandoned.wait_assigned("after an abandoned join", limit),
        after_pending.wait_assigned("after a member that never came back", limit),
    ];
    note(&format!(
        "new members were assigned after {waited:?} (killed member, abandoned join, id never used)"
    ));
}

/// SIGTERM with a JoinGroup waiting (the group's other member is alive but busy, so the
/// rebalance could wait up to 300 s), a Kafka fetch long-poll, an HTTP long-poll and an
/// SSE stream: the server answers them, ends the stream and exits at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_pending_joins_and_long_polls_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("idle", 1).await;
    let busy = Client::start("busy_member.py", &[&bootstrap, "idle", "busy", "120"]);
    busy.wait_assigned("the busy member", Duration::from_secs(30));
    // Joins, which starts a rebalance that waits for the busy member.
    let waiting = Client::consumer(&bootstrap, "idle", "busy");
    // A librdkafka consumer of another group, long-polling the empty partition.
    let tailing = Client::consumer(&bootstrap, "idle", "tailing");
    tailing.wait_assigned("the tailing member", Duration::from_secs(30));
    let url = format!(
        "{}/v1/topics/idle/partitions/0/records?offset=0&wait_ms=30000",
        silt.url
    );
    let http_poll = tokio::spawn(async move {
        let answer = reqwest::get(&url).await;
        answer.map(|response| response.status().as_u16())
    });
    // And a server-sent events stream of it, which would go on forever.
    let url = format!("{}/v1/topics/idle/partitions/0/stream?offset=0", silt.url);
    let sse = tokio::spawn(async move {
        let response = reqwest::get(&url).await?;
        let status = response.status().as_u16();
        response.bytes().await.map(|_| status)
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        waiting.assigned().is_none(),
        "the join should be waiting for the busy member"
    );

    let started = Instant::now();
    silt.terminate();
    let exited = silt.wait_exit(Duration::from_secs(10));
    let took = started.elapsed();
    note(&format!("silt exited {took:?} after SIGTERM"));
    assert!(
        exited.is_some_and(|status| status.success()),
        "silt did not exit within 10 s of SIGTERM ({exited:?}); log:\n{}",
        silt.log_text()
    );
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let polled = tokio::time::timeout(Duration::from_secs(5), http_poll)
        .await
        .expect("the HTTP long-poll was not answered")
        .expect("task");
    assert_eq!(polled.ok(), Some(200), "the HTTP long-poll was answered");
    let streamed = tokio::time::timeout(Duration::from_secs(5), sse)
        .await
        .expect("the SSE stream did not end")
        .expect("task");
    assert_eq!(streamed.ok(), Some(200), "the SSE stream ended cleanly");
}
