//! The Iceberg settings of a bucket: the root URL its tables are addressed by, and the
//! storage properties engines need to read them (from the same `AWS_*` variables the
//! bucket was opened with; never credentials).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use silt_compactor::iceberg::IcebergConfig;
use silt_reader::iceberg::{Catalog, root_url};

use crate::error::CliError;

/// How long a replaced Iceberg snapshot stays readable unless configured.
pub const SNAPSHOT_RETENTION_MS: i64 = 10 * 60 * 1000;

/// The compactor's Iceberg settings and the catalog a gateway serves, for the bucket at
/// `location` (or the local one in `data_dir`).
pub fn settings(
    location: Option<&str>,
    data_dir: &Path,
    store: Arc<dyn ObjectStore>,
    snapshot_retention_ms: i64,
) -> Result<(IcebergConfig, Catalog), CliError> {
    if snapshot_retention_ms < 0 {
        return Err(CliError::Config(format!(
            "--snapshot-retention-ms must be 0 or more, got {snapshot_retention_ms}"
        )));
    }
    let local = data_dir.join("bucket");
    let location = match location {
        Some(location) => location.to_owned(),
        None => local.display().to_string(),
    };
    let root_url =
        root_url(&location).map_err(|reason| CliError::Config(format!("{location}: {reason}")))?;
    let mut file_io = BTreeMap::new();
    if root_url.starts_with("s3://") {
        let variable = |names: &[&str]| names.iter().find_map(|name| std::env::var(name).ok());
        if let Some(endpoint) = variable(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]) {
            file_io.insert("s3.endpoint".to_owned(), endpoint);
            file_io.insert("s3.path-style-access".to_owned(), "true".to_owned());
        }
        if let Some(region) = variable(&["AWS_REGION", "AWS_DEFAULT_REGION"]) {
            file_io.insert("s3.region".to_owned(), region);
        }
    }
    Ok((
        IcebergConfig {
            root_url: root_url.clone(),
            snapshot_retention_ms,
        },
        Catalog {
            store,
            root_url,
            file_io,
        },
    ))
}
