-- Transactions: each transactional id's producer and state, the partitions and pending
-- consumer offsets of its open transaction, the commit and abort markers in the log,
-- and, on each index entry, the transaction its records belong to (txn_state 0: none,
-- 1: open, 2: committed, 3: aborted). A partition's first_unstable_offset is the first
-- offset of its oldest open transaction (its last stable offset), NULL when none is open.
ALTER TABLE partitions ADD COLUMN first_unstable_offset INTEGER;
ALTER TABLE index_entries ADD COLUMN txn_producer INTEGER;
ALTER TABLE index_entries ADD COLUMN txn_epoch INTEGER;
ALTER TABLE index_entries ADD COLUMN txn_state INTEGER NOT NULL DEFAULT 0;
CREATE INDEX index_entries_open_by_producer ON index_entries (txn_producer) WHERE txn_state = 1;
CREATE INDEX index_entries_open_by_partition ON index_entries (topic_id, partition, base_offset)
    WHERE txn_state = 1;
CREATE TABLE transactions (
    transactional_id TEXT PRIMARY KEY,
    producer_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    state INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX transactions_by_producer ON transactions (producer_id);
CREATE INDEX transactions_by_state ON transactions (state, started_at_ms);
CREATE TABLE txn_partitions (
    transactional_id TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    PRIMARY KEY (transactional_id, topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE txn_offsets (
    transactional_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    leader_epoch INTEGER,
    -- 1: the commit fails unless it moves the group's offset forward (a retried HTTP
    -- request whose offsets were committed already changes nothing).
    only_forward INTEGER NOT NULL DEFAULT 0,
    -- The group generation the offsets belong to (HTTP groups): the commit fails if the
    -- group moved on before the transaction commits. NULL: not checked.
    generation INTEGER,
    PRIMARY KEY (transactional_id, group_name, topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE txn_markers (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    marker_offset INTEGER NOT NULL,
    producer_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    outcome INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition, marker_offset)
) WITHOUT ROWID;
