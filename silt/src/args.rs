//! The command line's shared arguments: servers, topics, groups, the coordinator and
//! the compactor, with their help lines and defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use silt_core::segment::Compression;
use silt_reader::storage::FaultConfig;

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Creates a topic.
    Create {
        /// The topic's name: 1 to 249 characters of letters, digits, `.`, `_` and `-`.
        name: String,
        /// Partitions of the topic.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Records older than this are dropped (default: kept for ever).
        #[arg(long)]
        retention_ms: Option<i64>,
        /// A partition's oldest records are dropped while it holds more than this many
        /// bytes (default: no limit).
        #[arg(long)]
        retention_bytes: Option<i64>,
        /// A JSON Schema (subset) of the values, as JSON text or `@file`: its properties
        /// become typed columns when the topic is compacted.
        #[arg(long)]
        value_schema: Option<String>,
    },
    /// Lists the topics.
    List,
    /// A topic's partitions, with their log start and high watermark.
    Describe {
        /// The topic.
        name: String,
    },
    /// Deletes a topic and the groups' committed offsets for it.
    Delete {
        /// The topic.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    List,
    /// Members, generation, and committed offset and lag per partition.
    Describe {
        /// The group.
        group: String,
    },
    /// Moves the committed offsets of a group that has no active members.
    ResetOffsets {
        /// The group.
        group: String,
        /// To each partition's log start.
        #[arg(long, group = "target")]
        to_earliest: bool,
        /// To each partition's high watermark (skips what is there now).
        #[arg(long, group = "target")]
        to_latest: bool,
        /// To this offset in every partition.
        #[arg(long, group = "target")]
        to_offset: Option<u64>,
        /// Only these topics (default: every topic the group has offsets for).
        #[arg(long = "topic")]
        topics: Vec<String>,
    },
}

/// Where the client commands find a gateway.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of a Silt gateway.
    #[arg(
        long,
        env = "SILT_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// An API key to authenticate with (`Authorization: Bearer`).
    #[arg(long, env = "SILT_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// A user to authenticate as (HTTP Basic), with --password.
    #[arg(long, env = "SILT_USER", global = true)]
    pub user: Option<String>,
    /// The user's password.
    #[arg(long, env = "SILT_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// CA certificates (PEM) to trust for an `https://` gateway, besides the system's.
    #[arg(long, env = "SILT_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
}

impl ServerArgs {
    /// An HTTP client from `builder` that trusts --ca-file and sends the credentials
    /// with every request.
    pub fn http_client(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, crate::error::CliError> {
        use crate::error::CliError;
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path)
                .map_err(|error| CliError::Config(format!("{}: {error}", path.display())))?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .map_err(|error| CliError::Config(format!("{}: {error}", path.display())))?;
            builder = builder.add_root_certificate(certificate);
        }
        let authorization = match (&self.api_key, &self.user, &self.password) {
            (Some(key), _, _) => Some(format!("Bearer {key}")),
            (None, Some(user), Some(password)) => {
                use base64::Engine;
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(format!("Basic {encoded}"))
            }
            (None, Some(_), None) => {
                return Err(CliError::Config(
                    "--user needs --password (or SILT_PASSWORD)".into(),
                ));
            }
            _ => None,
        };
        if let Some(value) = authorization {
            let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                CliError::Config("credentials that cannot be sent in a header".into())
            })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        builder
            .build()
            .map_err(|error| CliError::Config(format!("HTTP client: {error}")))
    }
}

/// Settings of `silt coordinator`, or its `restore` command.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CoordinatorArgs {
    #[command(subcommand)]
    pub command: Option<CoordinatorCommand>,
    /// Address of the internal API that gateways call.
    #[arg(long, env = "SILT_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Calls must carry this shared secret (gateways and compactors are given the same).
    #[arg(long, env = "SILT_INTERNAL_SECRET", hide_env_values = true)]
    pub internal_secret: Option<String>,
    /// Consent to serve calls without a secret on an address other hosts can reach.
    #[arg(long, env = "SILT_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// TLS on the internal API: the certificate chain (PEM), reloaded when it changes.
    /// Gateways and compactors then use an `https://` URL and trust its CA.
    #[arg(long, env = "SILT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SILT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub metadata: MetadataArgs,
    /// Idempotent producers idle this long are forgotten.
    #[arg(long, env = "SILT_PRODUCER_IDLE_EXPIRY_MS", default_value_t = silt_coordinator::DEFAULT_PRODUCER_IDLE_EXPIRY_MS)]
    pub producer_idle_expiry_ms: i64,
    /// How often to write a snapshot of the metadata to the bucket (0: never). Needs
    /// --object-store.
    #[arg(long, env = "SILT_SNAPSHOT_INTERVAL_MS", default_value_t = 60_000)]
    pub snapshot_interval_ms: u64,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CoordinatorCommand {
    /// Rebuilds an empty metadata store from the newest snapshot in the bucket, plus the
    /// segments written after it. Run it with no coordinator serving the store.
    Restore(RestoreArgs),
}

/// Settings of `silt coordinator restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub metadata: MetadataArgs,
    /// One snapshot's key (default: the newest under `metadata/snapshots/`).
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Segments this much older than the snapshot may still have been committed after
    /// it, so they are replayed too if the snapshot does not know them.
    #[arg(long, default_value_t = 600_000)]
    pub replay_window_ms: i64,
}

/// Where the coordinator keeps its metadata, and the bucket it snapshots to.
#[derive(Debug, Clone, Args)]
pub struct MetadataArgs {
    /// Folder for the SQLite database.
    #[arg(long, env = "SILT_DATA_DIR", default_value = "silt-data")]
    pub data_dir: PathBuf,
    /// SQLite file. Default: `<data-dir>/metadata.db`.
    #[arg(long, env = "SILT_METADATA_DB", conflicts_with = "metadata_url")]
    pub metadata_db: Option<PathBuf>,
    /// PostgreSQL instead of SQLite: `postgres://user:password@host:port/database`.
    /// Several coordinators may share one database; one leads, the others wait.
    #[arg(long, env = "SILT_METADATA_URL")]
    pub metadata_url: Option<String>,
    /// The bucket, as for `silt gateway`, for metadata snapshots.
    #[arg(long, env = "SILT_OBJECT_STORE")]
    pub object_store: Option<String>,
}

/// Settings of `silt compactor`.
#[derive(Debug, Clone, Args)]
pub struct CompactorArgs {
    /// URL of the `silt coordinator` (default: the embedded database in --data-dir).
    #[arg(long, env = "SILT_COORDINATOR")]
    pub coordinator: Option<String>,
    /// The coordinator's internal secret.
    #[arg(long, env = "SILT_INTERNAL_SECRET", hide_env_values = true)]
    pub internal_secret: Option<String>,
    /// CA certificates (PEM) of an `https://` coordinator, besides the system's.
    #[arg(long, env = "SILT_COORDINATOR_CA")]
    pub coordinator_ca: Option<PathBuf>,
    /// The bucket, as for `silt gateway` (default: `<data-dir>/bucket`).
    #[arg(long, env = "SILT_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Folder for local files (the bucket when none is named).
    #[arg(long, env = "SILT_DATA_DIR", default_value = "silt-data")]
    pub data_dir: PathBuf,
    /// How often to look for work.
    #[arg(long, env = "SILT_COMPACT_INTERVAL_MS", default_value_t = 60_000)]
    pub interval_ms: u64,
    /// Segment chunks younger than this stay as they are.
    #[arg(long, env = "SILT_COMPACT_MIN_AGE_MS", default_value_t = 600_000)]
    pub min_age_ms: i64,
    /// How long a topic table's Iceberg snapshot stays readable after a newer one
    /// replaced it.
    #[arg(long, env = "SILT_SNAPSHOT_RETENTION_MS", default_value_t = 600_000)]
    pub snapshot_retention_ms: i64,
    /// Address of `/metrics`, `/healthz` and `/readyz` (default 127.0.0.1:9091), or `off`.
    #[arg(long, env = "SILT_LISTEN")]
    pub listen: Option<String>,
}

/// Settings of `silt dev` and `silt gateway`. Each flag may also come from a `SILT_*`
/// variable or the TOML file named by --config; flags win over variables, variables
/// over the file.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "SILT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the local bucket, the metadata database and the disk cache.
    /// Default: `./silt-data`.
    #[arg(long, env = "SILT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address the HTTP API listens on. Default: 127.0.0.1:8080.
    #[arg(long, env = "SILT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// `s3://bucket/prefix` (endpoint and keys from AWS_*), `file:///path`, or a path.
    /// Default: `<data-dir>/bucket`.
    #[arg(long, env = "SILT_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// SQLite file of the embedded coordinator. Default: `<data-dir>/metadata.db`.
    #[arg(long, env = "SILT_METADATA_DB")]
    pub metadata_db: Option<PathBuf>,
    /// URL of a `silt coordinator` to use instead of the embedded one.
    #[arg(long, env = "SILT_COORDINATOR")]
    pub coordinator: Option<String>,
    /// The coordinator's internal secret, sent with every call to it.
    #[arg(long, env = "SILT_INTERNAL_SECRET", hide_env_values = true)]
    pub internal_secret: Option<String>,
    /// CA certificates (PEM) of an `https://` coordinator, besides the system's.
    #[arg(long, env = "SILT_COORDINATOR_CA")]
    pub coordinator_ca: Option<PathBuf>,
    /// Embedded coordinator: idempotent producers idle this long are forgotten.
    /// Default: 86400000 (a day).
    #[arg(long, env = "SILT_PRODUCER_IDLE_EXPIRY_MS")]
    pub producer_idle_expiry_ms: Option<i64>,
    /// For tests: inject object store faults, e.g. `error_rate=0.1,timeout_rate=0.01,
    /// timeout_ms=500,latency_ms=5,seed=42`. Off by default.
    #[arg(long, env = "SILT_FAULTS")]
    pub faults: Option<FaultConfig>,
    /// `silt dev`: how often the compactor looks for old segment chunks (0 = never).
    /// Default: 60000.
    #[arg(long, env = "SILT_COMPACT_INTERVAL_MS")]
    pub compact_interval_ms: Option<u64>,
    /// Segment chunks younger than this are left alone by the periodic compactor.
    /// Default: 600000.
    #[arg(long, env = "SILT_COMPACT_MIN_AGE_MS")]
    pub compact_min_age_ms: Option<i64>,
    /// How long a topic table's Iceberg snapshot stays readable after a newer one
    /// replaced it (time travel, and queries that began before). Default: 600000.
    #[arg(long, env = "SILT_SNAPSHOT_RETENTION_MS")]
    pub snapshot_retention_ms: Option<i64>,
    /// Longest a produced record waits for its batch to be flushed. Default: 50.
    #[arg(long, env = "SILT_LINGER_MS")]
    pub linger_ms: Option<u64>,
    /// While nothing is being flushed, waiting records are flushed at once, but no
    /// sooner than this after the previous flush began unless they fill an eighth of
    /// the batch size (at most 1000 / this PUTs per second for a trickle; at or above
    /// the linger, batches wait for the linger). Default: 10.
    #[arg(long, env = "SILT_MIN_FLUSH_INTERVAL_MS")]
    pub min_flush_interval_ms: Option<u64>,
    /// A batch is flushed once it holds this many bytes (smaller: lower latency at high
    /// rates, more PUTs). Default: 4194304 (4 MiB).
    #[arg(long, env = "SILT_MAX_BATCH_BYTES")]
    pub max_batch_bytes: Option<usize>,
    /// Unacknowledged bytes (each waiting record counts 64 more) the gateway holds before
    /// it answers 429 / Kafka's throttling. Default: 268435456 (256 MiB).
    #[arg(long, env = "SILT_MAX_BUFFERED_BYTES")]
    pub max_buffered_bytes: Option<usize>,
    /// Largest encoded record; larger ones get 413 / MESSAGE_TOO_LARGE.
    /// Default: 1048576 (1 MiB).
    #[arg(long, env = "SILT_MAX_RECORD_BYTES")]
    pub max_record_bytes: Option<usize>,
    /// Largest produce body (HTTP) or what one Kafka produce may decompress to.
    /// Default: 33554432 (32 MiB).
    #[arg(long, env = "SILT_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Threads that run SQL queries, apart from those serving produce and fetch.
    /// Default: half the machine's cores, at least 1.
    #[arg(long, env = "SILT_QUERY_THREADS")]
    pub query_threads: Option<usize>,
    /// Rows a SQL query may answer at most (a request may ask for fewer).
    /// Default: 100000.
    #[arg(long, env = "SILT_QUERY_MAX_ROWS")]
    pub query_max_rows: Option<usize>,
    /// Memory one SQL query may take for sorts, joins, aggregations and its answer.
    /// Default: 536870912 (512 MiB).
    #[arg(long, env = "SILT_QUERY_MEMORY_BYTES")]
    pub query_memory_bytes: Option<usize>,
    /// Longest a SQL query may run (a request may ask for less). Default: 30000.
    #[arg(long, env = "SILT_QUERY_TIMEOUT_MS")]
    pub query_timeout_ms: Option<u64>,
    /// How segment chunks are compressed: `lz4` or `none`. Default: lz4.
    #[arg(long, env = "SILT_COMPRESSION")]
    pub compression: Option<Compression>,
    /// Open connections per listener (HTTP and Kafka each); more are closed as soon as
    /// they are accepted. Default: 4096.
    #[arg(long, env = "SILT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// An HTTP connection with no byte read or written for this long is closed.
    /// Default: 120000.
    #[arg(long, env = "SILT_HTTP_IDLE_TIMEOUT_MS")]
    pub http_idle_timeout_ms: Option<u64>,
    /// A Kafka connection with no byte read or written for this long is closed
    /// (Kafka's `connections.max.idle.ms`). Default: 600000.
    #[arg(long, env = "SILT_KAFKA_IDLE_TIMEOUT_MS")]
    pub kafka_idle_timeout_ms: Option<u64>,
    /// A request's headers (HTTP) or size and header (Kafka) must arrive within this
    /// long. Default: 30000.
    #[arg(long, env = "SILT_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// A request's body (HTTP) or whole frame (Kafka) must arrive within this long.
    /// Default: 120000.
    #[arg(long, env = "SILT_BODY_TIMEOUT_MS")]
    pub body_timeout_ms: Option<u64>,
    /// Bytes of chunk cache in memory. Default: 268435456 (256 MiB).
    #[arg(long, env = "SILT_CACHE_MEMORY_BYTES")]
    pub cache_memory_bytes: Option<usize>,
    /// Bytes of chunk cache on local disk (0 turns the disk tier off). Default: 1 GiB
    /// for an `s3://` bucket, 0 for a local one.
    #[arg(long, env = "SILT_CACHE_DISK_BYTES")]
    pub cache_disk_bytes: Option<usize>,
    /// Segments up to this size are read whole when one of their chunks misses the
    /// cache, and all their chunks cached: consumers catching up on many partitions then
    /// cost one GET per segment. 0 reads only the chunk asked for. Default: 16 MiB.
    #[arg(long, env = "SILT_WHOLE_SEGMENT_READ_BYTES")]
    pub whole_segment_read_bytes: Option<u64>,
    /// Address of the Kafka protocol listener, or `off`. Default: 127.0.0.1:9092.
    #[arg(long, env = "SILT_KAFKA_LISTEN")]
    pub kafka_listen: Option<String>,
    /// The `host:port` Kafka clients are told to connect to (a name, e.g. a load
    /// balancer's, or an address). Default: the listener's.
    #[arg(long, env = "SILT_KAFKA_ADVERTISED_ADDRESS")]
    pub kafka_advertised_address: Option<String>,
    /// Clients authenticate (HTTP: `Authorization: Bearer <key>` or Basic with a user's
    /// password; Kafka: SASL PLAIN or SCRAM) and ACLs decide what each may do.
    #[arg(long, env = "SILT_AUTH")]
    pub auth: bool,
    /// With --auth: clients without credentials are `User:ANONYMOUS` (ACLs apply).
    /// Without --auth: consent to serve everyone on a non-loopback address.
    #[arg(long, env = "SILT_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Principals allowed everything, comma-separated (`User:admin,User:ops`).
    #[arg(long, env = "SILT_SUPER_USERS")]
    pub super_users: Option<String>,
    /// The first administrator's user name (a super user), created at start-up with
    /// --bootstrap-admin-password if no user of that name exists. Default: admin.
    #[arg(long, env = "SILT_BOOTSTRAP_ADMIN")]
    pub bootstrap_admin: Option<String>,
    /// The first administrator's password (take it from a secret, not the command line).
    #[arg(long, env = "SILT_BOOTSTRAP_ADMIN_PASSWORD", hide_env_values = true)]
    pub bootstrap_admin_password: Option<String>,
    /// TLS on the HTTP and Kafka listeners: the certificate chain (PEM). Reloaded when
    /// the file changes.
    #[arg(long, env = "SILT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SILT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CAs (PEM) whose client certificates are accepted (mTLS): the certificate's
    /// subject becomes the principal, as Kafka writes it (`User:CN=dave,O=Acme`).
    #[arg(long, env = "SILT_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: refuse clients without a valid certificate.
    #[arg(long, env = "SILT_TLS_REQUIRE_CLIENT_CERT", requires = "tls_client_ca")]
    pub tls_require_client_cert: bool,
    /// `/metrics` answers without credentials (for a scraper on a private network).
    #[arg(long, env = "SILT_PUBLIC_METRICS")]
    pub public_metrics: bool,
    /// Partitions of a topic that a Kafka client's Metadata request creates on first
    /// use (0: such topics are not created). Default: 1, as Kafka's `num.partitions`.
    #[arg(long, env = "SILT_KAFKA_AUTO_CREATE_PARTITIONS")]
    pub kafka_auto_create_partitions: Option<u32>,
}
