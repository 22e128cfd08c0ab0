//! `/iceberg/v1/...`: the Apache Iceberg REST catalog of the bucket's topic tables, one
//! namespace (`silt`) whose tables are the compacted topics. Read-only: Silt alone
//! writes its tables. Callers see the topics they may describe, and load the tables of
//! topics they may read.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::security::{Operation, ResourceType};

use crate::auth::Caller;
use crate::state::AppState;

/// The catalog's one namespace.
pub const NAMESPACE: &str = "silt";
/// Tables listed per page unless the caller asks for fewer or more (at most 1000).
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/iceberg/v1/config", get(config))
        .route(
            "/iceberg/v1/namespaces",
            get(list_namespaces).post(read_only),
        )
        .route(
            "/iceberg/v1/namespaces/{namespace}",
            get(load_namespace).head(namespace_exists).delete(read_only),
        )
        .route(
            "/iceberg/v1/namespaces/{namespace}/tables",
            get(list_tables).post(read_only),
        )
        .route(
            "/iceberg/v1/namespaces/{namespace}/tables/{table}",
            get(load_table)
                .head(table_exists)
                .post(read_only)
                .delete(read_only),
        )
}

/// An answer in the catalog's error model.
fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "code": status.as_u16()}})),
    )
        .into_response()
}

fn unavailable(message: impl std::fmt::Display) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailableException",
        message.to_string(),
    )
}

fn no_namespace(namespace: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NoSuchNamespaceException",
        format!("namespace {namespace:?} does not exist; Silt's tables are in {NAMESPACE:?}"),
    )
}

fn no_catalog() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        "this gateway serves no Iceberg catalog",
    )
}

async fn read_only() -> Response {
    error(
        StatusCode::NOT_ACCEPTABLE,
        "UnsupportedOperationException",
        "Silt writes its topics' tables itself: this catalog is read-only",
    )
}

/// `GET /iceberg/v1/config`: the endpoints served and the storage settings engines use.
async fn config(State(state): State<AppState>) -> Response {
    let defaults: BTreeMap<String, String> = state
        .iceberg
        .as_ref()
        .map(|catalog| catalog.file_io.clone())
        .unwrap_or_default();
    Json(json!({
        "defaults": defaults,
        "overrides": {},
        "endpoints": [
            "GET /v1/{prefix}/namespaces",
            "GET /v1/{prefix}/namespaces/{namespace}",
            "HEAD /v1/{prefix}/namespaces/{namespace}",
            "GET /v1/{prefix}/namespaces/{namespace}/tables",
            "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
            "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        ],
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ListNamespacesQuery {
    parent: Option<String>,
}

/// `GET /iceberg/v1/namespaces`: `silt`, which has no children.
async fn list_namespaces(Query(query): Query<ListNamespacesQuery>) -> Response {
    match query.parent.as_deref() {
        None | Some("") => Json(json!({"namespaces": [[NAMESPACE]]})).into_response(),
        Some(NAMESPACE) => Json(json!({"namespaces": []})).into_response(),
        Some(other) => no_namespace(other),
    }
}

async fn load_namespace(Path(namespace): Path<String>) -> Response {
    if namespace != NAMESPACE {
        return no_namespace(&namespace);
    }
    Json(json!({"namespace": [NAMESPACE], "properties": {}})).into_response()
}

async fn namespace_exists(Path(namespace): Path<String>) -> StatusCode {
    if namespace == NAMESPACE {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

#[derive(Deserialize)]
struct ListTablesQuery {
    #[serde(rename = "pageToken")]
    page_token: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<usize>,
}

/// `GET /iceberg/v1/namespaces/silt/tables`: the compacted topics the caller may
/// describe, by name, a page at a time (the token is the last name of the page).
async fn list_tables(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<ListTablesQuery>,
) -> Response {
    if namespace != NAMESPACE {
        return no_namespace(&namespace);
    }
    let Some(catalog) = &state.iceberg else {
        return no_catalog();
    };
    let page_size = query
        .page_size
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let folders = match catalog.topics_with_tables().await {
        Ok(folders) => folders,
        Err(failure) => return unavailable(failure),
    };
    let topics = match state.coordinator.list_topics().await {
        Ok(topics) => topics,
        Err(failure) => return unavailable(failure),
    };
    let mut names: Vec<&str> = topics
        .iter()
        .map(|topic| topic.name.as_str())
        .filter(|name| folders.contains(*name))
        .filter(|name| query.page_token.as_deref().is_none_or(|last| *name > last))
        .filter(|name| {
            state
                .security
                .authorize(&caller, Operation::Describe, ResourceType::Topic, name)
        })
        .collect();
    names.sort_unstable();
    let next = (names.len() > page_size).then(|| names[page_size - 1].to_owned());
    names.truncate(page_size);
    let identifiers: Vec<Value> = names
        .iter()
        .map(|name| json!({"namespace": [NAMESPACE], "name": name}))
        .collect();
    Json(json!({"identifiers": identifiers, "next-page-token": next})).into_response()
}

/// The metadata location and JSON of `table`'s current version, when it is a table
/// of the topic that now has that name.
async fn current(
    state: &AppState,
    namespace: &str,
    table: &str,
) -> Result<(String, Value), Response> {
    if namespace != NAMESPACE {
        return Err(no_namespace(namespace));
    }
    let catalog = state.iceberg.as_ref().ok_or_else(no_catalog)?;
    let missing = || {
        error(
            StatusCode::NOT_FOUND,
            "NoSuchTableException",
            format!(
                "table {NAMESPACE}.{table} does not exist (a topic is a table once the compactor has compacted some of it)"
            ),
        )
    };
    let topic = match state.coordinator.get_topic(table).await {
        Ok(topic) => topic,
        Err(failure) if failure.kind() == silt_core::ErrorKind::NotFound => return Err(missing()),
        Err(failure) => return Err(unavailable(failure)),
    };
    let (location, metadata) = match catalog.load(table).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return Err(missing()),
        Err(failure) => return Err(unavailable(failure)),
    };
    // A table left by a deleted topic of the same name is not this topic's.
    let owner = metadata["properties"]["silt.topic-id"].as_str();
    if owner != Some(topic.topic_id.to_string().as_str()) {
        return Err(missing());
    }
    Ok((location, metadata))
}

/// `GET /iceberg/v1/namespaces/silt/tables/{topic}`: the table's current metadata.
async fn load_table(
    State(state): State<AppState>,
    Path((namespace, table)): Path<(String, String)>,
) -> Response {
    match current(&state, &namespace, &table).await {
        Ok((location, metadata)) => {
            let config = state
                .iceberg
                .as_ref()
                .map(|catalog| catalog.file_io.clone())
                .unwrap_or_default();
            Json(json!({
                "metadata-location": location,
                "metadata": metadata,
                "config": config,
            }))
            .into_response()
        }
        Err(response) => response,
    }
}

async fn table_exists(
    State(state): State<AppState>,
    Path((namespace, table)): Path<(String, String)>,
) -> StatusCode {
    match current(&state, &namespace, &table).await {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(response) => response.status(),
    }
}
