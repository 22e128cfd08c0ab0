//! Authentication and authorization of HTTP requests. [`authenticate`] runs before
//! routing: `Authorization: Bearer <API key>`, HTTP Basic with a user's password, or a
//! client certificate (mTLS) make the [`Caller`]; no credentials is `401` (unless
//! anonymous clients are allowed), wrong ones `401` after the failure delay.
//! [`authorize`] runs after routing and checks the ACLs the route's rule names; handlers
//! check the ones their bodies name with [`require`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use silt_core::security::{CLUSTER_NAME, Operation, ResourceType};

use super::routes::{Rule, rule};
use super::{Caller, Security};
use crate::error::ApiError;
use crate::state::AppState;

/// The connection a request came on: its peer, and the principal its client
/// certificate names (mTLS).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub peer: Option<SocketAddr>,
    pub certificate_principal: Option<String>,
}

/// `403` for `caller` lacking `operation` on a resource, with Kafka's name of the error.
pub fn forbidden(resource_type: ResourceType, name: &str, operation: Operation) -> ApiError {
    let (code, what) = match resource_type {
        ResourceType::Topic => ("topic_authorization_failed", format!("topic {name:?}")),
        ResourceType::Group => ("group_authorization_failed", format!("group {name:?}")),
        ResourceType::Cluster => ("cluster_authorization_failed", "the cluster".to_owned()),
        ResourceType::TransactionalId => (
            "transactional_id_authorization_failed",
            format!("transactional id {name:?}"),
        ),
    };
    ApiError::new(
        StatusCode::FORBIDDEN,
        code,
        format!("not allowed to {operation} {what}"),
    )
}

/// `Ok` if `caller` may do `operation` on the resource, else its `403`.
pub fn require(
    security: &Security,
    caller: &Caller,
    operation: Operation,
    resource_type: ResourceType,
    name: &str,
) -> Result<(), ApiError> {
    if security.authorize(caller, operation, resource_type, name) {
        Ok(())
    } else {
        Err(forbidden(resource_type, name, operation))
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer, Basic realm=\"silt\""),
    );
    response
}

/// What the request's credentials prove: `Ok(None)` when it carries none.
async fn credentials(
    security: &Security,
    parts: &Parts,
    connection: &Connection,
) -> Result<Option<String>, &'static str> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(connection.certificate_principal.clone());
    };
    let value = value
        .to_str()
        .map_err(|_| "a malformed Authorization header")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("a malformed Authorization header")?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return match security.principal_of_key(token, silt_core::now_ms()).await {
            Some(principal) => Ok(Some(principal)),
            None => Err("an unknown, revoked or expired API key"),
        };
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("malformed Basic credentials")?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or("malformed Basic credentials")?;
        return match security.principal_of_password(user, password).await {
            Some(principal) => Ok(Some(principal)),
            None => Err("a wrong user name or password"),
        };
    }
    Err("an Authorization scheme other than Bearer or Basic")
}

/// Makes the request's [`Caller`], or answers `401`.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let connection = request
        .extensions()
        .get::<Connection>()
        .cloned()
        .unwrap_or_default();
    let address: Option<IpAddr> = connection.peer.map(|peer| peer.ip());
    let host = address.map(|ip| ip.to_string()).unwrap_or_default();
    let security = &state.security;
    let public = matches!(
        rule(request.method(), request.uri().path(), security.config()),
        Rule::Public
    );
    if !security.enabled() || public {
        request.extensions_mut().insert(Caller::anonymous(host));
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let proven = credentials(security, &parts, &connection).await;
    let mut request = Request::from_parts(parts, body);
    let principal = match proven {
        Ok(Some(principal)) => {
            security.failures.succeeded(address);
            principal
        }
        Ok(None) if security.config().allow_anonymous => silt_core::security::ANONYMOUS.to_owned(),
        Ok(None) => return unauthorized("credentials are required: an API key or a password"),
        Err(reason) => {
            security.failed(address, false, reason).await;
            return unauthorized(reason);
        }
    };
    request.extensions_mut().insert(Caller { principal, host });
    next.run(request).await
}

/// Checks the ACLs the matched route's rule names.
pub async fn authorize(
    State(state): State<AppState>,
    caller: Caller,
    route: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let Rule::Checks(checks) = rule(request.method(), route.as_str(), state.security.config())
    else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    // Decoded as handlers see them; a route without parameters has none.
    let params = Path::<Vec<(String, String)>>::from_request_parts(&mut parts, &state)
        .await
        .map(|Path(params)| params)
        .unwrap_or_default();
    let request = Request::from_parts(parts, body);
    for check in checks {
        let name = if check.param.is_empty() {
            CLUSTER_NAME.to_owned()
        } else {
            match params.iter().find(|(key, _)| key == check.param) {
                Some((_, value)) => value.clone(),
                None => CLUSTER_NAME.to_owned(),
            }
        };
        if let Err(error) = require(
            &state.security,
            &caller,
            check.operation,
            check.resource_type,
            &name,
        ) {
            return error.into_response();
        }
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    /// The caller [`authenticate`] made; a request that did not pass it is anonymous.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(|| Caller::anonymous("")))
    }
}
