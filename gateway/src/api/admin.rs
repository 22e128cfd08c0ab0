//! Administration: garbage collection of unreferenced objects, and ids for idempotent
//! producers.

use crate::auth::Caller;
use crate::auth::http::forbidden;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::security::{CLUSTER_NAME, Operation, ResourceType};

use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/gc", post(collect_garbage))
        .route("/v1/producers", post(init_producer))
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
    Params(params): Params<GcParams>,
) -> Result<Json<Value>, ApiError> {
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
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let request: InitProducerBody = body.json_or_default("producer request")?;
    if !state.security.may_write_idempotently(&caller) {
        return Err(forbidden(
            ResourceType::Cluster,
            CLUSTER_NAME,
            Operation::IdempotentWrite,
        ));
    }
    let identity = state.coordinator.init_producer(request.producer_id).await?;
    Ok(Json(
        json!({"producer_id": identity.producer_id, "epoch": identity.epoch}),
    ))
}
