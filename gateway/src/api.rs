//! The v1 HTTP API. `app(state)` builds the router; tests drive it with `oneshot`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::Coordinator;
use silt_core::coordinator::{Setting, Topic, TopicAlteration, TopicConfig, TopicDescription};
use silt_reader::{FetchRequest, Reader};
use tracing::{Instrument, info_span};

use crate::batcher::BatcherHandle;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::groups;
use crate::json::write_record;
use crate::metrics::Metrics;
use crate::produce::prepare;

const DEFAULT_MAX_RECORDS: usize = 500;
const MAX_MAX_RECORDS: usize = 10_000;
const DEFAULT_MAX_BYTES: usize = 1 << 20;
const MAX_MAX_BYTES: usize = 64 << 20;
const STREAM_WAIT: Duration = Duration::from_secs(15);
const OPENAPI: &str = include_str!("../openapi.json");

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: GatewayConfig,
    pub coordinator: Arc<dyn Coordinator>,
    pub reader: Arc<Reader>,
    pub batcher: BatcherHandle,
    pub metrics: Arc<Metrics>,
    pub sticky: Arc<AtomicU32>,
    /// Turns true when the server begins shutting down: open streams then end, and
    /// long-polls and Kafka joins are answered at once ([`AppState::stopping`]).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Administrative operations that live outside the gateway (compaction).
    pub admin: Option<Arc<dyn TopicAdmin>>,
}

impl AppState {
    /// Completes once the server begins shutting down (never, if nothing can tell it
    /// to): a request that waits (a long-poll, a Kafka join) waits for this too, and
    /// answers with what it has.
    pub async fn stopping(&self) {
        let mut shutdown = self.shutdown.clone();
        if shutdown.wait_for(|stop| *stop).await.is_err() && !*shutdown.borrow() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether the server is shutting down.
    pub fn is_stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Operations on a topic that another component performs for the gateway's API.
#[async_trait::async_trait]
pub trait TopicAdmin: Send + Sync + 'static {
    /// Compacts everything eligible in `topic` now; answers with a summary.
    async fn compact(&self, topic: &str) -> Result<Value, ApiError>;

    /// Deletes unreferenced objects older than `grace_ms`; answers with a summary.
    async fn collect_garbage(&self, grace_ms: i64) -> Result<Value, ApiError>;

    /// Prometheus samples of the component (compaction progress), for `/metrics`.
    fn metrics_text(&self) -> String {
        String::new()
    }
}

/// The gateway's router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/topics", post(create_topic).get(list_topics))
        .route(
            "/v1/topics/{topic}",
            get(describe_topic).patch(alter_topic).delete(delete_topic),
        )
        .route("/v1/topics/{topic}/records", post(produce))
        .route("/v1/topics/{topic}/compact", post(compact))
        .route("/v1/topics/{topic}/tables", get(list_tables))
        .route("/v1/admin/gc", post(collect_garbage))
        .route("/v1/producers", post(init_producer))
        .route("/v1/groups", get(groups::list))
        .route("/v1/groups/{group}", get(groups::describe))
        .route("/v1/groups/{group}/members", post(groups::join))
        .route("/v1/groups/{group}/members/{member}", delete(groups::leave))
        .route(
            "/v1/groups/{group}/members/{member}/heartbeat",
            post(groups::heartbeat),
        )
        .route(
            "/v1/groups/{group}/members/{member}/records",
            get(groups::fetch),
        )
        .route("/v1/groups/{group}/offsets", post(groups::commit))
        .route("/v1/groups/{group}/offsets/reset", post(groups::reset))
        .route(
            "/v1/topics/{topic}/partitions/{partition}/records",
            get(fetch),
        )
        .route(
            "/v1/topics/{topic}/partitions/{partition}/stream",
            get(stream),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http_server::guard_body,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

mod configs;

fn topic_summary(topic: &Topic) -> Value {
    json!({
        "configs": configs::to_json(&topic.configs),
        "name": topic.name,
        "topic_id": topic.topic_id,
        "partition_count": topic.partitions,
        "retention_ms": topic.retention_ms,
        "retention_bytes": topic.retention_bytes,
        "created_at_ms": topic.created_at_ms,
        "value_schema": topic.value_schema,
    })
}

fn topic_detail(description: &TopicDescription) -> Value {
    let mut value = topic_summary(&description.topic);
    value["partitions"] = json!(description.partitions);
    value
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if crate::http_server::is_body_timeout(&rejection) {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive within the body timeout",
        );
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body exceeds the gateway's limit",
        );
    }
    ApiError::new(rejection.status(), "invalid_body", rejection.body_text())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTopicBody {
    name: String,
    #[serde(default = "one")]
    partitions: i64,
    #[serde(default)]
    retention_ms: Option<i64>,
    #[serde(default)]
    retention_bytes: Option<i64>,
    #[serde(default)]
    value_schema: Option<Value>,
    #[serde(default)]
    configs: configs::ConfigsJson,
}

fn one() -> i64 {
    1
}

async fn create_topic(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Any content type is read as JSON, so `curl -d '{...}'` works without a header.
    let body = body.map_err(body_rejection)?;
    let body: CreateTopicBody = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request("invalid_json", format!("invalid topic: {error}"))
    })?;
    let partitions = u32::try_from(body.partitions).map_err(|_| {
        ApiError::bad_request(
            "invalid_argument",
            format!(
                "partitions must be between 1 and 10000, got {}",
                body.partitions
            ),
        )
    })?;
    let config = TopicConfig {
        value_schema: body.value_schema,
        name: body.name,
        partitions,
        retention_ms: body.retention_ms,
        retention_bytes: body.retention_bytes,
        configs: configs::for_creation(&body.configs)?,
    };
    let topic = state.coordinator.create_topic(config).await?;
    let description = state.coordinator.describe_topic(&topic.name).await?;
    Ok((StatusCode::CREATED, Json(topic_detail(&description))).into_response())
}

async fn list_topics(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let topics = state.coordinator.list_topics().await?;
    Ok(Json(
        json!({ "topics": topics.iter().map(topic_summary).collect::<Vec<_>>() }),
    ))
}

async fn describe_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(topic_detail(
        &state.coordinator.describe_topic(&topic).await?,
    )))
}

/// A change to a topic: more partitions, or retention (`null`: back to the default).
/// A field left out stays as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlterTopicBody {
    #[serde(default)]
    partitions: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    retention_ms: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    retention_bytes: Option<Option<i64>>,
    #[serde(default)]
    configs: configs::ConfigsJson,
    #[serde(default)]
    validate_only: bool,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn setting(value: Option<i64>) -> Setting<i64> {
    value.map_or(Setting::Default, Setting::Set)
}

async fn alter_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(body_rejection)?;
    let body: AlterTopicBody = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request("invalid_json", format!("invalid topic change: {error}"))
    })?;
    let partitions = body
        .partitions
        .map(|partitions| {
            u32::try_from(partitions).map_err(|_| {
                ApiError::bad_request(
                    "invalid_partitions",
                    format!("partitions must be between 1 and 10000, got {partitions}"),
                )
            })
        })
        .transpose()?;
    let alteration = TopicAlteration {
        partitions,
        retention_ms: body.retention_ms.map(setting),
        retention_bytes: body.retention_bytes.map(setting),
        configs: configs::for_alteration(&body.configs),
        reset_configs: false,
        validate_only: body.validate_only,
    };
    let altered = state.coordinator.alter_topic(&topic, alteration).await?;
    if body.validate_only {
        return Ok(Json(topic_summary(&altered)));
    }
    Ok(Json(topic_detail(
        &state.coordinator.describe_topic(&topic).await?,
    )))
}

async fn delete_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.coordinator.delete_topic(&topic).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn produce(
    State(state): State<AppState>,
    Path(topic_name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let span = info_span!("produce", topic = %topic_name, records = tracing::field::Empty);
    let started = std::time::Instant::now();
    let metrics = Arc::clone(&state.metrics);
    let answer = async move {
        let body = body.map_err(body_rejection)?;
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

/// `POST /v1/topics/{topic}/compact`: compacts everything eligible now.
async fn compact(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Some(admin) = &state.admin else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_supported",
            "this gateway runs no compactor",
        ));
    };
    state.coordinator.get_topic(&topic).await?;
    Ok(Json(admin.compact(&topic).await?))
}

/// `GET /v1/topics/{topic}/tables`: the compacted files, with offset and time ranges.
async fn list_tables(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tables = state.coordinator.list_tables(&topic).await?;
    let tables: Vec<Value> = tables
        .iter()
        .map(|table| {
            let ranges: Vec<Value> = table
                .ranges
                .iter()
                .map(|range| {
                    json!({
                        "partition": range.partition,
                        "start_offset": range.base_offset,
                        "end_offset": range.base_offset + range.record_count,
                        "record_count": range.record_count,
                        "min_timestamp": range.min_timestamp,
                        "max_timestamp": range.max_timestamp,
                    })
                })
                .collect();
            json!({
                "object_key": table.object_key,
                "size_bytes": table.object_size,
                "min_timestamp": table.ranges.iter().map(|r| r.min_timestamp).min(),
                "max_timestamp": table.ranges.iter().map(|r| r.max_timestamp).max(),
                "ranges": ranges,
            })
        })
        .collect();
    Ok(Json(json!({ "tables": tables })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GcParams {
    grace_ms: Option<i64>,
}

/// Objects younger than this are never collected unless asked: in-flight reads and
/// commits finish well within it.
const DEFAULT_GC_GRACE_MS: i64 = 10 * 60 * 1000;

/// `POST /v1/admin/gc?grace_ms=`: deletes objects nothing references any more.
async fn collect_garbage(
    State(state): State<AppState>,
    params: Result<Query<GcParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::bad_request("invalid_argument", rejection.body_text()))?;
    let grace_ms = params.grace_ms.unwrap_or(DEFAULT_GC_GRACE_MS);
    if grace_ms < 0 {
        return Err(ApiError::bad_request(
            "invalid_argument",
            "grace_ms must not be negative",
        ));
    }
    let Some(admin) = &state.admin else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_supported",
            "this gateway runs no compactor",
        ));
    };
    Ok(Json(admin.collect_garbage(grace_ms).await?))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitProducerBody {
    /// Given, the producer keeps its id and moves to the next epoch, fencing the old one.
    producer_id: Option<i64>,
}

/// `POST /v1/producers`: an id and epoch for an idempotent producer.
async fn init_producer(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(body_rejection)?;
    let request: InitProducerBody = if body.iter().all(u8::is_ascii_whitespace) {
        InitProducerBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::bad_request("invalid_json", format!("invalid producer request: {error}"))
        })?
    };
    let identity = state.coordinator.init_producer(request.producer_id).await?;
    Ok(Json(
        json!({"producer_id": identity.producer_id, "epoch": identity.epoch}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchParams {
    offset: Option<u64>,
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
    params: Result<Query<FetchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::bad_request("invalid_argument", rejection.body_text()))?;
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
        let offset = match params.offset {
            Some(offset) => offset,
            None => {
                state
                    .coordinator
                    .partition_offsets(&topic, partition)
                    .await?
                    .log_start_offset
            }
        };
        let request = FetchRequest {
            topic: topic.clone(),
            partition,
            offset,
            max_records,
            max_bytes,
        };
        let mut result = state.reader.fetch(&request).await?;
        if result.records.is_empty() && wait_ms > 0 {
            let waited = state.coordinator.wait_for_records(
                &topic,
                partition,
                offset,
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
                "],\"next_offset\":{},\"high_watermark\":{},\"log_start_offset\":{}}}",
                result.next_offset, result.offsets.high_watermark, result.offsets.log_start_offset
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
}

struct StreamState {
    state: AppState,
    topic: String,
    partition: u32,
    offset: u64,
    pending: std::collections::VecDeque<Event>,
    done: bool,
}

/// Server-sent events: one `record` event per record, `id` = offset. A reconnecting
/// client sends `Last-Event-ID` and resumes after it.
async fn stream(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::bad_request("invalid_argument", rejection.body_text()))?;
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
            };
            match stream.state.reader.fetch(&request).await {
                Ok(result) if !result.records.is_empty() => {
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

async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.coordinator.list_topics().await?;
    Ok("ready")
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render(&state.reader);
    // An embedded coordinator (`silt dev`) reports here too; a remote one serves its own.
    text.push_str(&state.coordinator.metrics_text().await);
    if let Some(admin) = &state.admin {
        text.push_str(&admin.metrics_text());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
