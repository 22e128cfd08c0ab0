//! End-to-end tests: they start the real `silt` binary against the local filesystem,
//! against moto's S3 server and against LocalStack (both installed into `.venv/` by
//! `scripts/test-servers.sh` and started here on free 127.0.0.1 ports).

mod harness;
#[path = "../support/postgres.rs"]
mod test_postgres;

mod chaos;
mod cli;
mod compacted_topics;
mod compaction;
mod console;
mod coordinator_ha;
mod crash;
mod durable_log;
mod faults;
mod groups;
mod http_transactions;
mod iceberg;
mod kafka;
mod kafka_admin;
mod kafka_groups;
mod kafka_python_edges;
mod kafka_static;
mod pki;
mod producers;
mod scale_out;
mod security;
mod smoke_localstack;
mod sql;
mod transactions;
