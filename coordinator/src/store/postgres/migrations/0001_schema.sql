CREATE TABLE topics (
    topic_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions BIGINT NOT NULL,
    retention_ms BIGINT,
    retention_bytes BIGINT,
    created_at_ms BIGINT NOT NULL,
    value_schema TEXT
);
CREATE TABLE partitions (
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    log_start_offset BIGINT NOT NULL,
    high_watermark BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition)
);
CREATE TABLE segments (
    segment_id BIGSERIAL PRIMARY KEY,
    object_key TEXT NOT NULL UNIQUE,
    object_size BIGINT NOT NULL,
    committed_at_ms BIGINT NOT NULL,
    outcomes TEXT NOT NULL,
    format BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE index_entries (
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    base_offset BIGINT NOT NULL,
    record_count BIGINT NOT NULL,
    segment_id BIGINT NOT NULL REFERENCES segments (segment_id),
    byte_offset BIGINT NOT NULL,
    byte_len BIGINT NOT NULL,
    min_timestamp BIGINT NOT NULL,
    max_timestamp BIGINT NOT NULL,
    format BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition, base_offset)
);
CREATE INDEX index_entries_by_segment ON index_entries (segment_id);
CREATE TABLE producers (
    producer_id BIGSERIAL PRIMARY KEY,
    epoch BIGINT NOT NULL,
    last_sequence BIGINT NOT NULL,
    last_topic_id BIGINT,
    last_chunks TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX producers_by_update ON producers (updated_at_ms);
CREATE TABLE groups (
    group_name TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
CREATE TABLE group_offsets (
    group_name TEXT NOT NULL,
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    committed_offset BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (group_name, topic_id, partition)
);
