//! Consumer groups through the router.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Harness, call, create, get, harness, post};

async fn produce(h: &Harness, topic: &str, partitions: u32, per_partition: u32) {
    let records: Vec<Value> = (0..partitions)
        .flat_map(|p| {
            (0..per_partition).map(move |i| json!({"value": format!("{p}-{i}"), "partition": p}))
        })
        .collect();
    let (status, body) = post(
        &h.router,
        &format!("/v1/topics/{topic}/records"),
        json!({ "records": records }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn join(h: &Harness, group: &str, topic: &str, session_timeout_ms: u64) -> Value {
    let body = json!({"topics": [topic], "session_timeout_ms": session_timeout_ms});
    let (status, member) = post(&h.router, &format!("/v1/groups/{group}/members"), body).await;
    assert_eq!(status, StatusCode::OK, "{member}");
    member
}

/// Fetches until a fetch returns nothing; returns "partition-index" values.
async fn drain(h: &Harness, group: &str, member: &str) -> (Vec<String>, Value) {
    let mut values = Vec::new();
    loop {
        let (status, body) = get(
            &h.router,
            &format!("/v1/groups/{group}/members/{member}/records?max_records=7"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let records = body["records"].as_array().expect("records").clone();
        if records.is_empty() {
            return (values, body);
        }
        values.extend(
            records
                .iter()
                .map(|r| r["value"].as_str().expect("value").to_owned()),
        );
    }
}

/// The next offset to commit for each partition a fetch answer covered.
fn commit_points(records: &[Value]) -> Vec<Value> {
    let mut next: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for record in records {
        let key = (
            record["topic"].as_str().expect("topic").to_owned(),
            record["partition"].as_u64().expect("p"),
        );
        next.insert(key, record["offset"].as_u64().expect("offset") + 1);
    }
    next.into_iter().map(|((topic, partition), offset)| json!({"topic": topic, "partition": partition, "offset": offset})).collect()
}

#[tokio::test]
async fn two_groups_read_independently_and_each_sees_everything_once() {
    let h = harness().await;
    create(&h.router, "orders", 3).await;
    produce(&h, "orders", 3, 5).await;
    for group in ["billing", "shipping"] {
        let member = join(&h, group, "orders", 10_000).await;
        let (values, _) = drain(&h, group, member["member_id"].as_str().expect("id")).await;
        let unique: BTreeSet<&String> = values.iter().collect();
        assert_eq!(
            (values.len(), unique.len()),
            (15, 15),
            "{group}: {values:?}"
        );
    }
}

#[tokio::test]
async fn rebalance_splits_partitions_without_overlap() {
    let h = harness().await;
    create(&h.router, "wide", 12).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            join(&h, "g", "wide", 10_000).await["member_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let assignments = |h: &Harness, members: Vec<String>| {
        let router = h.router.clone();
        async move {
            let mut all = Vec::new();
            let mut generations = BTreeSet::new();
            for member in &members {
                let (status, body) = call(
                    &router,
                    "POST",
                    &format!("/v1/groups/g/members/{member}/heartbeat"),
                    "application/json",
                    Body::empty(),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                generations.insert(body["generation"].as_u64().expect("generation"));
                all.push(body["assignments"].as_array().expect("assignments").len());
            }
            (all, generations)
        }
    };
    let (counts, generations) = assignments(&h, members.clone()).await;
    assert_eq!(counts, vec![4, 4, 4]);
    assert_eq!(generations.len(), 1);
    members.push(
        join(&h, "g", "wide", 10_000).await["member_id"]
            .as_str()
            .expect("id")
            .to_owned(),
    );
    let (counts, generations) = assignments(&h, members.clone()).await;
    assert_eq!(counts, vec![3, 3, 3, 3]);
    assert_eq!(
        generations.len(),
        1,
        "every member sees the same generation"
    );
    let (_, description) = get(&h.router, "/v1/groups/g").await;
    let owners: Vec<&str> = description["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .filter_map(|p| p["owner"].as_str())
        .collect();
    assert_eq!(
        owners.len(),
        12,
        "every partition has exactly one owner: {description}"
    );
}

#[tokio::test]
async fn uncommitted_work_of_a_dead_member_is_redelivered() {
    let h = harness().await;
    create(&h.router, "jobs", 2).await;
    produce(&h, "jobs", 2, 4).await;
    let a = join(&h, "workers", "jobs", 300).await;
    let b = join(&h, "workers", "jobs", 10_000).await;
    let a_id = a["member_id"].as_str().expect("id").to_owned();
    let b_id = b["member_id"].as_str().expect("id").to_owned();
    // A fetches its partition's records and dies without committing.
    let (status, fetched) = get(
        &h.router,
        &format!("/v1/groups/workers/members/{a_id}/records"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    let a_records: Vec<String> = fetched["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["value"].as_str().expect("v").to_owned())
        .collect();
    assert_eq!(a_records.len(), 4);
    let a_generation = fetched["generation"].as_u64().expect("generation");
    // B works through its own partition and commits.
    let (b_first, _) = drain(&h, "workers", &b_id).await;
    assert_eq!(b_first.len(), 4);
    assert!(b_first.iter().all(|v| !a_records.contains(v)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // After A's session timeout, B receives exactly A's records.
    let (redelivered, last) = drain(&h, "workers", &b_id).await;
    assert_eq!(redelivered, a_records);
    assert_eq!(
        last["assignments"].as_array().expect("assignments").len(),
        2
    );
    // A's late commit is refused, and changes nothing.
    let late = json!({"member_id": a_id, "generation": a_generation, "offsets": [{"topic": "jobs", "partition": 0, "offset": 4}, {"topic": "jobs", "partition": 1, "offset": 4}]});
    let (status, body) = post(&h.router, "/v1/groups/workers/offsets", late).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::CONFLICT, Some("stale_generation")),
        "{body}"
    );
    let (_, description) = get(&h.router, "/v1/groups/workers").await;
    assert!(
        description["partitions"]
            .as_array()
            .expect("p")
            .iter()
            .all(|p| p["committed_offset"].is_null()),
        "{description}"
    );
}

#[tokio::test]
async fn commits_lag_and_bad_input() {
    let h = harness().await;
    create(&h.router, "events", 2).await;
    produce(&h, "events", 2, 10).await;
    let member = join(&h, "g", "events", 10_000).await;
    let id = member["member_id"].as_str().expect("id").to_owned();
    let generation = member["generation"].as_u64().expect("generation");
    let (status, fetched) = get(
        &h.router,
        &format!("/v1/groups/g/members/{id}/records?max_records=6"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let points = commit_points(fetched["records"].as_array().expect("records"));
    let (status, body) = post(
        &h.router,
        "/v1/groups/g/offsets",
        json!({"member_id": id, "generation": generation, "offsets": points}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, description) = get(&h.router, "/v1/groups/g").await;
    let mut total_lag = 0;
    for partition in description["partitions"].as_array().expect("partitions") {
        let committed = partition["committed_offset"].as_u64().unwrap_or(0);
        assert_eq!(
            partition["lag"].as_u64(),
            Some(partition["high_watermark"].as_u64().expect("hw") - committed),
            "{partition}"
        );
        total_lag += partition["lag"].as_u64().expect("lag");
    }
    assert_eq!(total_lag, 20 - 6);

    let commit = |member: &str, generation: u64, partition: u32, offset: u64| json!({"member_id": member, "generation": generation, "offsets": [{"topic": "events", "partition": partition, "offset": offset}]});
    let before = get(&h.router, "/v1/groups/g").await.1;
    for (what, method, uri, body, status, code) in [
        (
            "unknown member fetch",
            "GET",
            "/v1/groups/g/members/nobody/records".to_string(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "unknown_member",
        ),
        (
            "unknown group",
            "GET",
            "/v1/groups/nope/members/x/records".to_string(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "group_not_found",
        ),
        (
            "unknown group describe",
            "GET",
            "/v1/groups/nope".to_string(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "group_not_found",
        ),
        (
            "commit beyond hw",
            "POST",
            "/v1/groups/g/offsets".to_string(),
            commit(&id, generation, 0, 11),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "offset_out_of_range",
        ),
        (
            "commit unknown member",
            "POST",
            "/v1/groups/g/offsets".to_string(),
            commit("nobody", generation, 0, 1),
            StatusCode::NOT_FOUND,
            "unknown_member",
        ),
        (
            "commit missing partition",
            "POST",
            "/v1/groups/g/offsets".to_string(),
            commit(&id, generation, 7, 1),
            StatusCode::CONFLICT,
            "partition_not_owned",
        ),
        (
            "join unknown topic",
            "POST",
            "/v1/groups/g/members".to_string(),
            json!({"topics": ["missing"]}),
            StatusCode::NOT_FOUND,
            "topic_not_found",
        ),
        (
            "join without topics",
            "POST",
            "/v1/groups/g/members".to_string(),
            json!({"topics": []}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "bad session timeout",
            "POST",
            "/v1/groups/g/members".to_string(),
            json!({"topics": ["events"], "session_timeout_ms": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "reset while active",
            "POST",
            "/v1/groups/g/offsets/reset".to_string(),
            json!({"to": "earliest"}),
            StatusCode::CONFLICT,
            "group_not_empty",
        ),
        (
            "malformed commit",
            "POST",
            "/v1/groups/g/offsets".to_string(),
            json!({"member_id": id}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ] {
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let (got, answer) = call(&h.router, method, &uri, "application/json", body).await;
        assert_eq!(
            (got, answer["error_code"].as_str()),
            (status, Some(code)),
            "{what}: {answer}"
        );
    }
    assert_eq!(
        get(&h.router, "/v1/groups/g").await.1["partitions"],
        before["partitions"],
        "refusals change nothing"
    );

    // A partition the member does not own: a second member joins and takes one.
    let other = join(&h, "g", "events", 10_000).await;
    let (_, me) = call(
        &h.router,
        "POST",
        &format!("/v1/groups/g/members/{id}/heartbeat"),
        "application/json",
        Body::empty(),
    )
    .await;
    let mine = me["assignments"][0]["partition"]
        .as_u64()
        .expect("partition") as u32;
    let theirs = 1 - mine;
    let (status, body) = post(
        &h.router,
        "/v1/groups/g/offsets",
        commit(&id, me["generation"].as_u64().expect("g"), theirs, 1),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::CONFLICT, Some("partition_not_owned")),
        "{body}"
    );

    // Leave, then reset the empty group.
    for member in [id.as_str(), other["member_id"].as_str().expect("id")] {
        let (status, _) = call(
            &h.router,
            "DELETE",
            &format!("/v1/groups/g/members/{member}"),
            "application/json",
            Body::empty(),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, body) = post(
        &h.router,
        "/v1/groups/g/offsets/reset",
        json!({"to": "latest"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, description) = get(&h.router, "/v1/groups/g").await;
    assert!(
        description["partitions"]
            .as_array()
            .expect("p")
            .iter()
            .all(|p| p["lag"] == 0),
        "{description}"
    );
    let (_, groups) = get(&h.router, "/v1/groups").await;
    assert_eq!(groups["groups"], json!(["g"]));
}

/// Issue #21: a group's offsets of a deleted topic must not carry over to a new topic
/// of the same name (they made the group skip the new topic's first records).
#[tokio::test]
async fn a_recreated_topic_is_read_from_its_start() {
    let h = harness().await;
    create(&h.router, "t1", 2).await;
    produce(&h, "t1", 2, 5).await;
    let member = join(&h, "g2", "t1", 10_000).await;
    let id = member["member_id"].as_str().expect("id").to_owned();
    let generation = member["generation"].as_u64().expect("generation");
    let commit = json!({"member_id": id, "generation": generation,
        "offsets": [{"topic": "t1", "partition": 1, "offset": 4}]});
    let (status, body) = post(&h.router, "/v1/groups/g2/offsets", commit.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = call(
        &h.router,
        "DELETE",
        "/v1/topics/t1",
        "application/json",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    create(&h.router, "t1", 2).await;
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"value": format!("new-{i}"), "partition": 1}))
        .collect();
    let (status, body) = post(
        &h.router,
        "/v1/topics/t1/records",
        json!({ "records": records }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut delivered = Vec::new();
    let last = loop {
        let (status, body) = get(
            &h.router,
            &format!("/v1/groups/g2/members/{id}/records?max_records=4"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let records = body["records"].as_array().expect("records").clone();
        if records.is_empty() {
            break body;
        }
        delivered.extend(records.iter().map(|record| {
            (
                record["partition"].as_u64().expect("partition"),
                record["offset"].as_u64().expect("offset"),
            )
        }));
    };
    assert_eq!(
        delivered,
        (0..6).map(|offset| (1, offset)).collect::<Vec<_>>(),
        "every record of the new topic, from offset 0"
    );
    assert!(
        last["generation"].as_u64().expect("generation") > generation,
        "{last}"
    );
    let (status, body) = post(&h.router, "/v1/groups/g2/offsets", commit).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::CONFLICT, Some("stale_generation")),
        "{body}"
    );
}

#[tokio::test]
async fn a_bad_group_name_is_called_a_group_name() {
    let h = harness().await;
    create(&h.router, "events", 1).await;
    for group in ["bad%24name", &"g".repeat(250)] {
        let (status, body) = post(
            &h.router,
            &format!("/v1/groups/{group}/members"),
            json!({"topics": ["events"]}),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_argument")),
            "{body}"
        );
        let message = body["message"].as_str().expect("message");
        assert!(message.contains("group name"), "{message}");
        assert!(!message.contains("topic"), "{message}");
    }
}

/// A generation the group never reached is `illegal_generation`; an older one stays
/// `stale_generation` (the contract for a member that lost its partitions).
#[tokio::test]
async fn future_and_stale_generations_are_told_apart() {
    let h = harness().await;
    create(&h.router, "events", 2).await;
    produce(&h, "events", 2, 3).await;
    let first = join(&h, "g", "events", 10_000).await;
    let second = join(&h, "g", "events", 10_000).await;
    let id = second["member_id"].as_str().expect("id");
    let generation = second["generation"].as_u64().expect("generation");
    let partition = second["assignments"][0]["partition"]
        .as_u64()
        .expect("partition");
    assert!(generation > first["generation"].as_u64().expect("generation"));
    let commit = |generation: u64| json!({"member_id": id, "generation": generation, "offsets": [{"topic": "events", "partition": partition, "offset": 1}]});
    for (given, code) in [
        (999, "illegal_generation"),
        (generation + 1, "illegal_generation"),
        (generation - 1, "stale_generation"),
    ] {
        let (status, body) = post(&h.router, "/v1/groups/g/offsets", commit(given)).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (StatusCode::CONFLICT, Some(code)),
            "generation {given}: {body}"
        );
    }
    let (status, body) = post(&h.router, "/v1/groups/g/offsets", commit(generation)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_commit_naming_a_partition_twice_is_refused_whole() {
    let h = harness().await;
    create(&h.router, "events", 2).await;
    produce(&h, "events", 2, 10).await;
    let member = join(&h, "g", "events", 10_000).await;
    let id = member["member_id"].as_str().expect("id");
    let generation = member["generation"].as_u64().expect("generation");
    let before = get(&h.router, "/v1/groups/g").await.1;
    let (status, body) = post(
        &h.router,
        "/v1/groups/g/offsets",
        json!({"member_id": id, "generation": generation, "offsets": [
            {"topic": "events", "partition": 1, "offset": 3},
            {"topic": "events", "partition": 0, "offset": 2},
            {"topic": "events", "partition": 1, "offset": 9},
        ]}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("duplicate_partition")),
        "{body}"
    );
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("partition 1") && message.contains("\"events\""),
        "{message}"
    );
    assert_eq!(
        get(&h.router, "/v1/groups/g").await.1,
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn commit_metadata_is_kept_and_shown() {
    let h = harness().await;
    create(&h.router, "meta", 2).await;
    produce(&h, "meta", 2, 3).await;
    let member = join(&h, "checkpoints", "meta", 10_000).await;
    let commit = |offsets: Value| json!({"member_id": member["member_id"], "generation": member["generation"], "offsets": offsets});
    let (status, body) = post(
        &h.router,
        "/v1/groups/checkpoints/offsets",
        commit(json!([
            {"topic": "meta", "partition": 0, "offset": 2, "metadata": "checkpoint-7"},
            {"topic": "meta", "partition": 1, "offset": 1},
        ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["offsets"][0]["metadata"], "checkpoint-7", "{body}");
    let shown = |group: Value| -> Vec<(Value, Value)> {
        group["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .map(|p| {
                (
                    p["committed_offset"].clone(),
                    p["committed_metadata"].clone(),
                )
            })
            .collect()
    };
    let (_, group) = get(&h.router, "/v1/groups/checkpoints").await;
    let expected = vec![(json!(2), json!("checkpoint-7")), (json!(1), json!(""))];
    assert_eq!(shown(group), expected);

    // At most 4096 bytes (Kafka's offset.metadata.max.bytes); a longer one changes nothing.
    let (status, body) = post(
        &h.router,
        "/v1/groups/checkpoints/offsets",
        commit(
            json!([{"topic": "meta", "partition": 0, "offset": 3, "metadata": "m".repeat(4097)}]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], "offset_metadata_too_large", "{body}");
    let (_, group) = get(&h.router, "/v1/groups/checkpoints").await;
    assert_eq!(shown(group), expected);
}

#[tokio::test]
async fn long_polls_are_answered_at_once_when_the_gateway_shuts_down() {
    let h = harness().await;
    create(&h.router, "quiet", 1).await;
    let member = join(&h, "waiters", "quiet", 10_000).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut state = h.state.clone();
    state.shutdown = stopped;
    let router = crate::api::app(state);
    let started = std::time::Instant::now();
    let member_poll = format!(
        "/v1/groups/waiters/members/{}/records?wait_ms=20000",
        member["member_id"].as_str().expect("id")
    );
    let polls = async {
        tokio::join!(
            get(
                &router,
                "/v1/topics/quiet/partitions/0/records?offset=0&wait_ms=20000"
            ),
            get(&router, &member_poll),
        )
    };
    let stopping = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send_replace(true);
    };
    let (((fetch_status, fetched), (member_status, member_fetched)), ()) =
        tokio::join!(polls, stopping);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the long-polls waited {:?}",
        started.elapsed()
    );
    assert_eq!(fetch_status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["records"], json!([]));
    assert_eq!(member_status, StatusCode::OK, "{member_fetched}");
    assert_eq!(member_fetched["records"], json!([]));
}

/// A fetch whose answer never reaches the member (the gateway died, the connection
/// broke) moves nothing for a member that acknowledges what it received: its next
/// fetch, naming the last answer it got, is given the same records again, so none is
/// skipped and then committed past.
#[tokio::test]
async fn a_fetch_whose_answer_is_lost_moves_no_position() {
    let h = harness().await;
    create(&h.router, "lost", 1).await;
    produce(&h, "lost", 1, 5).await;
    let member = join(&h, "g", "lost", 10_000).await;
    let id = member["member_id"].as_str().expect("member id");
    let uri = |ack: u64| format!("/v1/groups/g/members/{id}/records?max_records=3&ack={ack}");
    // The answer's head arrives; its body is never read.
    let request = axum::http::Request::get(uri(0))
        .body(Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(h.router.clone(), request)
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    let (status, body) = get(&h.router, &uri(0)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offsets: Vec<u64> = body["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| record["offset"].as_u64().expect("offset"))
        .collect();
    assert_eq!(offsets, [0, 1, 2], "{body}");
    // Acknowledged, the answer moves the position on.
    let received = body["fetch_id"].as_u64().expect("fetch id");
    let (_, body) = get(&h.router, &uri(received)).await;
    assert_eq!(body["records"][0]["offset"], 3, "{body}");
}
