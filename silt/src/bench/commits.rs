//! `silt bench-commits`: how many segment commits per second one coordinator sustains.
//! It opens the coordinator in this process on the given store (PostgreSQL or SQLite)
//! and acts as N gateways with no data path: each commits, one after another, segments
//! of one chunk per partition of a fresh topic (what a busy gateway's flush carries), as
//! fast as the coordinator answers. It reports commits and chunks per second, group
//! commit's transactions and mean batch (in process), and the latency of a commit.
//! With `--coordinator URL` it measures a running `silt coordinator` over its internal
//! HTTP API instead, as gateways reach it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;
use silt_core::Coordinator;
use silt_core::coordinator::{ChunkCommit, ChunkOutcome, SegmentCommit, TopicConfig};

use crate::args::MetadataArgs;
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct CommitBenchArgs {
    #[command(flatten)]
    pub metadata: MetadataArgs,
    /// A running `silt coordinator` to measure over its internal HTTP API instead of
    /// one opened in this process on --metadata-url or --metadata-db.
    #[arg(long, env = "SILT_COORDINATOR")]
    pub coordinator: Option<String>,
    /// Gateways to act as: each commits one segment at a time.
    #[arg(long, default_value_t = 8)]
    pub gateways: usize,
    /// Partitions of the topic; each segment holds one chunk of each.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Seconds to measure, after the warm-up.
    #[arg(long, default_value_t = 15)]
    pub duration: u64,
    /// Seconds of commits before measuring.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Where to write the report as JSON (`-`: standard output).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

fn failed(what: &str) -> impl Fn(silt_core::coordinator::CoordinatorError) -> CliError + '_ {
    move |error| CliError::Server(format!("{what}: {error}"))
}

/// One gateway's segment `sequence`: a 4 MiB object with a chunk of 500 records per
/// partition.
fn segment(
    topic: &str,
    topic_id: i64,
    partitions: u32,
    gateway: usize,
    sequence: u64,
) -> SegmentCommit {
    let chunk_bytes = (4u64 << 20) / u64::from(partitions.max(1));
    SegmentCommit {
        object_key: format!("bench-commits/{gateway}/{sequence}"),
        object_size: 4 << 20,
        chunks: (0..partitions)
            .map(|partition| ChunkCommit {
                topic_id,
                topic: topic.to_owned(),
                partition,
                record_count: 500,
                byte_offset: u64::from(partition) * chunk_bytes,
                byte_len: u32::try_from(chunk_bytes).unwrap_or(u32::MAX),
                min_timestamp: 0,
                max_timestamp: 0,
                producer: None,
                kafka: None,
                txn: None,
                request: partition,
            })
            .collect(),
    }
}

pub async fn run(args: CommitBenchArgs) -> Result<(), CliError> {
    if args.gateways == 0 || args.partitions == 0 {
        return Err(CliError::Config(
            "--gateways and --partitions must be positive".into(),
        ));
    }
    // In process, group commit's counters are read too.
    let (coordinator, service): (Arc<dyn Coordinator>, _) = match &args.coordinator {
        Some(url) => (
            Arc::new(silt_coordinator::RemoteCoordinator::new(url)),
            None,
        ),
        None => {
            let (service, _lost) = crate::coordinator::open_coordinator(&args.metadata, 0).await?;
            (service.clone(), Some(service))
        }
    };
    let name = format!("commit-bench-{}", uuid::Uuid::now_v7().simple());
    let topic = coordinator
        .create_topic(TopicConfig {
            name: name.clone(),
            partitions: args.partitions,
            retention_ms: None,
            retention_bytes: None,
            value_schema: None,
            configs: Default::default(),
        })
        .await
        .map_err(failed("creating the topic"))?;
    let started = Instant::now();
    let measure_from = started + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.duration);
    let mut workers = Vec::with_capacity(args.gateways);
    for gateway in 0..args.gateways {
        let coordinator = Arc::clone(&coordinator);
        let name = name.clone();
        let partitions = args.partitions;
        workers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                .map_err(|error| CliError::Server(error.to_string()))?;
            let (mut commits, mut sequence) = (0u64, 0u64);
            while Instant::now() < until {
                let sent = Instant::now();
                let outcomes = coordinator
                    .commit_segment(segment(
                        &name,
                        topic.topic_id,
                        partitions,
                        gateway,
                        sequence,
                    ))
                    .await
                    .map_err(failed("committing"))?;
                sequence += 1;
                if let Some(ChunkOutcome::Rejected { message, .. }) = outcomes
                    .iter()
                    .find(|outcome| matches!(outcome, ChunkOutcome::Rejected { .. }))
                {
                    return Err(CliError::Server(format!("a chunk was refused: {message}")));
                }
                if sent >= measure_from {
                    commits += 1;
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let _ = latencies.record(micros.clamp(1, 60_000_000));
                }
            }
            Ok::<_, CliError>((commits, latencies))
        }));
    }
    let before = service.as_ref().map(|service| service.commit_stats());
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|error| CliError::Server(error.to_string()))?;
    let mut commits = 0u64;
    for worker in workers {
        let (count, histogram) = worker
            .await
            .map_err(|error| CliError::Server(format!("a gateway task failed: {error}")))??;
        commits += count;
        latencies
            .add(histogram)
            .map_err(|error| CliError::Server(error.to_string()))?;
    }
    let after = service.as_ref().map(|service| service.commit_stats());
    let seconds = args.duration.max(1) as f64;
    let (transactions, batched) = match (before, after) {
        (Some(before), Some(after)) => (
            after.transactions.saturating_sub(before.transactions),
            after.segments.saturating_sub(before.segments),
        ),
        _ => (0, 0),
    };
    let ms = |quantile: f64| latencies.value_at_quantile(quantile) as f64 / 1000.0;
    let report = json!({
        "store": match (&args.coordinator, &args.metadata.metadata_url) {
            (Some(_), _) => "a remote coordinator",
            (None, Some(_)) => "postgresql",
            (None, None) => "sqlite",
        },
        "gateways": args.gateways,
        "partitions": args.partitions,
        "seconds": seconds,
        "commits_per_second": commits as f64 / seconds,
        "chunks_per_second": commits as f64 * f64::from(args.partitions) / seconds,
        "transactions": transactions,
        "mean_segments_per_transaction": if transactions == 0 { 0.0 } else { batched as f64 / transactions as f64 },
        "commit_latency_ms": {"p50": ms(0.5), "p99": ms(0.99), "max": latencies.max() as f64 / 1000.0},
    });
    println!(
        "{} gateways, {} partitions: {:.0} commits/s ({:.0} chunks/s), {:.1} segments per transaction, commit p50 {:.2} ms, p99 {:.2} ms",
        args.gateways,
        args.partitions,
        report["commits_per_second"].as_f64().unwrap_or_default(),
        report["chunks_per_second"].as_f64().unwrap_or_default(),
        report["mean_segments_per_transaction"]
            .as_f64()
            .unwrap_or_default(),
        ms(0.5),
        ms(0.99),
    );
    match args.json.as_deref() {
        Some(path) if path.as_os_str() == "-" => println!("{report}"),
        Some(path) => std::fs::write(path, report.to_string())
            .map_err(|error| CliError::Config(format!("writing {}: {error}", path.display())))?,
        None => {}
    }
    Ok(())
}
