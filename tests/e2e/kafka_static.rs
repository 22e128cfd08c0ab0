//! Static group membership (KIP-345) with real clients: a librdkafka consumer with a
//! `group.instance.id` that restarts within its session gets its partitions back and
//! the other member sees no rebalance; one gone past its session is removed; a second
//! consumer with the same instance id fences the first. The protocol's edges through
//! kafka-python's protocol classes, and ListGroups' state and type filters through
//! confluent-kafka's AdminClient.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, note};
use crate::kafka::{python, silt_with_kafka};
use crate::kafka_groups::Client;

/// A static member's session timeout in these tests.
const SESSION_MS: &str = "10000";
const SESSION: Duration = Duration::from_secs(10);

/// A librdkafka consumer with `instance` as its `group.instance.id` (range assignor),
/// running `seconds`; `close_after` > 0 closes it that many seconds after its first
/// assignment.
fn static_member(
    bootstrap: &str,
    topic: &str,
    group: &str,
    instance: &str,
    close_after: &str,
) -> Client {
    Client::start(
        "static_member.py",
        &[
            bootstrap,
            topic,
            group,
            instance,
            SESSION_MS,
            "120",
            close_after,
        ],
    )
}

fn assigned(line: &Value) -> Option<Vec<u64>> {
    line.get("assigned")?
        .as_array()?
        .iter()
        .map(Value::as_u64)
        .collect()
}

/// The assignments and revocations a client printed.
fn rebalances(client: &Client) -> Vec<Value> {
    client
        .events()
        .into_iter()
        .filter(|line| line.get("assigned").is_some() || line.get("revoked").is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_static_member_keeps_its_partitions_without_a_rebalance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("shipments", 4).await;
    let limit = Duration::from_secs(30);

    let b = static_member(&bootstrap, "shipments", "depot", "b", "0");
    b.wait_for("b's first assignment", limit, |line| {
        assigned(line).is_some_and(|partitions| partitions.len() == 4)
    });
    // `a` joins (b gives up half its partitions), then closes 4 s after its
    // assignment: a static member's close sends no LeaveGroup.
    let mut a = static_member(&bootstrap, "shipments", "depot", "a", "4");
    let a_first = a.wait_for("a's assignment", limit, |line| assigned(line).is_some());
    b.wait_for("b's share", limit, |line| {
        assigned(line).is_some_and(|partitions| partitions.len() == 2)
    });
    a.wait_for("a closes", limit, |line| line.get("closed").is_some());
    a.kill();
    let before_restart = rebalances(&b);

    // Restarted within its session, `a` joins under a new member id and gets the same
    // partitions, at once.
    let started = Instant::now();
    let mut a_again = static_member(&bootstrap, "shipments", "depot", "a", "0");
    let a_second = a_again.wait_for("a's assignment after its restart", limit, |line| {
        assigned(line).is_some()
    });
    note(&format!(
        "the restarted static member was assigned {:?} after its start",
        started.elapsed()
    ));
    assert_eq!(
        a_second["assigned"], a_first["assigned"],
        "the same partitions"
    );
    assert_ne!(
        a_second["member_id"], a_first["member_id"],
        "a new member id"
    );
    // b heartbeats every 500 ms: a rebalance would have reached it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rebalances(&b),
        before_restart,
        "b saw a rebalance when a restarted"
    );
    // The group shows a's instance id.
    let described = python(
        "confluent_admin_list_groups.py",
        &[&bootstrap, "describe-only", "depot"],
    );
    let mut instances: Vec<Value> = described["described"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|member| member[0].clone())
        .collect();
    instances.sort_by_key(|instance| instance.to_string());
    assert_eq!(instances, vec![json!("a"), json!("b")], "{described}");

    // Gone for good: a's place is kept for its session timeout, then b gets everything.
    a_again.kill();
    let killed = Instant::now();
    loop {
        let now = rebalances(&b);
        let took_all = now.len() > before_restart.len()
            && now
                .last()
                .and_then(assigned)
                .is_some_and(|partitions| partitions.len() == 4);
        if took_all {
            break;
        }
        assert!(
            killed.elapsed() < SESSION * 3,
            "b never took a's partitions: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = killed.elapsed();
    note(&format!(
        "b took the partitions of the static member {waited:?} after it was killed"
    ));
    assert!(
        waited > SESSION - Duration::from_secs(2),
        "a static member was removed before its session timeout ({waited:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_consumer_with_the_same_instance_id_fences_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("ledger", 2).await;
    let limit = Duration::from_secs(30);

    let first = static_member(&bootstrap, "ledger", "books", "clerk", "0");
    first.wait_for("the first consumer's assignment", limit, |line| {
        assigned(line).is_some()
    });
    let second = static_member(&bootstrap, "ledger", "books", "clerk", "0");
    let taken = second.wait_for("the second consumer's assignment", limit, |line| {
        assigned(line).is_some()
    });
    assert_eq!(
        taken["assigned"],
        json!([0, 1]),
        "it takes the first one's place"
    );
    let fenced = first.wait_for("the first consumer is fenced", limit, |line| {
        line.get("error").is_some()
    });
    assert_eq!(fenced["name"], "_FATAL", "{fenced}");
    assert!(
        fenced["error"]
            .as_str()
            .is_some_and(|error| error.contains("fenced")),
        "{fenced}"
    );
    // The fenced consumer never got another assignment.
    assert_eq!(
        first
            .events()
            .iter()
            .filter(|line| line.get("assigned").is_some())
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_membership_edges_over_the_protocol() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silt, bootstrap) = silt_with_kafka(dir.path());
    let api = Api::new(&silt.url);
    api.create_topic("edges", 1).await;
    let answer = python("static_protocol.py", &[&bootstrap, "edges", "edgy"]);
    // An empty instance id is INVALID_REQUEST.
    assert_eq!(answer["join_v5_empty_instance"], 42, "{answer}");
    // v4 has no instance id: a new member is handed its id (MEMBER_ID_REQUIRED).
    assert_eq!(answer["join_v4"], 79, "{answer}");
    // A static member joins at once, named after its instance, and leads.
    assert_eq!(answer["join_v5_static"], json!([0, true, true]), "{answer}");
    assert_eq!(answer["leader_members"], json!([[true, "raw"]]), "{answer}");
    assert_eq!(answer["sync"], 0, "{answer}");
    assert_eq!(answer["heartbeat"], 0, "{answer}");
    // Another member id under the instance: FENCED_INSTANCE_ID; an unknown instance:
    // UNKNOWN_MEMBER_ID.
    assert_eq!(answer["heartbeat_other_member_id"], 82, "{answer}");
    assert_eq!(answer["sync_other_member_id"], 82, "{answer}");
    assert_eq!(answer["heartbeat_unknown_instance"], 25, "{answer}");
    assert_eq!(
        answer["leave"],
        json!([
            0,
            [
                ["", "nobody", 25],
                ["not-a-member", null, 25],
                ["", "raw", 0]
            ]
        ]),
        "{answer}"
    );
    assert_eq!(answer["heartbeat_after_leave"], 25, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_lists_groups_by_state_and_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_silt, bootstrap) = silt_with_kafka(dir.path());
    let answer = python("confluent_admin_list_groups.py", &[&bootstrap]);
    let working = json!(["working", "STABLE", "CLASSIC"]);
    let parked = json!(["parked", "EMPTY", "CLASSIC"]);
    assert_eq!(answer["all"], json!([parked, working]), "{answer}");
    assert_eq!(answer["stable"], json!([working]), "{answer}");
    assert_eq!(answer["empty"], json!([parked]), "{answer}");
    assert_eq!(
        answer["stable_or_empty"],
        json!([parked, working]),
        "{answer}"
    );
    assert_eq!(answer["preparing"], json!([]), "{answer}");
    assert_eq!(answer["classic"], json!([parked, working]), "{answer}");
    assert_eq!(answer["consumer"], json!([]), "{answer}");
    assert_eq!(answer["classic_and_stable"], json!([working]), "{answer}");
    assert_eq!(answer["described"], json!([["worker-1", true]]), "{answer}");
}
