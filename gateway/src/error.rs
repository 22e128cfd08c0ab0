use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use silt_core::ErrorKind;
use silt_core::coordinator::CoordinatorError;
use silt_reader::ReadError;
use tracing::{error, warn};

/// An error answered as `{"error_code": ..., "message": ...}` with a 4xx/5xx status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_code: &'static str,
    pub message: String,
    pub extra: Map<String, Value>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error_code,
            message: message.into(),
            extra: Map::new(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(error_code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error_code, message)
    }

    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(field.to_owned(), value.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// An invalid record in a produce batch, named by its index.
    pub fn invalid_record(index: usize, message: impl std::fmt::Display) -> Self {
        ApiError::bad_request("invalid_record", format!("record {index}: {message}"))
            .with("record_index", index)
    }
}

/// The status of an error of `kind`.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Corrupt | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<silt_query::QueryError> for ApiError {
    fn from(error: silt_query::QueryError) -> Self {
        let status = status_of(error.kind());
        let api_error = ApiError::new(status, error.error_code(), error.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return api_error.retry_after(1);
        }
        api_error
    }
}

impl From<CoordinatorError> for ApiError {
    fn from(error: CoordinatorError) -> Self {
        let status = match &error {
            CoordinatorError::OffsetOutOfRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            _ => status_of(error.kind()),
        };
        let mut api_error = ApiError::new(status, error.error_code(), error.to_string());
        if let CoordinatorError::OffsetOutOfRange {
            offset,
            log_start_offset,
            high_watermark,
        } = error
        {
            api_error = api_error
                .with("offset", offset)
                .with("log_start_offset", log_start_offset)
                .with("high_watermark", high_watermark);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            api_error = api_error.retry_after(1);
        }
        api_error
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Coordinator(error) => error.into(),
            ReadError::Storage { .. } => {
                warn!(%error, "fetch failed to read the object store");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the object store did not answer; retry",
                )
                .retry_after(1)
            }
            other => {
                error!(error = %other, "fetch failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the gateway could not read the records",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error_code".into(), json!(self.error_code));
        body.insert("message".into(), json!(self.message));
        body.extend(self.extra);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
