//! Groups' committed offsets in the PostgreSQL store, with the metadata string and
//! leader epoch each commit carried.

use tokio_postgres::Client;

use crate::error::StoreError;
use crate::store::rows::{to_u32, to_u64};
use crate::store::{StoredGroup, StoredOffset};

fn leader_epoch(value: Option<i64>) -> Result<Option<i32>, StoreError> {
    value
        .map(|epoch| {
            i32::try_from(epoch)
                .map_err(|_| StoreError::Invalid(format!("leader epoch out of range: {epoch}")))
        })
        .transpose()
}

pub(super) async fn load_group(
    client: &Client,
    group: &str,
) -> Result<Option<StoredGroup>, StoreError> {
    let Some(row) = client
        .query_opt(
            "SELECT generation FROM groups WHERE group_name = $1",
            &[&group],
        )
        .await?
    else {
        return Ok(None);
    };
    let generation = to_u64(row.try_get(0)?, "generation")?;
    let offsets = client
        .query(
            "SELECT topic_id, partition, committed_offset, metadata, leader_epoch
             FROM group_offsets WHERE group_name = $1",
            &[&group],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(StoredOffset {
                topic_id: row.try_get(0)?,
                partition: to_u32(row.try_get(1)?, "partition")?,
                offset: to_u64(row.try_get(2)?, "committed offset")?,
                metadata: row.try_get(3)?,
                leader_epoch: leader_epoch(row.try_get(4)?)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(StoredGroup {
        generation,
        offsets,
    }))
}

pub(super) async fn commit(
    writer: &mut Client,
    group: &str,
    offsets: Vec<StoredOffset>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let transaction = writer.transaction().await?;
    transaction
        .execute(
            "INSERT INTO groups (group_name, generation) VALUES ($1, 0) ON CONFLICT (group_name) DO NOTHING",
            &[&group],
        )
        .await?;
    let upsert = transaction
        .prepare(
            "INSERT INTO group_offsets
                 (group_name, topic_id, partition, committed_offset, updated_at_ms, metadata, leader_epoch)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (group_name, topic_id, partition)
             DO UPDATE SET committed_offset = excluded.committed_offset,
                 updated_at_ms = excluded.updated_at_ms,
                 metadata = excluded.metadata,
                 leader_epoch = excluded.leader_epoch",
        )
        .await?;
    for offset in offsets {
        transaction
            .execute(
                &upsert,
                &[
                    &group,
                    &offset.topic_id,
                    &i64::from(offset.partition),
                    &(offset.offset as i64),
                    &now_ms,
                    &offset.metadata,
                    &offset.leader_epoch.map(i64::from),
                ],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
