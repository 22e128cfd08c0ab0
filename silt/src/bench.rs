//! `silt bench`: produce load against a running gateway, reporting throughput, the
//! distribution of acknowledgement latency (time from a request's scheduled send to
//! its 200 answer, so a slow server cannot hide queueing), with `--consume` the
//! produce→consume latency of consumers tailing every partition, and the object store
//! requests per GiB that the gateway's metrics show, priced at S3's public rates.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::args::ServerArgs;
use crate::client::Client;
use crate::error::CliError;

pub mod commits;
mod read;

use read::{read_back, tail};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The topic to produce to (created if missing).
    #[arg(long, default_value = "silt-bench")]
    pub topic: String,
    /// Partitions of the topic if the bench creates it.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Approximate size of each record's value in bytes.
    #[arg(long, default_value_t = 1024)]
    pub record_bytes: usize,
    /// `words`: free text of random words (hard to compress); `events`: typical
    /// application events (repeated field names, enumerations, ids, numbers);
    /// `random`: a JSON string of random letters and digits, the whole value (for small
    /// records, whose `words` text would be empty).
    #[arg(long, default_value = "words", value_parser = ["words", "events", "random"])]
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
    /// With `--rate`: a producer sends what it has gathered every this many
    /// milliseconds, at most `--batch` records, as a client's linger does (default: it
    /// waits for a full batch).
    #[arg(long)]
    pub linger_ms: Option<u64>,
    /// After producing, compact the topic and report compaction throughput and the size
    /// of the Parquet files against the JSON that was produced.
    #[arg(long)]
    pub compact: bool,
    /// Also tail every partition (long-poll fetches) and report the latency from a
    /// record's send to its arrival at a consumer.
    #[arg(long)]
    pub consume: bool,
    /// After producing, read back everything the run produced, every partition at once
    /// from where it started, as consumers catching up do; report the read throughput,
    /// the cache hits and the object store GETs per GiB read.
    #[arg(long)]
    pub replay: bool,
    /// Also write the report as JSON to this file (`-` for standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// S3 Standard request prices (us-east-1, public list prices): dollars per 1,000.
const PUT_DOLLARS_PER_1000: f64 = 0.005;
const GET_DOLLARS_PER_1000: f64 = 0.0004;
const GIB: f64 = (1u64 << 30) as f64;
/// Record timestamps of a body are written over this value (13 digits) at each send, so
/// consumers can tell how long a record took from its producer to them.
const TIMESTAMP_PLACEHOLDER: u64 = 1_111_111_111_111;

/// A request body and where its records' timestamps sit in it.
struct Body {
    bytes: Bytes,
    timestamps: Vec<usize>,
}

impl Body {
    fn new(bytes: Bytes) -> Self {
        let needle = format!("\"timestamp\":{TIMESTAMP_PLACEHOLDER}");
        let digits = needle.len() - 13;
        let timestamps = bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, window)| *window == needle.as_bytes())
            .map(|(at, _)| at + digits)
            .collect();
        Body { bytes, timestamps }
    }

    /// The body with every record stamped `now_ms` (no copy when there is nothing to stamp).
    fn stamped(&self, now_ms: i64) -> Bytes {
        if self.timestamps.is_empty() {
            return self.bytes.clone();
        }
        let now = format!("{now_ms:013}");
        let mut body = BytesMut::from(&self.bytes[..]);
        for &at in &self.timestamps {
            body[at..at + 13].copy_from_slice(now.as_bytes());
        }
        body.freeze()
    }
}

struct WorkerReport {
    latencies: Histogram<u64>,
    records: u64,
    bytes: u64,
    errors: u64,
}

/// Distinct request bodies the producers cycle through, so that records repeat far
/// apart and compression sees realistic data rather than one record over and over. They
/// are made before the clock starts, so making them delays no send.
const BODY_VARIANTS: usize = 64;

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

    /// `len` random letters and digits: about 6 bits of entropy a byte.
    fn alphanumeric(&mut self, len: usize) -> String {
        const SYMBOLS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| SYMBOLS[self.next() as usize % SYMBOLS.len()] as char)
            .collect()
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

fn request_body(variant: usize, args: &BenchArgs) -> Bytes {
    let mut random = Lcg(variant as u64 + 1);
    let records: Vec<_> = (0..args.batch)
        .map(|i| {
            let key = format!("user-{}", random.next() % 100_000);
            let value = if args.payload == "events" {
                event(&mut random, i, args.record_bytes)
            } else if args.payload == "random" {
                json!(random.alphanumeric(args.record_bytes.saturating_sub(2)))
            } else {
                let text = random.words(args.record_bytes.saturating_sub(110));
                json!({"event": "page_view", "seq": i, "variant": variant, "session": random.next(), "text": text})
            };
            if args.consume {
                json!({ "key": key, "value": value, "timestamp": TIMESTAMP_PLACEHOLDER })
            } else {
                json!({ "key": key, "value": value })
            }
        })
        .collect();
    Bytes::from(json!({ "records": records }).to_string())
}

fn histogram() -> Result<Histogram<u64>, CliError> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .map_err(|error| CliError::Server(error.to_string()))
}

/// Percentiles of a histogram of microseconds, in milliseconds.
fn percentiles(latencies: &Histogram<u64>) -> Value {
    let ms = |micros: u64| (micros as f64 / 10.0).round() / 100.0;
    json!({
        "p50": ms(latencies.value_at_quantile(0.5)),
        "p90": ms(latencies.value_at_quantile(0.9)),
        "p99": ms(latencies.value_at_quantile(0.99)),
        "p99_9": ms(latencies.value_at_quantile(0.999)),
        "max": ms(latencies.max()),
        "samples": latencies.len(),
    })
}

/// The gateway's counters that the report needs, from its `/metrics`.
#[derive(Debug, Default, Clone, Copy)]
struct ServerCounts {
    puts: f64,
    gets: f64,
    put_bytes: f64,
    get_bytes: f64,
    produced_bytes: f64,
    cache_memory_hits: f64,
    cache_disk_hits: f64,
    cache_misses: f64,
}

async fn server_counts(http: &reqwest::Client, base: &str) -> Result<ServerCounts, CliError> {
    let url = format!("{base}/metrics");
    let text = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|source| CliError::Connect {
            url: url.clone(),
            source,
        })?
        .text()
        .await
        .map_err(|source| CliError::Connect { url, source })?;
    let sample = |series: &str| silt_core::metrics::read_sample(&text, series).unwrap_or(0.0);
    Ok(ServerCounts {
        puts: sample("silt_object_store_requests_total{operation=\"put\"}"),
        gets: sample("silt_object_store_requests_total{operation=\"get\"}"),
        put_bytes: sample("silt_object_store_bytes_total{operation=\"put\"}"),
        get_bytes: sample("silt_object_store_bytes_total{operation=\"get\"}"),
        produced_bytes: sample("silt_bytes_produced_total"),
        cache_memory_hits: sample("silt_cache_requests_total{result=\"memory_hit\"}"),
        cache_disk_hits: sample("silt_cache_requests_total{result=\"disk_hit\"}"),
        cache_misses: sample("silt_cache_requests_total{result=\"miss\"}"),
    })
}

pub async fn run(mut args: BenchArgs) -> Result<(), CliError> {
    if let Some(linger_ms) = args.linger_ms {
        let Some(rate) = args.rate else {
            return Err(CliError::Config(
                "--linger-ms needs --rate: producers going as fast as they can always have a full batch".into(),
            ));
        };
        if linger_ms == 0 {
            return Err(CliError::Config("--linger-ms must be at least 1".into()));
        }
        let per_producer = rate as f64 / args.concurrency.max(1) as f64;
        let gathered = (per_producer * linger_ms as f64 / 1000.0).ceil() as usize;
        args.batch = args.batch.min(gathered.max(1));
    }
    if args.batch == 0 {
        return Err(CliError::Config("--batch must be at least 1".into()));
    }
    let client = Client::new(&args.server)?;
    let create = json!({"name": args.topic, "partitions": args.partitions});
    match client
        .call(reqwest::Method::POST, "/v1/topics", Some(create))
        .await
    {
        Ok(_) | Err(CliError::Api { status: 409, .. }) => {}
        Err(error) => return Err(error),
    }
    let described = describe_topic(&client, &args.topic).await?;
    let args = Arc::new(args);
    let base = args.server.url.trim_end_matches('/').to_owned();
    let url = format!("{base}/v1/topics/{}/records", args.topic);
    let http = args
        .server
        .http_client(reqwest::Client::builder().pool_max_idle_per_host(
            args.concurrency + described["partitions"].as_array().map_or(0, Vec::len),
        ))?;
    let bodies = {
        let args = Arc::clone(&args);
        tokio::task::spawn_blocking(move || {
            (0..BODY_VARIANTS)
                .map(|variant| Body::new(request_body(variant, &args)))
                .collect::<Vec<Body>>()
        })
        .await
        .map_err(|error| CliError::Server(error.to_string()))?
    };
    let bodies = Arc::new(bodies);
    let before = server_counts(&http, &base).await?;
    let counted_from = Instant::now();
    let warmup_end = Instant::now() + Duration::from_secs(args.warmup);
    let end = warmup_end + Duration::from_secs(args.duration);
    let measured_from_ms = silt_core::now_ms() + 1000 * args.warmup as i64;
    let interval = args.rate.map(|rate| {
        let per_worker = (rate as f64 / args.concurrency.max(1) as f64).max(1.0);
        Duration::from_secs_f64(args.batch as f64 / per_worker)
    });
    eprintln!(
        "bench: {} producers, {} records of ~{} B per request, {}; {} s warm-up, {} s measured{}",
        args.concurrency,
        args.batch,
        args.record_bytes,
        args.rate
            .map_or("as fast as possible".to_owned(), |rate| format!(
                "{rate} records/s"
            )),
        args.warmup,
        args.duration,
        if args.consume {
            "; consumers tail every partition"
        } else {
            ""
        }
    );
    // Consumers start at the current end of each partition and stop a little after the
    // producers, so the last records still arrive.
    let consumers: Vec<_> = if args.consume {
        described["partitions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|partition| {
                let url = format!(
                    "{base}/v1/topics/{}/partitions/{}/records",
                    args.topic, partition["partition"]
                );
                let offset = partition["high_watermark"].as_u64().unwrap_or(0);
                tokio::spawn(tail(
                    http.clone(),
                    url,
                    offset,
                    end + Duration::from_secs(2),
                    measured_from_ms,
                ))
            })
            .collect()
    } else {
        Vec::new()
    };
    let acknowledged = Arc::new(AtomicU64::new(0));
    let workers = (0..args.concurrency.max(1)).map(|worker| {
        let args = Arc::clone(&args);
        let http = http.clone();
        let url = url.clone();
        let acknowledged = Arc::clone(&acknowledged);
        let bodies = Arc::clone(&bodies);
        tokio::spawn(async move {
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
                let body = bodies[(worker + sent) % BODY_VARIANTS].stamped(silt_core::now_ms());
                let body_len = body.len() as u64;
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
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
                if ok {
                    acknowledged.fetch_add(args.batch as u64, Ordering::Relaxed);
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
    let workers: Vec<_> = workers.collect();
    let progress = progress_bar(&args, Arc::clone(&acknowledged), end);
    let mut latencies = histogram()?;
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
    progress.abort();
    let mut end_to_end = histogram()?;
    let mut consumed = 0u64;
    for consumer in futures::future::join_all(consumers).await {
        let report = consumer
            .map_err(|error| CliError::Server(error.to_string()))?
            .map_err(CliError::Server)?;
        end_to_end
            .add(&report.latencies)
            .map_err(|error| CliError::Server(error.to_string()))?;
        consumed += report.records;
    }
    let after = server_counts(&http, &base).await?;
    let counted_seconds = counted_from.elapsed().as_secs_f64();
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
    if args.consume {
        let ms = |quantile: f64| end_to_end.value_at_quantile(quantile) as f64 / 1000.0;
        println!(
            "produce→consume  p50 {:.0}  p90 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0} ms ({consumed} records consumed, ms resolution)",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            end_to_end.max() as f64 / 1000.0
        );
    }
    let produced_gib = (after.produced_bytes - before.produced_bytes) / GIB;
    let per_gib = |value: f64| {
        if produced_gib > 0.0 {
            value / produced_gib
        } else {
            0.0
        }
    };
    let puts_per_gib = per_gib(after.puts - before.puts);
    let gets_per_gib = per_gib(after.gets - before.gets);
    let dollars_per_gib =
        puts_per_gib * PUT_DOLLARS_PER_1000 / 1000.0 + gets_per_gib * GET_DOLLARS_PER_1000 / 1000.0;
    println!(
        "object store     {puts_per_gib:.0} PUTs and {gets_per_gib:.0} GETs per GiB produced = ${dollars_per_gib:.4} per GiB at S3 request prices; {:.1} PUTs/s",
        (after.puts - before.puts) / counted_seconds.max(1e-9)
    );
    let mut report = json!({
        "config": {
            "topic": args.topic,
            "partitions": args.partitions,
            "record_bytes": args.record_bytes,
            "payload": args.payload,
            "batch": args.batch,
            "linger_ms": args.linger_ms,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rate": args.rate,
        },
        "produce": {
            "records_per_second": (records as f64 / seconds).round(),
            "mb_per_second": (bytes as f64 / seconds / 1e5).round() / 10.0,
            "requests_ok": latencies.len(),
            "requests_failed": errors,
        },
        "ack_latency_ms": percentiles(&latencies),
        "produce_to_consume_latency_ms": if args.consume { percentiles(&end_to_end) } else { Value::Null },
        "records_consumed": consumed,
        "object_store": {
            "gib_produced": produced_gib,
            "puts": after.puts - before.puts,
            "seconds_counted": counted_seconds,
            "puts_per_second": (after.puts - before.puts) / counted_seconds.max(1e-9),
            "gets": after.gets - before.gets,
            "put_bytes": after.put_bytes - before.put_bytes,
            "get_bytes": after.get_bytes - before.get_bytes,
            "puts_per_gib": puts_per_gib,
            "gets_per_gib": gets_per_gib,
            "request_dollars_per_gib": dollars_per_gib,
            "prices": {
                "put_per_1000": PUT_DOLLARS_PER_1000,
                "get_per_1000": GET_DOLLARS_PER_1000,
            },
        },
    });
    if args.replay {
        report["replay"] = replay(&client, &http, &base, &args, &described).await?;
    }
    if args.compact {
        report["compaction"] = compact(&client, &args).await?;
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|error| CliError::Server(error.to_string()))?;
        if path.as_os_str() == "-" {
            println!("{text}");
        } else {
            std::fs::write(path, text + "\n").map_err(|error| {
                CliError::Server(format!("writing {}: {error}", path.display()))
            })?;
        }
    }
    Ok(())
}

/// A progress bar over the measured seconds, with the acknowledged rate (hidden when
/// standard error is not a terminal).
fn progress_bar(
    args: &BenchArgs,
    acknowledged: Arc<AtomicU64>,
    end: Instant,
) -> tokio::task::JoinHandle<()> {
    let total = args.warmup + args.duration;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    tokio::spawn(async move {
        let started = Instant::now();
        let mut last = (Instant::now(), 0u64);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = (Instant::now(), acknowledged.load(Ordering::Relaxed));
            let rate = (now.1 - last.1) as f64 / now.0.duration_since(last.0).as_secs_f64();
            last = now;
            bar.set_position(started.elapsed().as_secs().min(total));
            bar.set_message(format!("{rate:.0} records/s acknowledged"));
        }
        bar.finish_and_clear();
    })
}

/// The topic with each partition's offsets.
async fn describe_topic(client: &Client, topic: &str) -> Result<Value, CliError> {
    client
        .call(reqwest::Method::GET, &format!("/v1/topics/{topic}"), None)
        .await
}

/// Reads back every partition from its high watermark before the run to its end now,
/// all partitions at once, and reports throughput, cache hits and GETs.
async fn replay(
    client: &Client,
    http: &reqwest::Client,
    base: &str,
    args: &BenchArgs,
    before_run: &Value,
) -> Result<Value, CliError> {
    let now = describe_topic(client, &args.topic).await?;
    let start_of = |partition: u64| {
        before_run["partitions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["partition"].as_u64() == Some(partition))
            .and_then(|p| p["high_watermark"].as_u64())
            .unwrap_or(0)
    };
    let before = server_counts(http, base).await?;
    let started = Instant::now();
    let readers: Vec<_> = now["partitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["partition"].as_u64()?, p["high_watermark"].as_u64()?)))
        .map(|(partition, end)| {
            let url = format!(
                "{base}/v1/topics/{}/partitions/{partition}/records",
                args.topic
            );
            tokio::spawn(read_back(http.clone(), url, start_of(partition), end))
        })
        .collect();
    let (mut records, mut bytes) = (0u64, 0u64);
    for reader in futures::future::join_all(readers).await {
        let (r, b) = reader
            .map_err(|error| CliError::Server(error.to_string()))?
            .map_err(CliError::Server)?;
        records += r;
        bytes += b;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let after = server_counts(http, base).await?;
    let gets = after.gets - before.gets;
    let get_bytes = after.get_bytes - before.get_bytes;
    let lookups = (after.cache_memory_hits - before.cache_memory_hits)
        + (after.cache_disk_hits - before.cache_disk_hits)
        + (after.cache_misses - before.cache_misses);
    let hits = lookups - (after.cache_misses - before.cache_misses);
    let hit_ratio = if lookups > 0.0 { hits / lookups } else { 0.0 };
    let gib = bytes as f64 / GIB;
    let gets_per_gib = if gib > 0.0 { gets / gib } else { 0.0 };
    println!(
        "replay           {records} records ({:.1} MB of values) in {seconds:.1} s = {:.0} records/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        records as f64 / seconds,
        bytes as f64 / seconds / 1e6
    );
    let read_per_delivered = if bytes > 0 {
        get_bytes / bytes as f64
    } else {
        0.0
    };
    println!(
        "replay reads     {gets:.0} GETs, {:.1} MB ({read_per_delivered:.2} bytes read per value byte delivered): one GET per {:.2} MiB read, {gets_per_gib:.0} GETs per GiB = ${:.5} per GiB; cache hits {:.1} % of {lookups:.0} lookups",
        get_bytes / 1e6,
        if gets > 0.0 {
            bytes as f64 / gets / (1 << 20) as f64
        } else {
            0.0
        },
        gets_per_gib * GET_DOLLARS_PER_1000 / 1000.0,
        hit_ratio * 100.0
    );
    Ok(json!({
        "records": records,
        "value_bytes": bytes,
        "seconds": seconds,
        "records_per_second": (records as f64 / seconds).round(),
        "mb_per_second": bytes as f64 / seconds / 1e6,
        "gets": gets,
        "get_bytes": get_bytes,
        "bytes_read_per_value_byte": read_per_delivered,
        "gets_per_gib": gets_per_gib,
        "get_dollars_per_gib": gets_per_gib * GET_DOLLARS_PER_1000 / 1000.0,
        "cache_lookups": lookups,
        "cache_hit_ratio": hit_ratio,
    }))
}

/// Compacts the topic now and reports the throughput and the Parquet size.
async fn compact(client: &Client, args: &BenchArgs) -> Result<Value, CliError> {
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
    Ok(json!({
        "records": summary["records"],
        "seconds": elapsed,
        "mb_per_second": record_bytes / 1e6 / elapsed.max(1e-9),
        "parquet_bytes": parquet_bytes,
        "parquet_fraction": parquet_bytes / record_bytes.max(1.0),
    }))
}
