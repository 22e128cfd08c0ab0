//! Opening the bucket: a local folder (the embedded default) or an S3-compatible store,
//! with the endpoint and credentials from the usual `AWS_*` variables.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use silt_core::metrics::Histogram;
use thiserror::Error;

mod direct;

#[derive(Debug, Error)]
pub enum StorageConfigError {
    #[error("invalid object store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot open the object store: {0}")]
    Open(#[from] object_store::Error),
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
}

/// Opens `s3://bucket[/prefix]`, `file:///abs/path`, or a plain local path.
pub fn open_object_store(location: &str) -> Result<Arc<dyn ObjectStore>, StorageConfigError> {
    let invalid = |reason: &str| StorageConfigError::InvalidUrl {
        url: location.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("the bucket name is missing"));
        }
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()?;
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            return Ok(Arc::new(s3));
        }
        return Ok(Arc::new(PrefixStore::new(s3, prefix)));
    }
    let path = match location.strip_prefix("file://") {
        Some(path) => path,
        None if location.contains("://") => {
            return Err(invalid("expected s3://, file:// or a local path"));
        }
        None => location,
    };
    open_local(Path::new(path))
}

/// A folder used as the bucket, created if missing.
pub fn open_local(path: &Path) -> Result<Arc<dyn ObjectStore>, StorageConfigError> {
    std::fs::create_dir_all(path).map_err(|source| StorageConfigError::CreateDir {
        path: path.display().to_string(),
        source,
    })?;
    let root = path
        .canonicalize()
        .map_err(|source| StorageConfigError::CreateDir {
            path: path.display().to_string(),
            source,
        })?;
    let local: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&root)?);
    Ok(Arc::new(InterceptedStore::new(
        local,
        SyncToDisk::new(root),
    )))
}

/// The kinds of request an [`Interceptor`] sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Put,
    Get,
    Delete,
    List,
    Copy,
}

/// Hooks around the requests of an [`InterceptedStore`]: counting, syncing to disk, and
/// in tests holding or failing requests. Every hook defaults to doing nothing.
#[async_trait]
pub trait Interceptor: std::fmt::Debug + Send + Sync + 'static {
    /// Runs before a request is sent; an error fails the request without sending it.
    async fn before(
        &self,
        _operation: Operation,
        _location: Option<&ObjectPath>,
    ) -> object_store::Result<()> {
        Ok(())
    }

    /// Writes a PUT in place of the wrapped store; `None` leaves it to the wrapped store.
    async fn put(
        &self,
        _location: &ObjectPath,
        _payload: &PutPayload,
        _opts: &PutOptions,
    ) -> Option<object_store::Result<PutResult>> {
        None
    }

    /// Runs after a PUT or copy to `location` succeeded; an error fails the request.
    /// `own` is set when this interceptor's [`Interceptor::put`] wrote it.
    async fn after_write(&self, _location: &ObjectPath, _own: bool) -> object_store::Result<()> {
        Ok(())
    }

    /// Runs (synchronously) when a listing or a delete stream starts.
    fn on_stream(&self, _operation: Operation) {}

    /// Runs after a request was answered, with how long it took, whether it succeeded
    /// and the bytes it carried (written by a PUT, asked for by a GET).
    fn after(&self, _operation: Operation, _elapsed: Duration, _bytes: u64, _ok: bool) {}
}

/// Wraps a store with an [`Interceptor`]; stacks like object_store's own wrappers.
#[derive(Debug)]
pub struct InterceptedStore<I> {
    inner: Arc<dyn ObjectStore>,
    interceptor: I,
}

impl<I: Interceptor> InterceptedStore<I> {
    pub fn new(inner: Arc<dyn ObjectStore>, interceptor: I) -> Self {
        InterceptedStore { inner, interceptor }
    }

    pub fn interceptor(&self) -> &I {
        &self.interceptor
    }
}

impl<I: Interceptor> std::fmt::Display for InterceptedStore<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({})", self.interceptor, self.inner)
    }
}

#[async_trait]
impl<I: Interceptor> ObjectStore for InterceptedStore<I> {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.interceptor
            .before(Operation::Put, Some(location))
            .await?;
        let started = Instant::now();
        let bytes = payload.content_length() as u64;
        let result = async {
            let (result, own) = match self.interceptor.put(location, &payload, &opts).await {
                Some(result) => (result?, true),
                None => (self.inner.put_opts(location, payload, opts).await?, false),
            };
            self.interceptor.after_write(location, own).await?;
            Ok(result)
        }
        .await;
        self.interceptor
            .after(Operation::Put, started.elapsed(), bytes, result.is_ok());
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.interceptor
            .before(Operation::Put, Some(location))
            .await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.interceptor
            .before(Operation::Get, Some(location))
            .await?;
        let started = Instant::now();
        let result = self.inner.get_opts(location, options).await;
        let bytes = result
            .as_ref()
            .map_or(0, |result| result.range.end - result.range.start);
        self.interceptor
            .after(Operation::Get, started.elapsed(), bytes, result.is_ok());
        result
    }

    async fn get_ranges(
        &self,
        location: &ObjectPath,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.interceptor
            .before(Operation::Get, Some(location))
            .await?;
        let started = Instant::now();
        let result = self.inner.get_ranges(location, ranges).await;
        let bytes = ranges.iter().map(|range| range.end - range.start).sum();
        self.interceptor
            .after(Operation::Get, started.elapsed(), bytes, result.is_ok());
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.interceptor.on_stream(Operation::Delete);
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.interceptor.on_stream(Operation::List);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.interceptor.before(Operation::List, prefix).await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.interceptor.before(Operation::Copy, Some(to)).await?;
        self.inner.copy_opts(from, to, options).await?;
        self.interceptor.after_write(to, false).await
    }
}

/// Makes a finished PUT to a local folder durable: the file and its folder are fsynced
/// before the PUT returns, so an acknowledged record survives a power cut, not only a
/// crash of the process. (`LocalFileSystem` renames a temporary file into place but
/// does not sync.)
///
/// On Linux it also writes PUTs itself with `O_DIRECT`, past the page cache: a segment
/// is written once, read back from the gateway's own cache, and copying it into the
/// page cache first cost a quarter of the gateway's CPU at 130 MB/s. A file system
/// without `O_DIRECT` (tmpfs) gets `LocalFileSystem`'s buffered writes.
#[derive(Debug)]
pub struct SyncToDisk {
    root: PathBuf,
    direct: direct::DirectWrites,
}

impl SyncToDisk {
    pub fn new(root: PathBuf) -> Self {
        SyncToDisk {
            root,
            direct: direct::DirectWrites::default(),
        }
    }
}

#[async_trait]
impl Interceptor for SyncToDisk {
    async fn put(
        &self,
        location: &ObjectPath,
        payload: &PutPayload,
        opts: &PutOptions,
    ) -> Option<object_store::Result<PutResult>> {
        let create = match opts.mode {
            PutMode::Create => true,
            PutMode::Overwrite => false,
            PutMode::Update(_) => return None,
        };
        if !self.direct.enabled() {
            return None;
        }
        let path = self.root.join(location.as_ref());
        let direct = self.direct.clone();
        let payload = payload.clone();
        let location = location.clone();
        let written =
            tokio::task::spawn_blocking(move || direct.write(&path, &payload, create)).await;
        match written {
            Ok(direct::Written::Done) => Some(Ok(PutResult {
                e_tag: None,
                version: None,
            })),
            Ok(direct::Written::Unsupported) => None,
            Ok(direct::Written::Exists(source)) => Some(Err(object_store::Error::AlreadyExists {
                path: location.to_string(),
                source: Box::new(source),
            })),
            Ok(direct::Written::Failed(source)) => Some(Err(object_store::Error::Generic {
                store: "local",
                source: Box::new(source),
            })),
            Err(error) => Some(Err(object_store::Error::Generic {
                store: "local",
                source: Box::new(error),
            })),
        }
    }

    async fn after_write(&self, location: &ObjectPath, own: bool) -> object_store::Result<()> {
        let file = self.root.join(location.as_ref());
        let sync = move || -> std::io::Result<()> {
            // A file written here was synced before it was linked into place.
            if !own {
                std::fs::File::open(&file)?.sync_all()?;
            }
            if let Some(folder) = file.parent() {
                std::fs::File::open(folder)?.sync_all()?;
            }
            Ok(())
        };
        let generic =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                store: "local",
                source,
            };
        tokio::task::spawn_blocking(sync)
            .await
            .map_err(|error| generic(Box::new(error)))?
            .map_err(|error| generic(Box::new(error)))
    }
}

/// Counts requests by kind, and times PUTs and GETs; gateways expose them at
/// `/metrics`, tests use them to check that one flush is one PUT, and `silt bench` turns
/// them into requests and dollars per GiB.
#[derive(Debug)]
pub struct StoreCounts {
    pub puts: AtomicU64,
    pub gets: AtomicU64,
    pub deletes: AtomicU64,
    pub lists: AtomicU64,
    pub bytes_written: AtomicU64,
    pub bytes_read: AtomicU64,
    pub failures: AtomicU64,
    pub put_seconds: Histogram,
    pub get_seconds: Histogram,
}

impl Default for StoreCounts {
    fn default() -> Self {
        StoreCounts {
            puts: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            put_seconds: Histogram::seconds(),
            get_seconds: Histogram::seconds(),
        }
    }
}

impl StoreCounts {
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }

    fn count(&self, operation: Operation) {
        let counter = match operation {
            Operation::Put | Operation::Copy => &self.puts,
            Operation::Get => &self.gets,
            Operation::Delete => &self.deletes,
            Operation::List => &self.lists,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The [`Interceptor`] that fills a shared [`StoreCounts`].
#[derive(Debug, Default, Clone)]
pub struct Counter(pub Arc<StoreCounts>);

#[async_trait]
impl Interceptor for Counter {
    async fn before(
        &self,
        operation: Operation,
        _location: Option<&ObjectPath>,
    ) -> object_store::Result<()> {
        self.0.count(operation);
        Ok(())
    }

    fn on_stream(&self, operation: Operation) {
        self.0.count(operation);
    }

    fn after(&self, operation: Operation, elapsed: Duration, bytes: u64, ok: bool) {
        let counts = &self.0;
        if !ok {
            counts.failures.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match operation {
            Operation::Put => {
                counts.bytes_written.fetch_add(bytes, Ordering::Relaxed);
                counts.put_seconds.record_duration(elapsed);
            }
            Operation::Get => {
                counts.bytes_read.fetch_add(bytes, Ordering::Relaxed);
                counts.get_seconds.record_duration(elapsed);
            }
            _ => {}
        }
    }
}

/// A store that counts its requests.
pub type CountingStore = InterceptedStore<Counter>;

impl CountingStore {
    pub fn counting(inner: Arc<dyn ObjectStore>) -> Self {
        InterceptedStore::new(inner, Counter::default())
    }

    pub fn counts(&self) -> Arc<StoreCounts> {
        Arc::clone(&self.interceptor.0)
    }
}

/// Faults to inject into object store requests, for tests of the write and read paths
/// (off unless configured). Parsed from `error_rate=0.1,timeout_rate=0.01,
/// latency_ms=5,seed=42`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of requests that fail at once with a retryable error, like S3's 503 SlowDown.
    pub error_rate: f64,
    /// Share of requests that hang for `timeout_ms`, then fail, like a timeout.
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// Share of requests whose connection is reset. A write is reset after it landed,
    /// so the writer sees an error for a write that happened (the answer was lost).
    pub reset_rate: f64,
    /// Added to every request.
    pub latency_ms: u64,
    pub seed: u64,
}

impl std::str::FromStr for FaultConfig {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut config = FaultConfig {
            timeout_ms: 1000,
            seed: 1,
            ..FaultConfig::default()
        };
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected name=value, got {part:?}"))?;
            let bad = || format!("invalid value for {name}: {value:?}");
            match name {
                "error_rate" => config.error_rate = value.parse().map_err(|_| bad())?,
                "timeout_rate" => config.timeout_rate = value.parse().map_err(|_| bad())?,
                "timeout_ms" => config.timeout_ms = value.parse().map_err(|_| bad())?,
                "reset_rate" => config.reset_rate = value.parse().map_err(|_| bad())?,
                "latency_ms" => config.latency_ms = value.parse().map_err(|_| bad())?,
                "seed" => config.seed = value.parse().map_err(|_| bad())?,
                other => {
                    return Err(format!(
                        "unknown fault {other:?}; expected error_rate, timeout_rate, timeout_ms, reset_rate, latency_ms or seed"
                    ));
                }
            }
        }
        for (name, rate) in [
            ("error_rate", config.error_rate),
            ("timeout_rate", config.timeout_rate),
            ("reset_rate", config.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        Ok(config)
    }
}

/// The [`Interceptor`] that injects [`FaultConfig`]'s faults, reproducibly from its seed.
#[derive(Debug)]
pub struct FaultInjector {
    config: FaultConfig,
    state: AtomicU64,
    /// Faults injected so far (shared, so metrics can report it).
    pub injected: Arc<AtomicU64>,
}

impl FaultInjector {
    pub fn new(config: FaultConfig) -> Self {
        let state = AtomicU64::new(config.seed.max(1));
        FaultInjector {
            config,
            state,
            injected: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The next number in [0, 1) of a xorshift sequence.
    fn next_unit(&self) -> f64 {
        let mut x = self.state.load(Ordering::Relaxed);
        loop {
            let mut next = x;
            next ^= next << 13;
            next ^= next >> 7;
            next ^= next << 17;
            match self
                .state
                .compare_exchange_weak(x, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (next >> 11) as f64 / (1u64 << 53) as f64,
                Err(current) => x = current,
            }
        }
    }

    fn fault(&self, operation: Operation, what: &str) -> object_store::Error {
        self.injected.fetch_add(1, Ordering::Relaxed);
        object_store::Error::Generic {
            store: "fault-injection",
            source: format!("injected {what} on {operation:?}").into(),
        }
    }
}

#[async_trait]
impl Interceptor for FaultInjector {
    async fn before(
        &self,
        operation: Operation,
        _location: Option<&ObjectPath>,
    ) -> object_store::Result<()> {
        if self.config.latency_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.config.latency_ms)).await;
        }
        let roll = self.next_unit();
        if roll < self.config.error_rate {
            return Err(self.fault(operation, "503 SlowDown"));
        }
        if roll < self.config.error_rate + self.config.timeout_rate {
            tokio::time::sleep(std::time::Duration::from_millis(self.config.timeout_ms)).await;
            return Err(self.fault(operation, "timeout"));
        }
        let writes = matches!(operation, Operation::Put | Operation::Copy);
        if !writes
            && roll < self.config.error_rate + self.config.timeout_rate + self.config.reset_rate
        {
            return Err(self.fault(operation, "connection reset"));
        }
        Ok(())
    }

    async fn after_write(&self, _location: &ObjectPath, _own: bool) -> object_store::Result<()> {
        if self.next_unit() < self.config.reset_rate {
            return Err(self.fault(Operation::Put, "connection reset after the write landed"));
        }
        Ok(())
    }
}
