//! Consumer groups end to end: the real binary on moto's S3, members over HTTP and the
//! `silt consume --group` command.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Api, SILT, Silt, moto};

fn consume_group(url: &str, topic: &str, group: &str) -> Vec<String> {
    let output = Command::new(SILT)
        .args(["consume", topic, "--group", group])
        .env("SILT_URL", url)
        .output()
        .expect("silt consume");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn produce(api: &Api, topic: &str, from: usize, to: usize) {
    let records: Vec<Value> = (from..to)
        .map(|i| json!({"key": format!("k{i}"), "value": format!("v{i}")}))
        .collect();
    let (status, body) = api
        .post(
            &format!("/v1/topics/{topic}/records"),
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_share_partitions_keep_their_own_offsets_and_redeliver() {
    let env = moto().bucket("groups").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let silt = Silt::start(&dir.path().join("data"), Some("s3://groups"), &env);
    let api = Api::new(&silt.url);
    api.create_topic("orders", 12).await;
    produce(&api, "orders", 0, 120).await;

    // Two groups read the same topic independently; each sees every record once.
    for group in ["billing", "shipping"] {
        let lines = consume_group(&silt.url, "orders", group);
        let unique: BTreeSet<&String> = lines.iter().collect();
        assert_eq!((lines.len(), unique.len()), (120, 120), "{group}");
    }
    // Committed offsets hold: the next run sees only what is new.
    produce(&api, "orders", 120, 130).await;
    let mut lines = consume_group(&silt.url, "orders", "billing");
    lines.sort();
    let mut expected: Vec<String> = (120..130).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(lines, expected);
    let (_, description) = api.get("/v1/groups/billing").await;
    for partition in description["partitions"].as_array().expect("partitions") {
        assert_eq!(
            partition["committed_offset"], partition["high_watermark"],
            "{partition}"
        );
        assert_eq!(partition["lag"], 0);
    }
    let (_, description) = api.get("/v1/groups/shipping").await;
    let lag: u64 = description["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["lag"].as_u64().expect("lag"))
        .sum();
    assert_eq!(lag, 10, "shipping has not read the last 10 records");

    // Three members split 12 partitions 4/4/4; a fourth makes it 3/3/3/3, no overlap.
    let mut members = Vec::new();
    for _ in 0..3 {
        let (status, member) = api
            .post(
                "/v1/groups/workers/members",
                json!({"topics": ["orders"], "session_timeout_ms": 1500}),
            )
            .await;
        assert_eq!(status, 200, "{member}");
        members.push(member["member_id"].as_str().expect("id").to_owned());
    }
    let owned = |api: Api, members: Vec<String>| async move {
        let mut sets = Vec::new();
        for member in &members {
            let (status, body) = api
                .post(
                    &format!("/v1/groups/workers/members/{member}/heartbeat"),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let set: BTreeSet<(String, u64)> = body["assignments"]
                .as_array()
                .expect("assignments")
                .iter()
                .map(|tp| {
                    (
                        tp["topic"].as_str().expect("topic").to_owned(),
                        tp["partition"].as_u64().expect("p"),
                    )
                })
                .collect();
            sets.push(set);
        }
        sets
    };
    let sets = owned(api.clone(), members.clone()).await;
    assert_eq!(
        sets.iter().map(BTreeSet::len).collect::<Vec<_>>(),
        vec![4, 4, 4]
    );
    let (status, fourth) = api
        .post(
            "/v1/groups/workers/members",
            json!({"topics": ["orders"], "session_timeout_ms": 1500}),
        )
        .await;
    assert_eq!(status, 200);
    members.push(fourth["member_id"].as_str().expect("id").to_owned());
    let sets = owned(api.clone(), members.clone()).await;
    assert_eq!(
        sets.iter().map(BTreeSet::len).collect::<Vec<_>>(),
        vec![3, 3, 3, 3]
    );
    let union: BTreeSet<_> = sets.iter().flatten().collect();
    assert_eq!(union.len(), 12, "no partition is owned twice");

    // An answer the member says it never received (`ack` names an older one) is given
    // again; one it acknowledges is not.
    let a = members[0].clone();
    let offsets_of = |body: &Value| -> BTreeSet<(u64, u64)> {
        body["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| {
                (
                    r["partition"].as_u64().expect("p"),
                    r["offset"].as_u64().expect("o"),
                )
            })
            .collect()
    };
    let lost_path = format!("/v1/groups/workers/members/{a}/records?max_records=10000&ack=0");
    let (_, lost) = api.get(&lost_path).await;
    let (_, again) = api.get(&lost_path).await;
    assert!(offsets_of(&lost).len() > 3, "{lost}");
    assert_eq!(
        offsets_of(&lost),
        offsets_of(&again),
        "a lost answer comes again"
    );
    assert!(again["fetch_id"].as_u64() > lost["fetch_id"].as_u64());
    let (_, after) = api
        .get(&format!(
            "/v1/groups/workers/members/{a}/records?max_records=10000&ack={}",
            again["fetch_id"]
        ))
        .await;
    assert_eq!(
        offsets_of(&after),
        BTreeSet::new(),
        "an acknowledged answer is not given again"
    );
    let (status, body) = api
        .get(&format!("/v1/groups/workers/members/{a}/records?ack=x"))
        .await;
    assert_eq!(status, 400, "{body}");

    // A has now been given (and acknowledged) all its records, and dies without
    // committing; after its session timeout the others receive exactly A's records;
    // A's late commit is refused.
    let fetched = again;
    let a_values: BTreeSet<String> = fetched["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["value"].as_str().expect("v").to_owned())
        .collect();
    assert!(!a_values.is_empty());
    let mut survivors_saw = BTreeSet::new();
    // The survivors work through (and commit) their own partitions while A is silent.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline && !a_values.is_subset(&survivors_saw) {
        for member in &members[1..] {
            let (status, body) = api
                .get(&format!(
                    "/v1/groups/workers/members/{member}/records?max_records=10000"
                ))
                .await;
            assert_eq!(status, 200, "{body}");
            let generation = body["generation"].clone();
            let mut next = std::collections::BTreeMap::new();
            for record in body["records"].as_array().expect("records") {
                assert!(
                    survivors_saw.insert(record["value"].as_str().expect("v").to_owned()),
                    "delivered twice among survivors: {record}"
                );
                next.insert(
                    record["partition"].as_u64().expect("p"),
                    record["offset"].as_u64().expect("o") + 1,
                );
            }
            if !next.is_empty() {
                let offsets: Vec<Value> = next
                    .iter()
                    .map(|(p, o)| json!({"topic": "orders", "partition": p, "offset": o}))
                    .collect();
                let (status, body) = api
                    .post(
                        "/v1/groups/workers/offsets",
                        json!({"member_id": member, "generation": generation, "offsets": offsets}),
                    )
                    .await;
                assert!(status == 200 || status == 409, "{status} {body}");
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        a_values.is_subset(&survivors_saw),
        "A's uncommitted records must be redelivered to the others"
    );
    assert_eq!(
        survivors_saw.len(),
        130,
        "survivors together saw everything once"
    );
    let late: Vec<Value> = (0..12)
        .map(|p| json!({"topic": "orders", "partition": p, "offset": 1}))
        .collect();
    let (status, body) = api
        .post(
            "/v1/groups/workers/offsets",
            json!({"member_id": a, "generation": fetched["generation"], "offsets": late}),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (409, Some("stale_generation")),
        "{body}"
    );
}
