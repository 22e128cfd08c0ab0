//! The rules of key compaction (`cleanup.policy=compact`), apart from any I/O: which
//! index entries may be cleaned, the bounded map of each key's latest offset, and which
//! records a rewrite keeps. `clean.rs` reads the bucket and swaps the index by them.
//!
//! A record is kept unless one of these holds, as in Kafka's log cleaner:
//! - a later record of the same key lies in the mapped range (the latest wins, across
//!   every compacted file of the partition);
//! - it has no key (a compacted topic refuses such records at produce; older ones,
//!   written before the topic was compacted, are dropped, as Kafka's cleaner does);
//! - it is a tombstone (null value) older than `delete.retention.ms`.
//!
//! Only compacted files are cleaned, never the segment chunks after them (the head not
//! yet rewritten, as Kafka never cleans its active segment), and only entries whose
//! newest record is older than `min.compaction.lag.ms`.

use std::collections::HashMap;

use silt_core::coordinator::{EntryFormat, IndexEntry};

/// Each key's latest offset, by a 128-bit hash of the key (a collision between two keys
/// is as unlikely as a corrupt disk block), holding at most `capacity` keys so that a
/// partition with more distinct keys is cleaned in several runs.
#[derive(Debug)]
pub struct KeyMap {
    latest: HashMap<u128, u64>,
    capacity: usize,
}

/// What [`KeyMap::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Mapped,
    /// The key is new and the map is full: mapping stops before this offset.
    Full,
}

impl KeyMap {
    pub fn new(capacity: usize) -> KeyMap {
        KeyMap {
            latest: HashMap::with_capacity(capacity.min(1 << 16)),
            capacity: capacity.max(1),
        }
    }

    fn hash(key: &[u8]) -> u128 {
        twox_hash::XxHash3_128::oneshot(key)
    }

    /// Notes `offset` as the latest of `key` (offsets come in increasing order).
    pub fn insert(&mut self, key: &[u8], offset: u64) -> Inserted {
        let hash = KeyMap::hash(key);
        if let Some(latest) = self.latest.get_mut(&hash) {
            *latest = (*latest).max(offset);
            return Inserted::Mapped;
        }
        if self.latest.len() >= self.capacity {
            return Inserted::Full;
        }
        self.latest.insert(hash, offset);
        Inserted::Mapped
    }

    pub fn latest(&self, key: &[u8]) -> Option<u64> {
        self.latest.get(&KeyMap::hash(key)).copied()
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }
}

/// How many of a partition's index entries, from its log start, may be cleaned: the
/// compacted files up to the first segment chunk (the head) or the first entry with a
/// record newer than `min_compaction_lag_ms`.
pub fn cleanable(entries: &[IndexEntry], now_ms: i64, min_compaction_lag_ms: i64) -> usize {
    let newest_allowed = now_ms.saturating_sub(min_compaction_lag_ms);
    entries
        .iter()
        .take_while(|entry| {
            entry.format == EntryFormat::Parquet && entry.max_timestamp <= newest_allowed
        })
        .count()
}

/// One record as the cleaner sees it: what the decision needs, not its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFacts<'a> {
    pub offset: u64,
    pub key: Option<&'a [u8]>,
    pub tombstone: bool,
    pub timestamp: i64,
}

/// Which records of the cleaned range a rewrite keeps.
#[derive(Debug)]
pub struct Retention {
    pub map: KeyMap,
    /// The map covers offsets below this; records at or after it are kept as they are.
    pub map_end: u64,
    /// Tombstones with a timestamp at or below this are dropped.
    pub tombstone_cutoff_ms: i64,
}

impl Retention {
    pub fn new(map: KeyMap, map_end: u64, now_ms: i64, delete_retention_ms: i64) -> Retention {
        Retention {
            map,
            map_end,
            tombstone_cutoff_ms: now_ms.saturating_sub(delete_retention_ms),
        }
    }

    pub fn keeps(&self, record: &RecordFacts<'_>) -> bool {
        if record.offset >= self.map_end {
            return true;
        }
        let Some(key) = record.key else {
            return false;
        };
        if self
            .map
            .latest(key)
            .is_some_and(|latest| latest > record.offset)
        {
            return false;
        }
        !(record.tombstone && record.timestamp <= self.tombstone_cutoff_ms)
    }
}

/// The whole plan over files given as their records in offset order: maps keys from
/// `dirty_start` on until the map is full, then keeps what [`Retention::keeps`] keeps.
/// Returns each file's kept offsets and where the map ended. The compactor does the
/// same in streaming passes over the bucket; this form is what the tests check.
#[cfg(test)]
pub fn plan(
    files: &[Vec<RecordFacts<'_>>],
    dirty_start: u64,
    capacity: usize,
    now_ms: i64,
    delete_retention_ms: i64,
) -> (Vec<Vec<u64>>, u64) {
    let mut map = KeyMap::new(capacity);
    let mut map_end = files
        .iter()
        .flatten()
        .map(|record| record.offset + 1)
        .max()
        .unwrap_or(0);
    'files: for record in files.iter().flatten() {
        if record.offset < dirty_start {
            continue;
        }
        if let Some(key) = record.key
            && map.insert(key, record.offset) == Inserted::Full
        {
            map_end = record.offset;
            break 'files;
        }
    }
    let retention = Retention::new(map, map_end, now_ms, delete_retention_ms);
    let kept = files
        .iter()
        .map(|file| {
            file.iter()
                .filter(|record| retention.keeps(record))
                .map(|record| record.offset)
                .collect()
        })
        .collect();
    (kept, map_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn record(
        offset: u64,
        key: Option<&'static str>,
        tombstone: bool,
        age_ms: i64,
    ) -> RecordFacts<'static> {
        RecordFacts {
            offset,
            key: key.map(str::as_bytes),
            tombstone,
            timestamp: NOW - age_ms,
        }
    }

    fn value(offset: u64, key: &'static str) -> RecordFacts<'static> {
        record(offset, Some(key), false, 500_000)
    }

    #[test]
    fn the_latest_record_of_each_key_wins_across_files() {
        let files = vec![
            vec![value(0, "a"), value(1, "b"), value(2, "a")],
            vec![value(3, "c"), value(4, "b")],
            vec![value(5, "a"), value(6, "d")],
        ];
        let (kept, map_end) = plan(&files, 0, 100, NOW, 86_400_000);
        assert_eq!(kept, vec![vec![], vec![3, 4], vec![5, 6]]);
        assert_eq!(map_end, 7);
    }

    #[test]
    fn tombstones_stay_for_delete_retention_ms_and_go_after() {
        let files = vec![vec![
            value(0, "a"),
            record(1, Some("a"), true, 10_000),
            value(2, "b"),
            record(3, Some("b"), true, 100),
        ]];
        // Younger than delete.retention.ms: the tombstones stay, the values they delete go.
        let (kept, _) = plan(&files, 0, 100, NOW, 60_000);
        assert_eq!(kept, vec![vec![1, 3]]);
        // Older than it: the first goes, the young one stays.
        let (kept, _) = plan(&files, 0, 100, NOW, 5_000);
        assert_eq!(kept, vec![vec![3]]);
        // delete.retention.ms = 0: every tombstone goes at once.
        let (kept, _) = plan(&files, 0, 100, NOW, 0);
        assert_eq!(kept, vec![Vec::<u64>::new()]);
    }

    #[test]
    fn records_without_a_key_are_dropped() {
        let files = vec![vec![
            value(0, "a"),
            record(1, None, false, 500_000),
            value(2, "a"),
        ]];
        let (kept, _) = plan(&files, 0, 100, NOW, 0);
        assert_eq!(kept, vec![vec![2]]);
    }

    #[test]
    fn a_full_map_stops_the_cleaning_where_it_filled() {
        // One key fits: mapping stops at offset 2 (key "c"); "a" at 0 is superseded by 1,
        // and everything from offset 2 on is kept for the next run.
        let files = vec![vec![
            value(0, "a"),
            value(1, "a"),
            value(2, "c"),
            value(3, "b"),
            value(4, "a"),
            value(5, "c"),
        ]];
        let (kept, map_end) = plan(&files, 0, 1, NOW, 0);
        assert_eq!(map_end, 2);
        assert_eq!(kept, vec![vec![1, 2, 3, 4, 5]]);
        // The next run maps from where this one stopped, and cleans from the log start.
        let (kept, _) = plan(&files, 2, 100, NOW, 0);
        assert_eq!(kept, vec![vec![3, 4, 5]]);
    }

    #[test]
    fn offsets_already_missing_stay_gaps_and_are_cleaned_again() {
        // A file cleaned before holds offsets 0, 4 and 7; new records follow with gaps.
        let files = vec![
            vec![value(0, "x"), value(4, "y"), value(7, "z")],
            vec![value(9, "y"), value(12, "w")],
        ];
        let (kept, _) = plan(&files, 0, 100, NOW, 0);
        assert_eq!(kept, vec![vec![0, 7], vec![9, 12]]);
    }

    fn entry(base_offset: u64, format: EntryFormat, max_timestamp: i64) -> IndexEntry {
        IndexEntry {
            base_offset,
            record_count: 10,
            object_key: format!("o{base_offset}"),
            byte_offset: 0,
            byte_len: 10,
            max_timestamp,
            format,
            object_size: 0,
            txn: None,
        }
    }

    #[test]
    fn the_head_and_entries_younger_than_the_lag_are_not_cleaned() {
        let entries = vec![
            entry(0, EntryFormat::Parquet, NOW - 10_000),
            entry(10, EntryFormat::Parquet, NOW - 1_000),
            entry(20, EntryFormat::Segment, NOW - 20_000),
            entry(30, EntryFormat::Parquet, NOW - 20_000),
        ];
        assert_eq!(cleanable(&entries, NOW, 0), 2);
        // min.compaction.lag.ms: the second file holds a record only 1 s old.
        assert_eq!(cleanable(&entries, NOW, 5_000), 1);
        assert_eq!(cleanable(&entries, NOW, 60_000), 0);
    }
}
