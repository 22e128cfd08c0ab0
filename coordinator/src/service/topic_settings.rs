//! A topic's settings: what a new topic may ask for, and how an existing one changes
//! (more partitions, retention set or back to its default). Both go through the same
//! checks, so a setting is valid in one exactly when it is in the other.

use silt_core::coordinator::{
    CoordinatorError, MAX_PARTITIONS, Topic, TopicAlteration, TopicConfig,
};
use silt_core::names::validate_topic_name;
use silt_core::topic_configs::TopicConfigs;
use tokio::sync::watch;
use tracing::{info, instrument, warn};

use super::{CoordinatorService, poisoned};
use silt_core::coordinator::PartitionOffsets;

/// Retention is positive, or -1 for unlimited.
fn validate_retention(field: &str, value: Option<i64>) -> Result<(), CoordinatorError> {
    match value {
        Some(value) if value <= 0 && value != -1 => Err(CoordinatorError::InvalidArgument(
            format!("{field} must be positive, or -1 for unlimited, got {value}"),
        )),
        _ => Ok(()),
    }
}

pub(super) fn validate_config(config: &TopicConfig) -> Result<(), CoordinatorError> {
    validate_topic_name(&config.name)
        .map_err(|error| CoordinatorError::InvalidArgument(error.to_string()))?;
    if config.partitions == 0 || config.partitions > MAX_PARTITIONS {
        return Err(CoordinatorError::InvalidArgument(format!(
            "partitions must be between 1 and {MAX_PARTITIONS}, got {}",
            config.partitions
        )));
    }
    if let Some(schema) = &config.value_schema {
        silt_core::schema::ValueSchema::parse(schema).map_err(CoordinatorError::InvalidArgument)?;
    }
    validate_retention("retention_ms", config.retention_ms)?;
    validate_retention("retention_bytes", config.retention_bytes)?;
    config
        .configs
        .validate()
        .map_err(|error| CoordinatorError::InvalidConfig(error.to_string()))
}

/// The topic after `alteration`, or why it cannot take it. The partition count only
/// grows, as in Kafka, which answers the same count with "already has" too.
pub(super) fn altered(
    topic: &Topic,
    alteration: &TopicAlteration,
) -> Result<Topic, CoordinatorError> {
    let mut altered = topic.clone();
    if let Some(partitions) = alteration.partitions {
        let current = topic.partitions;
        if partitions == current {
            return Err(CoordinatorError::InvalidPartitions(format!(
                "topic {:?} already has {current} partitions",
                topic.name
            )));
        }
        if partitions < current {
            return Err(CoordinatorError::InvalidPartitions(format!(
                "topic {:?} has {current} partitions, more than the {partitions} asked for; partitions are never removed",
                topic.name
            )));
        }
        if partitions > MAX_PARTITIONS {
            return Err(CoordinatorError::InvalidPartitions(format!(
                "a topic has at most {MAX_PARTITIONS} partitions, {partitions} asked for"
            )));
        }
        altered.partitions = partitions;
    }
    if let Some(setting) = alteration.retention_ms {
        altered.retention_ms = setting.value();
        validate_retention("retention_ms", altered.retention_ms)?;
    }
    if let Some(setting) = alteration.retention_bytes {
        altered.retention_bytes = setting.value();
        validate_retention("retention_bytes", altered.retention_bytes)?;
    }
    if let Some(setting) = &alteration.value_schema {
        altered.value_schema = setting.clone().value();
        if let Some(schema) = &altered.value_schema {
            silt_core::schema::ValueSchema::parse(schema)
                .map_err(CoordinatorError::InvalidArgument)?;
        }
    }
    if alteration.reset_configs {
        altered.configs = TopicConfigs::default();
    }
    for (name, value) in &alteration.configs {
        altered
            .configs
            .set(name, value.as_deref())
            .map_err(|error| CoordinatorError::InvalidConfig(error.to_string()))?;
    }
    Ok(altered)
}

impl CoordinatorService {
    #[instrument(skip(self))]
    pub(super) async fn alter_topic_impl(
        &self,
        name: &str,
        alteration: TopicAlteration,
    ) -> Result<Topic, CoordinatorError> {
        // Held from reading the topic to publishing the change: no other change between.
        let _order = self.write_order.lock().await;
        let topic = self.with_topic(name, |state| Ok(state.topic.clone()))?;
        let altered = altered(&topic, &alteration)?;
        if alteration.validate_only || altered == topic {
            return Ok(altered);
        }
        self.store.alter_topic(altered.clone()).await?;
        {
            let mut topics = self.topics.write().map_err(|_| poisoned())?;
            let state = topics
                .get_mut(name)
                .filter(|state| state.topic.topic_id == topic.topic_id)
                .ok_or_else(|| CoordinatorError::TopicNotFound(name.to_owned()))?;
            for partition in topic.partitions..altered.partitions {
                state
                    .partitions
                    .push(watch::Sender::new(PartitionOffsets::new(partition, 0, 0)));
            }
            state.topic = altered.clone();
        }
        info!(
            topic = name,
            partitions = altered.partitions,
            retention_ms = ?altered.retention_ms,
            retention_bytes = ?altered.retention_bytes,
            configs = ?altered.configs.pairs(),
            "topic altered"
        );
        // Members subscribed to the topic get the new partitions now, not at their next
        // join (Kafka consumers see them in Metadata and join again on their own).
        if altered.partitions > topic.partitions
            && let Err(error) = self.groups.rebalance_subscribers(name).await
        {
            warn!(%error, topic = name, "groups subscribed to a grown topic did not rebalance");
        }
        Ok(altered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_core::coordinator::Setting;

    fn topic(partitions: u32) -> Topic {
        Topic {
            topic_id: 1,
            name: "t".into(),
            partitions,
            retention_ms: Some(1000),
            retention_bytes: None,
            created_at_ms: 0,
            value_schema: None,
            configs: TopicConfigs::default(),
        }
    }

    #[test]
    fn partitions_only_grow() {
        let grow = |partitions| TopicAlteration {
            partitions: Some(partitions),
            ..TopicAlteration::default()
        };
        assert_eq!(altered(&topic(2), &grow(5)).map(|t| t.partitions), Ok(5));
        for refused in [1, 2, MAX_PARTITIONS + 1] {
            assert!(
                matches!(
                    altered(&topic(2), &grow(refused)),
                    Err(CoordinatorError::InvalidPartitions(_))
                ),
                "{refused}"
            );
        }
        let same = altered(&topic(2), &grow(2)).unwrap_err().to_string();
        assert!(same.contains("already has 2 partitions"), "{same}");
    }

    #[test]
    fn retention_is_set_reset_and_checked() {
        let change = TopicAlteration {
            retention_ms: Some(Setting::Default),
            retention_bytes: Some(Setting::Set(-1)),
            ..TopicAlteration::default()
        };
        let changed = altered(&topic(1), &change).expect("altered");
        assert_eq!(
            (changed.retention_ms, changed.retention_bytes),
            (None, Some(-1))
        );
        let zero = TopicAlteration {
            retention_ms: Some(Setting::Set(0)),
            ..TopicAlteration::default()
        };
        assert!(matches!(
            altered(&topic(1), &zero),
            Err(CoordinatorError::InvalidArgument(_))
        ));
    }
}
