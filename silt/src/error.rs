//! The errors of the `silt` binary.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach {url}: {source}")]
    Connect { url: String, source: reqwest::Error },
    #[error("{status}: {error_code}: {message}")]
    Api {
        status: u16,
        error_code: String,
        message: String,
    },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Server(String),
}
