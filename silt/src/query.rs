//! `silt query "SELECT ..."`: SQL over the topics of a running gateway, printed as a
//! table, CSV or NDJSON.

use std::io::Write;

use clap::{Args, ValueEnum};
use serde_json::json;
use silt_query::output::{Format, print_table};

use crate::args::ServerArgs;
use crate::client::Client;
use crate::error::CliError;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The statement, e.g. "SELECT count(*) FROM orders".
    pub sql: String,
    /// How rows are printed.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Fewer rows than the gateway's limit.
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// A shorter timeout than the gateway's, in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: QueryArgs) -> Result<(), CliError> {
    let client = Client::new(&args.server)?;
    let format = match args.format {
        OutputFormat::Table => Format::ArrowStream,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::NdJson,
    };
    let body = json!({"sql": args.sql, "max_rows": args.max_rows, "timeout_ms": args.timeout_ms});
    let answer = client
        .call_raw(
            reqwest::Method::POST,
            "/v1/query",
            Some(body),
            Some(format.content_type()),
        )
        .await?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Table => {
            let table = print_table(&answer)
                .map_err(|error| CliError::Server(format!("reading the answer: {error}")))?;
            writeln!(out, "{table}")?;
        }
        OutputFormat::Csv | OutputFormat::Json => out.write_all(&answer)?,
    }
    Ok(())
}
