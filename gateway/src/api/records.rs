//! Records: produce to a topic, fetch from a partition (with long-poll) and tail one
//! as server-sent events.

use silt_core::transactions::Isolation;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use silt_reader::FetchRequest;
use tracing::{Instrument, info_span};

use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::json::write_record;
use crate::metrics::Metrics;
use crate::produce::prepare;
use crate::state::AppState;

const DEFAULT_MAX_RECORDS: usize = 500;
const MAX_MAX_RECORDS: usize = 10_000;
const DEFAULT_MAX_BYTES: usize = 1 << 20;
const MAX_MAX_BYTES: usize = 64 << 20;
const STREAM_WAIT: Duration = Duration::from_secs(15);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/topics/{topic}/records", post(produce))
        .route(
            "/v1/topics/{topic}/partitions/{partition}/records",
            get(fetch),
        )
        .route(
            "/v1/topics/{topic}/partitions/{partition}/stream",
            get(stream),
        )
}

async fn produce(
    State(state): State<AppState>,
    Path(topic_name): Path<String>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let span = info_span!("produce", topic = %topic_name, records = tracing::field::Empty);
    let started = std::time::Instant::now();
    let metrics = Arc::clone(&state.metrics);
    let answer = async move {
        let Body(body) = body?;
        Metrics::add(&state.metrics.produce_requests, 1);
        let ndjson = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value.starts_with("application/x-ndjson") || value.starts_with("application/ndjson")
            });
        state.batcher.admit(body.len())?;
        let topic = state.coordinator.get_topic(&topic_name).await?;
        let prepared = prepare(
            &topic,
            &body,
            ndjson,
            state.config.max_record_bytes,
            &state.sticky,
            silt_core::now_ms(),
        )?;
        tracing::Span::current().record("records", prepared.records.len());
        // The records are encoded into `prepared`: the body need not wait with them.
        drop(body);
        let offsets = state.batcher.produce(&topic, prepared).await?;
        let offsets: Vec<Value> = offsets
            .into_iter()
            .map(|(partition, offset)| json!({"partition": partition, "offset": offset}))
            .collect();
        Ok(Json(json!({ "offsets": offsets })))
    }
    .instrument(span)
    .await;
    metrics.produce_seconds.record_duration(started.elapsed());
    answer
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchParams {
    offset: Option<u64>,
    /// Start at the first record at or after this time (ms since the epoch) instead;
    /// none that new: at the high watermark.
    timestamp: Option<i64>,
    /// `read_committed` (the default) or `read_uncommitted`.
    #[serde(default)]
    isolation: Isolation,
    max_records: Option<usize>,
    max_bytes: Option<usize>,
    wait_ms: Option<u64>,
}

/// Checks a fetch's `max_records`, `max_bytes` and `wait_ms`, filling in defaults.
pub(crate) fn fetch_limits(
    config: &GatewayConfig,
    max_records: Option<usize>,
    max_bytes: Option<usize>,
    wait_ms: Option<u64>,
) -> Result<(usize, usize, u64), ApiError> {
    let max_records = check_range(
        "max_records",
        max_records.unwrap_or(DEFAULT_MAX_RECORDS),
        MAX_MAX_RECORDS,
    )?;
    let max_bytes = check_range(
        "max_bytes",
        max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
        MAX_MAX_BYTES,
    )?;
    let wait_ms = wait_ms.unwrap_or(0);
    if wait_ms > config.max_wait_ms {
        return Err(ApiError::bad_request(
            "invalid_argument",
            format!(
                "wait_ms must be at most {}, got {wait_ms}",
                config.max_wait_ms
            ),
        ));
    }
    Ok((max_records, max_bytes, wait_ms))
}

fn check_range(name: &str, value: usize, max: usize) -> Result<usize, ApiError> {
    if value == 0 || value > max {
        return Err(ApiError::bad_request(
            "invalid_argument",
            format!("{name} must be between 1 and {max}, got {value}"),
        ));
    }
    Ok(value)
}

fn parse_partition(partition: &str) -> Result<u32, ApiError> {
    partition.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_argument",
            format!("partition must be a non-negative integer, got {partition:?}"),
        )
    })
}

async fn fetch(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    Params(params): Params<FetchParams>,
) -> Result<Response, ApiError> {
    let partition = parse_partition(&partition)?;
    let span = info_span!("fetch", %topic, partition, offset = params.offset);
    async move {
        Metrics::add(&state.metrics.fetch_requests, 1);
        let (max_records, max_bytes, wait_ms) = fetch_limits(
            &state.config,
            params.max_records,
            params.max_bytes,
            params.wait_ms,
        )?;
        let offset = match (params.offset, params.timestamp) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "invalid_argument",
                    "give offset or timestamp, not both",
                ));
            }
            (Some(offset), None) => offset,
            (None, timestamp) => {
                let offsets = state
                    .coordinator
                    .partition_offsets(&topic, partition)
                    .await?;
                match timestamp {
                    None => offsets.log_start_offset,
                    Some(timestamp) => state
                        .reader
                        .first_at_or_after(&topic, partition, &offsets, timestamp)
                        .await?
                        .map_or(offsets.high_watermark, |(offset, _)| offset),
                }
            }
        };
        let request = FetchRequest {
            topic: topic.clone(),
            partition,
            offset,
            max_records,
            max_bytes,
            isolation: params.isolation,
        };
        let mut result = state.reader.fetch(&request).await?;
        if result.records.is_empty() && wait_ms > 0 {
            let waited = state.coordinator.wait_for_records(
                &topic,
                partition,
                offset,
                params.isolation,
                Duration::from_millis(wait_ms),
            );
            tokio::select! {
                waited = waited => {
                    waited?;
                    result = state.reader.fetch(&request).await?;
                }
                // Shutting down: answer now with what there is (nothing).
                () = state.stopping() => {}
            }
        }
        Metrics::add(&state.metrics.records_fetched, result.records.len() as u64);
        let mut body = Vec::with_capacity(
            64 + result
                .records
                .iter()
                .map(|r| r.record.encoded_len + 64)
                .sum::<usize>(),
        );
        body.extend_from_slice(b"{\"records\":[");
        for (index, record) in result.records.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            write_record(&mut body, record, None);
        }
        body.extend_from_slice(
            format!(
                "],\"next_offset\":{},\"high_watermark\":{},\"last_stable_offset\":{},\"log_start_offset\":{}}}",
                result.next_offset,
                result.offsets.high_watermark,
                result.offsets.last_stable_offset(),
                result.offsets.log_start_offset
            )
            .as_bytes(),
        );
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    }
    .instrument(span)
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamParams {
    offset: Option<u64>,
    #[serde(default)]
    isolation: Isolation,
}

struct StreamState {
    state: AppState,
    topic: String,
    partition: u32,
    offset: u64,
    isolation: Isolation,
    pending: std::collections::VecDeque<Event>,
    done: bool,
}

/// Server-sent events: one `record` event per record, `id` = offset. A reconnecting
/// client sends `Last-Event-ID` and resumes after it.
async fn stream(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    Params(params): Params<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let partition = parse_partition(&partition)?;
    let resume_after = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_argument", "Last-Event-ID must be an offset")
                })?,
        ),
        None => None,
    };
    let offsets = state
        .coordinator
        .partition_offsets(&topic, partition)
        .await?;
    let offset = match (resume_after, params.offset) {
        (Some(last), _) => last + 1,
        (None, Some(offset)) => offset,
        (None, None) => offsets.high_watermark,
    };
    if offset < offsets.log_start_offset || offset > offsets.high_watermark {
        return Err(silt_core::coordinator::CoordinatorError::OffsetOutOfRange {
            offset,
            log_start_offset: offsets.log_start_offset,
            high_watermark: offsets.high_watermark,
        }
        .into());
    }
    let initial = StreamState {
        state,
        topic,
        partition,
        offset,
        isolation: params.isolation,
        pending: Default::default(),
        done: false,
    };
    let events = futures::stream::unfold(initial, |mut stream| async move {
        loop {
            if let Some(event) = stream.pending.pop_front() {
                return Some((Ok(event), stream));
            }
            if stream.done || stream.state.is_stopping() {
                return None;
            }
            let request = FetchRequest {
                topic: stream.topic.clone(),
                partition: stream.partition,
                offset: stream.offset,
                max_records: DEFAULT_MAX_RECORDS,
                max_bytes: DEFAULT_MAX_BYTES,
                isolation: stream.isolation,
            };
            match stream.state.reader.fetch(&request).await {
                // Markers and aborted records move the offset without records.
                Ok(result) if !result.records.is_empty() || result.next_offset > stream.offset => {
                    for record in &result.records {
                        let mut data = Vec::with_capacity(record.record.encoded_len + 64);
                        write_record(&mut data, record, None);
                        let text = String::from_utf8_lossy(&data).into_owned();
                        stream.pending.push_back(
                            Event::default()
                                .event("record")
                                .id(record.offset.to_string())
                                .data(text),
                        );
                    }
                    stream.offset = result.next_offset;
                }
                Ok(_) => {
                    let state = stream.state.clone();
                    let waited = tokio::select! {
                        waited = state.coordinator.wait_for_records(
                            &stream.topic,
                            stream.partition,
                            stream.offset,
                            stream.isolation,
                            STREAM_WAIT,
                        ) => waited.map(|_| ()),
                        // Shutting down: the stream ends (the loop sees it).
                        () = state.stopping() => Ok(()),
                    };
                    if let Err(error) = waited {
                        stream.pending.push_back(error_event(ApiError::from(error)));
                        stream.done = true;
                    }
                }
                Err(error) => {
                    stream.pending.push_back(error_event(ApiError::from(error)));
                    stream.done = true;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn error_event(error: ApiError) -> Event {
    Event::default()
        .event("error")
        .data(json!({"error_code": error.error_code, "message": error.message}).to_string())
}
