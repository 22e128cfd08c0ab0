//! Topic configs over HTTP: `"configs": {"cleanup.policy": "compact", ...}` on
//! `POST /v1/topics` and `PATCH /v1/topics/{topic}` (`null`: back to the default), under
//! Kafka's names, checked by the rules of [`silt_core::topic_configs`] that the Kafka
//! APIs use too. Only the configs Silt honours are taken; retention keeps its own fields.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use silt_core::topic_configs::TopicConfigs;

use crate::error::ApiError;

/// A config's value: text, or a number for the numeric ones.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ConfigValue {
    Text(String),
    Number(serde_json::Number),
}

impl ConfigValue {
    fn text(&self) -> String {
        match self {
            ConfigValue::Text(text) => text.clone(),
            ConfigValue::Number(number) => number.to_string(),
        }
    }
}

/// The `configs` object of a request body, by Kafka name.
pub(super) type ConfigsJson = BTreeMap<String, Option<ConfigValue>>;

fn invalid(error: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_config", error.to_string())
}

/// The configs a new topic asks for.
pub(super) fn for_creation(configs: &ConfigsJson) -> Result<TopicConfigs, ApiError> {
    let mut parsed = TopicConfigs::default();
    for (name, value) in configs {
        let value = value.as_ref().map(ConfigValue::text);
        parsed.set(name, value.as_deref()).map_err(invalid)?;
    }
    Ok(parsed)
}

/// The changes a PATCH asks for, each to a value or back to the default; the
/// coordinator checks them when it applies them.
pub(super) fn for_alteration(configs: &ConfigsJson) -> Vec<(String, Option<String>)> {
    configs
        .iter()
        .map(|(name, value)| (name.clone(), value.as_ref().map(ConfigValue::text)))
        .collect()
}

/// A topic's configs as set, by Kafka name (those not listed have their defaults).
pub(super) fn to_json(configs: &TopicConfigs) -> Value {
    Value::Object(
        configs
            .pairs()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::String(value)))
            .collect(),
    )
}
