-- Kafka's topic configs that Silt honours (SQLite's version 10).
CREATE TABLE topic_configs (
    topic_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (topic_id, name)
);
