//! What the HTTP and Kafka listeners share: a cap on open connections, an idle timeout
//! on every connection, and their counters.
//!
//! A connection over the cap is accepted and closed at once (so the kernel's backlog
//! does not fill), and counted. A connection that neither reads nor writes a byte for
//! the idle timeout is closed. Failing accepts (out of file descriptors) are logged and
//! retried after a pause instead of ending the listener.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tracing::{Instrument, info_span, warn};

/// Limits of the connections of both listeners; each listener has its own cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Open connections per listener; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// An HTTP connection with no byte read or written for this long is closed.
    pub http_idle_timeout_ms: u64,
    /// A Kafka connection with no byte read or written for this long is closed
    /// (Kafka's `connections.max.idle.ms`).
    pub kafka_idle_timeout_ms: u64,
    /// An HTTP request's headers, or a Kafka request's size and header, must arrive
    /// within this long of their first byte (of the connection, for a first request).
    pub header_timeout_ms: u64,
    /// An HTTP request's body, or a whole Kafka request, must arrive within this long.
    pub body_timeout_ms: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            http_idle_timeout_ms: 120_000,
            kafka_idle_timeout_ms: 600_000,
            header_timeout_ms: 30_000,
            body_timeout_ms: 120_000,
        }
    }
}

/// Counters of one listener.
#[derive(Debug, Default)]
pub struct ListenerStats {
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    /// Closed at once: the listener was at its cap.
    pub refused: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub header_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
}

impl ListenerStats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One open connection; dropping it frees its place under the cap.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    stats: Arc<ListenerStats>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections on `listener` until `shutdown` turns true, and runs `serve` on
/// each one within the cap; then waits until every connection it started has ended.
pub async fn accept_loop<F, Fut>(
    name: &'static str,
    listener: TcpListener,
    max_connections: usize,
    stats: Arc<ListenerStats>,
    mut shutdown: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, Admitted) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or memory: the listener itself is fine.
                warn!(listener = name, %error, "accept failed; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            ListenerStats::count(&stats.refused);
            drop(stream);
            continue;
        };
        ListenerStats::count(&stats.accepted);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let admitted = Admitted {
            _permit: permit,
            stats: Arc::clone(&stats),
        };
        let span = info_span!("connection", listener = name, %peer);
        tokio::spawn(serve(stream, peer, admitted).instrument(span));
    }
    // Every connection holds a slot until it ends.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// A stream that fails with [`io::ErrorKind::TimedOut`] once it has neither read nor
/// written a byte for its timeout.
pub struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    last_progress: Instant,
    timer: Pin<Box<Sleep>>,
    stats: Arc<ListenerStats>,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, timeout: Duration, stats: Arc<ListenerStats>) -> Self {
        let now = Instant::now();
        IdleTimeout {
            inner,
            timeout,
            last_progress: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
            stats,
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Whether the connection has been idle for its timeout; re-arms the timer when
    /// there was progress since it was set.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let deadline = self.last_progress + self.timeout;
            if deadline <= Instant::now() {
                ListenerStats::count(&self.stats.idle_timeouts);
                return true;
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(written) if written > 0) {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = ready!(Pin::new(&mut this.inner).poll_flush(cx));
        Poll::Ready(result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
