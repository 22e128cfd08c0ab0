-- Kafka's idempotent producers: sequences per producer and partition.
CREATE TABLE kafka_sequences (
    producer_id INTEGER NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition)
) WITHOUT ROWID;
