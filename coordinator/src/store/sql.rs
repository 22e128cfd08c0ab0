//! The statements of the commit path, written once for both databases: placeholders
//! are `$1`, `$2`, … in order of first appearance, which PostgreSQL binds by number and
//! SQLite by position.

/// The outcomes stored for object key `$1`.
pub const SELECT_OUTCOMES: &str = "SELECT outcomes FROM segments WHERE object_key = $1";

/// Partition `$2` of topic `$1`, with its topic's name.
pub const SELECT_PARTITION: &str = "SELECT t.name, p.log_start_offset, p.high_watermark,
        p.first_unstable_offset
 FROM partitions p JOIN topics t USING (topic_id) WHERE p.topic_id = $1 AND p.partition = $2";

pub const SELECT_PRODUCER: &str =
    "SELECT epoch, last_sequence, last_topic_id, last_chunks FROM producers WHERE producer_id = $1";

pub const SELECT_KAFKA_SEQUENCES: &str = "SELECT epoch, batches FROM kafka_sequences
 WHERE producer_id = $1 AND topic_id = $2 AND partition = $3";

/// The open transaction of producer `$1`: its epoch and partitions (none: no rows).
pub const SELECT_OPEN_TXN: &str = "SELECT t.epoch, p.topic_id, p.partition
 FROM transactions t LEFT JOIN txn_partitions p USING (transactional_id)
 WHERE t.producer_id = $1 AND t.state = 1";

pub const INSERT_SEGMENT: &str =
    "INSERT INTO segments (object_key, object_size, committed_at_ms, outcomes, format)
 VALUES ($1, $2, $3, $4, $5) RETURNING segment_id";

pub const INSERT_ENTRY: &str =
    "INSERT INTO index_entries (topic_id, partition, base_offset, record_count, segment_id,
 byte_offset, byte_len, min_timestamp, max_timestamp, format, txn_producer, txn_epoch, txn_state)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// A partition's new high watermark `$3` and first offset of an open transaction `$4`.
pub const UPDATE_HIGH_WATERMARK: &str = "UPDATE partitions SET high_watermark = $3,
 first_unstable_offset = $4 WHERE topic_id = $1 AND partition = $2";

pub const UPDATE_PRODUCER: &str =
    "UPDATE producers SET last_sequence = $2, last_topic_id = $3, last_chunks = $4,
 updated_at_ms = $5 WHERE producer_id = $1";

pub const UPSERT_KAFKA_SEQUENCES: &str = "INSERT INTO kafka_sequences (producer_id, topic_id, partition, epoch, batches)
 VALUES ($1, $2, $3, $4, $5)
 ON CONFLICT (producer_id, topic_id, partition) DO UPDATE SET epoch = excluded.epoch, batches = excluded.batches";

pub const SEGMENT_EXISTS: &str = "SELECT 1 FROM segments WHERE object_key = $1";

pub const TOPIC_LIVE: &str = "SELECT 1 FROM topics WHERE topic_id = $1 AND name = $2";

/// The entries and transaction markers of partition `$2` of topic `$1` that start in
/// `$3..$4`, with each entry's transaction state (markers: 2 or 3, as the transaction
/// ended).
pub const SELECT_COVERED: &str =
    "SELECT base_offset, record_count, format, object_key, txn_state FROM (
 SELECT e.base_offset, e.record_count, e.format, s.object_key, e.txn_state
 FROM index_entries e JOIN segments s USING (segment_id)
 WHERE e.topic_id = $1 AND e.partition = $2 AND e.base_offset >= $3 AND e.base_offset < $4
 UNION ALL
 SELECT m.marker_offset, 1, 2, '', m.outcome FROM txn_markers m
 WHERE m.topic_id = $1 AND m.partition = $2 AND m.marker_offset >= $3 AND m.marker_offset < $4
) covered ORDER BY base_offset";

/// The entries, then the markers, of partition `$2` of topic `$1` that start in `$3..$4`.
pub const DELETE_COVERED: [&str; 2] = [
    "DELETE FROM index_entries
     WHERE topic_id = $1 AND partition = $2 AND base_offset >= $3 AND base_offset < $4",
    "DELETE FROM txn_markers
     WHERE topic_id = $1 AND partition = $2 AND marker_offset >= $3 AND marker_offset < $4",
];

pub const SELECT_BOUNDS: &str = "SELECT log_start_offset, high_watermark FROM partitions WHERE topic_id = $1 AND partition = $2";

pub const UPDATE_LOG_START: &str =
    "UPDATE partitions SET log_start_offset = $3 WHERE topic_id = $1 AND partition = $2";

/// Entries, then markers, of partition `$2` of topic `$1` wholly below offset `$3`.
pub const DELETE_BELOW: [&str; 2] = [
    "DELETE FROM index_entries
     WHERE topic_id = $1 AND partition = $2 AND base_offset + record_count <= $3",
    "DELETE FROM txn_markers WHERE topic_id = $1 AND partition = $2 AND marker_offset < $3",
];

/// Producers idle since before `$1`, then Kafka sequences of producers that are gone.
pub const EXPIRE_PRODUCERS: [&str; 2] = [
    "DELETE FROM producers WHERE updated_at_ms < $1",
    "DELETE FROM kafka_sequences WHERE producer_id NOT IN (SELECT producer_id FROM producers)",
];

pub const INSERT_PRODUCER: &str =
    "INSERT INTO producers (epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms)
 VALUES (0, -1, NULL, '[]', $1) RETURNING producer_id";

pub const SELECT_EPOCH: &str = "SELECT epoch FROM producers WHERE producer_id = $1";

/// A producer's next epoch `$2` at `$3`: its sequence starts again.
pub const BUMP_EPOCH: [&str; 2] = [
    "UPDATE producers SET epoch = $2, last_sequence = -1, last_topic_id = NULL, last_chunks = '[]',
     updated_at_ms = $3 WHERE producer_id = $1",
    "DELETE FROM kafka_sequences WHERE producer_id = $1",
];

pub const SAVE_GENERATION: &str = "INSERT INTO groups (group_name, generation) VALUES ($1, $2)
 ON CONFLICT (group_name) DO UPDATE SET generation = excluded.generation";

pub const UPDATE_GENERATION: &str = "UPDATE groups SET generation = $2 WHERE group_name = $1";

pub const SELECT_PARTITIONS: &str =
    "SELECT partition, log_start_offset, high_watermark, first_unstable_offset FROM partitions
 WHERE topic_id = $1 ORDER BY partition";

pub const INSERT_TOPIC: &str =
    "INSERT INTO topics (name, partitions, retention_ms, retention_bytes, created_at_ms,
 value_schema, collision_key) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING topic_id";

/// A topic's new partition count `$2` (never lower), retention and value schema.
pub const ALTER_TOPIC: &str = "UPDATE topics SET partitions = $2, retention_ms = $3,
 retention_bytes = $4, value_schema = $5 WHERE topic_id = $1 AND partitions <= $2";

/// Partitions `$2..$3` of topic `$1`, empty, unless they exist.
pub const INSERT_PARTITIONS: &str = "WITH RECURSIVE numbers (n) AS (
     SELECT CAST($2 AS BIGINT) UNION ALL SELECT n + 1 FROM numbers WHERE n + 1 < CAST($3 AS BIGINT))
 INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
 SELECT CAST($1 AS BIGINT), n, 0, 0 FROM numbers WHERE n < CAST($3 AS BIGINT)
 ON CONFLICT (topic_id, partition) DO NOTHING";

pub const SELECT_GENERATION: &str = "SELECT generation FROM groups WHERE group_name = $1";

pub const SELECT_GROUP_OFFSETS: &str =
    "SELECT topic_id, partition, committed_offset, metadata, leader_epoch
 FROM group_offsets WHERE group_name = $1";

pub const ENSURE_GROUP: &str = "INSERT INTO groups (group_name, generation) VALUES ($1, 0) ON CONFLICT (group_name) DO NOTHING";

pub const UPSERT_GROUP_OFFSET: &str = "INSERT INTO group_offsets
     (group_name, topic_id, partition, committed_offset, updated_at_ms, metadata, leader_epoch)
 VALUES ($1, $2, $3, $4, $5, $6, $7)
 ON CONFLICT (group_name, topic_id, partition)
 DO UPDATE SET committed_offset = excluded.committed_offset, updated_at_ms = excluded.updated_at_ms,
     metadata = excluded.metadata, leader_epoch = excluded.leader_epoch";

/// A group's offsets, then the group.
pub const DELETE_GROUP: [&str; 2] = [
    "DELETE FROM group_offsets WHERE group_name = $1",
    "DELETE FROM groups WHERE group_name = $1",
];

pub const DELETE_GROUP_OFFSET: &str =
    "DELETE FROM group_offsets WHERE group_name = $1 AND topic_id = $2 AND partition = $3";

pub const SELECT_GROUP_NAMES: &str = "SELECT group_name FROM groups ORDER BY group_name";

pub const FORGET_PRODUCER: &str = "DELETE FROM producers WHERE producer_id = $1";

/// Every topic's configs, by topic.
pub const SELECT_TOPIC_CONFIGS: &str =
    "SELECT topic_id, name, value FROM topic_configs ORDER BY topic_id, name";

pub const SELECT_CONFIGS_OF: &str =
    "SELECT topic_id, name, value FROM topic_configs WHERE topic_id = $1 ORDER BY name";

pub const DELETE_CONFIGS_OF: &str = "DELETE FROM topic_configs WHERE topic_id = $1";

pub const INSERT_CONFIG: &str =
    "INSERT INTO topic_configs (topic_id, name, value) VALUES ($1, $2, $3)";
