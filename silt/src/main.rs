//! The `silt` binary: servers (`dev`, `gateway`) and client commands.

use clap::Parser;

mod admin;
mod args;
mod bench;
mod cli;
mod client;
mod coordinator;
mod error;
mod iceberg;
mod query;
mod recovery;
mod security;
mod serve;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    serve::init_tracing(cli.command.is_server());
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
