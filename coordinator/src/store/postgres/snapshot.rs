//! Snapshots of the PostgreSQL store and restores into it: the tables and rules are
//! [`crate::store::snapshot`]'s; this file only moves [`Cell`]s.

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, IsolationLevel, Row};
use tracing::warn;

use super::{Param, execute, query_opt};
use crate::error::StoreError;
use crate::store::snapshot::{self, Cell, SNAPSHOT_QUERIES, Snapshot};

fn cells(row: &Row) -> Result<Vec<Cell>, StoreError> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(index, column)| {
            Ok(match *column.type_() {
                Type::INT8 => Cell::from(row.try_get::<_, Option<i64>>(index)?),
                Type::TEXT => Cell::from(row.try_get::<_, Option<String>>(index)?),
                ref other => {
                    return Err(StoreError::Invalid(format!(
                        "a snapshot holds no {other} values ({})",
                        column.name()
                    )));
                }
            })
        })
        .collect()
}

pub(super) async fn take(client: &mut Client, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
    let transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let mut tables = Vec::with_capacity(SNAPSHOT_QUERIES.len());
    for query in SNAPSHOT_QUERIES {
        let rows = transaction.query(query, &[]).await?;
        tables.push(rows.iter().map(cells).collect::<Result<Vec<_>, _>>()?);
    }
    transaction.commit().await?;
    Snapshot::from_tables(taken_at_ms, tables)
}

/// A cell as a parameter of type `type_`: every column a snapshot holds is BIGINT or
/// TEXT, and a null takes its column's type.
fn param<'a>(cell: &'a Cell, type_: &Type) -> &'a (dyn ToSql + Sync) {
    const NULL_INT: Option<i64> = None;
    const NULL_TEXT: Option<String> = None;
    match cell {
        Cell::Int(value) => value,
        Cell::Text(text) => text,
        Cell::Null if *type_ == Type::TEXT => &NULL_TEXT,
        Cell::Null => &NULL_INT,
    }
}

pub(super) async fn restore(writer: &mut Client, snapshot: Snapshot) -> Result<(), StoreError> {
    let topics = snapshot.topics.len();
    let segments = snapshot.segments.len();
    let plan = snapshot.restore_plan()?;
    let transaction = writer.transaction().await?;
    let used = query_opt(&transaction, snapshot::USED_ROWS_SQL, &[], |row| {
        row.try_get(0)
    })
    .await?;
    snapshot::check_empty(used.unwrap_or(0))?;
    for table in &plan.tables {
        let insert = transaction
            .prepare(&table.insert_sql(|position| format!("${position}")))
            .await?;
        for row in &table.rows {
            let values: Vec<Param<'_>> = row
                .iter()
                .zip(insert.params())
                .map(|(cell, type_)| param(cell, type_))
                .collect();
            transaction.execute(&insert, &values).await?;
        }
    }
    crate::topic_keys::postgres_assign(&transaction).await?;
    // Explicit ids leave the sequences behind: move each past what it restored.
    for (table, column, next) in [
        ("topics", "topic_id", plan.next_topic_id),
        ("segments", "segment_id", plan.next_segment_id),
        ("producers", "producer_id", plan.next_producer_id),
    ] {
        let setval =
            format!("SELECT setval(pg_get_serial_sequence('{table}', '{column}'), $1, false)");
        execute(&transaction, setval.as_str(), &[&next]).await?;
    }
    transaction.commit().await?;
    warn!(topics, segments, "metadata restored from a snapshot");
    Ok(())
}
