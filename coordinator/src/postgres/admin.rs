//! Admin changes in the PostgreSQL store: a topic's partition count, retention and configs, and
//! the deletion of a group or of some of its committed offsets. No new tables: these
//! change rows the other statements keep.

use silt_core::coordinator::{CoordinatorError, Topic};
use tokio_postgres::Client;

use crate::error::StoreError;

pub(super) async fn alter_topic(client: &mut Client, topic: Topic) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    let partitions = i64::from(topic.partitions);
    let changed = transaction
        .execute(
            "UPDATE topics SET partitions = $2, retention_ms = $3, retention_bytes = $4
             WHERE topic_id = $1 AND partitions <= $2",
            &[
                &topic.topic_id,
                &partitions,
                &topic.retention_ms,
                &topic.retention_bytes,
            ],
        )
        .await?;
    if changed == 0 {
        return Err(CoordinatorError::TopicNotFound(topic.name).into());
    }
    super::topic_configs::save(&transaction, topic.topic_id, &topic.configs).await?;
    transaction
        .execute(
            "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
             SELECT $1, p, 0, 0 FROM generate_series(0::BIGINT, $2::BIGINT - 1) AS p
             ON CONFLICT (topic_id, partition) DO NOTHING",
            &[&topic.topic_id, &partitions],
        )
        .await?;
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn delete_group(client: &mut Client, group: &str) -> Result<bool, StoreError> {
    let transaction = client.transaction().await?;
    let offsets = transaction
        .execute("DELETE FROM group_offsets WHERE group_name = $1", &[&group])
        .await?;
    let groups = transaction
        .execute("DELETE FROM groups WHERE group_name = $1", &[&group])
        .await?;
    transaction.commit().await?;
    Ok(offsets + groups > 0)
}

pub(super) async fn delete_group_offsets(
    client: &mut Client,
    group: &str,
    partitions: Vec<(i64, u32)>,
) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    let statement = transaction
        .prepare(
            "DELETE FROM group_offsets WHERE group_name = $1 AND topic_id = $2 AND partition = $3",
        )
        .await?;
    for (topic_id, partition) in partitions {
        transaction
            .execute(&statement, &[&group, &topic_id, &i64::from(partition)])
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
