//! OffsetCommit and OffsetFetch of the Kafka protocol's groups. Committed offsets are
//! the group's durable offsets, shared with the HTTP API, and keep the metadata string
//! and leader epoch each commit carried: an offset committed without metadata reads
//! back with `""`, one without a leader epoch with none (the gateway answers -1).
