//! The v1 HTTP API: one router per resource ([`topics`], [`records`], [`groups`],
//! [`admin`]) merged with health, metrics and the OpenAPI document. `app(state)` builds
//! it; tests drive it with `oneshot`.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

mod admin;
mod configs;
pub(crate) mod groups;
mod iceberg;
mod query;
pub(crate) mod records;
mod security;
mod topics;
mod transactions;

const OPENAPI: &str = include_str!("../openapi.json");

/// The gateway's router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .merge(topics::router())
        .merge(records::router())
        .merge(groups::router())
        .merge(admin::router())
        .merge(transactions::router())
        .merge(security::router())
        .merge(iceberg::router())
        .merge(query::router())
        .merge(crate::console::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::http::authorize,
        ))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::body_guard::guard_body,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::http::authenticate,
        ))
        .with_state(state)
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
    text.push_str(&state.security.metrics_text());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
