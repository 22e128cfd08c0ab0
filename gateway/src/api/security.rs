//! Administration of principals and ACLs (`silt users|keys|acls` call these): users
//! with passwords (kept as SCRAM credentials), API keys (the key is shown once, at
//! creation), and ACLs. Listing needs DESCRIBE on the cluster, changing ALTER
//! ([`crate::auth::routes`]). Each change is visible to this gateway at once, to the
//! others within a second.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use silt_core::coordinator::CoordinatorError;
use silt_core::security::{
    AclBinding, AclFilter, SecurityRequest, SecurityResponse, User, check_principal,
};

use crate::auth::credentials::{new_api_key, scram_credentials};
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/users", get(list_users).post(put_user))
        .route("/v1/admin/users/{name}", delete(delete_user))
        .route("/v1/admin/keys", get(list_keys).post(create_key))
        .route("/v1/admin/keys/{id}", delete(revoke_key))
        .route(
            "/v1/admin/acls",
            get(list_acls).post(add_acls).delete(remove_acls),
        )
}

async fn change(state: &AppState, request: SecurityRequest) -> Result<SecurityResponse, ApiError> {
    let response = state.coordinator.security(request).await?;
    // This gateway sees the change at once; the others at their next refresh.
    state.security.refresh().await?;
    Ok(response)
}

async fn view(
    state: &AppState,
) -> Result<std::sync::Arc<silt_core::security::SecurityView>, ApiError> {
    state.security.refresh().await?;
    state.security.view().await.ok_or_else(|| {
        CoordinatorError::Unavailable("the security view is not available".into()).into()
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_argument", message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    name: String,
    password: String,
}

/// `POST /v1/admin/users`: creates the user, or sets its password.
async fn put_user(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let body: UserBody = body.json("user")?;
    silt_core::security::check_user_name(&body.name).map_err(invalid)?;
    let password = body.password;
    let credentials = tokio::task::spawn_blocking(move || scram_credentials(&password))
        .await
        .map_err(|error| CoordinatorError::Internal(error.to_string()))?
        .map_err(|error| invalid(error.to_string()))?;
    let mechanisms: Vec<&str> = credentials.iter().map(|c| c.mechanism.name()).collect();
    let user = User {
        name: body.name.clone(),
        credentials: credentials.clone(),
        created_ms: silt_core::now_ms(),
    };
    change(&state, SecurityRequest::PutUser(user)).await?;
    let answer = json!({
        "name": body.name,
        "principal": format!("User:{}", body.name),
        "mechanisms": mechanisms,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/admin/users`: names and mechanisms, never credentials.
async fn list_users(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let view = view(&state).await?;
    let users: Vec<Value> = view
        .users
        .iter()
        .map(|user| {
            json!({
                "name": user.name,
                "principal": user.principal(),
                "mechanisms": user.credentials.iter().map(|c| c.mechanism.name()).collect::<Vec<_>>(),
                "created_ms": user.created_ms,
            })
        })
        .collect();
    Ok(Json(json!({ "users": users })))
}

/// `DELETE /v1/admin/users/{name}`
async fn delete_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    match change(&state, SecurityRequest::DeleteUser { name: name.clone() }).await? {
        SecurityResponse::Existed(true) => Ok(StatusCode::NO_CONTENT),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "user_not_found",
            format!("no user {name:?}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    principal: String,
    #[serde(default)]
    description: String,
    /// The key stops working this long after its creation.
    expires_in_ms: Option<i64>,
}

/// `POST /v1/admin/keys`: answers the key itself, which is never shown again.
async fn create_key(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let body: KeyBody = body.json("key")?;
    check_principal(&body.principal).map_err(invalid)?;
    if body.description.len() > 1024 {
        return Err(invalid("a key's description has at most 1024 bytes"));
    }
    let now = silt_core::now_ms();
    let expires_ms = match body.expires_in_ms {
        Some(ms) if ms <= 0 => return Err(invalid("expires_in_ms must be positive")),
        Some(ms) => Some(now.saturating_add(ms)),
        None => None,
    };
    let new = new_api_key(&body.principal, &body.description, expires_ms, now)
        .map_err(|error| CoordinatorError::Internal(error.to_string()))?;
    change(&state, SecurityRequest::CreateKey(new.record.clone())).await?;
    let answer = json!({
        "id": new.record.id,
        "key": new.key,
        "principal": new.record.principal,
        "description": new.record.description,
        "created_ms": new.record.created_ms,
        "expires_ms": new.record.expires_ms,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/admin/keys`: ids and owners, never secrets or their hashes.
async fn list_keys(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let view = view(&state).await?;
    let now = silt_core::now_ms();
    let keys: Vec<Value> = view
        .api_keys
        .iter()
        .map(|key| {
            json!({
                "id": key.id,
                "principal": key.principal,
                "description": key.description,
                "created_ms": key.created_ms,
                "expires_ms": key.expires_ms,
                "revoked_ms": key.revoked_ms,
                "live": key.is_live(now),
            })
        })
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

/// `DELETE /v1/admin/keys/{id}`: revokes the key.
async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let request = SecurityRequest::RevokeKey {
        id: id.clone(),
        now_ms: silt_core::now_ms(),
    };
    match change(&state, request).await? {
        SecurityResponse::Existed(true) => Ok(StatusCode::NO_CONTENT),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "key_not_found",
            format!("no live key {id:?}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AclsBody {
    Many { acls: Vec<AclBinding> },
    One(AclBinding),
}

/// `POST /v1/admin/acls`: one binding, or `{"acls": [...]}`; all or none are added.
async fn add_acls(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let acls = match body.json::<AclsBody>("acls")? {
        AclsBody::Many { acls } => acls,
        AclsBody::One(acl) => vec![acl],
    };
    if acls.is_empty() || acls.len() > 1000 {
        return Err(invalid("give 1 to 1000 ACLs"));
    }
    change(&state, SecurityRequest::AddAcls(acls.clone())).await?;
    Ok((StatusCode::CREATED, Json(json!({ "acls": acls }))).into_response())
}

/// `GET /v1/admin/acls?principal=…&resource_type=…`: the ACLs a filter selects.
async fn list_acls(
    State(state): State<AppState>,
    Params(filter): Params<AclFilter>,
) -> Result<Json<Value>, ApiError> {
    let view = view(&state).await?;
    let acls: Vec<&AclBinding> = view.acls.iter().filter(|acl| filter.selects(acl)).collect();
    Ok(Json(json!({ "acls": acls })))
}

/// `DELETE /v1/admin/acls?…`: removes what the filter selects (a filter of nothing at
/// all is refused: it would remove every ACL).
async fn remove_acls(
    State(state): State<AppState>,
    Params(filter): Params<AclFilter>,
) -> Result<Json<Value>, ApiError> {
    if filter == AclFilter::default() {
        return Err(invalid(
            "name at least one field of the ACLs to remove (principal, resource_type, …)",
        ));
    }
    match change(&state, SecurityRequest::RemoveAcls(filter)).await? {
        SecurityResponse::Removed(acls) => Ok(Json(json!({ "removed": acls }))),
        other => Err(CoordinatorError::Internal(format!("RemoveAcls answered {other:?}")).into()),
    }
}
