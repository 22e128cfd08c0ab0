//! The Kafka wire protocol on the gateway (`--kafka-listen`, port 9092 by default), with
//! the `kafka-protocol` crate as the codec. Every gateway answers as the leader of every
//! partition and as every group's coordinator; the state lives in the coordinator, so
//! topics, offsets and groups are the same ones the HTTP API serves. Supported APIs and
//! versions: `docs/kafka-compatibility.md`.

use crate::listener::IdleTimeout;
use crate::state::AppState;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info};

mod admin;
mod admin_groups;
mod admin_topics;
/// Kafka record batches, decoded and written by the core crate.
pub use silt_core::kafka_batch as batch;
#[cfg(test)]
mod batch_tests;
mod codes;
mod connection;
mod context;
pub mod decode;
mod dispatch;
mod fetch;
mod groups;
pub mod guard;
mod membership;
mod offsets;
mod produce;
mod security;
mod topic_configs;
mod topics;
mod transactions;

use connection::connection;
use context::Context;
pub use context::KafkaConfig;

/// Serves the Kafka protocol on `listener` until `shutdown` turns true, then waits for
/// open connections to end.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: KafkaConfig,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let limits = state.config.connections.clone();
    let stats = Arc::clone(&state.metrics.kafka_listener);
    // Frame bytes being read at once, across connections, in KiB.
    let frame_budget_kib =
        (state.config.max_buffered_bytes / 1024).clamp(1, u32::MAX as usize >> 1);
    let context = Arc::new(Context {
        state,
        config,
        frame_budget: Arc::new(Semaphore::new(frame_budget_kib)),
    });
    info!(
        listen = %listener.local_addr()?,
        advertised_host = %context.config.advertised_host,
        advertised_port = context.config.advertised_port,
        max_connections = limits.max_connections,
        "kafka listener is serving"
    );
    crate::listener::accept_loop(
        "kafka",
        listener,
        limits.max_connections,
        Arc::clone(&stats),
        shutdown,
        move |stream, peer, admitted| {
            let context = Arc::clone(&context);
            let stats = Arc::clone(&stats);
            async move {
                let _ = stream.set_nodelay(true);
                let limits = &context.state.config.connections;
                let stream = IdleTimeout::new(
                    stream,
                    Duration::from_millis(limits.kafka_idle_timeout_ms),
                    Arc::clone(&stats),
                );
                let served = match context.state.tls.clone() {
                    Some(tls) => {
                        let handshake = Duration::from_millis(limits.header_timeout_ms);
                        match tls.accept(stream, handshake).await {
                            Ok((stream, principal)) => {
                                connection(stream, peer, principal, &context, &stats).await
                            }
                            Err(error) => Err(error.into()),
                        }
                    }
                    None => connection(stream, peer, None, &context, &stats).await,
                };
                if let Err(error) = served {
                    debug!(%error, %peer, "kafka connection closed");
                }
                drop(admitted);
            }
        },
    )
    .await;
    Ok(())
}
