-- Kafka's topic configs that Silt honours: one row per config a topic sets, under its
-- Kafka name (`silt_core::topic_configs`); a config without a row has its default.
CREATE TABLE topic_configs (
    topic_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (topic_id, name)
) WITHOUT ROWID;
