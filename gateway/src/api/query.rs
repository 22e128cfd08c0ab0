//! `POST /v1/query`: SQL over the topics the caller may read, answered as NDJSON, CSV
//! or an Arrow IPC stream, as `Accept` asks.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use silt_core::security::{Operation, ResourceType};
use silt_query::output::{Format, encode};
use silt_query::{MayRead, QueryRequest};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Body;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/query", post(query))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    sql: String,
    /// Fewer rows than the gateway's limit.
    max_rows: Option<usize>,
    /// A shorter timeout than the gateway's.
    timeout_ms: Option<u64>,
}

async fn query(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: QueryBody = body.json("query")?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let format = Format::from_accept(accept)
        .map_err(|message| ApiError::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", message))?;
    if body.sql.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "sql must not be empty",
        ));
    }
    let security = Arc::clone(&state.security);
    let may_read: MayRead = Arc::new(move |topic: &str| {
        security.authorize(&caller, Operation::Read, ResourceType::Topic, topic)
    });
    let answer = state
        .query
        .run(QueryRequest {
            sql: body.sql,
            max_rows: body.max_rows,
            timeout: body.timeout_ms.map(Duration::from_millis),
            may_read,
        })
        .await?;
    let rows = answer.rows();
    let parts = encode(&answer, format)?;
    let stream = futures::stream::iter(
        parts
            .into_iter()
            .map(|part| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(part))),
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::HeaderName::from_static("x-silt-rows"),
                rows.to_string(),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
