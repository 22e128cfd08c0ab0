//! `silt bench`: produce load against a running gateway, reporting throughput and the
//! distribution of acknowledgement latency (time from a request's scheduled send to
//! its 200 answer, so a slow server cannot hide queueing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;

use crate::cli::{CliError, ServerArgs};
use crate::client::Client;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "silt-bench")]
    pub topic: String,
    /// Partitions of the topic if the bench creates it.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Approximate size of each record's value in bytes.
    #[arg(long, default_value_t = 1024)]
    pub record_bytes: usize,
    /// `words`: free text of random words (hard to compress); `events`: typical
    /// application events (repeated field names, enumerations, ids, numbers).
    #[arg(long, default_value = "words", value_parser = ["words", "events"])]
    pub payload: String,
    /// Records per produce request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Concurrent producers.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// Target records per second over all producers (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<u64>,
    /// After producing, compact the topic and report compaction throughput and the size
    /// of the Parquet files against the JSON that was produced.
    #[arg(long)]
    pub compact: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

struct WorkerReport {
    latencies: Histogram<u64>,
    records: u64,
    bytes: u64,
    errors: u64,
}

/// Distinct request bodies each producer cycles through, so that records repeat far
/// apart and compression sees realistic data rather than one record over and over.
const BODY_VARIANTS: usize = 16;

/// A small deterministic generator for the records' text.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Lower-case words, like the free text of a typical event.
    fn words(&mut self, len: usize) -> String {
        let mut text = String::with_capacity(len + 8);
        while text.len() < len {
            let word_len = 2 + (self.next() % 8) as usize;
            for _ in 0..word_len {
                text.push((b'a' + (self.next() % 26) as u8) as char);
            }
            text.push(' ');
        }
        text.truncate(len);
        text
    }
}

/// A typical application event of about `size` bytes of JSON: a page view or an order
/// with line items, drawn from small vocabularies like real traffic.
fn event(random: &mut Lcg, seq: usize, size: usize) -> serde_json::Value {
    const EVENTS: [&str; 4] = ["page_view", "add_to_cart", "checkout", "search"];
    const COUNTRIES: [&str; 6] = ["DE", "FR", "US", "GB", "NL", "ES"];
    const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
    const PAGES: [&str; 5] = ["/", "/products", "/products/detail", "/cart", "/search"];
    let pick = |random: &mut Lcg, list: &[&'static str]| list[random.next() as usize % list.len()];
    let mut value = json!({
        "event": pick(random, &EVENTS),
        "seq": seq,
        "user_id": format!("u-{:06}", random.next() % 200_000),
        "session_id": format!("s-{:08x}", random.next() % 5_000_000),
        "country": pick(random, &COUNTRIES),
        "device": pick(random, &DEVICES),
        "page": pick(random, &PAGES),
        "items": [],
    });
    while value.to_string().len() < size {
        let item = json!({
            "sku": format!("SKU-{:05}", random.next() % 20_000),
            "quantity": 1 + random.next() % 3,
            "price_cents": 199 + (random.next() % 200) * 50,
            "category": pick(random, &PAGES),
        });
        match value["items"].as_array_mut() {
            Some(items) => items.push(item),
            None => break,
        }
    }
    value
}

fn request_body(worker: usize, variant: usize, args: &BenchArgs) -> Bytes {
    let mut random = Lcg((worker * BODY_VARIANTS + variant) as u64 + 1);
    let records: Vec<_> = (0..args.batch)
        .map(|i| {
            let key = format!("user-{}", random.next() % 100_000);
            let value = if args.payload == "events" {
                event(&mut random, i, args.record_bytes)
            } else {
                let text = random.words(args.record_bytes.saturating_sub(110));
                json!({"event": "page_view", "seq": i, "worker": worker, "session": random.next(), "text": text})
            };
            json!({ "key": key, "value": value })
        })
        .collect();
    Bytes::from(json!({ "records": records }).to_string())
}

pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    let client = Client::new(&args.server);
    let create = json!({"name": args.topic, "partitions": args.partitions});
    match client
        .call(reqwest::Method::POST, "/v1/topics", Some(create))
        .await
    {
        Ok(_) | Err(CliError::Api { status: 409, .. }) => {}
        Err(error) => return Err(error),
    }
    let args = Arc::new(args);
    let url = format!(
        "{}/v1/topics/{}/records",
        args.server.url.trim_end_matches('/'),
        args.topic
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|source| CliError::Connect {
            url: url.clone(),
            source,
        })?;
    let warmup_end = Instant::now() + Duration::from_secs(args.warmup);
    let end = warmup_end + Duration::from_secs(args.duration);
    let interval = args.rate.map(|rate| {
        let per_worker = (rate as f64 / args.concurrency.max(1) as f64).max(1.0);
        Duration::from_secs_f64(args.batch as f64 / per_worker)
    });
    eprintln!(
        "bench: {} producers, {} records of ~{} B per request, {}; {} s warm-up, {} s measured",
        args.concurrency,
        args.batch,
        args.record_bytes,
        args.rate
            .map_or("as fast as possible".to_owned(), |rate| format!(
                "{rate} records/s"
            )),
        args.warmup,
        args.duration
    );
    let workers = (0..args.concurrency.max(1)).map(|worker| {
        let args = Arc::clone(&args);
        let http = http.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let bodies: Vec<Bytes> = (0..BODY_VARIANTS)
                .map(|variant| request_body(worker, variant, &args))
                .collect();
            let mut sent = 0usize;
            let mut report = WorkerReport {
                latencies: Histogram::new_with_bounds(1, 60_000_000, 3)
                    .map_err(|e| e.to_string())?,
                records: 0,
                bytes: 0,
                errors: 0,
            };
            // Stagger paced producers so their requests do not arrive together.
            let mut next_send = Instant::now()
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(worker as f64 / args.concurrency as f64)
                });
            loop {
                if interval.is_some() {
                    tokio::time::sleep_until(next_send.into()).await;
                }
                let scheduled = if interval.is_some() {
                    next_send
                } else {
                    Instant::now()
                };
                if scheduled >= end {
                    break;
                }
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(bodies[sent % BODY_VARIANTS].clone())
                    .send()
                    .await;
                let body_len = bodies[sent % BODY_VARIANTS].len() as u64;
                sent += 1;
                let ok = match response {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                let done = Instant::now();
                if let Some(interval) = interval {
                    next_send += interval;
                }
                if scheduled < warmup_end {
                    continue;
                }
                if ok {
                    let micros = done.duration_since(scheduled).as_micros().max(1) as u64;
                    let _ = report.latencies.record(micros.min(60_000_000));
                    report.records += args.batch as u64;
                    report.bytes += body_len;
                } else {
                    report.errors += 1;
                }
            }
            Ok::<WorkerReport, String>(report)
        })
    });
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| CliError::Server(e.to_string()))?;
    let (mut records, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    for worker in futures::future::join_all(workers).await {
        let report = worker
            .map_err(|error| CliError::Server(error.to_string()))?
            .map_err(CliError::Server)?;
        latencies
            .add(&report.latencies)
            .map_err(|error| CliError::Server(error.to_string()))?;
        records += report.records;
        bytes += report.bytes;
        errors += report.errors;
    }
    let seconds = args.duration as f64;
    let ms = |quantile: f64| latencies.value_at_quantile(quantile) as f64 / 1000.0;
    println!("records/s        {:.0}", records as f64 / seconds);
    println!("MB/s (JSON body) {:.1}", bytes as f64 / seconds / 1e6);
    println!("requests         {} ok, {errors} failed", latencies.len());
    println!(
        "ack latency ms   p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        latencies.max() as f64 / 1000.0
    );
    if args.compact {
        let started = Instant::now();
        let summary = client
            .call(
                reqwest::Method::POST,
                &format!("/v1/topics/{}/compact", args.topic),
                None,
            )
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        let record_bytes = summary["record_bytes"].as_f64().unwrap_or(0.0);
        let parquet_bytes = summary["parquet_bytes"].as_f64().unwrap_or(0.0);
        println!(
            "compaction       {} records, {:.1} MB of records in {elapsed:.1} s",
            summary["records"],
            record_bytes / 1e6
        );
        println!(
            "compaction MB/s  {:.1} (records read, decoded, written as Parquet, swapped)",
            record_bytes / 1e6 / elapsed.max(1e-9)
        );
        println!(
            "parquet size     {:.1} MB = {:.1} % of the records' raw bytes (JSON text, keys, headers)",
            parquet_bytes / 1e6,
            100.0 * parquet_bytes / record_bytes.max(1.0)
        );
    }
    Ok(())
}
