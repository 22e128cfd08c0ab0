CREATE TABLE producers (
    producer_id INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    last_topic_id INTEGER,
    last_chunks TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX producers_by_update ON producers (updated_at_ms);
