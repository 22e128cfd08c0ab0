//! Exactly once over HTTP alone: a consume-transform-produce processor
//! (`tests/http/http_processor.py`) whose every step is one `POST /v1/records` that
//! writes its outputs and commits its inputs' offsets, all or nothing, against two
//! gateways on one coordinator and a bucket on moto. The processor is SIGKILLed in the
//! middle of its requests, and a gateway is SIGKILLed under it; the committed outputs
//! are still every input exactly once, in order per key.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto, note};
use crate::kafka::run_script;

/// Runs the processor once; answers its exit status and last line.
fn run_processor(gateways: &str, die_after: i64) -> (i32, Value) {
    let die_after = die_after.to_string();
    let args = [
        "process", gateways, "payments", "ledger", "writers", &die_after,
    ];
    run_script("http/http_processor.py", &args)
}

async fn partitions(api: &Api, topic: &str) -> Vec<Value> {
    let (status, body) = api.get(&format!("/v1/topics/{topic}")).await;
    assert_eq!(status, 200, "{body}");
    body["partitions"].as_array().expect("partitions").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_processor_killed_with_a_gateway_processes_every_input_once() {
    let env = moto().bucket("http-exactly-once").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = Silt::coordinator(&dir.path().join("coordinator"));
    let bucket = "s3://http-exactly-once/log";
    let mut one = Silt::gateway(&dir.path().join("g1"), bucket, &coordinator.url, &env);
    let two = Silt::gateway(&dir.path().join("g2"), bucket, &coordinator.url, &env);
    let (api, survivor) = (Api::new(&one.url), Api::new(&two.url));
    api.create_topic("payments", 3).await;
    api.create_topic("ledger", 3).await;
    const INPUTS: u64 = 400;
    let inputs: Vec<Value> = (0..INPUTS)
        .map(|n| json!({"key": format!("account-{}", n % 13), "value": {"n": n}}))
        .collect();
    let (status, body) = api
        .post("/v1/topics/payments/records", json!({ "records": inputs }))
        .await;
    assert_eq!(status, 200, "{body}");
    let gateways = format!("{},{}", one.url, two.url);

    // Killed with a request in flight, twice.
    for die_after in [1, 4] {
        let (status, last) = run_processor(&gateways, die_after);
        assert_eq!((status, &last["dying"]), (-9, &json!(die_after)), "{last}");
    }
    // A gateway is killed under a running processor, which carries on through the other.
    let running = {
        let gateways = gateways.clone();
        std::thread::spawn(move || run_processor(&gateways, -1))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written: u64 = partitions(&survivor, "ledger")
            .await
            .iter()
            .filter_map(|partition| partition["high_watermark"].as_u64())
            .sum();
        if written >= 150 {
            note(&format!(
                "a gateway is killed with {written} offsets in the ledger"
            ));
            break;
        }
        assert!(Instant::now() < deadline, "the processor wrote {written}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    one.kill9();
    let (status, last) = running.join().expect("processor thread");
    note(&format!(
        "the processor the gateway's death met: {status} {last}"
    ));
    let mut finished = status == 0;
    for _ in 0..4 {
        if finished {
            break;
        }
        let (status, last) = run_processor(&gateways, -1);
        note(&format!("processor: {status} {last}"));
        finished = status == 0;
    }
    assert!(finished, "no processor finished");

    // A request the dead gateway left open is aborted by its timeout; then every
    // partition is stable and read committed whole.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let partitions = partitions(&survivor, "ledger").await;
        if partitions
            .iter()
            .all(|partition| partition["last_stable_offset"] == partition["high_watermark"])
        {
            break;
        }
        assert!(Instant::now() < deadline, "still unstable: {partitions:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut seen: Vec<u64> = Vec::new();
    let mut per_key: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    let mut uncommitted = 0;
    for partition in 0..3 {
        for record in survivor.read_partition("ledger", partition).await {
            seen.push(record["value"]["n"].as_u64().expect("n"));
            let input = record["value"]["in"].as_str().expect("in");
            let (p, o) = input.split_once(':').expect("p:o");
            per_key
                .entry(record["key"].as_str().expect("key").to_owned())
                .or_default()
                .push((p.parse().expect("p"), o.parse().expect("o")));
        }
        let (status, body) = survivor
            .get(&format!(
                "/v1/topics/ledger/partitions/{partition}/records?offset=0&max_records=10000&isolation=read_uncommitted"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        uncommitted += body["records"].as_array().expect("records").len();
    }
    let committed = seen.len();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..INPUTS).collect::<Vec<_>>(),
        "every input exactly once"
    );
    for (key, inputs) in &per_key {
        assert!(
            inputs.windows(2).all(|pair| pair[0] < pair[1]),
            "{key} out of order: {inputs:?}"
        );
    }
    note(&format!(
        "{INPUTS} inputs, {committed} committed outputs, {uncommitted} in the log with aborted attempts"
    ));
    assert_eq!(survivor.group_lag("writers").await, 0);
}
