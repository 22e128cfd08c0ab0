//! Client commands over the HTTP API: topics, produce, consume.

use std::io::{BufRead, Write};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::args::{GroupsCommand, ServerArgs, TopicsCommand};
use crate::error::CliError;

/// A thin JSON client of the v1 API.
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(server: &ServerArgs) -> Result<Self, CliError> {
        Ok(Client {
            http: server.http_client(reqwest::Client::builder())?,
            base: server.url.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends a request and returns the JSON body of a 2xx answer; other statuses become
    /// [`CliError::Api`] with the server's error code and message.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let bytes = self.call_raw(method, path, body, None).await?;
        Ok(if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        })
    }

    /// Like [`Client::call`], answering the body as it came, asked for as `accept`.
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        accept: Option<&str>,
    ) -> Result<bytes::Bytes, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let response = request.send().await.map_err(|source| CliError::Connect {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| CliError::Connect { url, source })?;
        if status.is_success() {
            return Ok(bytes);
        }
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(CliError::Api {
            status: status.as_u16(),
            error_code: value["error_code"].as_str().unwrap_or("unknown").to_owned(),
            message: value["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
        })
    }
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub async fn topics(server: &ServerArgs, command: TopicsCommand) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        TopicsCommand::Create {
            name,
            partitions,
            retention_ms,
            retention_bytes,
            value_schema,
        } => {
            let value_schema = match value_schema {
                None => None,
                Some(text) => {
                    let text = match text.strip_prefix('@') {
                        Some(path) => std::fs::read_to_string(path)?,
                        None => text,
                    };
                    let schema: Value = serde_json::from_str(&text).map_err(|error| {
                        CliError::Config(format!("--value-schema is not JSON: {error}"))
                    })?;
                    Some(schema)
                }
            };
            let body = json!({"name": name, "partitions": partitions, "retention_ms": retention_ms,
                "retention_bytes": retention_bytes, "value_schema": value_schema});
            print_json(
                &client
                    .call(reqwest::Method::POST, "/v1/topics", Some(body))
                    .await?,
            );
        }
        TopicsCommand::List => {
            let listed = client
                .call(reqwest::Method::GET, "/v1/topics", None)
                .await?;
            for topic in listed["topics"].as_array().into_iter().flatten() {
                println!(
                    "{}\t{} partitions",
                    topic["name"].as_str().unwrap_or(""),
                    topic["partition_count"]
                );
            }
        }
        TopicsCommand::Describe { name } => {
            print_json(
                &client
                    .call(reqwest::Method::GET, &format!("/v1/topics/{name}"), None)
                    .await?,
            );
        }
        TopicsCommand::Delete { name } => {
            client
                .call(reqwest::Method::DELETE, &format!("/v1/topics/{name}"), None)
                .await?;
            eprintln!("deleted topic {name}");
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic to produce to.
    pub topic: String,
    /// Split each line into key and value at the first occurrence of this string.
    #[arg(long)]
    pub key_separator: Option<String>,
    /// Send every record to this partition.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Records per produce request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Print each record's partition and offset.
    #[arg(long)]
    pub print_offsets: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Reads records from standard input, one per line. A line that is valid JSON is sent
/// as that JSON value; anything else is sent as a JSON string.
pub async fn produce(args: ProduceArgs) -> Result<(), CliError> {
    let client = Client::new(&args.server)?;
    let path = format!("/v1/topics/{}/records", args.topic);
    let (lines_tx, mut lines_rx) =
        tokio::sync::mpsc::channel::<std::io::Result<String>>(args.batch.max(1) * 2);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut total = 0usize;
    let mut batch = Vec::new();
    loop {
        // Send what we have when input pauses, so interactive use feels immediate.
        let next = if batch.is_empty() {
            lines_rx.recv().await
        } else {
            match tokio::time::timeout(Duration::from_millis(20), lines_rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    total += send_batch(&client, &path, &mut batch, args.print_offsets).await?;
                    continue;
                }
            }
        };
        let Some(line) = next else { break };
        let line = line?;
        if line.is_empty() {
            continue;
        }
        batch.push(line_to_record(
            &line,
            args.key_separator.as_deref(),
            args.partition,
        ));
        if batch.len() >= args.batch.max(1) {
            total += send_batch(&client, &path, &mut batch, args.print_offsets).await?;
        }
    }
    if !batch.is_empty() {
        total += send_batch(&client, &path, &mut batch, args.print_offsets).await?;
    }
    eprintln!("produced {total} records to {}", args.topic);
    Ok(())
}

fn line_to_record(line: &str, key_separator: Option<&str>, partition: Option<u32>) -> Value {
    let (key, value_text) = match key_separator.and_then(|separator| line.split_once(separator)) {
        Some((key, value)) => (Some(key), value),
        None => (None, line),
    };
    let value = serde_json::from_str::<Value>(value_text)
        .unwrap_or_else(|_| Value::String(value_text.to_owned()));
    let mut record = json!({ "value": value });
    if let Some(key) = key {
        record["key"] = json!(key);
    }
    if let Some(partition) = partition {
        record["partition"] = json!(partition);
    }
    record
}

async fn send_batch(
    client: &Client,
    path: &str,
    batch: &mut Vec<Value>,
    print_offsets: bool,
) -> Result<usize, CliError> {
    let records = std::mem::take(batch);
    let count = records.len();
    let answer = client
        .call(
            reqwest::Method::POST,
            path,
            Some(json!({ "records": records })),
        )
        .await?;
    if print_offsets {
        let mut out = std::io::stdout().lock();
        for offset in answer["offsets"].as_array().into_iter().flatten() {
            writeln!(out, "{}\t{}", offset["partition"], offset["offset"])?;
        }
    }
    Ok(count)
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// The topic to read.
    pub topic: String,
    /// Read only this partition (default: all partitions).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Start at this offset (with --partition) instead of the end of the log.
    #[arg(long, conflicts_with = "from_beginning")]
    pub offset: Option<u64>,
    /// Start at the beginning of the log.
    #[arg(long)]
    pub from_beginning: bool,
    /// Keep waiting for new records instead of exiting at the end of the log.
    #[arg(long)]
    pub follow: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub max_records: Option<usize>,
    /// Print whole records as JSON (offset, partition, key, value, headers) instead of values.
    #[arg(long)]
    pub full: bool,
    /// Consume as a member of this consumer group: the group's partitions are shared
    /// among its members, and offsets are committed after the records are printed.
    #[arg(long, conflicts_with_all = ["partition", "offset", "from_beginning"])]
    pub group: Option<String>,
    /// With --group: how long the group waits for this member before handing its
    /// partitions to others.
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn consume(args: ConsumeArgs) -> Result<(), CliError> {
    if let Some(group) = args.group.clone() {
        return consume_group(&args, &group).await;
    }
    let client = Client::new(&args.server)?;
    let topic = client
        .call(
            reqwest::Method::GET,
            &format!("/v1/topics/{}", args.topic),
            None,
        )
        .await?;
    let partitions: Vec<Value> = topic["partitions"].as_array().cloned().unwrap_or_default();
    if args.offset.is_some() && args.partition.is_none() {
        return Err(CliError::Config("--offset needs --partition".into()));
    }
    // (partition, next offset, end offset at start)
    let mut cursors: Vec<(u64, u64, u64)> = partitions
        .iter()
        .filter(|p| {
            args.partition
                .is_none_or(|wanted| p["partition"].as_u64() == Some(u64::from(wanted)))
        })
        .map(|p| {
            let start = p["log_start_offset"].as_u64().unwrap_or(0);
            let end = p["high_watermark"].as_u64().unwrap_or(0);
            let from = match (args.offset, args.from_beginning) {
                (Some(offset), _) => offset,
                (None, true) => start,
                (None, false) => end,
            };
            (p["partition"].as_u64().unwrap_or(0), from, end)
        })
        .collect();
    if cursors.is_empty() {
        return Err(CliError::Config(format!(
            "topic {} has no partition {:?}",
            args.topic, args.partition
        )));
    }
    let mut printed = 0usize;
    let mut out = std::io::stdout().lock();
    loop {
        let mut progressed = false;
        let wait_ms = if args.follow && cursors.len() == 1 {
            10_000
        } else {
            0
        };
        for (partition, next, end) in cursors.iter_mut() {
            if !args.follow && *next >= *end {
                continue;
            }
            let path = format!(
                "/v1/topics/{}/partitions/{partition}/records?offset={next}&max_records=500&wait_ms={wait_ms}",
                args.topic
            );
            let answer = client.call(reqwest::Method::GET, &path, None).await?;
            for record in answer["records"].as_array().into_iter().flatten() {
                let mut record = record.clone();
                if args.full {
                    record["partition"] = json!(partition);
                }
                print_record(&mut out, &record, args.full)?;
                printed += 1;
                if args.max_records.is_some_and(|max| printed >= max) {
                    return Ok(());
                }
            }
            let new_next = answer["next_offset"].as_u64().unwrap_or(*next);
            progressed |= new_next > *next;
            *next = new_next;
        }
        out.flush()?;
        if !args.follow && cursors.iter().all(|(_, next, end)| next >= end) {
            return Ok(());
        }
        if args.follow && !progressed && cursors.len() > 1 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn print_record(out: &mut impl Write, record: &Value, full: bool) -> std::io::Result<()> {
    if full {
        return writeln!(out, "{record}");
    }
    match &record["value"] {
        Value::String(text) => writeln!(out, "{text}"),
        Value::Null if record.get("value_base64").is_some() => {
            writeln!(out, "{}", record["value_base64"])
        }
        other => writeln!(out, "{other}"),
    }
}

/// Consumes as a group member: join, fetch (which keeps the membership alive), print,
/// commit, and leave on Ctrl-C or, without --follow, once a fetch comes back empty.
async fn consume_group(args: &ConsumeArgs, group: &str) -> Result<(), CliError> {
    let client = Client::new(&args.server)?;
    let join_body = json!({"topics": [args.topic], "session_timeout_ms": args.session_timeout_ms});
    let join_path = format!("/v1/groups/{group}/members");
    let mut member = client
        .call(reqwest::Method::POST, &join_path, Some(join_body.clone()))
        .await?;
    let mut printed = 0usize;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let wait_ms = if args.follow {
        (args.session_timeout_ms / 3).clamp(100, 10_000)
    } else {
        500
    };
    // The last answer received: a fetch acknowledges it, so an answer lost on the way
    // (a gateway that died while sending it) is given again.
    let mut received = 0u64;
    loop {
        let member_id = member["member_id"].as_str().unwrap_or_default().to_owned();
        let path = format!(
            "/v1/groups/{group}/members/{member_id}/records?max_records=500&wait_ms={wait_ms}&ack={received}"
        );
        let answer = tokio::select! {
            _ = &mut interrupted => break,
            answer = client.call(reqwest::Method::GET, &path, None) => answer,
        };
        let answer = match answer {
            Err(CliError::Api {
                status: 404,
                error_code,
                ..
            }) if error_code == "unknown_member" => {
                eprintln!("the group dropped this member; joining again");
                member = client
                    .call(reqwest::Method::POST, &join_path, Some(join_body.clone()))
                    .await?;
                received = 0;
                continue;
            }
            other => other?,
        };
        received = answer["fetch_id"].as_u64().unwrap_or_default();
        let records = answer["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() && !args.follow {
            break;
        }
        let mut next: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        {
            let mut out = std::io::stdout().lock();
            for record in &records {
                print_record(&mut out, record, args.full)?;
                next.insert(
                    record["partition"].as_u64().unwrap_or(0),
                    record["offset"].as_u64().unwrap_or(0) + 1,
                );
                printed += 1;
            }
            out.flush()?;
        }
        if !next.is_empty() {
            let offsets: Vec<Value> = next
                .into_iter()
                .map(|(partition, offset)| json!({"topic": args.topic, "partition": partition, "offset": offset}))
                .collect();
            let commit = json!({"member_id": member_id, "generation": answer["generation"], "offsets": offsets});
            match client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/groups/{group}/offsets"),
                    Some(commit),
                )
                .await
            {
                Ok(_) => {}
                // A rebalance moved partitions: their new owner gets these records again.
                Err(CliError::Api { status: 409, .. }) => {}
                Err(error) => return Err(error),
            }
        }
        member = answer;
        if args.max_records.is_some_and(|max| printed >= max) {
            break;
        }
    }
    let member_id = member["member_id"].as_str().unwrap_or_default();
    let _ = client
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/groups/{group}/members/{member_id}"),
            None,
        )
        .await;
    Ok(())
}

pub async fn groups(server: &ServerArgs, command: GroupsCommand) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        GroupsCommand::List => {
            let listed = client
                .call(reqwest::Method::GET, "/v1/groups", None)
                .await?;
            for group in listed["groups"].as_array().into_iter().flatten() {
                println!("{}", group.as_str().unwrap_or_default());
            }
        }
        GroupsCommand::Describe { group } => {
            let description = client
                .call(reqwest::Method::GET, &format!("/v1/groups/{group}"), None)
                .await?;
            println!(
                "group {group}, generation {}, {} members",
                description["generation"],
                description["members"].as_array().map_or(0, Vec::len)
            );
            println!(
                "{:<24} {:>9} {:>10} {:>10} {:>8}  owner",
                "topic", "partition", "committed", "end", "lag"
            );
            for partition in description["partitions"].as_array().into_iter().flatten() {
                let committed = partition["committed_offset"]
                    .as_u64()
                    .map_or("-".to_owned(), |offset| offset.to_string());
                println!(
                    "{:<24} {:>9} {:>10} {:>10} {:>8}  {}",
                    partition["topic"].as_str().unwrap_or_default(),
                    partition["partition"].to_string(),
                    committed,
                    partition["high_watermark"].to_string(),
                    partition["lag"].to_string(),
                    partition["owner"].as_str().unwrap_or("-")
                );
            }
        }
        GroupsCommand::ResetOffsets {
            group,
            to_earliest,
            to_latest,
            to_offset,
            topics,
        } => {
            let mut body = match (to_earliest, to_latest, to_offset) {
                (true, false, None) => json!({"to": "earliest"}),
                (false, true, None) => json!({"to": "latest"}),
                (false, false, Some(offset)) => json!({"to": "offset", "offset": offset}),
                _ => {
                    return Err(CliError::Config(
                        "give one of --to-earliest, --to-latest, --to-offset N".into(),
                    ));
                }
            };
            if !topics.is_empty() {
                body["topics"] = json!(topics);
            }
            let answer = client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/groups/{group}/offsets/reset"),
                    Some(body),
                )
                .await?;
            for offset in answer["offsets"].as_array().into_iter().flatten() {
                println!(
                    "{}\t{}\t{}",
                    offset["topic"].as_str().unwrap_or_default(),
                    offset["partition"],
                    offset["offset"]
                );
            }
        }
    }
    Ok(())
}

/// `silt compact --topic T --now`: asks the gateway to compact the topic and waits.
pub async fn compact(server: &ServerArgs, topic: &str) -> Result<(), CliError> {
    let client = Client::new(server)?;
    // The gateway answers when the work is done; the spinner shows it is under way.
    let progress =
        indicatif::ProgressBar::new_spinner().with_message(format!("compacting {topic}"));
    progress.enable_steady_tick(Duration::from_millis(120));
    let summary = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/topics/{topic}/compact"),
            None,
        )
        .await;
    progress.finish_and_clear();
    let summary = summary?;
    let files = summary["files"].as_array().map_or(0, Vec::len);
    println!(
        "{} records in {files} files; {} bytes of records became {} bytes of Parquet; retention dropped {} records",
        summary["records"],
        summary["record_bytes"],
        summary["parquet_bytes"],
        summary["expired_records"]
    );
    for file in summary["files"].as_array().into_iter().flatten() {
        println!("{}", file.as_str().unwrap_or_default());
    }
    Ok(())
}
