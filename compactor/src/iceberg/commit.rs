//! The next version of a topic's table: the schema of its `value_schema`, and a snapshot
//! whose files are the topic's live compacted files, written as manifests (untouched
//! ones carried over, touched ones rewritten, new files in a new one) and a manifest
//! list.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::statistics::Statistics;
use silt_core::coordinator::TableFile;
use silt_core::coordinator::Topic;
use silt_core::keys::{iceberg_metadata_dir, iceberg_version_key};
use silt_core::now_ms;
use silt_core::schema::ValueSchema;
use silt_reader::table::table_schema_for;

use super::avro::{DataFile, Entry, ManifestFile, ManifestHeader, Status};
use super::model::{
    DAY_FIELD_ID, DAY_SPEC_ID, Snapshot, SnapshotLogEntry, SnapshotRef, SortOrder, TIMESTAMP_ID,
    TableMetadata, UNPARTITIONED_SPEC_ID, day_of, partition_specs,
};
use super::schema::{Ids, OFFSET_ID, PARTITION_ID, evolve, int_bound, long_bound};
use super::{IcebergError, IcebergTables, avro, maintain, schema};

/// The table property naming the topic incarnation a table belongs to.
pub const TOPIC_ID_PROPERTY: &str = "silt.topic-id";
/// Past this many manifests, a snapshot's manifests are merged into one per spec.
const MAX_MANIFESTS: usize = 32;

/// A manifest of the current snapshot with its entries.
pub(super) struct ReadManifest {
    pub file: ManifestFile,
    pub entries: Vec<Entry>,
}

/// The version after `base` (version `version`, absent for a new table) that holds
/// exactly `live`, or `None` when `base` already does and nothing expired.
pub(super) async fn next_version(
    tables: &IcebergTables,
    topic: &Topic,
    version: u64,
    base: Option<&TableMetadata>,
    live: &[TableFile],
) -> Result<Option<TableMetadata>, IcebergError> {
    let now = now_ms();
    let value_schema = topic
        .value_schema
        .as_ref()
        .and_then(|schema| ValueSchema::parse(schema).ok());
    let mut ids = Ids::new(base);
    let fields = ids.fields(&table_schema_for(value_schema.as_ref()))?;
    let (schema, schema_changed) = evolve(base, fields);
    let previous = match base.and_then(TableMetadata::current_snapshot) {
        Some(snapshot) => tables.read_snapshot(snapshot).await?,
        None => Vec::new(),
    };
    let current: HashSet<&str> = previous
        .iter()
        .flat_map(|manifest| &manifest.entries)
        .filter(|entry| entry.status != Status::Deleted)
        .map(|entry| entry.file.path.as_str())
        .collect();
    let live_urls: HashMap<String, &TableFile> = live
        .iter()
        .map(|file| (tables.url(&file.object_key), file))
        .collect();
    let added: Vec<&TableFile> = live
        .iter()
        .filter(|file| !current.contains(tables.url(&file.object_key).as_str()))
        .collect();
    let removed: HashSet<String> = current
        .iter()
        .filter(|path| !live_urls.contains_key(**path))
        .map(|path| (*path).to_owned())
        .collect();
    let mut metadata = match base {
        Some(base) => base.clone(),
        None => fresh(tables, topic, now),
    };
    let expired = maintain::expire(&mut metadata, now, tables.config.snapshot_retention_ms);
    if added.is_empty() && removed.is_empty() && !schema_changed && !expired {
        return Ok(None);
    }
    if schema_changed {
        metadata.current_schema_id = schema.schema_id;
        metadata.schemas.push(schema.clone());
    }
    metadata.last_column_id = metadata.last_column_id.max(ids.last_column_id());
    metadata.properties.insert(
        "schema.name-mapping.default".to_owned(),
        schema::name_mapping(&schema.fields).to_string(),
    );
    if !added.is_empty() || !removed.is_empty() {
        let mut new_entries = Vec::with_capacity(added.len());
        for file in added {
            new_entries.push(tables.data_file(file).await?);
        }
        add_snapshot(
            tables,
            &topic.name,
            &mut metadata,
            &schema,
            previous,
            new_entries,
            &removed,
            now,
        )
        .await?;
    }
    if base.is_some() {
        metadata.follow(tables.url(&iceberg_version_key(&topic.name, version)), now);
    }
    metadata.last_updated_ms = now.max(metadata.last_updated_ms);
    Ok(Some(metadata))
}

fn fresh(tables: &IcebergTables, topic: &Topic, now: i64) -> TableMetadata {
    let properties = BTreeMap::from([
        (TOPIC_ID_PROPERTY.to_owned(), topic.topic_id.to_string()),
        ("silt.topic".to_owned(), topic.name.clone()),
        ("write.format.default".to_owned(), "parquet".to_owned()),
        (
            "write.parquet.compression-codec".to_owned(),
            "zstd".to_owned(),
        ),
    ]);
    TableMetadata {
        format_version: 2,
        table_uuid: uuid::Uuid::new_v4().to_string(),
        location: tables.location(&topic.name),
        last_sequence_number: 0,
        last_updated_ms: now,
        last_column_id: 0,
        current_schema_id: 0,
        schemas: Vec::new(),
        default_spec_id: DAY_SPEC_ID,
        partition_specs: partition_specs(),
        last_partition_id: DAY_FIELD_ID,
        default_sort_order_id: 0,
        sort_orders: vec![SortOrder {
            order_id: 0,
            fields: Vec::new(),
        }],
        properties,
        current_snapshot_id: None,
        snapshots: Vec::new(),
        snapshot_log: Vec::new(),
        metadata_log: Vec::new(),
        refs: BTreeMap::new(),
    }
}

/// A positive random snapshot id.
fn snapshot_id() -> i64 {
    (uuid::Uuid::new_v4().as_u128() as i64) & i64::MAX
}

#[allow(clippy::too_many_arguments)]
async fn add_snapshot(
    tables: &IcebergTables,
    topic: &str,
    metadata: &mut TableMetadata,
    schema: &super::model::Schema,
    previous: Vec<ReadManifest>,
    added: Vec<DataFile>,
    removed: &HashSet<String>,
    now: i64,
) -> Result<(), IcebergError> {
    let sequence_number = metadata.last_sequence_number + 1;
    let id = snapshot_id();
    let new_entry = |file: DataFile| Entry {
        status: Status::Added,
        snapshot_id: id,
        sequence_number,
        file_sequence_number: sequence_number,
        file,
    };
    // What the previous entries become: removed files are deleted by this snapshot;
    // tombstones of earlier snapshots go.
    let carry = |entries: Vec<Entry>| -> Vec<Entry> {
        entries
            .into_iter()
            .filter(|entry| entry.status != Status::Deleted)
            .map(|mut entry| {
                if removed.contains(&entry.file.path) {
                    entry.status = Status::Deleted;
                    entry.snapshot_id = id;
                } else {
                    entry.status = Status::Existing;
                }
                entry
            })
            .collect()
    };
    let totals = Totals::of(&previous, &added, removed);
    let added_records: i64 = added.iter().map(|file| file.record_count).sum();
    let added_count = added.len();
    let mut kept = Vec::new();
    let mut to_write: BTreeMap<(i32, usize), Vec<Entry>> = BTreeMap::new();
    let mut fresh_entries: Vec<Entry> = added.into_iter().map(new_entry).collect();
    if previous.len() + 2 > MAX_MANIFESTS {
        // One manifest per spec with everything.
        for manifest in previous {
            fresh_entries.extend(carry(manifest.entries));
        }
        for entry in fresh_entries {
            to_write
                .entry((entry.file.spec_id, 0))
                .or_default()
                .push(entry);
        }
    } else {
        for (index, manifest) in previous.into_iter().enumerate() {
            let touched = manifest
                .entries
                .iter()
                .any(|entry| entry.status == Status::Deleted || removed.contains(&entry.file.path));
            if !touched {
                kept.push(manifest.file);
                continue;
            }
            let rewritten = carry(manifest.entries);
            if !rewritten.is_empty() {
                to_write.insert((manifest.file.spec_id, index + 1), rewritten);
            }
        }
        for entry in fresh_entries {
            to_write
                .entry((entry.file.spec_id, 0))
                .or_default()
                .push(entry);
        }
    }
    let schema_json = serde_json::to_string(schema)?;
    let batch = uuid::Uuid::now_v7().simple().to_string();
    let dir = iceberg_metadata_dir(topic);
    for (number, ((spec_id, _), entries)) in to_write.into_iter().enumerate() {
        let spec_json = serde_json::to_string(
            &metadata
                .spec(spec_id)
                .map(|spec| spec.fields.clone())
                .unwrap_or_default(),
        )?;
        let header = ManifestHeader {
            schema_json: &schema_json,
            schema_id: schema.schema_id,
            spec_id,
            spec_json: &spec_json,
        };
        let bytes = avro::write_manifest(&header, &entries)?;
        let key = format!("{dir}{batch}-m{number}.avro");
        let length = bytes.len() as i64;
        tables.put(&key, bytes).await?;
        kept.push(manifest_file(
            tables.url(&key),
            length,
            spec_id,
            id,
            sequence_number,
            &entries,
        ));
    }
    let list = avro::write_manifest_list(id, metadata.current_snapshot_id, sequence_number, &kept)?;
    let list_key = format!("{dir}snap-{id}-{batch}.avro");
    tables.put(&list_key, list).await?;
    let operation = match (added_count, removed.len()) {
        (_, 0) => "append",
        (0, _) => "delete",
        _ => "overwrite",
    };
    let summary = BTreeMap::from([
        ("operation".to_owned(), operation.to_owned()),
        ("added-data-files".to_owned(), added_count.to_string()),
        ("deleted-data-files".to_owned(), removed.len().to_string()),
        ("added-records".to_owned(), added_records.to_string()),
        (
            "deleted-records".to_owned(),
            totals.deleted_records.to_string(),
        ),
        ("total-data-files".to_owned(), totals.files.to_string()),
        ("total-records".to_owned(), totals.records.to_string()),
        ("total-files-size".to_owned(), totals.bytes.to_string()),
        ("total-delete-files".to_owned(), "0".to_owned()),
        ("total-position-deletes".to_owned(), "0".to_owned()),
        ("total-equality-deletes".to_owned(), "0".to_owned()),
    ]);
    metadata.snapshots.push(Snapshot {
        snapshot_id: id,
        parent_snapshot_id: metadata.current_snapshot_id,
        sequence_number,
        timestamp_ms: now,
        manifest_list: tables.url(&list_key),
        summary,
        schema_id: schema.schema_id,
    });
    metadata.current_snapshot_id = Some(id);
    metadata.last_sequence_number = sequence_number;
    metadata.snapshot_log.push(SnapshotLogEntry {
        snapshot_id: id,
        timestamp_ms: now,
    });
    metadata.refs.insert(
        "main".to_owned(),
        SnapshotRef {
            snapshot_id: id,
            kind: "branch".to_owned(),
        },
    );
    Ok(())
}

/// The table's totals after a snapshot.
struct Totals {
    files: usize,
    records: i64,
    bytes: i64,
    deleted_records: i64,
}

impl Totals {
    fn of(previous: &[ReadManifest], added: &[DataFile], removed: &HashSet<String>) -> Totals {
        let mut totals = Totals {
            files: 0,
            records: 0,
            bytes: 0,
            deleted_records: 0,
        };
        let live = previous
            .iter()
            .flat_map(|manifest| &manifest.entries)
            .filter(|entry| entry.status != Status::Deleted)
            .map(|entry| &entry.file);
        for file in live.chain(added) {
            if removed.contains(&file.path) {
                totals.deleted_records += file.record_count;
                continue;
            }
            totals.files += 1;
            totals.records += file.record_count;
            totals.bytes += file.size;
        }
        totals
    }
}

fn manifest_file(
    path: String,
    length: i64,
    spec_id: i32,
    snapshot_id: i64,
    sequence_number: i64,
    entries: &[Entry],
) -> ManifestFile {
    let count = |status: Status| {
        entries
            .iter()
            .filter(|entry| entry.status == status)
            .count() as i32
    };
    let rows = |status: Status| {
        entries
            .iter()
            .filter(|entry| entry.status == status)
            .map(|entry| entry.file.record_count)
            .sum()
    };
    let days: Vec<i32> = entries.iter().filter_map(|entry| entry.file.day).collect();
    ManifestFile {
        path,
        length,
        spec_id,
        sequence_number,
        min_sequence_number: entries
            .iter()
            .filter(|entry| entry.status != Status::Deleted)
            .map(|entry| entry.sequence_number)
            .min()
            .unwrap_or(sequence_number),
        added_snapshot_id: snapshot_id,
        added_files: count(Status::Added),
        existing_files: count(Status::Existing),
        deleted_files: count(Status::Deleted),
        added_rows: rows(Status::Added),
        existing_rows: rows(Status::Existing),
        deleted_rows: rows(Status::Deleted),
        days: days
            .iter()
            .min()
            .zip(days.iter().max())
            .map(|(low, high)| (*low, *high)),
    }
}

impl IcebergTables {
    /// The manifests of `snapshot` with their entries.
    pub(super) async fn read_snapshot(
        &self,
        snapshot: &Snapshot,
    ) -> Result<Vec<ReadManifest>, IcebergError> {
        let list = self.read(&snapshot.manifest_list).await?;
        let mut manifests = Vec::new();
        for file in avro::read_manifest_list(&list)? {
            let bytes = self.read(&file.path).await?;
            let entries = avro::read_manifest(&bytes, file.spec_id)?;
            manifests.push(ReadManifest { file, entries });
        }
        Ok(manifests)
    }

    pub(super) async fn read(&self, url: &str) -> Result<bytes::Bytes, IcebergError> {
        Ok(silt_reader::iceberg::read(self.store.as_ref(), self.key(url)?).await?)
    }

    /// A compacted file as the table lists it, with its row count and the bounds of
    /// `partition`, `offset` and `timestamp` from its footer.
    async fn data_file(&self, file: &TableFile) -> Result<DataFile, IcebergError> {
        let mut reader = silt_reader::table::TableFile::new(
            Arc::clone(&self.store),
            ObjectPath::from(file.object_key.as_str()),
        );
        let footer = reader.get_metadata(None).await?;
        let mut bounds: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
        for group in footer.row_groups() {
            for (column, id) in [(0, PARTITION_ID), (1, OFFSET_ID), (2, TIMESTAMP_ID)] {
                let range = match group.columns().get(column).and_then(|c| c.statistics()) {
                    Some(Statistics::Int32(stats)) => stats
                        .min_opt()
                        .zip(stats.max_opt())
                        .map(|(low, high)| (i64::from(*low), i64::from(*high))),
                    Some(Statistics::Int64(stats)) => {
                        stats.min_opt().zip(stats.max_opt()).map(|(l, h)| (*l, *h))
                    }
                    _ => None,
                };
                if let Some((low, high)) = range {
                    let bound = bounds.entry(id).or_insert((low, high));
                    *bound = (bound.0.min(low), bound.1.max(high));
                }
            }
        }
        let (spec_id, day) = match bounds.get(&TIMESTAMP_ID) {
            Some((low, high)) if day_of(*low) == day_of(*high) => (DAY_SPEC_ID, Some(day_of(*low))),
            _ => (UNPARTITIONED_SPEC_ID, None),
        };
        let encode = |id: i32, value: i64| match id {
            PARTITION_ID => int_bound(i32::try_from(value).unwrap_or(i32::MAX)),
            // Iceberg timestamps are microseconds; Silt's are milliseconds.
            TIMESTAMP_ID => long_bound(value.saturating_mul(1000)),
            _ => long_bound(value),
        };
        Ok(DataFile {
            path: self.url(&file.object_key),
            size: i64::try_from(file.object_size).unwrap_or(i64::MAX),
            record_count: footer.file_metadata().num_rows(),
            spec_id,
            day,
            lower_bounds: bounds
                .iter()
                .map(|(id, (low, _))| (*id, encode(*id, *low)))
                .collect(),
            upper_bounds: bounds
                .iter()
                .map(|(id, (_, high))| (*id, encode(*id, *high)))
                .collect(),
        })
    }
}
