//! Consumer groups as the store keeps them: generations and committed offsets, with
//! the metadata string and leader epoch each commit carried.

use crate::error::StoreError;
use crate::store::db::{Tx, cells};
use crate::store::{StoredGroup, StoredOffset, sql};

use super::{stored_offset, to_u32, to_u64};

fn leader_epoch(value: Option<i64>) -> Result<Option<i32>, StoreError> {
    value
        .map(|epoch| {
            i32::try_from(epoch)
                .map_err(|_| StoreError::Invalid(format!("leader epoch out of range: {epoch}")))
        })
        .transpose()
}

pub async fn load(tx: &mut impl Tx, group: &str) -> Result<Option<StoredGroup>, StoreError> {
    let Some(mut row) = tx.query_opt(sql::SELECT_GENERATION, cells![group]).await? else {
        return Ok(None);
    };
    let generation = to_u64(row.get("generation")?, "generation")?;
    let mut offsets = Vec::new();
    for mut row in tx.query(sql::SELECT_GROUP_OFFSETS, cells![group]).await? {
        offsets.push(StoredOffset {
            topic_id: row.get("topic_id")?,
            partition: to_u32(row.get("partition")?, "partition")?,
            offset: to_u64(row.get("committed_offset")?, "committed offset")?,
            metadata: row.get("metadata")?,
            leader_epoch: leader_epoch(row.get("leader_epoch")?)?,
        });
    }
    Ok(Some(StoredGroup {
        generation,
        offsets,
    }))
}

pub async fn save_generation(
    tx: &mut impl Tx,
    group: &str,
    generation: u64,
) -> Result<(), StoreError> {
    tx.execute(
        sql::SAVE_GENERATION,
        cells![group, stored_offset(generation)],
    )
    .await?;
    Ok(())
}

pub async fn commit_offsets(
    tx: &mut impl Tx,
    group: &str,
    offsets: Vec<StoredOffset>,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(sql::ENSURE_GROUP, cells![group]).await?;
    for offset in offsets {
        let params = cells![
            group,
            offset.topic_id,
            offset.partition,
            stored_offset(offset.offset),
            now_ms,
            offset.metadata,
            offset.leader_epoch
        ];
        tx.execute(sql::UPSERT_GROUP_OFFSET, params).await?;
    }
    Ok(())
}

/// Deletes a group and its offsets; answers whether the store held anything of it.
pub async fn delete(tx: &mut impl Tx, group: &str) -> Result<bool, StoreError> {
    let offsets = tx.execute(sql::DELETE_GROUP[0], cells![group]).await?;
    let groups = tx.execute(sql::DELETE_GROUP[1], cells![group]).await?;
    Ok(offsets + groups > 0)
}

pub async fn delete_offsets(
    tx: &mut impl Tx,
    group: &str,
    partitions: Vec<(i64, u32)>,
) -> Result<(), StoreError> {
    for (topic_id, partition) in partitions {
        tx.execute(sql::DELETE_GROUP_OFFSET, cells![group, topic_id, partition])
            .await?;
    }
    Ok(())
}

pub async fn list(tx: &mut impl Tx) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for mut row in tx.query(sql::SELECT_GROUP_NAMES, Vec::new()).await? {
        names.push(row.get("group_name")?);
    }
    Ok(names)
}
