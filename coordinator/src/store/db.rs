//! What the store's operations ask of a database: statements with `$1`, `$2`, …
//! placeholders, run inside one transaction, with values as [`Cell`]s. SQLite and
//! PostgreSQL each implement [`Tx`]; every operation of the store
//! ([`crate::store::ops`]) is written once over it.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::error::StoreError;

/// One value of a row or a parameter, as both databases store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Int(i64),
    Text(String),
    Null,
}

impl From<i64> for Cell {
    fn from(value: i64) -> Cell {
        Cell::Int(value)
    }
}

impl From<i32> for Cell {
    fn from(value: i32) -> Cell {
        Cell::Int(i64::from(value))
    }
}

impl From<u32> for Cell {
    fn from(value: u32) -> Cell {
        Cell::Int(i64::from(value))
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Cell {
        Cell::Text(value)
    }
}

impl From<&str> for Cell {
    fn from(value: &str) -> Cell {
        Cell::Text(value.to_owned())
    }
}

impl From<&String> for Cell {
    fn from(value: &String) -> Cell {
        Cell::Text(value.clone())
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Cell {
        value.map_or(Cell::Null, Into::into)
    }
}

/// The parameters of a statement, each turned into a [`Cell`].
macro_rules! cells {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::store::db::Cell::from($value)),*]
    };
}
pub(crate) use cells;

/// A column's value read back from a [`Cell`].
pub trait FromCell: Sized {
    fn from_cell(cell: Cell, column: &str) -> Result<Self, StoreError>;
}

fn mismatch(column: &str, cell: &Cell) -> StoreError {
    StoreError::Invalid(format!("column {column} holds {cell:?}"))
}

impl FromCell for i64 {
    fn from_cell(cell: Cell, column: &str) -> Result<Self, StoreError> {
        match cell {
            Cell::Int(value) => Ok(value),
            other => Err(mismatch(column, &other)),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: Cell, column: &str) -> Result<Self, StoreError> {
        match cell {
            Cell::Text(value) => Ok(value),
            other => Err(mismatch(column, &other)),
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: Cell, column: &str) -> Result<Self, StoreError> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other, column).map(Some),
        }
    }
}

/// A row read from a query; its columns are taken in order.
#[derive(Debug, Clone)]
pub struct Row(std::vec::IntoIter<Cell>);

impl Row {
    pub fn new(cells: Vec<Cell>) -> Row {
        Row(cells.into_iter())
    }

    /// The next column, named `column` in errors.
    pub fn get<T: FromCell>(&mut self, column: &str) -> Result<T, StoreError> {
        T::from_cell(self.0.next().unwrap_or(Cell::Null), column)
    }

    /// The cells not taken yet.
    pub fn into_cells(self) -> Vec<Cell> {
        self.0.collect()
    }
}

/// A transaction of a database (or, for reads that need none, a connection).
pub trait Tx: Send {
    /// The rows `sql` answers.
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 'a;

    /// Runs `sql`; answers how many rows it changed.
    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a;

    /// Runs statements that take no parameters (schema changes).
    fn batch<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// The rows `sql` answers for each set of parameters, in order. A database that can
    /// send them all before the first answer comes back does (PostgreSQL pipelines).
    fn query_many<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Vec<Cell>>,
    ) -> impl Future<Output = Result<Vec<Vec<Row>>, StoreError>> + Send + 'a {
        async move {
            let mut all = Vec::with_capacity(params.len());
            for params in params {
                all.push(self.query(sql, params).await?);
            }
            Ok(all)
        }
    }

    /// Runs `sql` once for each set of parameters, in order (pipelined where the
    /// database can); answers how many rows they changed in all.
    fn execute_many<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Vec<Cell>>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a {
        async move {
            let mut changed = 0;
            for params in params {
                changed += self.execute(sql, params).await?;
            }
            Ok(changed)
        }
    }

    /// The first row `sql` answers, if any.
    fn query_opt<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send + 'a {
        async move { Ok(self.query(sql, params).await?.into_iter().next()) }
    }

    /// The row `sql` must answer.
    fn query_one<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<Row, StoreError>> + Send + 'a {
        async move {
            self.query_opt(sql, params)
                .await?
                .ok_or_else(|| StoreError::Invalid(format!("no row from {sql}")))
        }
    }
}

/// Runs a future that never waits (SQLite's [`Tx`] answers at once) to its end.
pub fn now<T>(future: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Task(
            "a store operation waited on a database that answers at once".into(),
        )),
    }
}
