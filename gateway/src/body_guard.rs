//! What a request body must do before a handler reads it: stay under the declared
//! length limit, be of a media type the API reads, and arrive within the body timeout
//! ([`guard_body`]); [`is_body_timeout`] tells a body that came too slowly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use thiserror::Error;
use tokio::time::Sleep;

use crate::error::ApiError;
use crate::listener::ListenerStats;
use crate::state::AppState;

/// Media types a request body may have: JSON, NDJSON, and what `curl -d` sends by
/// default (its body is read as JSON all the same).
fn accepted_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json"
            | "application/x-ndjson"
            | "application/ndjson"
            | "application/x-www-form-urlencoded"
    ) || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Checks a request before its body is read: a declared length over the limit is
/// answered 413 at once, a body of another media type 415; the body must then arrive
/// within the body timeout.
pub(crate) async fn guard_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let limit = state.config.max_body_bytes;
    if declared.is_some_and(|length| length > limit as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body exceeds the gateway's limit of {limit} bytes"),
        )
        .into_response();
    }
    let has_body = declared.is_some_and(|length| length > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if writes
        && has_body
        && let Some(content_type) = request.headers().get(header::CONTENT_TYPE)
        && !content_type.to_str().is_ok_and(accepted_media_type)
    {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "bodies are JSON (application/json) or NDJSON (application/x-ndjson), not {}",
                String::from_utf8_lossy(content_type.as_bytes())
            ),
        )
        .into_response();
    }
    let timeout = Duration::from_millis(state.config.connections.body_timeout_ms);
    let stats = Arc::clone(&state.metrics.http_listener);
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            stats,
            expired: false,
        })
    });
    next.run(request).await
}

/// A request body that fails once its deadline passes before its end.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    stats: Arc<ListenerStats>,
    expired: bool,
}

/// The error of a body that came too slowly; [`is_body_timeout`] finds it.
#[derive(Debug, Error)]
#[error("the request body did not arrive within the body timeout")]
pub struct BodyTimedOut;

/// Whether `error` (or what caused it) is a body timeout.
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        current = error.source();
    }
    false
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if !this.expired && this.deadline.as_mut().poll(cx).is_ready() {
            this.expired = true;
            ListenerStats::count(&this.stats.body_timeouts);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
