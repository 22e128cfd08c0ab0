//! The consumers of `silt bench`: tailing partitions for produce→consume latency, and
//! reading partitions back for `--replay`.

use std::time::Instant;

use bytes::Bytes;
use hdrhistogram::Histogram;

/// What the consumers saw: produce→consume latency (µs) and records received.
pub(super) struct ConsumeReport {
    pub(super) latencies: Histogram<u64>,
    pub(super) records: u64,
}

/// Tails one partition from `offset` with long-poll fetches until `until`, recording the
/// latency of every record produced after `measured_from_ms`.
pub(super) async fn tail(
    http: reqwest::Client,
    url: String,
    mut offset: u64,
    until: Instant,
    measured_from_ms: i64,
) -> Result<ConsumeReport, String> {
    let mut report = ConsumeReport {
        latencies: Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
        records: 0,
    };
    while Instant::now() < until {
        let body = fetch_page(
            &http,
            format!("{url}?offset={offset}&max_records=5000&max_bytes=8388608&wait_ms=500"),
        )
        .await?;
        let arrived_ms = silt_core::now_ms();
        // Only the timestamps are read: the values are skipped, not parsed.
        let page: TailPage = parse_page(&body)?;
        for record in &page.records {
            if record.timestamp >= measured_from_ms {
                let micros = (arrived_ms - record.timestamp).max(0) as u64 * 1000;
                let _ = report.latencies.record(micros.clamp(1, 60_000_000));
                report.records += 1;
            }
        }
        offset = page.next_offset;
    }
    Ok(report)
}

/// The body of a fetch's successful answer.
async fn fetch_page(http: &reqwest::Client, url: String) -> Result<Bytes, String> {
    http.get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| error.to_string())?
        .bytes()
        .await
        .map_err(|error| error.to_string())
}

/// A fetch's answer as the parts a reader needs.
fn parse_page<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|error| format!("fetch answered {error}: {}", String::from_utf8_lossy(body)))
}

/// What a tailing consumer needs of a fetch's answer.
#[derive(serde::Deserialize)]
struct TailPage {
    records: Vec<TailRecord>,
    next_offset: u64,
}

#[derive(serde::Deserialize)]
struct TailRecord {
    timestamp: i64,
}

/// What a replay needs of a fetch's answer: the values' bytes as sent, unparsed.
#[derive(serde::Deserialize)]
struct ReplayPage<'a> {
    #[serde(borrow)]
    records: Vec<ReplayRecord<'a>>,
    next_offset: u64,
}

#[derive(serde::Deserialize)]
struct ReplayRecord<'a> {
    #[serde(borrow)]
    value: &'a serde_json::value::RawValue,
}

/// Reads one partition from `offset` to `end` with fetches of up to 8 MiB; returns the
/// records and the bytes of their values.
pub(super) async fn read_back(
    http: reqwest::Client,
    url: String,
    mut offset: u64,
    end: u64,
) -> Result<(u64, u64), String> {
    let (mut records, mut bytes) = (0u64, 0u64);
    while offset < end {
        let body = fetch_page(
            &http,
            format!("{url}?offset={offset}&max_records=10000&max_bytes=8388608"),
        )
        .await?;
        let page: ReplayPage<'_> = parse_page(&body)?;
        let next = page.next_offset;
        if next <= offset {
            return Err(format!("fetch at offset {offset} made no progress"));
        }
        records += page.records.len() as u64;
        bytes += page
            .records
            .iter()
            .map(|record| record.value.get().len() as u64)
            .sum::<u64>();
        offset = next;
    }
    Ok((records, bytes))
}
