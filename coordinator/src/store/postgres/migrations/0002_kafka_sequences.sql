CREATE TABLE kafka_sequences (
    producer_id BIGINT NOT NULL,
    topic_id BIGINT NOT NULL,
    partition BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition)
);
