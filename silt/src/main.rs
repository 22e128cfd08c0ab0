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

/// mimalloc keeps and reuses the large buffers that fetch answers and segments need,
/// where the system allocator maps and faults in fresh pages for each. Built with
/// `no_thp`: its purges of freed memory inside transparent huge pages stalled the
/// process now and then for 100 ms and more (ack p99 at half the peak 110–160 ms with
/// huge pages, 23–24 ms without; bench/README.md, "Issue 17's table").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
