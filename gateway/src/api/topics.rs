//! `/v1/topics`: create, list, describe, change and delete topics; compact one now and
//! list its compacted files.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::coordinator::{Setting, Topic, TopicAlteration, TopicConfig, TopicDescription};

use super::configs;
use crate::auth::Caller;
use crate::auth::http::require;
use crate::error::ApiError;
use crate::extract::Body;
use crate::state::AppState;
use silt_core::security::{CLUSTER_NAME, Operation, ResourceType};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/topics", post(create_topic).get(list_topics))
        .route(
            "/v1/topics/{topic}",
            get(describe_topic).patch(alter_topic).delete(delete_topic),
        )
        .route("/v1/topics/{topic}/compact", post(compact))
        .route("/v1/topics/{topic}/tables", get(list_tables))
}

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
    value["partitions"] = description
        .partitions
        .iter()
        .map(|offsets| {
            json!({
                "partition": offsets.partition,
                "log_start_offset": offsets.log_start_offset,
                "high_watermark": offsets.high_watermark,
                "last_stable_offset": offsets.last_stable_offset(),
            })
        })
        .collect();
    value
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
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let body: CreateTopicBody = body.json("topic")?;
    // Kafka's rule: CREATE on the cluster, or on the topic's name.
    if !state.security.authorize(
        &caller,
        Operation::Create,
        ResourceType::Cluster,
        CLUSTER_NAME,
    ) {
        require(
            &state.security,
            &caller,
            Operation::Create,
            ResourceType::Topic,
            &body.name,
        )?;
    }
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

async fn list_topics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let topics = state.coordinator.list_topics().await?;
    // Topics the caller may not describe are not shown.
    let visible = topics.iter().filter(|topic| {
        state.security.authorize(
            &caller,
            Operation::Describe,
            ResourceType::Topic,
            &topic.name,
        )
    });
    Ok(Json(
        json!({ "topics": visible.map(topic_summary).collect::<Vec<_>>() }),
    ))
}

/// Which partitions a description lists: all by default, or a page of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionPage {
    #[serde(default)]
    partitions_from: u32,
    partitions_limit: Option<u32>,
}

async fn describe_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Query(page): Query<PartitionPage>,
) -> Result<Json<Value>, ApiError> {
    let mut description = state.coordinator.describe_topic(&topic).await?;
    let limit = page.partitions_limit.unwrap_or(u32::MAX);
    description.partitions.retain(|offsets| {
        offsets.partition >= page.partitions_from
            && offsets.partition - page.partitions_from < limit
    });
    Ok(Json(topic_detail(&description)))
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
    /// A new value schema, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    value_schema: Option<Option<Value>>,
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

fn setting<T>(value: Option<T>) -> Setting<T> {
    value.map_or(Setting::Default, Setting::Set)
}

async fn alter_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: AlterTopicBody = body.json("topic change")?;
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
        value_schema: body.value_schema.map(setting),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TablesQuery {
    /// Only the newest this many files.
    limit: Option<usize>,
}

/// `GET /v1/topics/{topic}/tables`: the compacted files, with offset and time ranges,
/// oldest first (with `limit`, the newest that many); `total` counts them all.
async fn list_tables(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Query(query): Query<TablesQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut tables = state.coordinator.list_tables(&topic).await?;
    let total = tables.len();
    if let Some(limit) = query.limit {
        tables.drain(..total.saturating_sub(limit));
    }
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
    Ok(Json(json!({ "tables": tables, "total": total })))
}
