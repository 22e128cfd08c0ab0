//! The web console at `/ui`: static pages compiled into the binary (no build step, no
//! CDN), which call the gateway's own API with the visitor's credentials; plus the two
//! API calls only the console needs: recent rates of this gateway, and a page of topics
//! with their totals.

pub mod recent;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::security::{Operation, ResourceType};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The console's files, by name.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/api.js"),
    ),
    (
        "view.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/view.js"),
    ),
    (
        "overview.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/overview.js"),
    ),
    (
        "topics.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/topics.js"),
    ),
    (
        "records.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/records.js"),
    ),
    (
        "groups.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/groups.js"),
    ),
];

/// What the pages may load and talk to: this gateway only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// S3 Standard list prices the overview's cost figures use (USD per 1,000 requests).
const PUT_PRICE_PER_1000: f64 = 0.005;
const GET_PRICE_PER_1000: f64 = 0.0004;

/// Topics on one page unless asked for fewer or more (at most 500).
const DEFAULT_TOPIC_PAGE: usize = 50;
const MAX_TOPIC_PAGE: usize = 500;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{file}", get(asset))
        .route("/v1/console/metrics", get(metrics))
        .route("/v1/console/topics", get(topics))
}

fn file(name: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(file, _, _)| *file == name) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn index() -> Response {
    file("index.html")
}

async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

/// `GET /v1/console/metrics`: this gateway's samples of the last five minutes.
async fn metrics(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "interval_ms": recent::INTERVAL.as_millis() as u64,
        "pricing": {"put_per_1000": PUT_PRICE_PER_1000, "get_per_1000": GET_PRICE_PER_1000},
        "samples": state.recent.samples(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsQuery {
    /// The last name of the previous page.
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/console/topics?after=&limit=`: a page of the topics the caller may
/// describe, by name, each with its record count (high watermarks less log starts)
/// and what it takes in segments and in compacted files.
async fn topics(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TopicsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query
        .limit
        .unwrap_or(DEFAULT_TOPIC_PAGE)
        .clamp(1, MAX_TOPIC_PAGE);
    let mut topics = state.coordinator.list_topics().await?;
    topics.retain(|topic| {
        state.security.authorize(
            &caller,
            Operation::Describe,
            ResourceType::Topic,
            &topic.name,
        )
    });
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let total = topics.len();
    let start = query.after.as_deref().map_or(0, |after| {
        topics.partition_point(|topic| topic.name.as_str() <= after)
    });
    let page = &topics[start..(start + limit).min(total)];
    let next = (start + limit < total)
        .then(|| page.last().map(|topic| topic.name.clone()))
        .flatten();
    let mut rows = Vec::with_capacity(page.len());
    for topic in page {
        let description = state.coordinator.describe_topic(&topic.name).await?;
        let records: u64 = description
            .partitions
            .iter()
            .map(|offsets| offsets.high_watermark - offsets.log_start_offset)
            .sum();
        let storage = state.coordinator.topic_storage(&topic.name).await?;
        rows.push(json!({
            "name": topic.name,
            "partition_count": topic.partitions,
            "retention_ms": topic.retention_ms,
            "retention_bytes": topic.retention_bytes,
            "records": records,
            "segment_bytes": storage.segment_bytes,
            "parquet_files": storage.parquet_files,
            "parquet_bytes": storage.parquet_bytes,
        }));
    }
    Ok(Json(json!({"topics": rows, "next": next, "total": total})))
}
