//! A topic's declared value schema: a subset of JSON Schema that the compactor turns
//! into typed Parquet columns. Supported: an object whose `properties` are `string`,
//! `integer`, `number`, `boolean`, timestamps (`{"type": "string", "format":
//! "date-time"}`), nested objects and arrays of any of these.

use serde_json::Value;

/// Columns every compacted file has; a declared property may not reuse these names.
pub const RESERVED_COLUMNS: &[&str] = &[
    "partition",
    "offset",
    "timestamp",
    "key",
    "value",
    "headers",
    "attributes",
    "_rejected",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    /// RFC 3339 text, stored as milliseconds.
    Timestamp,
    Object(Vec<(String, FieldType)>),
    Array(Box<FieldType>),
}

/// The parsed schema: the value's top-level properties, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSchema {
    pub fields: Vec<(String, FieldType)>,
}

fn parse_type(path: &str, node: &Value) -> Result<FieldType, String> {
    let kind = node
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}: \"type\" is required"))?;
    match kind {
        "string" if node.get("format").and_then(Value::as_str) == Some("date-time") => {
            Ok(FieldType::Timestamp)
        }
        "string" => Ok(FieldType::String),
        "integer" => Ok(FieldType::Integer),
        "number" => Ok(FieldType::Number),
        "boolean" => Ok(FieldType::Boolean),
        "object" => Ok(FieldType::Object(parse_properties(path, node)?)),
        "array" => {
            let items = node
                .get("items")
                .ok_or_else(|| format!("{path}: an array needs \"items\""))?;
            Ok(FieldType::Array(Box::new(parse_type(
                &format!("{path}[]"),
                items,
            )?)))
        }
        other => Err(format!("{path}: unsupported type {other:?}")),
    }
}

fn parse_properties(path: &str, node: &Value) -> Result<Vec<(String, FieldType)>, String> {
    let properties = node
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{path}: an object needs \"properties\""))?;
    properties
        .iter()
        .map(|(name, child)| Ok((name.clone(), parse_type(&format!("{path}.{name}"), child)?)))
        .collect()
}

impl ValueSchema {
    /// Parses and checks a declared schema; the error says what is wrong and where.
    pub fn parse(schema: &Value) -> Result<ValueSchema, String> {
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(
                "value_schema must be {\"type\": \"object\", \"properties\": {...}}".into(),
            );
        }
        let fields = parse_properties("value_schema", schema)?;
        if fields.is_empty() {
            return Err("value_schema declares no properties".into());
        }
        if let Some((name, _)) = fields
            .iter()
            .find(|(name, _)| RESERVED_COLUMNS.contains(&name.as_str()))
        {
            return Err(format!(
                "value_schema property {name:?} collides with a built-in column"
            ));
        }
        Ok(ValueSchema { fields })
    }

    /// Whether a JSON value fits the schema: an object whose declared properties are
    /// absent, null or of the declared type. Undeclared properties are allowed.
    pub fn matches(&self, value: &Value) -> bool {
        object_matches(&self.fields, value)
    }
}

fn object_matches(fields: &[(String, FieldType)], value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    fields.iter().all(|(name, kind)| {
        object
            .get(name)
            .is_none_or(|field| field.is_null() || type_matches(kind, field))
    })
}

fn type_matches(kind: &FieldType, value: &Value) -> bool {
    match kind {
        FieldType::String => value.is_string(),
        FieldType::Integer => value.is_i64() || value.is_u64(),
        FieldType::Number => value.is_number(),
        FieldType::Boolean => value.is_boolean(),
        FieldType::Timestamp => value
            .as_str()
            .is_some_and(|text| chrono::DateTime::parse_from_rfc3339(text).is_ok()),
        FieldType::Object(fields) => object_matches(fields, value),
        FieldType::Array(item) => value
            .as_array()
            .is_some_and(|items| items.iter().all(|v| v.is_null() || type_matches(item, v))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_the_supported_subset_and_checks_values() {
        let schema = ValueSchema::parse(&json!({"type": "object", "properties": {
            "amount": {"type": "integer"},
            "price": {"type": "number"},
            "user": {"type": "string"},
            "vip": {"type": "boolean"},
            "at": {"type": "string", "format": "date-time"},
            "address": {"type": "object", "properties": {"city": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "string"}}
        }}))
        .expect("schema");
        assert_eq!(schema.fields.len(), 7);
        assert!(schema.matches(&json!({"amount": 5, "price": 1.5, "user": "a", "vip": true, "at": "2026-11-23T10:00:00Z",
            "address": {"city": "Berlin"}, "tags": ["x"], "extra": [1, 2]})));
        assert!(schema.matches(&json!({"amount": null})));
        for bad in [
            json!("text"),
            json!({"amount": "5"}),
            json!({"amount": 1.5}),
            json!({"at": "yesterday"}),
            json!({"address": {"city": 3}}),
            json!({"tags": [1]}),
        ] {
            assert!(!schema.matches(&bad), "{bad}");
        }
    }

    #[test]
    fn rejects_unsupported_schemas() {
        for (schema, needle) in [
            (json!({"type": "string"}), "must be"),
            (json!({"type": "object", "properties": {}}), "no properties"),
            (
                json!({"type": "object", "properties": {"a": {"type": "null"}}}),
                "unsupported",
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "array"}}}),
                "items",
            ),
            (
                json!({"type": "object", "properties": {"offset": {"type": "integer"}}}),
                "collides",
            ),
            (
                json!({"type": "object", "properties": {"a": {}}}),
                "required",
            ),
        ] {
            let error = ValueSchema::parse(&schema).expect_err("must be refused");
            assert!(error.contains(needle), "{error}");
        }
    }
}
