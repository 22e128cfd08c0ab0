//! One Kafka connection: frames read as their bytes arrive (within the header and body
//! timeouts and the shared frame budget), requests handled in order with several in
//! flight, answers written back in request order.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, WriteHalf};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::Instrument;

use crate::listener::ListenerStats;

use super::context::Context;
use super::context::KafkaError;
use super::dispatch::{PendingResponse, request};
use super::security::Session;

/// Largest request frame accepted; larger ones close the connection.
pub(super) const MAX_FRAME_BYTES: usize = 64 << 20;

/// Requests of one connection whose responses may be pending at once. A produce is
/// submitted to the batcher as soon as it is read, so a client that keeps several
/// produce requests in flight gets them into one flush; responses go back in request
/// order, as the protocol requires.
pub(super) const MAX_IN_FLIGHT: usize = 8;

/// Largest frame of any request but Produce.
pub(super) const MAX_OTHER_FRAME_BYTES: usize = 4 << 20;

/// Serves one connection (`stream`: plain or TLS, under the idle timeout) from `peer`,
/// whose client certificate named `certificate_principal`, if any.
pub(super) async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    certificate_principal: Option<String>,
    context: &Context,
    stats: &Arc<ListenerStats>,
) -> Result<(), KafkaError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer_host = format!("/{}", peer.ip());
    let mut session = Session::new(Some(peer.ip()), certificate_principal);
    let (read, write) = tokio::io::split(stream);
    let mut read = BufReader::new(read);
    let (pending_tx, pending_rx) = mpsc::channel::<PendingResponse>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_responses(write, pending_rx).in_current_span());
    let reading = async {
        loop {
            // Shutting down: no new requests; those read are answered, then it closes.
            let frame = tokio::select! {
                frame = read_frame(&mut read, context, stats) => frame?,
                () = context.state.stopping() => None,
            };
            let Some(frame) = frame else {
                return Ok(());
            };
            let pending = request(context, &mut session, frame.bytes.clone(), &peer_host).await?;
            drop(frame);
            if pending_tx.send(pending).await.is_err() {
                // The writer stopped: the connection is broken.
                return Ok(());
            }
            if session.failed {
                // Authentication failed: its answer is written, then the connection ends.
                return Ok(());
            }
        }
    }
    .await;
    drop(pending_tx);
    let written = writer
        .await
        .map_err(|error| KafkaError::Protocol(format!("response writer: {error}")))?;
    reading.and(written)
}

/// A request frame, holding its share of the listener's frame budget.
pub(super) struct Frame {
    bytes: Bytes,
    _budget: OwnedSemaphorePermit,
}

/// Reads one request frame: `None` at a clean end of the connection. Once the first
/// byte of a frame has come, its size and header must come within the header timeout
/// and the whole frame within the body timeout. A frame larger than its API allows
/// closes the connection before its body is read, and frames being read at once hold
/// at most the listener's budget of memory, allocated as their bytes arrive.
pub(super) async fn read_frame<R: AsyncRead + Unpin>(
    read: &mut R,
    context: &Context,
    stats: &ListenerStats,
) -> Result<Option<Frame>, KafkaError> {
    let limits = &context.state.config.connections;
    let header_timeout = Duration::from_millis(limits.header_timeout_ms);
    let body_timeout = Duration::from_millis(limits.body_timeout_ms);
    let mut head = [0u8; 6];
    if read.read(&mut head[..1]).await? == 0 {
        return Ok(None);
    }
    let started = tokio::time::Instant::now();
    if tokio::time::timeout(header_timeout, read.read_exact(&mut head[1..]))
        .await
        .is_err()
    {
        ListenerStats::count(&stats.header_timeouts);
        return Err(KafkaError::Protocol(
            "the request's size and header came too slowly".into(),
        ));
    }
    let length = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let api_key = i16::from_be_bytes([head[4], head[5]]);
    let limit = if api_key == ApiKey::Produce as i16 {
        MAX_FRAME_BYTES
    } else {
        MAX_OTHER_FRAME_BYTES
    };
    let length = usize::try_from(length)
        .ok()
        .filter(|length| (4..=limit).contains(length))
        .ok_or_else(|| {
            KafkaError::Protocol(format!(
                "a frame of {length} bytes (api key {api_key}, limit {limit})"
            ))
        })?;
    let kib = u32::try_from(length.div_ceil(1024)).unwrap_or(u32::MAX);
    let budget = Arc::clone(&context.frame_budget)
        .acquire_many_owned(kib)
        .await
        .map_err(|_| KafkaError::Protocol("the listener is closing".into()))?;
    let mut bytes = Vec::with_capacity(length.min(64 << 10));
    bytes.extend_from_slice(&head[4..]);
    let rest = (length - 2) as u64;
    let deadline = started + body_timeout;
    match tokio::time::timeout_at(deadline, (&mut *read).take(rest).read_to_end(&mut bytes)).await {
        Err(_) => {
            ListenerStats::count(&stats.body_timeouts);
            return Err(KafkaError::Protocol("the request came too slowly".into()));
        }
        Ok(result) => {
            result?;
        }
    }
    if bytes.len() != length {
        return Err(KafkaError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(Some(Frame {
        bytes: Bytes::from(bytes),
        _budget: budget,
    }))
}

/// Writes each response (framed by [`super::dispatch::encode_response`]) once it is
/// ready, in request order.
pub(super) async fn write_responses<S: AsyncWrite>(
    mut write: WriteHalf<S>,
    mut pending: mpsc::Receiver<PendingResponse>,
) -> Result<(), KafkaError> {
    while let Some(response) = pending.recv().await {
        let Some(response) = response.await? else {
            continue;
        };
        write.write_all(&response).await?;
    }
    Ok(())
}
