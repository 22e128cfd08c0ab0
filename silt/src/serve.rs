//! `silt dev` and `silt gateway`: resolve the configuration, open the bucket, the
//! coordinator and the cache, serve HTTP, and on SIGINT/SIGTERM stop taking requests,
//! flush what was accepted and exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use axum::http::StatusCode;
use object_store::ObjectStore;
use serde::Deserialize;
use silt_compactor::{CompactError, Compactor, CompactorConfig};
use silt_core::{Coordinator, ErrorKind};
use silt_gateway::{ApiError, AppState, Batcher, GatewayConfig, Metrics, TopicAdmin, serve};
use silt_reader::storage::{
    CountingStore, FaultConfig, FaultInjector, InterceptedStore, open_local, open_object_store,
};
use silt_reader::{CacheConfig, ChunkCache, Reader};
use tracing::info;

use crate::args::{CompactorArgs, ServeArgs};
use crate::error::CliError;

/// The TOML file's shape: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    object_store: Option<String>,
    metadata_db: Option<PathBuf>,
    coordinator: Option<String>,
    producer_idle_expiry_ms: Option<i64>,
    compact_interval_ms: Option<u64>,
    compact_min_age_ms: Option<i64>,
    snapshot_retention_ms: Option<i64>,
    cache_memory_bytes: Option<usize>,
    cache_disk_bytes: Option<usize>,
    whole_segment_read_bytes: Option<u64>,
    kafka_listen: Option<String>,
    kafka_advertised_address: Option<String>,
    kafka_auto_create_partitions: Option<u32>,
    #[serde(default)]
    gateway: Option<GatewayConfig>,
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub object_store: Option<String>,
    pub metadata_db: PathBuf,
    /// A `silt coordinator` to use instead of the embedded one, and its internal secret.
    pub coordinator: Option<String>,
    pub internal_secret: Option<String>,
    pub coordinator_ca: Option<PathBuf>,
    /// Object store faults to inject (tests only).
    pub faults: Option<FaultConfig>,
    pub producer_idle_expiry_ms: i64,
    /// `silt dev`: how often the compactor runs (0 = never), and how old chunks must be.
    pub compact_interval_ms: u64,
    pub compact_min_age_ms: i64,
    /// How long a replaced Iceberg snapshot stays readable.
    pub snapshot_retention_ms: i64,
    /// The Kafka listener's address (`None`: off), and the address clients are told.
    pub kafka_listen: Option<SocketAddr>,
    /// (host, port) that Kafka clients are told to connect to.
    pub kafka_advertised: Option<(String, u16)>,
    pub kafka_auto_create_partitions: u32,
    pub gateway: GatewayConfig,
    pub cache: CacheConfig,
    /// Segments up to this size are read whole when a chunk of theirs misses the cache.
    pub whole_segment_read_bytes: u64,
    /// The first administrator to create: (user name, password).
    pub bootstrap_admin: Option<(String, String)>,
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> Result<Self, CliError> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    CliError::Config(format!("reading {}: {error}", path.display()))
                })?;
                toml::from_str(&text)
                    .map_err(|error| CliError::Config(format!("{}: {error}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("silt-data"));
        let mut gateway = file.gateway.unwrap_or_default();
        if let Some(value) = args.min_flush_interval_ms {
            gateway.min_flush_interval_ms = value;
        }
        if let Some(value) = args.linger_ms {
            gateway.linger_ms = value;
        }
        if let Some(value) = args.max_batch_bytes {
            gateway.max_batch_bytes = value;
        }
        if let Some(value) = args.max_buffered_bytes {
            gateway.max_buffered_bytes = value;
        }
        if let Some(value) = args.max_record_bytes {
            gateway.max_record_bytes = value;
        }
        if let Some(value) = args.max_body_bytes {
            gateway.max_body_bytes = value;
        }
        if let Some(value) = args.compression {
            gateway.compression = value;
        }
        if let Some(value) = args.query_threads {
            gateway.query.threads = value;
        }
        if let Some(value) = args.query_max_rows {
            gateway.query.max_rows = value;
        }
        if let Some(value) = args.query_memory_bytes {
            gateway.query.memory_limit_bytes = value;
        }
        if let Some(value) = args.query_timeout_ms {
            gateway.query.timeout_ms = value;
        }
        let flags = crate::security::AuthFlags {
            tls_cert: args.tls_cert.as_deref(),
            tls_key: args.tls_key.as_deref(),
            tls_client_ca: args.tls_client_ca.as_deref(),
            tls_require_client_cert: args.tls_require_client_cert,
            auth: args.auth,
            allow_anonymous: args.allow_anonymous,
            public_metrics: args.public_metrics,
            super_users: args.super_users.as_deref(),
        };
        crate::security::apply_flags(&flags, &mut gateway);
        let connections = &mut gateway.connections;
        for (flag, field) in [
            (
                args.http_idle_timeout_ms,
                &mut connections.http_idle_timeout_ms,
            ),
            (
                args.kafka_idle_timeout_ms,
                &mut connections.kafka_idle_timeout_ms,
            ),
            (args.header_timeout_ms, &mut connections.header_timeout_ms),
            (args.body_timeout_ms, &mut connections.body_timeout_ms),
        ] {
            if let Some(value) = flag {
                *field = value;
            }
        }
        if let Some(value) = args.max_connections {
            connections.max_connections = value;
        }
        if connections.max_connections == 0 {
            return Err(CliError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
        for (name, value) in [
            ("http_idle_timeout_ms", connections.http_idle_timeout_ms),
            ("kafka_idle_timeout_ms", connections.kafka_idle_timeout_ms),
            ("header_timeout_ms", connections.header_timeout_ms),
            ("body_timeout_ms", connections.body_timeout_ms),
        ] {
            if value == 0 {
                return Err(CliError::Config(format!(
                    "{name} must be at least 1 (milliseconds); 0 would close every connection at once"
                )));
            }
        }
        if gateway.max_record_bytes > gateway.max_body_bytes {
            return Err(CliError::Config(
                "max_record_bytes must not exceed max_body_bytes".into(),
            ));
        }
        let object_store = args.object_store.or(file.object_store);
        // A disk tier in front of a bucket that is itself a local folder only doubles the
        // writes, so by default it is on only for remote buckets.
        let remote_bucket = object_store
            .as_deref()
            .is_some_and(|location| location.contains("://") && !location.starts_with("file://"));
        let cache = CacheConfig {
            memory_bytes: args
                .cache_memory_bytes
                .or(file.cache_memory_bytes)
                .unwrap_or(256 << 20),
            disk_bytes: args
                .cache_disk_bytes
                .or(file.cache_disk_bytes)
                .unwrap_or(if remote_bucket { 1 << 30 } else { 0 }),
            disk_dir: Some(data_dir.join("cache")),
        };
        let kafka_listen =
            match args
                .kafka_listen
                .or(file.kafka_listen)
                .as_deref()
                .map(str::trim)
            {
                Some("off" | "none" | "") => None,
                Some(address) => Some(address.parse::<SocketAddr>().map_err(|error| {
                    CliError::Config(format!("kafka_listen {address:?}: {error}"))
                })?),
                None => Some(SocketAddr::from(([127, 0, 0, 1], 9092))),
            };
        Ok(ServeConfig {
            bootstrap_admin: args.bootstrap_admin_password.map(|password| {
                let name = args.bootstrap_admin.unwrap_or_else(|| "admin".to_owned());
                (name, password)
            }),
            whole_segment_read_bytes: args
                .whole_segment_read_bytes
                .or(file.whole_segment_read_bytes)
                .unwrap_or(silt_reader::DEFAULT_WHOLE_SEGMENT_BYTES),
            kafka_listen,
            kafka_advertised: args
                .kafka_advertised_address
                .or(file.kafka_advertised_address)
                .map(|address| parse_host_port(&address))
                .transpose()?,
            kafka_auto_create_partitions: args
                .kafka_auto_create_partitions
                .or(file.kafka_auto_create_partitions)
                .unwrap_or(1),
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            object_store,
            coordinator: args.coordinator.or(file.coordinator),
            internal_secret: args.internal_secret,
            coordinator_ca: args.coordinator_ca,
            faults: args.faults,
            compact_interval_ms: args
                .compact_interval_ms
                .or(file.compact_interval_ms)
                .unwrap_or(60_000),
            compact_min_age_ms: args
                .compact_min_age_ms
                .or(file.compact_min_age_ms)
                .unwrap_or(10 * 60 * 1000),
            snapshot_retention_ms: args
                .snapshot_retention_ms
                .or(file.snapshot_retention_ms)
                .unwrap_or(crate::iceberg::SNAPSHOT_RETENTION_MS),
            producer_idle_expiry_ms: args
                .producer_idle_expiry_ms
                .or(file.producer_idle_expiry_ms)
                .unwrap_or(silt_coordinator::DEFAULT_PRODUCER_IDLE_EXPIRY_MS),
            metadata_db: args
                .metadata_db
                .or(file.metadata_db)
                .unwrap_or_else(|| data_dir.join("metadata.db")),
            data_dir,
            gateway,
            cache,
        })
    }
}

pub fn init_tracing(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SILT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

pub async fn run(config: ServeConfig, dev: bool) -> Result<(), CliError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|error| {
        CliError::Config(format!("creating {}: {error}", config.data_dir.display()))
    })?;
    let bucket: Arc<dyn ObjectStore> = match &config.object_store {
        Some(location) => open_object_store(location),
        None => open_local(&config.data_dir.join("bucket")),
    }
    .map_err(|error| CliError::Config(error.to_string()))?;
    let faults = config.faults.clone().map(FaultInjector::new);
    let fault_count = faults
        .as_ref()
        .map(|injector| Arc::clone(&injector.injected));
    let bucket: Arc<dyn ObjectStore> = match faults {
        Some(injector) => {
            tracing::warn!(faults = ?config.faults, "object store fault injection is on");
            Arc::new(InterceptedStore::new(bucket, injector))
        }
        None => bucket,
    };
    let counting = CountingStore::counting(bucket);
    let store_counts = counting.counts();
    let store: Arc<dyn ObjectStore> = Arc::new(counting);
    let coordinator: Arc<dyn Coordinator> = match &config.coordinator {
        Some(url) => Arc::new(crate::security::remote_coordinator(
            url,
            config.internal_secret.as_deref(),
            config.coordinator_ca.as_deref(),
        )?),
        None => {
            silt_coordinator::open_sqlite_with(&config.metadata_db, config.producer_idle_expiry_ms)
                .await
                .map_err(|error| {
                    CliError::Server(format!("opening {}: {error}", config.metadata_db.display()))
                })?
        }
    };
    let mut auth = config.gateway.auth.clone();
    crate::security::check_exposure(&auth, &[Some(config.listen), config.kafka_listen])?;
    if let Some((name, password)) = &config.bootstrap_admin {
        crate::security::bootstrap_admin(&coordinator, &mut auth, name, password).await?;
    }
    let security = silt_gateway::auth::Security::new(auth, Arc::clone(&coordinator));
    let cache = ChunkCache::open(&config.cache)
        .await
        .map_err(|error| CliError::Server(error.to_string()))?;
    let metrics = Arc::new(Metrics::default());
    metrics.attach_store_counts(store_counts);
    if let Some(injected) = fault_count {
        metrics.attach_fault_count(injected);
    }
    let (batcher, flushing) = Batcher::spawn(
        config.gateway.clone(),
        Arc::clone(&store),
        Arc::clone(&coordinator),
        cache.clone(),
        Arc::clone(&metrics),
    );
    let reader = Arc::new(
        Reader::new(Arc::clone(&store), Arc::clone(&coordinator), cache.clone())
            .with_whole_segment_reads(config.whole_segment_read_bytes),
    );
    let query = Arc::new(
        silt_query::QueryEngine::new(
            Arc::clone(&store),
            Arc::clone(&coordinator),
            Arc::clone(&reader),
            config.gateway.query.clone(),
        )
        .map_err(|error| CliError::Server(format!("starting the query engine: {error}")))?,
    );
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let (iceberg, catalog) = crate::iceberg::settings(
        config.object_store.as_deref(),
        &config.data_dir,
        Arc::clone(&store),
        config.snapshot_retention_ms,
    )?;
    let compactor = Arc::new(
        Compactor::new(
            store,
            Arc::clone(&coordinator),
            Arc::clone(&reader),
            CompactorConfig {
                min_age_ms: config.compact_min_age_ms,
                pause_before_swap_ms: test_pause("SILT_TEST_PAUSE_BEFORE_SWAP_MS"),
                pause_before_iceberg_ms: test_pause("SILT_TEST_PAUSE_BEFORE_ICEBERG_MS"),
                ..CompactorConfig::default()
            },
        )
        .with_iceberg(iceberg),
    );
    if dev && config.compact_interval_ms > 0 {
        tokio::spawn(compact_periodically(
            Arc::clone(&compactor),
            Arc::clone(&coordinator),
            std::time::Duration::from_millis(config.compact_interval_ms),
            shutdown_rx.clone(),
        ));
    }
    let state = AppState {
        config: config.gateway.clone(),
        coordinator,
        reader,
        batcher,
        metrics,
        sticky: Arc::new(AtomicU32::new(0)),
        shutdown: shutdown_rx,
        admin: Some(Arc::new(CompactorAdmin(compactor))),
        request_transactions: Default::default(),
        security,
        tls: crate::security::load_tls(config.gateway.tls.as_ref())?,
        iceberg: Some(Arc::new(catalog)),
        recent: Default::default(),
        query,
    };
    state.recent.spawn(
        Arc::clone(&state.metrics),
        Arc::clone(&state.reader),
        state.shutdown.clone(),
    );
    state.security.spawn_refresh(state.shutdown.clone());
    if let Some(tls) = &state.tls {
        tls.spawn_reload(state.shutdown.clone());
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| {
            CliError::Server(format!("cannot listen on {}: {error}", config.listen))
        })?;
    let local = listener.local_addr()?;
    info!(
        listen = %local,
        object_store = config.object_store.as_deref().unwrap_or("local"),
        data_dir = %config.data_dir.display(),
        mode = if dev { "dev" } else { "gateway" },
        "silt is serving"
    );
    if dev {
        eprintln!(
            "silt dev: listening on {}://{local} (data in {})",
            if state.tls.is_some() { "https" } else { "http" },
            config.data_dir.display()
        );
    }
    if let Some(kafka_listen) = config.kafka_listen {
        let kafka = tokio::net::TcpListener::bind(kafka_listen)
            .await
            .map_err(|error| {
                CliError::Server(format!(
                    "cannot listen for kafka clients on {kafka_listen}: {error} (--kafka-listen off turns the listener off)"
                ))
            })?;
        let bound = kafka.local_addr()?;
        let (advertised_host, advertised_port) = config.kafka_advertised.unwrap_or_else(|| {
            if bound.ip().is_unspecified() {
                ("127.0.0.1".to_owned(), bound.port())
            } else {
                (bound.ip().to_string(), bound.port())
            }
        });
        let kafka_config = silt_gateway::kafka::KafkaConfig {
            advertised_host,
            advertised_port,
            auto_create_partitions: config.kafka_auto_create_partitions,
        };
        let kafka_state = state.clone();
        tokio::spawn(async move {
            if let Err(error) = silt_gateway::kafka::serve(kafka, kafka_state, kafka_config).await {
                tracing::error!(%error, "the kafka listener stopped");
            }
        });
    }
    let signalled = async move {
        shutdown_signal().await;
        info!("shutting down");
        let _ = shutdown_tx.send(true);
    };
    serve(listener, state, signalled).await?;
    info!("no longer accepting requests; flushing accepted records");
    let _ = flushing.await;
    cache
        .close()
        .await
        .map_err(|error| CliError::Server(error.to_string()))?;
    info!("stopped");
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Serves `POST /v1/topics/{topic}/compact` with the in-process compactor.
struct CompactorAdmin(Arc<Compactor>);

#[async_trait::async_trait]
impl TopicAdmin for CompactorAdmin {
    async fn compact(&self, topic: &str) -> Result<serde_json::Value, ApiError> {
        self.0
            .compact_topic(topic, true)
            .await
            .map(|summary| serde_json::json!(summary))
            .map_err(admin_error)
    }

    async fn collect_garbage(&self, grace_ms: i64) -> Result<serde_json::Value, ApiError> {
        self.0
            .collect_garbage(grace_ms)
            .await
            .map(|summary| serde_json::json!(summary))
            .map_err(admin_error)
    }

    fn metrics_text(&self) -> String {
        self.0.stats().render()
    }
}

fn admin_error(error: CompactError) -> ApiError {
    let status = match error.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, "compaction_failed", error.to_string())
}

/// How old an unreferenced object must be before the periodic collector deletes it.
const GC_GRACE_MS: i64 = 10 * 60 * 1000;

/// `silt dev`'s compactor: every `interval`, compacts what has aged enough in every topic.
async fn compact_periodically(
    compactor: Arc<Compactor>,
    coordinator: Arc<dyn Coordinator>,
    interval: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        let Ok(topics) = coordinator.list_topics().await else {
            continue;
        };
        for topic in topics {
            if let Err(error) = compactor.compact_topic(&topic.name, false).await {
                tracing::warn!(topic = %topic.name, %error, "compaction failed; will retry");
            }
        }
        if let Err(error) = compactor.collect_garbage(GC_GRACE_MS).await {
            tracing::warn!(%error, "garbage collection failed; will retry");
        }
    }
}

/// For crash tests only: `SILT_TEST_PAUSE_BEFORE_SWAP_MS` makes the compactor wait
/// between writing a Parquet file and swapping the index, and
/// `SILT_TEST_PAUSE_BEFORE_ICEBERG_MS` between the swap and the Iceberg commit.
fn test_pause(variable: &str) -> u64 {
    std::env::var(variable)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// `silt compactor`: compaction, retention and garbage collection as their own process,
/// against a `silt coordinator` (or the embedded database) and the bucket.
pub async fn run_compactor(args: CompactorArgs) -> Result<(), CliError> {
    std::fs::create_dir_all(&args.data_dir).map_err(|error| {
        CliError::Config(format!("creating {}: {error}", args.data_dir.display()))
    })?;
    let store: Arc<dyn ObjectStore> = match &args.object_store {
        Some(location) => open_object_store(location),
        None => open_local(&args.data_dir.join("bucket")),
    }
    .map_err(|error| CliError::Config(error.to_string()))?;
    let coordinator: Arc<dyn Coordinator> = match &args.coordinator {
        Some(url) => Arc::new(crate::security::remote_coordinator(
            url,
            args.internal_secret.as_deref(),
            args.coordinator_ca.as_deref(),
        )?),
        None => {
            let path = args.data_dir.join("metadata.db");
            silt_coordinator::open_sqlite(&path)
                .await
                .map_err(|error| CliError::Server(format!("opening {}: {error}", path.display())))?
        }
    };
    let cache = ChunkCache::open(&CacheConfig {
        memory_bytes: 64 << 20,
        disk_bytes: 0,
        disk_dir: None,
    })
    .await
    .map_err(|error| CliError::Server(error.to_string()))?;
    let reader = Arc::new(Reader::new(
        Arc::clone(&store),
        Arc::clone(&coordinator),
        cache,
    ));
    let config = CompactorConfig {
        min_age_ms: args.min_age_ms,
        pause_before_swap_ms: test_pause("SILT_TEST_PAUSE_BEFORE_SWAP_MS"),
        pause_before_iceberg_ms: test_pause("SILT_TEST_PAUSE_BEFORE_ICEBERG_MS"),
        ..CompactorConfig::default()
    };
    let (iceberg, _) = crate::iceberg::settings(
        args.object_store.as_deref(),
        &args.data_dir,
        Arc::clone(&store),
        args.snapshot_retention_ms,
    )?;
    let compactor = Arc::new(
        Compactor::new(store, Arc::clone(&coordinator), reader, config).with_iceberg(iceberg),
    );
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    info!(
        interval_ms = args.interval_ms,
        min_age_ms = args.min_age_ms,
        "compactor is running"
    );
    let metrics = match args.listen.as_deref().map(str::trim) {
        Some("off" | "none" | "") => None,
        listen => {
            let address: SocketAddr =
                listen
                    .unwrap_or("127.0.0.1:9091")
                    .parse()
                    .map_err(|error| {
                        CliError::Config(format!("compactor --listen {listen:?}: {error}"))
                    })?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|error| {
                    CliError::Server(format!(
                        "cannot listen on {address}: {error} (--listen off turns /metrics off)"
                    ))
                })?;
            info!(listen = %listener.local_addr()?, "compactor metrics are served");
            let compactor = Arc::clone(&compactor);
            let ready_coordinator = Arc::clone(&coordinator);
            let router = axum::Router::new()
                .route("/healthz", axum::routing::get(|| async { "ok" }))
                // Ready while the coordinator answers: without it there is no work.
                .route(
                    "/readyz",
                    axum::routing::get(move || {
                        let coordinator = Arc::clone(&ready_coordinator);
                        async move {
                            match coordinator.list_topics().await {
                                Ok(_) => Ok("ready"),
                                Err(error) => {
                                    Err((StatusCode::SERVICE_UNAVAILABLE, error.to_string()))
                                }
                            }
                        }
                    }),
                )
                .route(
                    "/metrics",
                    axum::routing::get(move || {
                        let compactor = Arc::clone(&compactor);
                        async move {
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "text/plain; version=0.0.4",
                                )],
                                compactor.stats().render(),
                            )
                        }
                    }),
                );
            let mut stop = shutdown_rx.clone();
            Some(tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stop| *stop).await;
                    })
                    .await;
            }))
        }
    };
    let work = tokio::spawn(compact_periodically(
        compactor,
        coordinator,
        std::time::Duration::from_millis(args.interval_ms.max(100)),
        shutdown_rx,
    ));
    shutdown_signal().await;
    let _ = shutdown_tx.send(true);
    let _ = work.await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    info!("compactor stopped");
    Ok(())
}

/// `host:port`, where the host is a name, an IPv4 address or a bracketed IPv6 address.
fn parse_host_port(address: &str) -> Result<(String, u16), CliError> {
    let invalid = |why: &str| {
        CliError::Config(format!(
            "kafka_advertised_address {address:?}: {why} (expected host:port)"
        ))
    };
    let (host, port) = address
        .trim()
        .rsplit_once(':')
        .ok_or_else(|| invalid("no port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(invalid("no host"));
    }
    let port = port.parse::<u16>().map_err(|_| invalid("bad port"))?;
    Ok((host.to_owned(), port))
}
