//! The one place a request's body and query are read: every rejection (a body too
//! large or too slow, a query that does not parse, JSON that does not fit) becomes the
//! API's `{error_code, message}` answer, the same on every route.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A request's whole body (bounded by the gateway's body limit and body timeout).
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if crate::body_guard::is_body_timeout(&rejection) {
                    return ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        "the request body did not arrive within the body timeout",
                    );
                }
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "the request body exceeds the gateway's limit",
                    );
                }
                ApiError::new(rejection.status(), "invalid_body", rejection.body_text())
            })?;
        Ok(Body(bytes))
    }
}

impl Body {
    /// The body as JSON (whatever its content type, so `curl -d '{...}'` works);
    /// `what` names the request in the error.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ApiError> {
        serde_json::from_slice(&self.0).map_err(|error| {
            ApiError::bad_request("invalid_json", format!("invalid {what}: {error}"))
        })
    }

    /// [`Body::json`], with an empty body standing for `T::default()`.
    pub fn json_or_default<T: DeserializeOwned + Default>(
        &self,
        what: &str,
    ) -> Result<T, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        self.json(what)
    }
}

/// A request's query string, parsed into `T`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(params) =
            Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| {
                    ApiError::bad_request("invalid_argument", rejection.body_text())
                })?;
        Ok(Params(params))
    }
}
