//! Taking a snapshot and restoring one, over any database: the tables and rules are
//! [`crate::store::snapshot`]'s.

use crate::error::StoreError;
use crate::store::db::Tx;
use crate::store::snapshot::{self, RestorePlan, SNAPSHOT_QUERIES, Snapshot};

use super::topics;

/// Every table, read inside the caller's (consistent) transaction.
pub async fn take(tx: &mut impl Tx, taken_at_ms: i64) -> Result<Snapshot, StoreError> {
    let mut tables = Vec::with_capacity(SNAPSHOT_QUERIES.len());
    for query in SNAPSHOT_QUERIES {
        let rows = tx.query(query, Vec::new()).await?;
        tables.push(rows.into_iter().map(|row| row.into_cells()).collect());
    }
    Snapshot::from_tables(taken_at_ms, tables)
}

/// Inserts a snapshot's rows into an empty store; answers the plan, whose next ids the
/// backend moves its id sequences past.
pub async fn restore(tx: &mut impl Tx, snapshot: Snapshot) -> Result<RestorePlan, StoreError> {
    let plan = snapshot.restore_plan()?;
    let used = tx
        .query_one(snapshot::USED_ROWS_SQL, Vec::new())
        .await?
        .get("used")?;
    snapshot::check_empty(used)?;
    for table in &plan.tables {
        let insert = table.insert_sql(|position| format!("${position}"));
        for row in &table.rows {
            tx.execute(&insert, row.clone()).await?;
        }
    }
    topics::assign_collision_keys(tx).await?;
    tx.execute(snapshot::RESTORE_FIRST_UNSTABLE, Vec::new())
        .await?;
    Ok(plan)
}
