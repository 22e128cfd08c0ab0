//! `silt coordinator`: serves any [`Coordinator`] over the internal protocol.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use silt_core::Coordinator;
use silt_core::coordinator::CoordinatorError;
use tracing::{Instrument, info_span};

use crate::protocol::{CALL_PATH, Call, Reply};

/// Longest long-poll a caller may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What a coordinator process serves: nothing yet while it is a standby waiting for
/// the leader lock (calls get 503 so that clients try another replica), then the
/// coordinator it leads.
#[derive(Clone, Default)]
pub struct Serving(Arc<OnceLock<Arc<dyn Coordinator>>>);

impl Serving {
    /// A standby: nothing to serve yet.
    pub fn standby() -> Self {
        Serving::default()
    }

    /// Starts serving `coordinator` (once; later calls change nothing).
    pub fn lead(&self, coordinator: Arc<dyn Coordinator>) {
        let _ = self.0.set(coordinator);
    }

    fn get(&self) -> Option<&Arc<dyn Coordinator>> {
        self.0.get()
    }
}

/// The coordinator's internal API.
pub fn router(coordinator: Arc<dyn Coordinator>) -> Router {
    let serving = Serving::standby();
    serving.lead(coordinator);
    router_for(serving)
}

/// The internal API of a process that may still be a standby.
pub fn router_for(serving: Serving) -> Router {
    Router::new()
        .route(CALL_PATH, post(call))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(serving): State<Serving>| async move {
                let mut text = String::new();
                silt_core::metrics::single(
                    &mut text,
                    "silt_coordinator_leader",
                    "gauge",
                    "1 while this replica leads, 0 while it stands by",
                    u8::from(serving.get().is_some()),
                );
                if let Some(coordinator) = serving.get() {
                    text.push_str(&coordinator.metrics_text().await);
                }
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    text,
                )
            }),
        )
        .route(
            "/readyz",
            get(|State(serving): State<Serving>| async move {
                let Some(coordinator) = serving.get() else {
                    return Err((StatusCode::SERVICE_UNAVAILABLE, STANDBY.to_owned()));
                };
                match coordinator.list_topics().await {
                    Ok(_) => Ok("ready"),
                    Err(error) => Err((StatusCode::SERVICE_UNAVAILABLE, error.to_string())),
                }
            }),
        )
        .with_state(serving)
}

const STANDBY: &str = "this coordinator is a standby: another one holds the leader lock";

/// Serves the internal API on `listener` until `shutdown` completes. With `secret`,
/// calls must carry it (`Authorization: Bearer <secret>`); health and metrics stay open.
pub async fn serve(
    listener: tokio::net::TcpListener,
    serving: Serving,
    secret: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(serving, secret))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The internal API of `serving`; with `secret`, calls must carry it.
pub fn app(serving: Serving, secret: Option<String>) -> Router {
    let app = router_for(serving);
    match secret {
        Some(secret) => {
            let secret: Arc<str> = Arc::from(secret);
            app.layer(axum::middleware::from_fn(move |request, next| {
                require_secret(Arc::clone(&secret), request, next)
            }))
        }
        None => app,
    }
}

/// Refuses a call without the internal secret: `401` with an error the client shows.
async fn require_secret(
    secret: Arc<str>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use subtle::ConstantTimeEq;
    if request.uri().path() != CALL_PATH {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
        return next.run(request).await;
    }
    tracing::warn!("a call without the coordinator's internal secret was refused");
    let refused = Reply::Err(CoordinatorError::Unavailable(
        "the coordinator refused the call: wrong or missing internal secret (SILT_INTERNAL_SECRET)"
            .to_owned(),
    ));
    (StatusCode::UNAUTHORIZED, Json(refused)).into_response()
}

fn reply<T: Serialize>(result: Result<T, CoordinatorError>) -> Reply {
    match result.and_then(|value| {
        serde_json::to_value(value)
            .map_err(|error| CoordinatorError::Internal(format!("encoding a reply: {error}")))
    }) {
        Ok(value) => Reply::Ok(value),
        Err(error) => Reply::Err(error),
    }
}

async fn call(State(serving): State<Serving>, Json(call): Json<Call>) -> Response {
    let Some(coordinator) = serving.get() else {
        let standby = Reply::Err(CoordinatorError::Unavailable(STANDBY.to_owned()));
        return (StatusCode::SERVICE_UNAVAILABLE, Json(standby)).into_response();
    };
    let span = info_span!("coordinator_call", method = call.method());
    let c = coordinator.as_ref();
    let answer = async move {
        match call {
            Call::CreateTopic(config) => reply(c.create_topic(config).await),
            Call::ListTopics => reply(c.list_topics().await),
            Call::GetTopic { name } => reply(c.get_topic(&name).await),
            Call::DescribeTopic { name } => reply(c.describe_topic(&name).await),
            Call::DeleteTopic { name } => reply(c.delete_topic(&name).await),
            Call::AlterTopic { name, alteration } => reply(c.alter_topic(&name, alteration).await),
            Call::CommitSegment(commit) => reply(c.commit_segment(commit).await),
            Call::CommitTable(commit) => reply(c.commit_table(commit).await),
            Call::ListTables { topic } => reply(c.list_tables(&topic).await),
            Call::TopicStorage { topic } => reply(c.topic_storage(&topic).await),
            Call::UnreferencedObjects {
                committed_before_ms,
                limit,
            } => reply(c.unreferenced_objects(committed_before_ms, limit).await),
            Call::ForgetObject { object_key } => reply(c.forget_object(&object_key).await),
            Call::KnownObjects { object_keys } => reply(c.known_objects(object_keys).await),
            Call::TruncateBefore {
                topic,
                partition,
                log_start_offset,
            } => reply(c.truncate_before(&topic, partition, log_start_offset).await),
            Call::Lookup {
                topic,
                partition,
                offset,
                max_entries,
            } => reply(c.lookup(&topic, partition, offset, max_entries).await),
            Call::InitProducer { producer_id } => reply(c.init_producer(producer_id).await),
            Call::JoinGroup { group, join } => reply(c.join_group(&group, join).await),
            Call::Heartbeat { group, member_id } => reply(c.heartbeat(&group, &member_id).await),
            Call::LeaveGroup { group, member_id } => reply(c.leave_group(&group, &member_id).await),
            Call::FetchPlan {
                group,
                member_id,
                ack,
            } => reply(c.fetch_plan(&group, &member_id, ack).await),
            Call::AdvancePositions {
                group,
                member_id,
                fetch_id,
                positions,
            } => reply(
                c.advance_positions(&group, &member_id, fetch_id, positions)
                    .await,
            ),
            Call::CommitOffsets {
                group,
                member_id,
                generation,
                offsets,
            } => reply(
                c.commit_offsets(&group, &member_id, generation, offsets)
                    .await,
            ),
            Call::DescribeGroup { group } => reply(c.describe_group(&group).await),
            Call::ListGroups => reply(c.list_groups().await),
            Call::ResetOffsets {
                group,
                target,
                topics,
            } => reply(c.reset_offsets(&group, target, topics).await),
            Call::PartitionOffsets { topic, partition } => {
                reply(c.partition_offsets(&topic, partition).await)
            }
            Call::KafkaGroup(request) => reply(c.kafka_group(request).await),
            Call::Transaction(request) => reply(c.transaction(request).await),
            Call::Security(request) => reply(c.security(request).await),
            Call::WaitForRecords {
                topic,
                partition,
                offset,
                isolation,
                timeout_ms,
            } => {
                let timeout = Duration::from_millis(timeout_ms).min(MAX_WAIT);
                let waited = c.wait_for_records(&topic, partition, offset, isolation, timeout);
                reply(waited.await)
            }
        }
    }
    .instrument(span)
    .await;
    Json(answer).into_response()
}
