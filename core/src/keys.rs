//! The one place that builds and parses object keys. Nothing else formats a path.
//!
//! Layout under the bucket (and optional prefix):
//! - `segments/<hhhh>/<segment-id>.seg`: segment objects written by gateways. `<hhhh>`
//!   is four hex digits of a hash of the id, which spreads keys over S3's partitions.
//!   Ids are UUIDv7, so keys of one prefix sort by creation time.
//! - `tables/<topic>/date=YYYY-MM-DD/<file-id>.parquet`: compacted files, Hive-style
//!   partitioned by the UTC date of their oldest record, so DuckDB, Spark or Trino can
//!   read `tables/<topic>/**/*.parquet` and prune by date.
//! - `tables/<topic>/metadata/`: the topic's Apache Iceberg metadata (`v<N>.metadata.json`,
//!   `version-hint.text`, manifest lists `snap-*.avro` and manifests `*-m<i>.avro`);
//!   topic names hold no `/`, so it never mixes with the `date=` folders.
//! - `metadata/snapshots/<taken-at-ms, 13 digits>-<id>.json`: the coordinator's
//!   snapshots of its metadata; keys sort by time, so the last one listed is the newest.

use std::fmt;

use thiserror::Error;
use uuid::Uuid;

pub const SEGMENTS_DIR: &str = "segments";
pub const TABLES_DIR: &str = "tables";
pub const SNAPSHOTS_DIR: &str = "metadata/snapshots";
const SEGMENT_SUFFIX: &str = ".seg";

/// Identifies one segment object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(pub Uuid);

impl SegmentId {
    /// A new time-ordered id.
    pub fn generate() -> Self {
        SegmentId(Uuid::now_v7())
    }

    fn spread_prefix(&self) -> String {
        let hash = crc32c::crc32c(self.0.as_bytes());
        format!("{:04x}", hash >> 16)
    }

    /// The object key of this segment, relative to the store's root.
    pub fn object_key(&self) -> String {
        format!(
            "{SEGMENTS_DIR}/{}/{}{SEGMENT_SUFFIX}",
            self.spread_prefix(),
            self.0.simple()
        )
    }

    /// When the id was generated (UUIDv7 carries it), in milliseconds since the epoch.
    pub fn created_ms(&self) -> Option<i64> {
        self.0.get_timestamp().map(|timestamp| {
            let (seconds, nanos) = timestamp.to_unix();
            (seconds as i64) * 1000 + i64::from(nanos / 1_000_000)
        })
    }

    /// Parses a key built by [`SegmentId::object_key`].
    pub fn parse_object_key(key: &str) -> Result<SegmentId, KeyError> {
        let invalid = || KeyError::NotASegmentKey(key.to_owned());
        let rest = key
            .strip_prefix(SEGMENTS_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(invalid)?;
        let (prefix, file) = rest.split_once('/').ok_or_else(invalid)?;
        let id_text = file.strip_suffix(SEGMENT_SUFFIX).ok_or_else(invalid)?;
        if id_text.len() != 32 {
            return Err(invalid());
        }
        let id = SegmentId(Uuid::try_parse(id_text).map_err(|_| invalid())?);
        if id.spread_prefix() != prefix || id.0.simple().to_string() != id_text {
            return Err(invalid());
        }
        Ok(id)
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

/// The object key of a compacted file of `topic` whose oldest record has timestamp
/// `min_timestamp_ms`.
pub fn table_object_key(topic: &str, min_timestamp_ms: i64, file_id: Uuid) -> String {
    let date = chrono::DateTime::from_timestamp_millis(min_timestamp_ms)
        .map(|time| time.date_naive().format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned());
    format!(
        "{TABLES_DIR}/{topic}/date={date}/{}.parquet",
        file_id.simple()
    )
}

/// The folder of a topic's Iceberg metadata, ending in `/`.
pub fn iceberg_metadata_dir(topic: &str) -> String {
    format!("{TABLES_DIR}/{topic}/{ICEBERG_METADATA}/")
}

const ICEBERG_METADATA: &str = "metadata";

/// The key of version `version` of a topic's Iceberg table metadata.
pub fn iceberg_version_key(topic: &str, version: u64) -> String {
    format!("{}v{version}.metadata.json", iceberg_metadata_dir(topic))
}

/// The version a key made by [`iceberg_version_key`] names.
pub fn parse_iceberg_version_key(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    name.strip_prefix('v')?
        .strip_suffix(".metadata.json")?
        .parse()
        .ok()
}

/// Whether `key` lies in a topic's Iceberg metadata folder (which only Iceberg's rules
/// clean), and which topic's.
pub fn iceberg_metadata_topic(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(TABLES_DIR)?.strip_prefix('/')?;
    let (topic, rest) = rest.split_once('/')?;
    rest.strip_prefix(ICEBERG_METADATA)?
        .starts_with('/')
        .then_some(topic)
}

/// The topic of a compacted file's key.
pub fn table_topic(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(TABLES_DIR)?.strip_prefix('/')?;
    rest.split_once('/').map(|(topic, _)| topic)
}

/// The object key of a metadata snapshot taken at `taken_at_ms`.
pub fn snapshot_object_key(taken_at_ms: i64, id: Uuid) -> String {
    format!(
        "{SNAPSHOTS_DIR}/{:013}-{}.json",
        taken_at_ms.max(0),
        id.simple()
    )
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("{0:?} is not a segment object key")]
    NotASegmentKey(String),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn segment_key_round_trip(raw in any::<u128>()) {
            let id = SegmentId(Uuid::from_u128(raw));
            let key = id.object_key();
            prop_assert!(key.starts_with("segments/"));
            prop_assert_eq!(SegmentId::parse_object_key(&key), Ok(id));
        }
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let id = SegmentId::generate();
        let key = id.object_key();
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 3, "{key}");
        assert_eq!(parts[1].len(), 4);
        assert!(parts[2].ends_with(".seg"));
    }

    #[test]
    fn iceberg_keys_stay_apart_from_the_data_files() {
        let key = iceberg_version_key("orders", 12);
        assert_eq!(key, "tables/orders/metadata/v12.metadata.json");
        assert_eq!(parse_iceberg_version_key(&key), Some(12));
        assert_eq!(
            parse_iceberg_version_key("tables/orders/metadata/snap-1.avro"),
            None
        );
        assert_eq!(iceberg_metadata_topic(&key), Some("orders"));
        assert_eq!(
            iceberg_metadata_topic("tables/orders/metadata/1-m0.avro"),
            Some("orders")
        );
        let data = table_object_key("orders", 0, Uuid::from_u128(1));
        assert_eq!(iceberg_metadata_topic(&data), None);
        assert_eq!(table_topic(&data), Some("orders"));
        assert_eq!(iceberg_metadata_topic("tables/metadata/x"), None);
    }

    #[test]
    fn table_keys_are_hive_partitioned_by_date() {
        let id = Uuid::from_u128(7);
        assert_eq!(
            table_object_key("orders", 1_700_000_000_000, id),
            "tables/orders/date=2023-11-14/00000000000000000000000000000007.parquet"
        );
    }

    #[test]
    fn segment_ids_tell_their_creation_time_and_snapshot_keys_sort_by_time() {
        let before = crate::now_ms();
        let id = SegmentId::generate();
        let created = id.created_ms().expect("a v7 id has a time");
        assert!((before..=crate::now_ms()).contains(&created), "{created}");
        let early = snapshot_object_key(999, Uuid::now_v7());
        let late = snapshot_object_key(1_700_000_000_000, Uuid::now_v7());
        assert!(
            early.starts_with("metadata/snapshots/0000000000999-"),
            "{early}"
        );
        assert!(early < late);
    }

    #[test]
    fn foreign_keys_are_rejected() {
        let good = SegmentId::generate().object_key();
        let wrong_prefix = format!(
            "segments/zzzz/{}",
            good.rsplit('/').next().unwrap_or_default()
        );
        for key in [
            "",
            "segments/",
            "tables/x/y.parquet",
            "segments/abcd/nothex.seg",
            wrong_prefix.as_str(),
        ] {
            assert!(SegmentId::parse_object_key(key).is_err(), "{key}");
        }
    }
}
