//! The snapshot: every row of the metadata store as one consistent copy, written to the
//! bucket as JSON (`docs/snapshot-format.md` describes the layout and its versions).
//!
//! Each table's row is a named struct here, stored in JSON as an array in the column
//! order of its fields so that a snapshot stays compact. Which tables a snapshot holds,
//! in which order they are restored, and what a restore leaves out are decided here
//! once; a backend only runs the queries ([`SNAPSHOT_QUERIES`]) and inserts the rows
//! ([`Snapshot::restore_plan`]) through [`crate::store::ops::snapshot`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use silt_core::coordinator::CoordinatorError;
use silt_core::topic_configs::TopicConfigs;

use crate::error::StoreError;
use crate::store::db::{Cell, FromCell};

#[cfg(test)]
mod tests;

/// The version of the snapshot layout this build writes.
pub const SNAPSHOT_FORMAT: u32 = 1;
/// The versions a restore reads.
pub const SNAPSHOT_FORMATS_READ: &[u32] = &[1];

/// Gap left after the highest restored producer id, so that a producer registered after
/// the snapshot (and so forgotten by the restore) can never share an id with a new one.
pub const RESTORED_PRODUCER_ID_GAP: i64 = 1_000_000;

/// A table's row in a snapshot.
pub trait SnapshotRow: Sized {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    fn cells(&self) -> Vec<Cell>;
    fn from_cells(cells: Vec<Cell>) -> Result<Self, StoreError>;
}

macro_rules! snapshot_rows {
    ($(
        $(#[$doc:meta])*
        $name:ident in $table:literal { $($field:ident: $ty:ty),+ $(,)? }
    )+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: $ty,)+
        }

        impl From<($($ty,)+)> for $name {
            fn from(($($field,)+): ($($ty,)+)) -> Self {
                $name { $($field,)+ }
            }
        }

        impl From<$name> for ($($ty,)+) {
            fn from(row: $name) -> Self {
                ($(row.$field,)+)
            }
        }

        /// Written as an array of its columns.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ($(&self.$field,)+).serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <($($ty,)+)>::deserialize(deserializer).map($name::from)
            }
        }

        impl SnapshotRow for $name {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn cells(&self) -> Vec<Cell> {
                vec![$(Cell::from(self.$field.clone())),+]
            }

            fn from_cells(cells: Vec<Cell>) -> Result<Self, StoreError> {
                let mut cells = cells.into_iter();
                Ok($name {
                    $($field: FromCell::from_cell(
                        cells.next().unwrap_or(Cell::Null),
                        stringify!($field),
                    )?,)+
                })
            }
        }
    )+};
}

snapshot_rows! {
    /// A topic.
    TopicRow in "topics" {
        topic_id: i64,
        name: String,
        partitions: i64,
        retention_ms: Option<i64>,
        retention_bytes: Option<i64>,
        created_at_ms: i64,
        value_schema: Option<String>,
    }
    /// A partition's bounds.
    PartitionRow in "partitions" {
        topic_id: i64,
        partition: i64,
        log_start_offset: i64,
        high_watermark: i64,
    }
    /// A segment object or a compacted file (`format` 1), with the outcomes its commit
    /// answered (JSON).
    SegmentRow in "segments" {
        segment_id: i64,
        object_key: String,
        object_size: i64,
        committed_at_ms: i64,
        outcomes: String,
        format: i64,
    }
    /// Where a range of offsets is stored.
    IndexEntryRow in "index_entries" {
        topic_id: i64,
        partition: i64,
        base_offset: i64,
        record_count: i64,
        segment_id: i64,
        byte_offset: i64,
        byte_len: i64,
        min_timestamp: i64,
        max_timestamp: i64,
        format: i64,
    }
    /// An idempotent producer and its last request (`last_chunks` is JSON).
    ProducerRow in "producers" {
        producer_id: i64,
        epoch: i64,
        last_sequence: i64,
        last_topic_id: Option<i64>,
        last_chunks: String,
        updated_at_ms: i64,
    }
    /// A Kafka producer's last batches of one partition (`batches` is JSON).
    KafkaSequenceRow in "kafka_sequences" {
        producer_id: i64,
        topic_id: i64,
        partition: i64,
        epoch: i64,
        batches: String,
    }
    /// A group's generation.
    GroupRow in "groups" {
        group_name: String,
        generation: i64,
    }
    /// A group's committed offset.
    GroupOffsetRow in "group_offsets" {
        group_name: String,
        topic_id: i64,
        partition: i64,
        committed_offset: i64,
        updated_at_ms: i64,
    }
    /// A config a topic sets, under its Kafka name.
    TopicConfigRow in "topic_configs" {
        topic_id: i64,
        name: String,
        value: String,
    }
    /// What a commit of a group offset carried, for the offsets committed with a
    /// metadata string or a leader epoch.
    GroupOffsetMetadataRow in "group_offsets" {
        group_name: String,
        topic_id: i64,
        partition: i64,
        metadata: String,
        leader_epoch: Option<i64>,
    }
    /// The transaction an index entry's records belong to, for the entries of one.
    IndexEntryTxnRow in "index_entries" {
        topic_id: i64,
        partition: i64,
        base_offset: i64,
        txn_producer: Option<i64>,
        txn_epoch: Option<i64>,
        txn_state: i64,
    }
    /// A transactional id: its producer and state.
    TransactionRow in "transactions" {
        transactional_id: String,
        producer_id: i64,
        epoch: i64,
        state: i64,
        timeout_ms: i64,
        started_at_ms: i64,
        updated_at_ms: i64,
    }
    /// A partition of an open transaction.
    TxnPartitionRow in "txn_partitions" {
        transactional_id: String,
        topic_id: i64,
        partition: i64,
    }
    /// A consumer offset an open transaction commits when it commits.
    TxnOffsetRow in "txn_offsets" {
        transactional_id: String,
        group_name: String,
        topic_id: i64,
        partition: i64,
        committed_offset: i64,
        metadata: String,
        leader_epoch: Option<i64>,
        only_forward: i64,
        generation: Option<i64>,
    }
    /// A transaction's commit (`outcome` 2) or abort (3) marker in a partition.
    TxnMarkerRow in "txn_markers" {
        topic_id: i64,
        partition: i64,
        marker_offset: i64,
        producer_id: i64,
        epoch: i64,
        outcome: i64,
        timestamp_ms: i64,
    }
    /// A user's SCRAM credential for one mechanism (never the password).
    UserRow in "users" {
        name: String,
        mechanism: String,
        salt: String,
        iterations: i64,
        stored_key: String,
        server_key: String,
        created_ms: i64,
    }
    /// An API key: the secret's SHA-256, never the secret.
    ApiKeyRow in "api_keys" {
        key_id: String,
        principal: String,
        secret_sha256: String,
        description: String,
        created_ms: i64,
        expires_ms: Option<i64>,
        revoked_ms: Option<i64>,
    }
    /// An ACL.
    AclRow in "acls" {
        principal: String,
        host: String,
        resource_type: String,
        resource_name: String,
        pattern_type: String,
        operation: String,
        permission: String,
    }
}

/// Every row of the metadata store, as one consistent copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    pub taken_at_ms: i64,
    pub topics: Vec<TopicRow>,
    pub partitions: Vec<PartitionRow>,
    pub segments: Vec<SegmentRow>,
    pub index_entries: Vec<IndexEntryRow>,
    pub producers: Vec<ProducerRow>,
    /// Absent from snapshots taken before Kafka's idempotent producers.
    #[serde(default)]
    pub kafka_sequences: Vec<KafkaSequenceRow>,
    pub groups: Vec<GroupRow>,
    pub group_offsets: Vec<GroupOffsetRow>,
    /// Absent from snapshots taken before commit metadata was kept.
    #[serde(default)]
    pub group_offset_metadata: Vec<GroupOffsetMetadataRow>,
    /// Absent from snapshots taken before topic configs: their topics have the defaults.
    #[serde(default)]
    pub topic_configs: Vec<TopicConfigRow>,
    /// Absent from snapshots taken before transactions, as are the four tables after it.
    #[serde(default)]
    pub index_entry_txns: Vec<IndexEntryTxnRow>,
    #[serde(default)]
    pub transactions: Vec<TransactionRow>,
    #[serde(default)]
    pub txn_partitions: Vec<TxnPartitionRow>,
    #[serde(default)]
    pub txn_offsets: Vec<TxnOffsetRow>,
    #[serde(default)]
    pub txn_markers: Vec<TxnMarkerRow>,
    /// Absent from snapshots taken before security, as are the two tables after it.
    #[serde(default)]
    pub users: Vec<UserRow>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyRow>,
    #[serde(default)]
    pub acls: Vec<AclRow>,
}

/// The query of each table, in [`Snapshot`]'s field order: a backend runs them in one
/// read transaction, in this order, and hands the rows to [`Snapshot::from_tables`].
pub const SNAPSHOT_QUERIES: [&str; 18] = [
    "SELECT topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema
     FROM topics ORDER BY topic_id",
    "SELECT topic_id, partition, log_start_offset, high_watermark FROM partitions
     ORDER BY topic_id, partition",
    "SELECT segment_id, object_key, object_size, committed_at_ms, outcomes, format FROM segments
     ORDER BY segment_id",
    "SELECT topic_id, partition, base_offset, record_count, segment_id, byte_offset, byte_len,
            min_timestamp, max_timestamp, format
     FROM index_entries ORDER BY topic_id, partition, base_offset",
    "SELECT producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms
     FROM producers ORDER BY producer_id",
    "SELECT producer_id, topic_id, partition, epoch, batches FROM kafka_sequences
     ORDER BY producer_id, topic_id, partition",
    "SELECT group_name, generation FROM groups ORDER BY group_name",
    "SELECT group_name, topic_id, partition, committed_offset, updated_at_ms FROM group_offsets
     ORDER BY group_name, topic_id, partition",
    "SELECT group_name, topic_id, partition, metadata, leader_epoch FROM group_offsets
     WHERE metadata <> '' OR leader_epoch IS NOT NULL
     ORDER BY group_name, topic_id, partition",
    "SELECT topic_id, name, value FROM topic_configs ORDER BY topic_id, name",
    "SELECT topic_id, partition, base_offset, txn_producer, txn_epoch, txn_state FROM index_entries
     WHERE txn_state <> 0 ORDER BY topic_id, partition, base_offset",
    "SELECT transactional_id, producer_id, epoch, state, timeout_ms, started_at_ms, updated_at_ms
     FROM transactions ORDER BY transactional_id",
    "SELECT transactional_id, topic_id, partition FROM txn_partitions
     ORDER BY transactional_id, topic_id, partition",
    "SELECT transactional_id, group_name, topic_id, partition, committed_offset, metadata,
            leader_epoch, only_forward, generation
     FROM txn_offsets ORDER BY transactional_id, group_name, topic_id, partition",
    "SELECT topic_id, partition, marker_offset, producer_id, epoch, outcome, timestamp_ms
     FROM txn_markers ORDER BY topic_id, partition, marker_offset",
    "SELECT name, mechanism, salt, iterations, stored_key, server_key, created_ms FROM users
     ORDER BY name, mechanism",
    "SELECT key_id, principal, secret_sha256, description, created_ms, expires_ms, revoked_ms
     FROM api_keys ORDER BY key_id",
    "SELECT principal, host, resource_type, resource_name, pattern_type, operation, permission
     FROM acls ORDER BY principal, host, resource_type, resource_name, pattern_type, operation,
         permission",
];

fn decode<T: SnapshotRow>(rows: Vec<Vec<Cell>>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::from_cells).collect()
}

/// Rows to insert into one table, with their columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    pub table: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

impl TableRows {
    fn of<T: SnapshotRow>(rows: impl IntoIterator<Item = T>) -> TableRows {
        TableRows {
            table: T::TABLE,
            columns: T::COLUMNS.to_vec(),
            rows: rows.into_iter().map(|row| row.cells()).collect(),
        }
    }

    /// `INSERT INTO table (columns) VALUES (...)`, each value a placeholder that
    /// `placeholder` writes from its 1-based position.
    pub fn insert_sql(&self, placeholder: impl Fn(usize) -> String) -> String {
        let values: Vec<String> = (1..=self.columns.len()).map(placeholder).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            self.columns.join(", "),
            values.join(", ")
        )
    }
}

/// What a restore writes: the tables in order, and the id a new producer gets next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub tables: Vec<TableRows>,
    pub next_topic_id: i64,
    pub next_segment_id: i64,
    pub next_producer_id: i64,
}

impl Snapshot {
    /// Builds a snapshot from the rows of [`SNAPSHOT_QUERIES`], in that order.
    pub fn from_tables(taken_at_ms: i64, tables: Vec<Vec<Vec<Cell>>>) -> Result<Self, StoreError> {
        let Ok::<[Vec<Vec<Cell>>; 18], _>(
            [
                topics,
                partitions,
                segments,
                index_entries,
                producers,
                kafka_sequences,
                groups,
                group_offsets,
                group_offset_metadata,
                topic_configs,
                index_entry_txns,
                transactions,
                txn_partitions,
                txn_offsets,
                txn_markers,
                users,
                api_keys,
                acls,
            ],
        ) = tables.try_into()
        else {
            return Err(StoreError::Invalid(
                "a snapshot reads eighteen tables".to_owned(),
            ));
        };
        Ok(Snapshot {
            format: SNAPSHOT_FORMAT,
            taken_at_ms,
            topics: decode(topics)?,
            partitions: decode(partitions)?,
            segments: decode(segments)?,
            index_entries: decode(index_entries)?,
            producers: decode(producers)?,
            kafka_sequences: decode(kafka_sequences)?,
            groups: decode(groups)?,
            group_offsets: decode(group_offsets)?,
            group_offset_metadata: decode(group_offset_metadata)?,
            topic_configs: decode(topic_configs)?,
            index_entry_txns: decode(index_entry_txns)?,
            transactions: decode(transactions)?,
            txn_partitions: decode(txn_partitions)?,
            txn_offsets: decode(txn_offsets)?,
            txn_markers: decode(txn_markers)?,
            users: decode(users)?,
            api_keys: decode(api_keys)?,
            acls: decode(acls)?,
        })
    }

    /// The rows a restore inserts, or why this snapshot cannot be restored. Offsets of a
    /// deleted topic (older snapshots kept them) are left out, so that they never attach
    /// to a later topic that reuses its id; commit metadata joins its offset's row.
    pub fn restore_plan(self) -> Result<RestorePlan, StoreError> {
        if !SNAPSHOT_FORMATS_READ.contains(&self.format) {
            return Err(StoreError::Invalid(format!(
                "snapshot format {} is not supported (supported: {SNAPSHOT_FORMATS_READ:?})",
                self.format
            )));
        }
        let topic_ids: HashSet<i64> = self.topics.iter().map(|row| row.topic_id).collect();
        let next_topic_id = self
            .topics
            .iter()
            .map(|row| row.topic_id)
            .max()
            .unwrap_or(0)
            + 1;
        let next_segment_id = self
            .segments
            .iter()
            .map(|r| r.segment_id)
            .max()
            .unwrap_or(0)
            + 1;
        let next_producer_id = self
            .producers
            .iter()
            .map(|row| row.producer_id)
            .chain(self.transactions.iter().map(|row| row.producer_id))
            .max()
            .unwrap_or(0)
            + RESTORED_PRODUCER_ID_GAP;
        let carried: HashMap<(String, i64, i64), GroupOffsetMetadataRow> = self
            .group_offset_metadata
            .into_iter()
            .map(|row| ((row.group_name.clone(), row.topic_id, row.partition), row))
            .collect();
        let mut offsets = TableRows {
            table: GroupOffsetRow::TABLE,
            columns: GroupOffsetRow::COLUMNS.to_vec(),
            rows: Vec::new(),
        };
        offsets.columns.extend(["metadata", "leader_epoch"]);
        for row in self.group_offsets {
            if !topic_ids.contains(&row.topic_id) {
                continue;
            }
            let key = (row.group_name.clone(), row.topic_id, row.partition);
            let mut cells = row.cells();
            match carried.get(&key) {
                Some(carried) => {
                    cells.push(Cell::from(carried.metadata.clone()));
                    cells.push(Cell::from(carried.leader_epoch));
                }
                None => cells.extend([Cell::Text(String::new()), Cell::Null]),
            }
            offsets.rows.push(cells);
        }
        let mut configs: Vec<TopicConfigRow> = Vec::new();
        for row in self.topic_configs {
            if topic_ids.contains(&row.topic_id) {
                // Checked as a load would check it.
                TopicConfigs::from_pairs([(row.name.as_str(), row.value.as_str())]).map_err(
                    |error| {
                        StoreError::Invalid(format!(
                            "configs of topic id {}: {error}",
                            row.topic_id
                        ))
                    },
                )?;
                configs.push(row);
            }
        }
        let txns: HashMap<(i64, i64, i64), IndexEntryTxnRow> = self
            .index_entry_txns
            .into_iter()
            .map(|row| ((row.topic_id, row.partition, row.base_offset), row))
            .collect();
        let mut entries = TableRows::of(self.index_entries.iter().cloned());
        entries
            .columns
            .extend(["txn_producer", "txn_epoch", "txn_state"]);
        for (row, cells) in self.index_entries.iter().zip(&mut entries.rows) {
            match txns.get(&(row.topic_id, row.partition, row.base_offset)) {
                Some(txn) => cells.extend([
                    Cell::from(txn.txn_producer),
                    Cell::from(txn.txn_epoch),
                    Cell::from(txn.txn_state),
                ]),
                None => cells.extend([Cell::Null, Cell::Null, Cell::from(0i64)]),
            }
        }
        let live = |topic_id: &i64| topic_ids.contains(topic_id);
        Ok(RestorePlan {
            tables: vec![
                TableRows::of(self.topics),
                TableRows::of(self.partitions),
                TableRows::of(self.segments),
                entries,
                TableRows::of(self.producers),
                TableRows::of(self.kafka_sequences),
                TableRows::of(self.groups),
                offsets,
                TableRows::of(configs),
                TableRows::of(self.transactions),
                TableRows::of(
                    self.txn_partitions
                        .into_iter()
                        .filter(|row| live(&row.topic_id)),
                ),
                TableRows::of(
                    self.txn_offsets
                        .into_iter()
                        .filter(|row| live(&row.topic_id)),
                ),
                TableRows::of(
                    self.txn_markers
                        .into_iter()
                        .filter(|row| live(&row.topic_id)),
                ),
                TableRows::of(self.users),
                TableRows::of(self.api_keys),
                TableRows::of(self.acls),
            ],
            next_topic_id,
            next_segment_id,
            next_producer_id,
        })
    }
}

/// Refuses a restore into a store that holds topics or segments (`used` rows).
pub fn check_empty(used: i64) -> Result<(), StoreError> {
    if used > 0 {
        return Err(CoordinatorError::InvalidArgument(
            "the metadata store is not empty: restore only rebuilds an empty store".into(),
        )
        .into());
    }
    Ok(())
}

/// After a restore, each partition's first unstable offset, from its open transactions'
/// entries (a snapshot does not carry it: it follows from them).
pub const RESTORE_FIRST_UNSTABLE: &str =
    "UPDATE partitions SET first_unstable_offset = (SELECT min(e.base_offset) FROM index_entries e
     WHERE e.topic_id = partitions.topic_id AND e.partition = partitions.partition
         AND e.txn_state = 1)";

/// Counts the rows that make a store not empty.
pub const USED_ROWS_SQL: &str =
    "SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM segments) AS used";

impl TryFrom<TopicRow> for silt_core::coordinator::Topic {
    type Error = StoreError;

    fn try_from(row: TopicRow) -> Result<Self, StoreError> {
        let value_schema = row
            .value_schema
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|error| {
                StoreError::Invalid(format!("value schema of topic {}: {error}", row.name))
            })?;
        Ok(silt_core::coordinator::Topic {
            topic_id: row.topic_id,
            partitions: u32::try_from(row.partitions).map_err(|_| {
                StoreError::Invalid(format!("partition count out of range: {}", row.partitions))
            })?,
            retention_ms: row.retention_ms,
            retention_bytes: row.retention_bytes,
            created_at_ms: row.created_at_ms,
            value_schema,
            name: row.name,
            configs: TopicConfigs::default(),
        })
    }
}

/// `SELECT` of a topic's columns, followed by `rest` (a `WHERE` or `ORDER BY`).
pub fn select_topics(rest: &str) -> String {
    format!("SELECT {} FROM topics {rest}", TopicRow::COLUMNS.join(", "))
}
