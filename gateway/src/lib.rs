//! Silt's public HTTP gateway: topics, produce (batched into one segment object per
//! flush, acknowledged only once the object is written and its offsets committed),
//! fetch with long-poll, and a server-sent-events tail.

mod api;
pub mod auth;
mod batcher;
mod body_guard;
mod config;
pub mod console;
mod error;
mod extract;
mod http_server;
mod json;
pub mod kafka;
pub mod listener;
mod metrics;
pub mod produce;
mod request_txns;
mod state;
pub mod tls;

pub use api::app;
pub use batcher::{Batcher, BatcherHandle};
pub use config::GatewayConfig;
pub use error::ApiError;
pub use http_server::serve;
pub use metrics::Metrics;
pub use state::{AppState, TopicAdmin};

#[cfg(test)]
mod tests;
