//! The topic configs that change how Silt treats a topic's records, beyond its partition
//! count and retention: Kafka's `cleanup.policy`, `delete.retention.ms`,
//! `min.compaction.lag.ms`, `message.timestamp.type` and `max.message.bytes`. Each has
//! one rule here ([`TopicConfigs::set`]): its Kafka name, how its value is parsed and
//! which values are valid. The coordinator stores what is set, as (name, value) rows
//! under the Kafka names; what is not set has Kafka's default.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Kafka's default `delete.retention.ms`: tombstones stay readable for a day after they
/// are compacted, so consumers that lag behind still see the delete.
pub const DEFAULT_DELETE_RETENTION_MS: i64 = 86_400_000;

/// The names of the configs kept here, in the order they are listed.
pub const STORED_CONFIGS: &[&str] = &[
    CLEANUP_POLICY,
    DELETE_RETENTION_MS,
    MAX_MESSAGE_BYTES,
    MESSAGE_TIMESTAMP_TYPE,
    MIN_COMPACTION_LAG_MS,
];

pub const CLEANUP_POLICY: &str = "cleanup.policy";
pub const DELETE_RETENTION_MS: &str = "delete.retention.ms";
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";
pub const MESSAGE_TIMESTAMP_TYPE: &str = "message.timestamp.type";
pub const MIN_COMPACTION_LAG_MS: &str = "min.compaction.lag.ms";

/// What happens to a topic's old records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CleanupPolicy {
    /// Retention drops them by age and size.
    #[default]
    #[serde(rename = "delete")]
    Delete,
    /// Key compaction keeps the latest record of each key.
    #[serde(rename = "compact")]
    Compact,
    /// Both.
    #[serde(rename = "compact,delete")]
    CompactDelete,
}

impl CleanupPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }

    /// Kafka's list syntax: `delete`, `compact`, or both in either order.
    fn parse(value: &str) -> Option<CleanupPolicy> {
        let mut compact = false;
        let mut delete = false;
        for item in value.split(',').map(str::trim) {
            match item {
                "compact" => compact = true,
                "delete" => delete = true,
                _ => return None,
            }
        }
        match (compact, delete) {
            (true, true) => Some(CleanupPolicy::CompactDelete),
            (true, false) => Some(CleanupPolicy::Compact),
            (false, true) => Some(CleanupPolicy::Delete),
            (false, false) => None,
        }
    }

    /// Whether key compaction runs.
    pub fn compacts(self) -> bool {
        self != CleanupPolicy::Delete
    }

    /// Whether retention by age and size runs.
    pub fn deletes(self) -> bool {
        self != CleanupPolicy::Compact
    }
}

/// Whose clock a record's timestamp is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TimestampType {
    /// The producer's.
    #[default]
    CreateTime,
    /// The gateway's, when it accepts the record.
    LogAppendTime,
}

impl TimestampType {
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// A topic's configs: `None` is Kafka's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfigs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_policy: Option<CleanupPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_retention_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_compaction_lag_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_timestamp_type: Option<TimestampType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<i64>,
}

/// Why a config cannot be set as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("{0:?} is not a topic config Silt keeps")]
    Unknown(String),
    #[error("invalid value {value:?} for {name}: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

fn non_negative(name: &'static str, value: &str) -> Result<i64, ConfigError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|value| *value >= 0)
        .ok_or_else(|| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            expected: "a number of at least 0",
        })
}

impl TopicConfigs {
    /// Sets the config `name` to `value`, or back to its default with `None`; the
    /// value is checked first, and nothing changes when it is refused.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<(), ConfigError> {
        match name {
            CLEANUP_POLICY => {
                self.cleanup_policy = value
                    .map(|value| {
                        CleanupPolicy::parse(value).ok_or_else(|| ConfigError::Invalid {
                            name: CLEANUP_POLICY,
                            value: value.to_owned(),
                            expected: "delete, compact or compact,delete",
                        })
                    })
                    .transpose()?;
            }
            DELETE_RETENTION_MS => {
                self.delete_retention_ms = value
                    .map(|value| non_negative(DELETE_RETENTION_MS, value))
                    .transpose()?;
            }
            MIN_COMPACTION_LAG_MS => {
                self.min_compaction_lag_ms = value
                    .map(|value| non_negative(MIN_COMPACTION_LAG_MS, value))
                    .transpose()?;
            }
            MESSAGE_TIMESTAMP_TYPE => {
                self.message_timestamp_type = value
                    .map(|value| match value.trim() {
                        "CreateTime" => Ok(TimestampType::CreateTime),
                        "LogAppendTime" => Ok(TimestampType::LogAppendTime),
                        other => Err(ConfigError::Invalid {
                            name: MESSAGE_TIMESTAMP_TYPE,
                            value: other.to_owned(),
                            expected: "CreateTime or LogAppendTime",
                        }),
                    })
                    .transpose()?;
            }
            MAX_MESSAGE_BYTES => {
                self.max_message_bytes = value
                    .map(|value| {
                        // Kafka's rule: an int of at least 0 (its type is INT).
                        value
                            .trim()
                            .parse::<i32>()
                            .ok()
                            .filter(|value| *value >= 0)
                            .map(i64::from)
                            .ok_or_else(|| ConfigError::Invalid {
                                name: MAX_MESSAGE_BYTES,
                                value: value.to_owned(),
                                expected: "a number of bytes from 0 to 2147483647",
                            })
                    })
                    .transpose()?;
            }
            other => return Err(ConfigError::Unknown(other.to_owned())),
        }
        Ok(())
    }

    /// Checks typed values (as the HTTP API or a remote client gives them) by the same
    /// rules as [`TopicConfigs::set`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut checked = TopicConfigs::default();
        for (name, value) in self.pairs() {
            checked.set(name, Some(&value))?;
        }
        Ok(())
    }

    /// The configs that are set, as (Kafka name, value) in [`STORED_CONFIGS`] order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        STORED_CONFIGS
            .iter()
            .filter_map(|name| self.get(name).map(|value| (*name, value)))
            .collect()
    }

    /// The value of `name` when it is set.
    pub fn get(&self, name: &str) -> Option<String> {
        match name {
            CLEANUP_POLICY => self.cleanup_policy.map(|policy| policy.as_str().to_owned()),
            DELETE_RETENTION_MS => self.delete_retention_ms.map(|ms| ms.to_string()),
            MIN_COMPACTION_LAG_MS => self.min_compaction_lag_ms.map(|ms| ms.to_string()),
            MESSAGE_TIMESTAMP_TYPE => self.message_timestamp_type.map(|kind| kind.as_str().into()),
            MAX_MESSAGE_BYTES => self.max_message_bytes.map(|bytes| bytes.to_string()),
            _ => None,
        }
    }

    /// Rebuilds configs from stored (name, value) rows.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TopicConfigs, ConfigError> {
        let mut configs = TopicConfigs::default();
        for (name, value) in pairs {
            configs.set(name, Some(value))?;
        }
        Ok(configs)
    }

    pub fn cleanup_policy(&self) -> CleanupPolicy {
        self.cleanup_policy.unwrap_or_default()
    }

    pub fn timestamp_type(&self) -> TimestampType {
        self.message_timestamp_type.unwrap_or_default()
    }

    pub fn delete_retention_ms(&self) -> i64 {
        self.delete_retention_ms
            .unwrap_or(DEFAULT_DELETE_RETENTION_MS)
    }

    pub fn min_compaction_lag_ms(&self) -> i64 {
        self.min_compaction_lag_ms.unwrap_or(0)
    }

    /// The largest message the topic takes: its `max.message.bytes`, else the gateway's
    /// own limit (`default_bytes`), which is what Kafka's default stands for here.
    pub fn max_message_bytes(&self, default_bytes: usize) -> usize {
        self.max_message_bytes
            .and_then(|bytes| usize::try_from(bytes).ok())
            .unwrap_or(default_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_round_trips_through_its_stored_form() {
        let mut configs = TopicConfigs::default();
        for (name, value) in [
            (CLEANUP_POLICY, "delete, compact"),
            (DELETE_RETENTION_MS, "0"),
            (MIN_COMPACTION_LAG_MS, "5000"),
            (MESSAGE_TIMESTAMP_TYPE, "LogAppendTime"),
            (MAX_MESSAGE_BYTES, "2048"),
        ] {
            configs.set(name, Some(value)).expect(name);
        }
        assert_eq!(configs.cleanup_policy(), CleanupPolicy::CompactDelete);
        let pairs = configs.pairs();
        assert_eq!(pairs.len(), STORED_CONFIGS.len());
        let back = TopicConfigs::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str())));
        assert_eq!(back, Ok(configs));
        configs.set(CLEANUP_POLICY, None).expect("default");
        assert_eq!(configs.cleanup_policy(), CleanupPolicy::Delete);
        assert_eq!(configs.validate(), Ok(()));
    }

    #[test]
    fn bad_values_are_refused_and_change_nothing() {
        let mut configs = TopicConfigs::default();
        for (name, value) in [
            (CLEANUP_POLICY, "compress"),
            (CLEANUP_POLICY, ""),
            (DELETE_RETENTION_MS, "-1"),
            (MIN_COMPACTION_LAG_MS, "soon"),
            (MESSAGE_TIMESTAMP_TYPE, "logappendtime"),
            (MAX_MESSAGE_BYTES, "-5"),
            (MAX_MESSAGE_BYTES, "4294967296"),
        ] {
            let error = configs.set(name, Some(value)).expect_err(value);
            assert!(error.to_string().contains(name), "{error}");
        }
        assert_eq!(configs, TopicConfigs::default());
        assert!(matches!(
            configs.set("segment.bytes", Some("1")),
            Err(ConfigError::Unknown(_))
        ));
        let typed = TopicConfigs {
            delete_retention_ms: Some(-3),
            ..TopicConfigs::default()
        };
        assert!(typed.validate().is_err());
    }
}
