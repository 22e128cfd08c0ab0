//! Opening the bucket: a local folder (the embedded default) or an S3-compatible store,
//! with the endpoint and credentials from the usual `AWS_*` variables.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use thiserror::Error;

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
    Ok(Arc::new(SyncedLocalStore {
        inner: LocalFileSystem::new_with_prefix(&root)?,
        root,
    }))
}

/// A folder used as a bucket, where a finished PUT is also on disk: the file and its
/// folder are fsynced before the PUT returns, so an acknowledged record survives a
/// power cut, not only a crash of the process. (`LocalFileSystem` renames a temporary
/// file into place but does not sync.)
#[derive(Debug)]
struct SyncedLocalStore {
    inner: LocalFileSystem,
    root: std::path::PathBuf,
}

impl SyncedLocalStore {
    async fn sync(&self, location: &ObjectPath) -> object_store::Result<()> {
        let file = self.root.join(location.as_ref());
        let sync = move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            if let Some(folder) = file.parent() {
                std::fs::File::open(folder)?.sync_all()?;
            }
            Ok(())
        };
        tokio::task::spawn_blocking(sync)
            .await
            .map_err(|error| object_store::Error::Generic {
                store: "local",
                source: Box::new(error),
            })?
            .map_err(|error| object_store::Error::Generic {
                store: "local",
                source: Box::new(error),
            })
    }
}

impl std::fmt::Display for SyncedLocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncedLocal({})", self.root.display())
    }
}

#[async_trait]
impl ObjectStore for SyncedLocalStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let result = self.inner.put_opts(location, payload, opts).await?;
        self.sync(location).await?;
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &ObjectPath,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.sync(to).await
    }
}

/// Counts the requests sent to the store it wraps; stacks like object_store's own
/// wrappers. Gateways expose the counts at `/metrics`, and tests use them to check
/// that one flush is one PUT.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counts: Arc<StoreCounts>,
}

/// Request counts of a [`CountingStore`].
#[derive(Debug, Default)]
pub struct StoreCounts {
    pub puts: AtomicU64,
    pub gets: AtomicU64,
    pub deletes: AtomicU64,
    pub lists: AtomicU64,
}

impl StoreCounts {
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        CountingStore {
            inner,
            counts: Arc::default(),
        }
    }

    pub fn counts(&self) -> Arc<StoreCounts> {
        Arc::clone(&self.counts)
    }
}

impl std::fmt::Display for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        bump(&self.counts.puts);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        bump(&self.counts.puts);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        bump(&self.counts.gets);
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &ObjectPath,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        bump(&self.counts.gets);
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        bump(&self.counts.deletes);
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        bump(&self.counts.lists);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        bump(&self.counts.lists);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        bump(&self.counts.puts);
        self.inner.copy_opts(from, to, options).await
    }
}
