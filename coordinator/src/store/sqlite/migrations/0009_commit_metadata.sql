-- Commit metadata and leader epochs (Kafka's OffsetCommit carries both).
ALTER TABLE group_offsets ADD COLUMN metadata TEXT NOT NULL DEFAULT '';
ALTER TABLE group_offsets ADD COLUMN leader_epoch INTEGER;
