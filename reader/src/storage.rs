//! Opening the bucket: a local folder (the embedded default) or an S3-compatible store,
//! with the endpoint and credentials from the usual `AWS_*` variables.

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageConfigError {
    #[error("invalid object store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot open the object store: {0}")]
    Open(#[from] object_store::Error),
    #[error("cannot create {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
}

/// Opens `s3://bucket[/prefix]`, `file:///abs/path`, or a plain local path.
pub fn open_object_store(location: &str) -> Result<Arc<dyn ObjectStore>, StorageConfigError> {
    let invalid = |reason: &str| StorageConfigError::InvalidUrl { url: location.to_owned(), reason: reason.to_owned() };
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("the bucket name is missing"));
        }
        let s3 = AmazonS3Builder::from_env().with_bucket_name(bucket).build()?;
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            return Ok(Arc::new(s3));
        }
        return Ok(Arc::new(PrefixStore::new(s3, prefix)));
    }
    let path = match location.strip_prefix("file://") {
        Some(path) => path,
        None if location.contains("://") => return Err(invalid("expected s3://, file:// or a local path")),
        None => location,
    };
    open_local(Path::new(path))
}

/// A folder used as the bucket, created if missing.
pub fn open_local(path: &Path) -> Result<Arc<dyn ObjectStore>, StorageConfigError> {
    std::fs::create_dir_all(path)
        .map_err(|source| StorageConfigError::CreateDir { path: path.display().to_string(), source })?;
    Ok(Arc::new(LocalFileSystem::new_with_prefix(path)?))
}
