//! Finding a topic's Apache Iceberg table in the bucket: the newest `v<N>.metadata.json`
//! of its metadata folder (the compactor writes them, each version created only if
//! absent, so the highest number is the current table), and the absolute locations
//! engines need.

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use silt_core::keys::{iceberg_metadata_dir, iceberg_version_key, parse_iceberg_version_key};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IcebergReadError {
    #[error("reading {key}: {source}")]
    Storage {
        key: String,
        source: object_store::Error,
    },
    #[error("{key} is not valid table metadata: {reason}")]
    Invalid { key: String, reason: String },
}

/// The current metadata of a topic's table: its version, its key and its JSON.
#[derive(Debug, Clone)]
pub struct CurrentMetadata {
    pub version: u64,
    pub key: String,
    pub json: serde_json::Value,
}

/// The highest metadata version of `topic`'s table, or `None` while it has none.
pub async fn current_version(
    store: &dyn ObjectStore,
    topic: &str,
) -> Result<Option<u64>, IcebergReadError> {
    let dir = iceberg_metadata_dir(topic);
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&ObjectPath::from(dir.as_str())))
        .try_collect()
        .await
        .map_err(|source| IcebergReadError::Storage { key: dir, source })?;
    Ok(listed
        .iter()
        .filter_map(|meta| parse_iceberg_version_key(meta.location.as_ref()))
        .max())
}

/// Reads the current metadata of `topic`'s table.
pub async fn load_current(
    store: &dyn ObjectStore,
    topic: &str,
) -> Result<Option<CurrentMetadata>, IcebergReadError> {
    let Some(version) = current_version(store, topic).await? else {
        return Ok(None);
    };
    let key = iceberg_version_key(topic, version);
    let bytes = read(store, &key).await?;
    let json = serde_json::from_slice(&bytes).map_err(|error| IcebergReadError::Invalid {
        key: key.clone(),
        reason: error.to_string(),
    })?;
    Ok(Some(CurrentMetadata { version, key, json }))
}

/// The whole object at `key`.
pub async fn read(store: &dyn ObjectStore, key: &str) -> Result<bytes::Bytes, IcebergReadError> {
    let storage = |source| IcebergReadError::Storage {
        key: key.to_owned(),
        source,
    };
    store
        .get(&ObjectPath::from(key))
        .await
        .map_err(storage)?
        .bytes()
        .await
        .map_err(storage)
}

/// The absolute URL of the bucket's root as engines address it, ending in `/`:
/// `s3://bucket/prefix/` or `file:///abs/path/`, from the same location string that
/// [`crate::storage::open_object_store`] opens.
pub fn root_url(location: &str) -> Result<String, String> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let rest = rest.trim_matches('/');
        if rest.is_empty() {
            return Err("the bucket name is missing".to_owned());
        }
        return Ok(format!("s3://{rest}/"));
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    let absolute = std::path::Path::new(path)
        .canonicalize()
        .map_err(|error| format!("{path}: {error}"))?;
    let text = absolute
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", absolute.display()))?;
    Ok(format!("file://{}/", text.trim_end_matches('/')))
}

/// What a catalog serves: the bucket's tables, their absolute locations, and the
/// storage settings engines need to read them (never credentials).
#[derive(Debug, Clone)]
pub struct Catalog {
    pub store: std::sync::Arc<dyn ObjectStore>,
    /// As [`root_url`] gives it.
    pub root_url: String,
    /// FileIO properties for engines (`s3.endpoint`, `s3.region`, …).
    pub file_io: std::collections::BTreeMap<String, String>,
}

impl Catalog {
    /// Topics with a folder under `tables/` (compacted files or a table), by name.
    pub async fn topics_with_tables(
        &self,
    ) -> Result<std::collections::BTreeSet<String>, IcebergReadError> {
        let listed = self
            .store
            .list_with_delimiter(Some(&ObjectPath::from(silt_core::keys::TABLES_DIR)))
            .await
            .map_err(|source| IcebergReadError::Storage {
                key: silt_core::keys::TABLES_DIR.to_owned(),
                source,
            })?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|prefix| prefix.filename().map(str::to_owned))
            .collect())
    }

    /// The current metadata of `topic`'s table with its absolute location.
    pub async fn load(
        &self,
        topic: &str,
    ) -> Result<Option<(String, serde_json::Value)>, IcebergReadError> {
        Ok(load_current(self.store.as_ref(), topic)
            .await?
            .map(|current| (format!("{}{}", self.root_url, current.key), current.json)))
    }
}
