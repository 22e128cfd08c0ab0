//! Serving the HTTP API over hyper with the listener's limits: a cap on connections, an
//! idle timeout, a timeout on each request's headers (hyper's) and on its body, a
//! declared body length over the limit refused before any of it is read, and bodies
//! that are not JSON refused with 415.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tracing::debug;

use axum::Extension;

use crate::api::app;
use crate::auth::http::Connection;
use crate::listener::{IdleTimeout, ListenerStats, accept_loop};
use crate::state::AppState;

/// Serves the API on `listener` until `shutdown` completes, then lets open requests
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections.clone();
    let stats = Arc::clone(&state.metrics.http_listener);
    let tls = state.tls.clone();
    let router = app(state);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let idle = Duration::from_millis(limits.http_idle_timeout_ms);
    let header_timeout = Duration::from_millis(limits.header_timeout_ms);
    let connection_stats = Arc::clone(&stats);
    let stop = stop_rx.clone();
    accept_loop(
        "http",
        listener,
        limits.max_connections,
        stats,
        stop_rx,
        move |stream, peer, admitted| {
            let router = router.clone();
            let stats = Arc::clone(&connection_stats);
            let stop = stop.clone();
            let tls = tls.clone();
            async move {
                let _ = stream.set_nodelay(true);
                let stream = IdleTimeout::new(stream, idle, Arc::clone(&stats));
                let mut connection = Connection {
                    peer: Some(peer),
                    certificate_principal: None,
                };
                match tls {
                    Some(tls) => match tls.accept(stream, header_timeout).await {
                        Ok((stream, principal)) => {
                            connection.certificate_principal = principal;
                            let router = router.layer(Extension(connection));
                            serve_connection(stream, router, header_timeout, &stats, stop).await;
                        }
                        Err(error) => debug!(%error, %peer, "TLS handshake failed"),
                    },
                    None => {
                        let router = router.layer(Extension(connection));
                        serve_connection(stream, router, header_timeout, &stats, stop).await;
                    }
                }
                drop(admitted);
            }
        },
    )
    .await;
    Ok(())
}

/// Serves one connection's requests until it ends, or until the server stops (then
/// gracefully: requests in flight are answered).
async fn serve_connection<S>(
    stream: S,
    router: axum::Router,
    header_timeout: Duration,
    stats: &Arc<ListenerStats>,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder.serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(connection);
    let stopping = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let finished = tokio::select! {
        result = connection.as_mut() => Some(result),
        _ = stopping => None,
    };
    let result = match finished {
        Some(result) => result,
        None => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        if error.is_timeout() {
            ListenerStats::count(&stats.header_timeouts);
        }
        debug!(%error, "http connection closed");
    }
}
