//! Snapshots of the SQLite store and restores into it: the tables and rules are
//! [`crate::store::snapshot`]'s; this file only moves [`Cell`]s.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;
use crate::store::snapshot::{self, Cell, SNAPSHOT_QUERIES, Snapshot};

fn cell(value: ValueRef<'_>) -> Result<Cell, StoreError> {
    match value {
        ValueRef::Null => Ok(Cell::Null),
        ValueRef::Integer(value) => Ok(Cell::Int(value)),
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map(Cell::Text)
            .map_err(|error| StoreError::Invalid(format!("snapshot text: {error}"))),
        other => Err(StoreError::Invalid(format!(
            "a snapshot holds no {:?} values",
            other.data_type()
        ))),
    }
}

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Int(value) => Value::Integer(*value),
        Cell::Text(text) => Value::Text(text.clone()),
        Cell::Null => Value::Null,
    }
}

pub(super) fn take(connection: &Connection, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
    let transaction = connection.unchecked_transaction()?;
    let mut tables = Vec::with_capacity(SNAPSHOT_QUERIES.len());
    for query in SNAPSHOT_QUERIES {
        let mut statement = transaction.prepare(query)?;
        let columns = statement.column_count();
        let mut rows = statement.query([])?;
        let mut table = Vec::new();
        while let Some(row) = rows.next()? {
            let cells = (0..columns)
                .map(|column| cell(row.get_ref(column)?))
                .collect::<Result<Vec<_>, StoreError>>()?;
            table.push(cells);
        }
        tables.push(table);
    }
    transaction.finish()?;
    Snapshot::from_tables(taken_at_ms, tables)
}

pub(super) fn restore(connection: &mut Connection, snapshot: Snapshot) -> Result<(), StoreError> {
    let plan = snapshot.restore_plan()?;
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    snapshot::check_empty(transaction.query_row(snapshot::USED_ROWS_SQL, [], |row| row.get(0))?)?;
    for table in &plan.tables {
        let mut insert =
            transaction.prepare(&table.insert_sql(|position| format!("?{position}")))?;
        for row in &table.rows {
            insert.execute(rusqlite::params_from_iter(row.iter().map(value)))?;
        }
    }
    crate::topic_keys::sqlite_assign(&transaction)?;
    // Inserting and deleting a row with an explicit id moves AUTOINCREMENT past it.
    transaction.execute(
        "INSERT INTO producers (producer_id, epoch, last_sequence, last_topic_id, last_chunks, updated_at_ms)
         VALUES (?1, 0, -1, NULL, '[]', 0)",
        [plan.next_producer_id],
    )?;
    transaction.execute(
        "DELETE FROM producers WHERE producer_id = ?1",
        [plan.next_producer_id],
    )?;
    transaction.commit()?;
    Ok(())
}
