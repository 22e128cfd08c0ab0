-- Topic names' collision keys; then `topic_keys::postgres_migrate` fills them and adds the indexes.
ALTER TABLE topics ADD COLUMN collision_key TEXT;
ALTER TABLE topics ADD COLUMN legacy_collision BIGINT NOT NULL DEFAULT 0;
