//! Every compacted topic as an Apache Iceberg table (format version 2) in the bucket,
//! kept in step with Silt's index: after each swap (and at the start of each run, which
//! repairs a crash between the two), the table's files are made equal to the topic's
//! live compacted files in one new snapshot. A version is committed by creating
//! `v<N+1>.metadata.json` only if absent, so two writers never both win.
//!
//! Written with serde and `apache-avro` rather than the `iceberg` crate, whose arrow
//! version differs from the workspace's (see docs/iceberg.md).

mod avro;
mod commit;
mod maintain;
pub mod model;
pub mod schema;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow_schema::{Schema as ArrowSchema, SchemaRef};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use silt_core::coordinator::TableFile;
use silt_core::coordinator::Topic;
use silt_core::keys::{iceberg_metadata_dir, iceberg_version_key};
use silt_reader::iceberg::{IcebergReadError, load_current};
use thiserror::Error;
use tracing::{info, instrument};

use model::TableMetadata;

#[derive(Debug, Error)]
pub enum IcebergError {
    #[error(transparent)]
    Read(#[from] IcebergReadError),
    #[error("writing {key}: {source}")]
    Storage {
        key: String,
        source: object_store::Error,
    },
    #[error("table metadata: {0}")]
    Json(#[from] serde_json::Error),
    #[error("avro: {0}")]
    Avro(String),
    #[error("schema: {0}")]
    Schema(#[from] arrow_schema::ArrowError),
    #[error("reading a data file's footer: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0} is not in this bucket")]
    ForeignPath(String),
    #[error("gave up committing {topic}'s table after {attempts} conflicting writers")]
    Conflict { topic: String, attempts: u32 },
}

/// Where and how Silt keeps its Iceberg tables.
#[derive(Debug, Clone)]
pub struct IcebergConfig {
    /// The bucket's root as engines address it (`s3://bucket/prefix/`, `file:///…/`).
    pub root_url: String,
    /// How long a snapshot stays readable after a newer one replaced it (Iceberg's
    /// `history.expire.max-snapshot-age-ms`).
    pub snapshot_retention_ms: i64,
}

/// The topic's live compacted files, schema and id, as last committed by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    topic_id: i64,
    value_schema: Option<String>,
    files: Vec<String>,
}

pub struct IcebergTables {
    store: Arc<dyn ObjectStore>,
    config: IcebergConfig,
    synced: Mutex<HashMap<String, Fingerprint>>,
    /// Topics whose old snapshots or metadata files may still need to go.
    due: Mutex<HashSet<String>>,
}

const COMMIT_ATTEMPTS: u32 = 8;

impl IcebergTables {
    pub fn new(store: Arc<dyn ObjectStore>, config: IcebergConfig) -> Self {
        IcebergTables {
            store,
            config,
            synced: Mutex::new(HashMap::new()),
            due: Mutex::new(HashSet::new()),
        }
    }

    fn location(&self, topic: &str) -> String {
        format!("{}tables/{topic}", self.config.root_url)
    }

    /// The absolute URL of an object key.
    fn url(&self, key: &str) -> String {
        format!("{}{key}", self.config.root_url)
    }

    /// The object key of an absolute URL of this bucket.
    fn key<'a>(&self, url: &'a str) -> Result<&'a str, IcebergError> {
        url.strip_prefix(self.config.root_url.as_str())
            .ok_or_else(|| IcebergError::ForeignPath(url.to_owned()))
    }

    /// The current table of `topic` when it belongs to this incarnation of the topic.
    async fn load(&self, topic: &Topic) -> Result<(u64, Option<TableMetadata>), IcebergError> {
        let Some(current) = load_current(self.store.as_ref(), &topic.name).await? else {
            return Ok((0, None));
        };
        let metadata: TableMetadata = serde_json::from_value(current.json)?;
        let same_topic =
            metadata.properties.get(commit::TOPIC_ID_PROPERTY) == Some(&topic.topic_id.to_string());
        Ok((current.version, same_topic.then_some(metadata)))
    }

    /// The Arrow schema to write a compacted file of `topic` with: `schema` with each
    /// column's Iceberg field id.
    pub async fn file_schema(
        &self,
        topic: &Topic,
        schema: &ArrowSchema,
    ) -> Result<SchemaRef, IcebergError> {
        let (_, metadata) = self.load(topic).await?;
        let mut ids = schema::Ids::new(metadata.as_ref());
        let fields = ids.fields(schema)?;
        Ok(schema::annotate(schema, &fields)?)
    }

    /// Makes the table's current snapshot hold exactly `live` (the topic's compacted
    /// files in Silt's index) with the topic's current schema; nothing is written when
    /// it already does. Answers whether a version was committed.
    #[instrument(skip(self, topic, live), fields(topic = %topic.name))]
    pub async fn sync(&self, topic: &Topic, live: &[TableFile]) -> Result<bool, IcebergError> {
        let mut files: Vec<String> = live.iter().map(|file| file.object_key.clone()).collect();
        files.sort();
        let fingerprint = Fingerprint {
            topic_id: topic.topic_id,
            value_schema: topic.value_schema.as_ref().map(ToString::to_string),
            files,
        };
        if self.synced_as(&topic.name, &fingerprint) {
            return Ok(false);
        }
        for _ in 0..COMMIT_ATTEMPTS {
            let (version, base) = self.load(topic).await?;
            if base.is_none() && live.is_empty() {
                self.remember(&topic.name, fingerprint);
                return Ok(false);
            }
            let Some(next) =
                commit::next_version(self, topic, version, base.as_ref(), live).await?
            else {
                self.remember(&topic.name, fingerprint);
                return Ok(false);
            };
            if self.put_version(&topic.name, version + 1, &next).await? {
                info!(
                    version = version + 1,
                    snapshot = next.current_snapshot_id,
                    "committed the topic's Iceberg table"
                );
                self.remember(&topic.name, fingerprint);
                self.mark_due(&topic.name);
                return Ok(true);
            }
        }
        Err(IcebergError::Conflict {
            topic: topic.name.clone(),
            attempts: COMMIT_ATTEMPTS,
        })
    }

    fn synced_as(&self, topic: &str, fingerprint: &Fingerprint) -> bool {
        self.synced
            .lock()
            .map(|synced| synced.get(topic) == Some(fingerprint))
            .unwrap_or(false)
    }

    fn remember(&self, topic: &str, fingerprint: Fingerprint) {
        if let Ok(mut synced) = self.synced.lock() {
            synced.insert(topic.to_owned(), fingerprint);
        }
    }

    fn mark_due(&self, topic: &str) {
        if let Ok(mut due) = self.due.lock() {
            due.insert(topic.to_owned());
        }
    }

    /// Topics whose table may hold snapshots or files to expire.
    pub fn due_topics(&self) -> Vec<String> {
        self.due
            .lock()
            .map(|due| due.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn done(&self, topic: &str) {
        if let Ok(mut due) = self.due.lock() {
            due.remove(topic);
        }
    }

    /// Creates version `version` of the table; `false` when another writer made it first.
    async fn put_version(
        &self,
        topic: &str,
        version: u64,
        metadata: &TableMetadata,
    ) -> Result<bool, IcebergError> {
        let key = iceberg_version_key(topic, version);
        let body = serde_json::to_vec_pretty(metadata)?;
        let created = self
            .store
            .put_opts(
                &ObjectPath::from(key.as_str()),
                PutPayload::from(body),
                PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                },
            )
            .await;
        match created {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(source) => return Err(IcebergError::Storage { key, source }),
        }
        // The hint engines that open a table folder read; a stale one only costs them a
        // look further.
        let hint = format!("{}version-hint.text", iceberg_metadata_dir(topic));
        self.put(&hint, version.to_string().into_bytes()).await?;
        Ok(true)
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), IcebergError> {
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(body))
            .await
            .map(|_| ())
            .map_err(|source| IcebergError::Storage {
                key: key.to_owned(),
                source,
            })
    }
}

#[cfg(test)]
mod tests;
