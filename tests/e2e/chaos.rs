//! The checker-driven fault test: three gateways, a coordinator on PostgreSQL and a
//! compactor, on moto's S3 with object-store faults injected under the gateways. Plain,
//! idempotent and transactional producers and a consumer group work while a random
//! gateway is killed with SIGKILL every few seconds and restarted, and the coordinator
//! is killed and restarted twice. The checker then reads everything back (read
//! committed) through a fresh gateway: nothing acknowledged is lost or repeated, every
//! committed transaction is there whole, and nothing of an aborted one is. All of it
//! with security on: gateways serve TLS and authenticate every request, the coordinator
//! serves TLS, takes only calls with its internal secret and reaches PostgreSQL over
//! verified TLS.
//!
//! Short in CI; `SILT_CHAOS_SECS=600 cargo test --test e2e chaos` runs it longer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Api, Silt, moto, note};
use crate::test_postgres;

const TOPIC: &str = "events";
const PARTITIONS: u32 = 6;
const BATCH: usize = 20;

/// A small deterministic random source (xorshift), so a failing run can be replayed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What a producer saw: acknowledged keys with their (partition, offset), and every key
/// it ever sent.
#[derive(Default)]
struct Produced {
    acknowledged: BTreeMap<String, (u64, u64)>,
    sent: BTreeSet<String>,
    failed_requests: u64,
}

/// The CA of the gateways' certificates, once the test made it.
static CA: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
const ADMIN_PASSWORD: &str = "chaos-admin-password";

fn admin_authorization() -> String {
    use base64::Engine;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    format!("Basic {encoded}")
}

/// A client of the gateways: trusts their CA and authenticates as the administrator.
fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        admin_authorization().parse().expect("header"),
    );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .add_root_certificate(reqwest::Certificate::from_pem(CA.get().expect("CA")).expect("CA"))
        .default_headers(headers)
        .build()
        .expect("client")
}

fn api(url: &str) -> Api {
    Api::trusting(url, CA.get().expect("CA")).with_authorization(&admin_authorization())
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(u16, Value), String> {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(Value::Null);
    Ok((status, value))
}

fn record_offsets(produced: &mut Produced, keys: &[String], answer: &Value) {
    let offsets = answer["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), keys.len(), "{answer}");
    for (key, offset) in keys.iter().zip(offsets) {
        let at = (
            offset["partition"].as_u64().expect("partition"),
            offset["offset"].as_u64().expect("offset"),
        );
        assert!(produced.acknowledged.insert(key.clone(), at).is_none());
    }
}

fn batch(keys: &[String]) -> Vec<Value> {
    keys.iter()
        .map(|key| json!({"key": key, "value": {"key": key, "pad": "x".repeat(200)}}))
        .collect()
}

/// Sends new keys and never retries: a failed request's records may or may not be
/// stored, but never twice.
async fn plain_producer(urls: Arc<Vec<String>>, worker: usize, stop: Arc<AtomicBool>) -> Produced {
    let client = http();
    let mut random = Random(0x9e37_79b9 + worker as u64);
    let mut produced = Produced::default();
    let mut request = 0;
    while !stop.load(Ordering::Relaxed) {
        request += 1;
        let keys: Vec<String> = (0..BATCH)
            .map(|i| format!("plain{worker}-{request}-{i}"))
            .collect();
        produced.sent.extend(keys.iter().cloned());
        let url = &urls[random.below(urls.len())];
        match post(
            &client,
            &format!("{url}/v1/topics/{TOPIC}/records"),
            &json!({"records": batch(&keys)}),
        )
        .await
        {
            Ok((200, answer)) => record_offsets(&mut produced, &keys, &answer),
            Ok((status, answer)) if status >= 500 || status == 429 => {
                let _ = answer;
                produced.failed_requests += 1;
            }
            Ok((status, answer)) => panic!("plain producer: unexpected {status}: {answer}"),
            Err(_) => produced.failed_requests += 1,
        }
    }
    produced
}

/// An idempotent producer: retries each request (same producer id, epoch, sequence and
/// records) on any gateway until it is acknowledged.
async fn idempotent_producer(
    urls: Arc<Vec<String>>,
    worker: usize,
    stop: Arc<AtomicBool>,
) -> Produced {
    let client = http();
    let mut random = Random(0x5851_f42d + worker as u64);
    let mut produced = Produced::default();
    let producer = loop {
        let url = &urls[random.below(urls.len())];
        if let Ok((200, producer)) = post(&client, &format!("{url}/v1/producers"), &json!({})).await
        {
            break producer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut sequence = 0i64;
    while !stop.load(Ordering::Relaxed) {
        let keys: Vec<String> = (0..BATCH)
            .map(|i| format!("idem{worker}-{sequence}-{i}"))
            .collect();
        produced.sent.extend(keys.iter().cloned());
        let body = json!({
            "producer": {"id": producer["producer_id"], "epoch": producer["epoch"], "sequence": sequence},
            "records": batch(&keys),
        });
        let started = Instant::now();
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "idempotent request {worker}/{sequence} was never acknowledged"
            );
            let url = &urls[random.below(urls.len())];
            match post(&client, &format!("{url}/v1/topics/{TOPIC}/records"), &body).await {
                Ok((200, answer)) => {
                    record_offsets(&mut produced, &keys, &answer);
                    break;
                }
                Ok((status, _)) if status >= 500 || status == 429 => produced.failed_requests += 1,
                Ok((status, answer)) => {
                    panic!("idempotent producer: unexpected {status}: {answer}")
                }
                Err(_) => produced.failed_requests += 1,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sequence += 1;
    }
    produced
}

/// What a transactional producer saw: the keys of transactions it committed (each an
/// acknowledged commit), aborted (on purpose, or when a write failed), and those whose
/// outcome it could not learn (their commit's answer was lost).
#[derive(Default)]
struct Transactions {
    committed: Vec<Vec<String>>,
    aborted: Vec<Vec<String>>,
    unknown: Vec<Vec<String>>,
    failed_requests: u64,
}

/// A transactional producer over HTTP: each transaction writes two requests of records
/// and commits (every third it aborts instead). A write that fails aborts the
/// transaction; a commit whose answer is lost is retried, and one whose outcome stays
/// unknown is checked for being whole or absent.
async fn transactional_producer(
    urls: Arc<Vec<String>>,
    worker: usize,
    stop: Arc<AtomicBool>,
) -> Transactions {
    let client = http();
    let mut random = Random(0x1405_7b7e + worker as u64);
    let mut seen = Transactions::default();
    let id = format!("chaos-txn-{worker}");
    let mut number = 0;
    while !stop.load(Ordering::Relaxed) {
        number += 1;
        let url = &urls[random.below(urls.len())];
        let begin = json!({"transactional_id": id, "timeout_ms": 5_000});
        let producer = match post(&client, &format!("{url}/v1/transactions"), &begin).await {
            Ok((200, producer)) => producer,
            _ => {
                seen.failed_requests += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut keys = Vec::new();
        let mut written = true;
        for part in 0..2 {
            let part_keys: Vec<String> = (0..BATCH / 2)
                .map(|i| format!("txn{worker}-{number}-{part}-{i}"))
                .collect();
            keys.extend(part_keys.iter().cloned());
            let records: Vec<Value> = batch(&part_keys)
                .into_iter()
                .map(|mut record| {
                    record["topic"] = json!(TOPIC);
                    record
                })
                .collect();
            let body = json!({"records": records, "transaction": {
                "transactional_id": id, "producer_id": producer["producer_id"], "epoch": producer["epoch"]}});
            let url = &urls[random.below(urls.len())];
            if !matches!(
                post(&client, &format!("{url}/v1/records"), &body).await,
                Ok((200, _))
            ) {
                seen.failed_requests += 1;
                written = false;
                break;
            }
        }
        let end = json!({"producer_id": producer["producer_id"], "epoch": producer["epoch"]});
        if !written || number % 3 == 0 {
            // An abort that does not go through is done by the next begin (or the
            // timeout) all the same.
            let url = &urls[random.below(urls.len())];
            let _ = post(&client, &format!("{url}/v1/transactions/{id}/abort"), &end).await;
            seen.aborted.push(keys);
            continue;
        }
        let mut outcome = None;
        for _ in 0..5 {
            let url = &urls[random.below(urls.len())];
            match post(&client, &format!("{url}/v1/transactions/{id}/commit"), &end).await {
                Ok((200, _)) => {
                    outcome = Some(true);
                    break;
                }
                // Fenced or aborted meanwhile (its timeout passed while gateways died).
                Ok((409 | 404, _)) => {
                    outcome = Some(false);
                    break;
                }
                _ => {
                    seen.failed_requests += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        match outcome {
            Some(true) => seen.committed.push(keys),
            Some(false) => seen.aborted.push(keys),
            None => seen.unknown.push(keys),
        }
    }
    seen
}

/// A consumer-group member: fetches, remembers what it was given, commits; joins again
/// when the group forgot it (a coordinator restart, an expired session).
async fn group_member(
    urls: Arc<Vec<String>>,
    worker: usize,
    stop: Arc<AtomicBool>,
) -> BTreeSet<(u64, u64)> {
    let client = http();
    let mut random = Random(0x2545_f491 + worker as u64);
    let mut delivered = BTreeSet::new();
    let mut member: Option<(String, u64)> = None;
    // The last answer this member received, acknowledged by its next fetch.
    let mut received = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let url = &urls[random.below(urls.len())];
        let Some((id, _)) = member.clone() else {
            if let Ok((200, joined)) = post(
                &client,
                &format!("{url}/v1/groups/chaos/members"),
                &json!({"topics": [TOPIC], "session_timeout_ms": 10_000}),
            )
            .await
            {
                member = Some((
                    joined["member_id"].as_str().expect("member id").to_owned(),
                    joined["generation"].as_u64().expect("generation"),
                ));
                received = 0;
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            continue;
        };
        let fetched = client
            .get(format!(
                "{url}/v1/groups/chaos/members/{id}/records?max_records=500&wait_ms=200&ack={received}"
            ))
            .send()
            .await;
        let Ok(response) = fetched else { continue };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match status {
            200 => {}
            404 | 409 => {
                member = None;
                continue;
            }
            _ => continue,
        }
        // A gateway killed while it sent the answer leaves it cut short: fetch again.
        let Some(records) = body["records"].as_array() else {
            continue;
        };
        received = body["fetch_id"].as_u64().expect("fetch id");
        let mut next = BTreeMap::new();
        for record in records {
            let (partition, offset) = (
                record["partition"].as_u64().expect("partition"),
                record["offset"].as_u64().expect("offset"),
            );
            delivered.insert((partition, offset));
            next.insert(partition, offset + 1);
        }
        if next.is_empty() {
            continue;
        }
        let offsets: Vec<Value> = next
            .iter()
            .map(|(partition, offset)| json!({"topic": TOPIC, "partition": partition, "offset": offset}))
            .collect();
        if let Ok((404 | 409, _)) = post(
            &client,
            &format!("{url}/v1/groups/chaos/offsets"),
            &json!({"member_id": id, "generation": body["generation"], "offsets": offsets}),
        )
        .await
        {
            member = None;
        }
    }
    delivered
}

/// Every record of a partition (read committed: transactions' markers and aborted
/// records leave gaps), read through a gateway that injects no faults.
async fn read_partition(api: &Api, partition: u32) -> Vec<Value> {
    let mut records: Vec<Value> = Vec::new();
    let mut next = 0;
    loop {
        let path = format!(
            "/v1/topics/{TOPIC}/partitions/{partition}/records?offset={next}&max_records=1000"
        );
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let batch = body["records"].as_array().expect("records");
        for record in batch {
            let offset = record["offset"].as_u64().expect("offset");
            assert!(
                records
                    .last()
                    .is_none_or(|last| last["offset"].as_u64() < Some(offset)),
                "offsets of partition {partition} grow"
            );
            records.push(record.clone());
        }
        next = body["next_offset"].as_u64().expect("next");
        if next >= body["high_watermark"].as_u64().expect("hw") {
            return records;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_under_kills_restarts_and_faults() {
    let seconds: u64 = std::env::var("SILT_CHAOS_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(40);
    // Every listener secured: gateways serve TLS and authenticate, the coordinator takes
    // calls only with the internal secret and reaches PostgreSQL over verified TLS.
    let pki = tempfile::tempdir().expect("pki");
    let [ca, cert, key, _, _] = crate::pki::certificates(pki.path());
    let _ = CA.set(std::fs::read(&ca).expect("CA"));
    let mut env = moto().bucket("chaos").await;
    for (name, value) in [
        ("SILT_INTERNAL_SECRET", "chaos-internal-secret".to_owned()),
        // The coordinator serves its internal API with the same certificate.
        ("SILT_TLS_CERT", cert.display().to_string()),
        ("SILT_TLS_KEY", key.display().to_string()),
        ("SILT_COORDINATOR_CA", ca.display().to_string()),
    ] {
        env.push((name.into(), value));
    }
    let mut gateway_env = env.clone();
    for (name, value) in [
        ("SILT_AUTH", "true"),
        ("SILT_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ] {
        gateway_env.push((name.into(), value.into()));
    }
    let postgres = test_postgres::server();
    let database = postgres.create_database();
    let postgres_ca = postgres.ca_file().expect("the test PostgreSQL serves TLS");
    let metadata_url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        postgres.url(&database),
        postgres_ca.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut coordinator =
        Silt::coordinator_on_postgres(&metadata_url, "s3://chaos", 2_000, &env, true);
    let gateways: Vec<Silt> = (0..3)
        .map(|index| {
            let mut env = gateway_env.clone();
            env.push((
                "SILT_FAULTS".into(),
                format!(
                    "error_rate=0.05,timeout_rate=0.01,timeout_ms=300,reset_rate=0.02,seed={}",
                    index + 1
                ),
            ));
            Silt::gateway(
                &dir.path().join(format!("gateway-{index}")),
                "s3://chaos",
                &coordinator.url,
                &env,
            )
        })
        .collect();
    let mut compactor = Silt::compactor(
        &dir.path().join("compactor"),
        "s3://chaos",
        &coordinator.url,
        &env,
    );
    let urls = Arc::new(
        gateways
            .iter()
            .map(|gateway| gateway.url.clone())
            .collect::<Vec<_>>(),
    );
    api(&urls[0]).create_topic(TOPIC, PARTITIONS).await;

    let stop = Arc::new(AtomicBool::new(false));
    let plain: Vec<_> = (0..2)
        .map(|worker| tokio::spawn(plain_producer(Arc::clone(&urls), worker, Arc::clone(&stop))))
        .collect();
    let idempotent: Vec<_> = (0..2)
        .map(|worker| {
            tokio::spawn(idempotent_producer(
                Arc::clone(&urls),
                worker,
                Arc::clone(&stop),
            ))
        })
        .collect();
    let members: Vec<_> = (0..2)
        .map(|worker| tokio::spawn(group_member(Arc::clone(&urls), worker, Arc::clone(&stop))))
        .collect();
    let transactional: Vec<_> = (0..2)
        .map(|worker| {
            tokio::spawn(transactional_producer(
                Arc::clone(&urls),
                worker,
                Arc::clone(&stop),
            ))
        })
        .collect();

    // The chaos: blocking process control, on a thread of its own.
    let faults = Arc::new(AtomicU64::new(0));
    let chaos = {
        let faults = Arc::clone(&faults);
        tokio::task::spawn_blocking(move || {
            let mut gateways = gateways;
            let mut random = Random(0xdead_beef);
            let started = Instant::now();
            let (mut gateway_kills, mut coordinator_restarts) = (0u64, 0u64);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            while started.elapsed() < Duration::from_secs(seconds) {
                std::thread::sleep(Duration::from_secs(3));
                let due = (coordinator_restarts + 1) * seconds / 3;
                if coordinator_restarts < 2 && started.elapsed() >= Duration::from_secs(due) {
                    coordinator.restart_in_place(true);
                    coordinator_restarts += 1;
                    note(&format!(
                        "chaos: coordinator restarted at {:?}",
                        started.elapsed()
                    ));
                    continue;
                }
                let victim = random.below(gateways.len());
                let api = api(&gateways[victim].url);
                if let Ok(count) = runtime.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(2),
                        api.metric("silt_faults_injected_total"),
                    )
                    .await
                }) {
                    faults.fetch_add(count, Ordering::Relaxed);
                }
                gateways[victim].restart_in_place(true);
                gateway_kills += 1;
            }
            for gateway in &gateways {
                let api = api(&gateway.url);
                if let Ok(count) = runtime.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(2),
                        api.metric("silt_faults_injected_total"),
                    )
                    .await
                }) {
                    faults.fetch_add(count, Ordering::Relaxed);
                }
            }
            (gateways, coordinator, gateway_kills, coordinator_restarts)
        })
    };
    let (gateways, coordinator, gateway_kills, coordinator_restarts) = chaos.await.expect("chaos");
    stop.store(true, Ordering::Relaxed);
    let mut producers = Vec::new();
    for task in plain {
        producers.push(("plain", task.await.expect("plain producer")));
    }
    for task in idempotent {
        producers.push(("idempotent", task.await.expect("idempotent producer")));
    }
    let mut delivered = BTreeSet::new();
    for task in members {
        delivered.extend(task.await.expect("member"));
    }
    let mut transactions = Vec::new();
    for task in transactional {
        transactions.push(task.await.expect("transactional producer"));
    }
    let _ = compactor.kill();
    let _ = compactor.wait();

    // The checker reads everything through a fresh gateway without faults.
    let checker = Silt::gateway(
        &dir.path().join("checker"),
        "s3://chaos",
        &coordinator.url,
        &gateway_env,
    );
    let api = api(&checker.url);
    let mut stored: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    let mut total = 0usize;
    for partition in 0..PARTITIONS {
        for record in read_partition(&api, partition).await {
            total += 1;
            stored
                .entry(record["key"].as_str().expect("key").to_owned())
                .or_default()
                .push((
                    u64::from(partition),
                    record["offset"].as_u64().expect("offset"),
                ));
        }
    }
    let (mut acknowledged, mut lost, mut misplaced, mut failed_requests) =
        (0usize, 0usize, 0usize, 0u64);
    let mut sent = BTreeSet::new();
    for (kind, produced) in &producers {
        failed_requests += produced.failed_requests;
        acknowledged += produced.acknowledged.len();
        sent.extend(produced.sent.iter().cloned());
        for (key, at) in &produced.acknowledged {
            match stored.get(key).map(Vec::as_slice) {
                None | Some([]) => lost += 1,
                Some([only]) if only == at => {}
                Some(other) => {
                    misplaced += 1;
                    note(&format!(
                        "{kind} {key}: acknowledged at {at:?}, stored at {other:?}"
                    ));
                }
            }
        }
    }
    // Transactions: committed ones whole and once, aborted ones absent, those of
    // unknown outcome whole or absent.
    let (mut committed_txns, mut aborted_txns, mut unknown_txns) = (0, 0, 0);
    let (mut torn, mut missing_committed, mut visible_aborted) = (0, 0, 0);
    for seen in &transactions {
        failed_requests += seen.failed_requests;
        let present =
            |keys: &Vec<String>| keys.iter().filter(|key| stored.contains_key(*key)).count();
        for keys in &seen.committed {
            committed_txns += 1;
            missing_committed += keys.len() - present(keys);
        }
        for keys in &seen.aborted {
            aborted_txns += 1;
            visible_aborted += present(keys);
        }
        for keys in &seen.unknown {
            unknown_txns += 1;
            let found = present(keys);
            if found != 0 && found != keys.len() {
                torn += 1;
            }
        }
        for keys in seen
            .committed
            .iter()
            .chain(&seen.aborted)
            .chain(&seen.unknown)
        {
            sent.extend(keys.iter().cloned());
        }
    }
    let duplicates = stored.values().filter(|places| places.len() > 1).count();
    let unknown = stored.keys().filter(|key| !sent.contains(*key)).count();
    let (_, group) = api.get("/v1/groups/chaos").await;
    let mut undelivered = 0u64;
    let mut committed_total = 0u64;
    // Offsets that hold records a read_committed reader reads (not markers, not aborted).
    let readable: BTreeSet<(u64, u64)> = stored.values().flatten().copied().collect();
    for partition in group["partitions"].as_array().expect("partitions") {
        let p = partition["partition"].as_u64().expect("partition");
        let committed = partition["committed_offset"].as_u64().unwrap_or(0);
        committed_total += committed;
        undelivered += (0..committed)
            .filter(|offset| readable.contains(&(p, *offset)) && !delivered.contains(&(p, *offset)))
            .count() as u64;
    }
    note(&format!(
        "chaos for {seconds} s: {acknowledged} records acknowledged, {total} stored, {failed_requests} failed requests \
         (retried or given up), {} object-store faults injected, {gateway_kills} gateway kills, \
         {coordinator_restarts} coordinator restarts, group committed {committed_total} and was delivered all but \
         {undelivered}; lost = {lost}, misplaced = {misplaced}, duplicates = {duplicates}, unknown = {unknown}; \
         transactions: {committed_txns} committed ({missing_committed} of their records missing), {aborted_txns} \
         aborted ({visible_aborted} of their records visible), {unknown_txns} of unknown outcome ({torn} torn)",
        faults.load(Ordering::Relaxed)
    ));
    assert!(
        acknowledged > 1000,
        "too little was acknowledged to prove anything: {acknowledged}"
    );
    assert!(gateway_kills >= 3 && coordinator_restarts == 2);
    assert_eq!((lost, misplaced, duplicates, unknown), (0, 0, 0, 0));
    assert!(
        committed_txns > 0 && aborted_txns > 0,
        "too few transactions"
    );
    assert_eq!((missing_committed, visible_aborted, torn), (0, 0, 0));
    assert!(committed_total > 0, "the group committed nothing: {group}");
    assert_eq!(
        undelivered, 0,
        "the group committed offsets it was never given"
    );
    drop(gateways);
}
