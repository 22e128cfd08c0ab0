//! [`Tx`] for PostgreSQL: statements prepared once per transaction, parameters typed
//! as the statement expects, rows read as [`Cell`]s.

use std::collections::HashMap;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, Statement};

use crate::error::StoreError;
use crate::store::db::{Cell, Row, Tx};

/// A transaction (or a connection, for reads that need none).
pub(super) struct PgTx<'c, C> {
    client: &'c C,
    statements: HashMap<String, Statement>,
}

impl<'c, C: GenericClient + Sync> PgTx<'c, C> {
    pub(super) fn new(client: &'c C) -> PgTx<'c, C> {
        PgTx {
            client,
            statements: HashMap::new(),
        }
    }

    async fn prepared(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

/// `cell` as a parameter of type `type_` (a null takes its parameter's type).
fn param(cell: Cell, type_: &Type) -> Result<Param, StoreError> {
    let out_of_range = |value: i64| StoreError::Invalid(format!("{value} does not fit {type_}"));
    Ok(match (cell, type_) {
        (Cell::Int(value), &Type::INT4) => {
            Box::new(i32::try_from(value).map_err(|_| out_of_range(value))?)
        }
        (Cell::Int(value), _) => Box::new(value),
        (Cell::Text(text), _) => Box::new(text),
        (Cell::Null, &Type::TEXT) => Box::new(None::<String>),
        (Cell::Null, &Type::INT4) => Box::new(None::<i32>),
        (Cell::Null, _) => Box::new(None::<i64>),
    })
}

fn cells(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let cells = row
        .columns()
        .iter()
        .enumerate()
        .map(|(index, column)| {
            Ok(match *column.type_() {
                Type::INT8 => Cell::from(row.try_get::<_, Option<i64>>(index)?),
                Type::INT4 => Cell::from(row.try_get::<_, Option<i32>>(index)?),
                Type::TEXT => Cell::from(row.try_get::<_, Option<String>>(index)?),
                ref other => {
                    return Err(StoreError::Invalid(format!(
                        "the store holds no {other} values ({})",
                        column.name()
                    )));
                }
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Row::new(cells))
}

impl<C: GenericClient + Sync> PgTx<'_, C> {
    async fn bound(
        &mut self,
        sql: &str,
        params: Vec<Cell>,
    ) -> Result<(Statement, Vec<Param>), StoreError> {
        let statement = self.prepared(sql).await?;
        let params = bind_all(&statement, vec![params])?
            .pop()
            .unwrap_or_default();
        Ok((statement, params))
    }
}

/// Each set of `params` typed as `statement` takes them.
fn bind_all(statement: &Statement, params: Vec<Vec<Cell>>) -> Result<Vec<Vec<Param>>, StoreError> {
    params
        .into_iter()
        .map(|params| {
            params
                .into_iter()
                .zip(statement.params())
                .map(|(cell, type_)| param(cell, type_))
                .collect()
        })
        .collect()
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| param.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl<C: GenericClient + Sync> Tx for PgTx<'_, C> {
    async fn query(&mut self, sql: &str, params: Vec<Cell>) -> Result<Vec<Row>, StoreError> {
        let (statement, params) = self.bound(sql, params).await?;
        let rows = self.client.query(&statement, &refs(&params)).await?;
        rows.iter().map(cells).collect()
    }

    async fn execute(&mut self, sql: &str, params: Vec<Cell>) -> Result<u64, StoreError> {
        let (statement, params) = self.bound(sql, params).await?;
        Ok(self.client.execute(&statement, &refs(&params)).await?)
    }

    async fn query_many(
        &mut self,
        sql: &str,
        params: Vec<Vec<Cell>>,
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        let statement = self.prepared(sql).await?;
        let bound = bind_all(&statement, params)?;
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = bound.iter().map(|params| refs(params)).collect();
        // Sent together on the connection: one round trip for all of them.
        let answers = futures::future::try_join_all(
            refs.iter()
                .map(|params| self.client.query(&statement, params)),
        )
        .await?;
        answers
            .iter()
            .map(|rows| rows.iter().map(cells).collect())
            .collect()
    }

    async fn execute_many(&mut self, sql: &str, params: Vec<Vec<Cell>>) -> Result<u64, StoreError> {
        let statement = self.prepared(sql).await?;
        let bound = bind_all(&statement, params)?;
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = bound.iter().map(|params| refs(params)).collect();
        let changed = futures::future::try_join_all(
            refs.iter()
                .map(|params| self.client.execute(&statement, params)),
        )
        .await?;
        Ok(changed.into_iter().sum())
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql).await?)
    }
}
