//! [`Tx`] for SQLite: statements cached per connection, parameters bound by their
//! `$n` names, rows read as [`Cell`]s. Every call answers at once.

use std::future::{Future, ready};

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::error::StoreError;
use crate::store::db::{Cell, Row, Tx};

/// A connection, inside a transaction this value began (or, for a single read, none).
pub(super) struct SqliteTx<'c> {
    connection: &'c mut Connection,
    open: bool,
}

/// How a transaction takes its lock.
#[derive(Debug, Clone, Copy)]
pub(super) enum Begin {
    /// Takes the write lock at once, so that it never fails half way.
    Immediate,
    /// Reads one consistent state.
    Deferred,
}

impl<'c> SqliteTx<'c> {
    /// No transaction: each statement on its own (single reads).
    pub(super) fn plain(connection: &'c mut Connection) -> SqliteTx<'c> {
        SqliteTx {
            connection,
            open: false,
        }
    }

    pub(super) fn begin(
        connection: &'c mut Connection,
        begin: Begin,
    ) -> Result<SqliteTx<'c>, StoreError> {
        connection.execute_batch(match begin {
            Begin::Immediate => "BEGIN IMMEDIATE",
            Begin::Deferred => "BEGIN DEFERRED",
        })?;
        Ok(SqliteTx {
            connection,
            open: true,
        })
    }

    /// Commits when `result` is a success, rolls back otherwise; answers `result`.
    pub(super) fn finish<T>(mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.open = false;
        match result {
            Ok(value) => {
                self.connection.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(error) => {
                self.connection.execute_batch("ROLLBACK")?;
                Err(error)
            }
        }
    }

    fn run<T>(
        &mut self,
        sql: &str,
        params: &[Cell],
        work: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut statement = self.connection.prepare_cached(sql)?;
        for (index, cell) in params.iter().enumerate() {
            if let Some(position) = statement.parameter_index(&format!("${}", index + 1))? {
                statement.raw_bind_parameter(position, value(cell))?;
            }
        }
        work(&mut statement)
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Never finished (a panic unwinds through it): undo it.
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }
}

fn value(cell: &Cell) -> &dyn ToSql {
    const NULL: Value = Value::Null;
    match cell {
        Cell::Int(value) => value,
        Cell::Text(text) => text,
        Cell::Null => &NULL,
    }
}

fn cell(value: ValueRef<'_>) -> Result<Cell, StoreError> {
    match value {
        ValueRef::Null => Ok(Cell::Null),
        ValueRef::Integer(value) => Ok(Cell::Int(value)),
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map(Cell::Text)
            .map_err(|error| StoreError::Invalid(format!("text column: {error}"))),
        other => Err(StoreError::Invalid(format!(
            "the store holds no {:?} values",
            other.data_type()
        ))),
    }
}

impl Tx for SqliteTx<'_> {
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 'a {
        ready(self.run(sql, &params, |statement| {
            let columns = statement.column_count();
            let mut rows = statement.raw_query();
            let mut all = Vec::new();
            while let Some(row) = rows.next()? {
                let cells = (0..columns)
                    .map(|column| cell(row.get_ref(column)?))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                all.push(Row::new(cells));
            }
            Ok(all)
        }))
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a {
        ready(self.run(
            sql,
            &params,
            |statement| Ok(statement.raw_execute()? as u64),
        ))
    }

    fn batch<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        ready(self.connection.execute_batch(sql).map_err(StoreError::from))
    }
}
