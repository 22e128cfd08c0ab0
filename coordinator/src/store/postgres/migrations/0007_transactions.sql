-- Transactions (SQLite's version 11): each transactional id's producer and state, the partitions and pending
-- consumer offsets of its open transaction, the commit and abort markers in the log,
-- and, on each index entry, the transaction its records belong to (txn_state 0: none,
-- 1: open, 2: committed, 3: aborted). A partition's first_unstable_offset is the first
-- offset of its oldest open transaction (its last stable offset), NULL when none is open.
ALTER TABLE partitions ADD COLUMN first_unstable_offset BIGINT;
ALTER TABLE index_entries ADD COLUMN txn_producer BIGINT;
ALTER TABLE index_entries ADD COLUMN txn_epoch BIGINT;
ALTER TABLE index_entries ADD COLUMN txn_state BIGINT NOT NULL DEFAULT 0;
CREATE INDEX index_entries_open_by_producer ON index_entries (txn_producer) WHERE txn_state = 1;
CREATE INDEX index_entries_open_by_partition ON index_entries (topic_id, partition, base_offset)
    WHERE txn_state = 1;
CREATE TABLE transactions (
    transactional_id TEXT PRIMARY KEY,
    producer_id BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    state BIGINT NOT NULL,
    timeout_ms BIGINT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX transactions_by_producer ON transactions (producer_id);
CREATE INDEX transactions_by_state ON transactions (state, started_at_ms);
CREATE TABLE txn_partitions (
    transactional_id TEXT NOT NULL,
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    PRIMARY KEY (transactional_id, topic_id, partition)
);
CREATE TABLE txn_offsets (
    transactional_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    committed_offset BIGINT NOT NULL,
    metadata TEXT NOT NULL,
    leader_epoch BIGINT,
    -- 1: the commit fails unless it moves the group's offset forward (a retried HTTP
    -- request whose offsets were committed already changes nothing).
    only_forward BIGINT NOT NULL DEFAULT 0,
    -- The group generation the offsets belong to (HTTP groups): the commit fails if the
    -- group moved on before the transaction commits. NULL: not checked.
    generation BIGINT,
    PRIMARY KEY (transactional_id, group_name, topic_id, partition)
);
CREATE TABLE txn_markers (
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    marker_offset BIGINT NOT NULL,
    producer_id BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    outcome BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition, marker_offset)
);
