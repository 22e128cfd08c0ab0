//! Consumer-group endpoints. All group state lives in the coordinator, so any gateway
//! serves any member: a member may join through one gateway and fetch and commit
//! through another.

use crate::auth::Caller;
use crate::auth::http::require;
use silt_core::security::{Operation, ResourceType};
use silt_core::transactions::Isolation;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::groups::{
    AutoOffsetReset, FetchAck, FetchPlan, JoinGroup, MemberAssignment, PartitionOffset, ResetTarget,
};
use silt_reader::FetchRequest;
use tracing::{Instrument, info_span, warn};

use super::records::fetch_limits;
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::json::write_record;
use crate::metrics::Metrics;
use crate::state::AppState;

const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/groups", get(list))
        .route("/v1/groups/{group}", get(describe))
        .route("/v1/groups/{group}/members", post(join))
        .route("/v1/groups/{group}/members/{member}", delete(leave))
        .route(
            "/v1/groups/{group}/members/{member}/heartbeat",
            post(heartbeat),
        )
        .route("/v1/groups/{group}/members/{member}/records", get(fetch))
        .route("/v1/groups/{group}/offsets", post(commit))
        .route("/v1/groups/{group}/offsets/reset", post(reset))
}

fn assignment_json(member: &MemberAssignment) -> Value {
    json!({"member_id": member.member_id, "generation": member.generation, "assignments": member.assignments})
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    #[serde(default)]
    topics: Vec<String>,
    session_timeout_ms: Option<u64>,
    #[serde(default)]
    auto_offset_reset: AutoOffsetReset,
    member_id: Option<String>,
}

/// `POST /v1/groups/{group}/members`
pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    Path(group): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: JoinBody = body.json("join request")?;
    require_read(&state, &caller, &body.topics)?;
    let join = JoinGroup {
        member_id: body.member_id,
        topics: body.topics,
        session_timeout_ms: body
            .session_timeout_ms
            .unwrap_or(DEFAULT_SESSION_TIMEOUT_MS),
        auto_offset_reset: body.auto_offset_reset,
    };
    let member = state.coordinator.join_group(&group, join).await?;
    Ok(Json(assignment_json(&member)))
}

/// `POST /v1/groups/{group}/members/{member}/heartbeat`
pub async fn heartbeat(
    State(state): State<AppState>,
    Path((group, member)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(assignment_json(
        &state.coordinator.heartbeat(&group, &member).await?,
    )))
}

/// `DELETE /v1/groups/{group}/members/{member}`
pub async fn leave(
    State(state): State<AppState>,
    Path((group, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.coordinator.leave_group(&group, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberFetchParams {
    max_records: Option<usize>,
    max_bytes: Option<usize>,
    wait_ms: Option<u64>,
    /// The `fetch_id` of the last answer the member received (0: none yet).
    ack: Option<u64>,
}

/// `GET /v1/groups/{group}/members/{member}/records`: records from the member's
/// partitions, from where its last fetch ended (or the group's committed offsets).
pub async fn fetch(
    State(state): State<AppState>,
    Path((group, member)): Path<(String, String)>,
    Params(params): Params<MemberFetchParams>,
) -> Result<Response, ApiError> {
    let (max_records, max_bytes, wait_ms) = fetch_limits(
        &state.config,
        params.max_records,
        params.max_bytes,
        params.wait_ms,
    )?;
    let span = info_span!("group_fetch", %group, %member);
    async move {
        Metrics::add(&state.metrics.fetch_requests, 1);
        let ack = params.ack.map_or(FetchAck::Implicit, FetchAck::Received);
        let plan = state.coordinator.fetch_plan(&group, &member, ack).await?;
        let mut fetched = fetch_plan(&state, &plan, max_records, max_bytes).await?;
        if fetched.iter().all(|(_, records, _)| records.is_empty())
            && wait_ms > 0
            && !plan.positions.is_empty()
        {
            let waits = plan.positions.iter().map(|position| {
                state
                    .coordinator
                    .wait_for_records(
                        &position.topic,
                        position.partition,
                        position.offset,
                        Isolation::ReadCommitted,
                        Duration::from_millis(wait_ms),
                    )
                    .boxed()
            });
            tokio::select! {
                _ = futures::future::select_all(waits) => {
                    fetched = fetch_plan(&state, &plan, max_records, max_bytes).await?;
                }
                // Shutting down: answer now with what there is (nothing).
                () = state.stopping() => {}
            }
        }
        let mut advanced = Vec::new();
        let mut records = Vec::new();
        let mut count = 0usize;
        for (position, result, next_offset) in &fetched {
            // Past the last record, and past offsets a key compaction removed.
            if *next_offset > position.offset {
                advanced.push(PartitionOffset::new(
                    position.topic.clone(),
                    position.partition,
                    *next_offset,
                ));
            }
            for record in result {
                if count > 0 {
                    records.push(b',');
                }
                write_record(
                    &mut records,
                    record,
                    Some((&position.topic, position.partition)),
                );
                count += 1;
            }
        }
        Metrics::add(&state.metrics.records_fetched, count as u64);
        let member = &plan.member;
        let mut body = format!(
            "{{\"member_id\":{},\"generation\":{},\"fetch_id\":{},\"assignments\":{},\"records\":[",
            json!(member.member_id),
            member.generation,
            plan.fetch_id,
            json!(member.assignments)
        )
        .into_bytes();
        body.extend_from_slice(&records);
        // Where each partition's next fetch starts: what to commit once the records
        // are processed (past transaction markers and gaps, which are no records).
        body.extend_from_slice(b"],\"next_offsets\":");
        body.extend_from_slice(json!(advanced).to_string().as_bytes());
        body.extend_from_slice(b"}");
        // Where the fetch ended is held by the coordinator; the member's positions move
        // there when its next fetch acknowledges this answer (`ack`, or no `ack` at
        // all), so an answer lost with a gateway is given again, never skipped.
        if !advanced.is_empty()
            && let Err(error) = state
                .coordinator
                .advance_positions(&group, &member.member_id, plan.fetch_id, advanced)
                .await
        {
            warn!(%error, "recording where a member's fetch ended");
        }
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    }
    .instrument(span)
    .await
}

/// Fetches from each planned partition in turn until the budget is spent.
async fn fetch_plan(
    state: &AppState,
    plan: &FetchPlan,
    max_records: usize,
    max_bytes: usize,
) -> Result<Vec<(PartitionOffset, Vec<silt_reader::FetchedRecord>, u64)>, ApiError> {
    let mut out = Vec::with_capacity(plan.positions.len());
    let (mut records_left, mut bytes_left) = (max_records, max_bytes);
    // Start at a different partition each time so none starves.
    let start = state
        .sticky
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed) as usize
        % plan.positions.len().max(1);
    for index in 0..plan.positions.len() {
        let position = &plan.positions[(start + index) % plan.positions.len()];
        if records_left == 0 || bytes_left == 0 {
            break;
        }
        let request = FetchRequest {
            topic: position.topic.clone(),
            partition: position.partition,
            offset: position.offset,
            max_records: records_left,
            max_bytes: bytes_left,
            isolation: Isolation::ReadCommitted,
        };
        let result = state.reader.fetch(&request).await?;
        let bytes: usize = result
            .records
            .iter()
            .map(|record| record.record.encoded_len)
            .sum();
        records_left = records_left.saturating_sub(result.records.len());
        bytes_left = bytes_left.saturating_sub(bytes);
        out.push((position.clone(), result.records, result.next_offset));
    }
    Ok(out)
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    member_id: String,
    generation: u64,
    offsets: Vec<CommitOffset>,
}

/// One offset of an HTTP commit, with an optional metadata string kept with it (at most
/// `MAX_OFFSET_METADATA_BYTES`, as Kafka's `offset.metadata.max.bytes`).
#[derive(Deserialize)]
struct CommitOffset {
    topic: String,
    partition: u32,
    offset: u64,
    #[serde(default)]
    metadata: Option<String>,
}

impl From<CommitOffset> for PartitionOffset {
    fn from(given: CommitOffset) -> Self {
        PartitionOffset {
            metadata: given.metadata,
            ..PartitionOffset::new(given.topic, given.partition, given.offset)
        }
    }
}

/// `POST /v1/groups/{group}/offsets`
pub async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    Path(group): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: CommitBody = body.json("commit")?;
    let offsets: Vec<PartitionOffset> = body.offsets.into_iter().map(Into::into).collect();
    for offset in &offsets {
        require(
            &state.security,
            &caller,
            Operation::Read,
            ResourceType::Topic,
            &offset.topic,
        )?;
    }
    state
        .coordinator
        .commit_offsets(&group, &body.member_id, body.generation, offsets.clone())
        .await?;
    Ok(Json(json!({ "offsets": offsets })))
}

/// `GET /v1/groups/{group}`
pub async fn describe(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.coordinator.describe_group(&group).await?)))
}

/// `GET /v1/groups`
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut groups = state.coordinator.list_groups().await?;
    groups.retain(|group| {
        state
            .security
            .authorize(&caller, Operation::Describe, ResourceType::Group, group)
    });
    Ok(Json(json!({ "groups": groups })))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// `earliest`, `latest` or `offset`.
    to: String,
    offset: Option<u64>,
    topics: Option<Vec<String>>,
}

/// `POST /v1/groups/{group}/offsets/reset`: moves an empty group's committed offsets.
pub async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    Path(group): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: ResetBody = body.json("offset reset")?;
    if state.security.enabled() {
        // READ on every topic whose offsets move.
        let topics: Vec<String> = match &body.topics {
            Some(topics) => topics.clone(),
            None => state
                .coordinator
                .describe_group(&group)
                .await?
                .partitions
                .into_iter()
                .map(|lag| lag.topic)
                .collect(),
        };
        require_read(&state, &caller, &topics)?;
    }
    let target = match (body.to.as_str(), body.offset) {
        ("earliest", None) => ResetTarget::Earliest,
        ("latest", None) => ResetTarget::Latest,
        ("offset", Some(offset)) => ResetTarget::Offset(offset),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_argument",
                "give {\"to\": \"earliest\"}, {\"to\": \"latest\"} or {\"to\": \"offset\", \"offset\": N}",
            ));
        }
    };
    let offsets = state
        .coordinator
        .reset_offsets(&group, target, body.topics)
        .await?;
    Ok(Json(json!({"offsets": offsets})))
}

/// READ on each of `topics` (Kafka's rule for a group's members and its offsets).
fn require_read(state: &AppState, caller: &Caller, topics: &[String]) -> Result<(), ApiError> {
    for topic in topics {
        require(
            &state.security,
            caller,
            Operation::Read,
            ResourceType::Topic,
            topic,
        )?;
    }
    Ok(())
}
