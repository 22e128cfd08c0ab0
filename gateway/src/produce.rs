//! Parsing and validating produce requests. A request is checked whole before any of
//! it reaches the batcher, so an invalid record means nothing of the request is written.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use silt_core::coordinator::Topic;
use silt_core::partitioner::partition_for_key;
use silt_core::record::{Record, RecordKey, RecordValue};

use crate::error::ApiError;

const MAX_HEADERS: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProduceBody<'a> {
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
    #[serde(default)]
    #[allow(dead_code)]
    producer: Option<&'a RawValue>,
}

fn some_raw<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordJson<'a> {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_base64: Option<String>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    value: Option<&'a RawValue>,
    #[serde(default)]
    value_base64: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    partition: Option<i64>,
    #[serde(default)]
    timestamp: Option<i64>,
}

/// One validated record, encoded into [`PreparedProduce::data`].
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    pub partition: u32,
    pub start: usize,
    pub end: usize,
    pub timestamp: i64,
}

/// A validated produce request: every record encoded into one buffer.
#[derive(Debug, Clone)]
pub struct PreparedProduce {
    pub data: Bytes,
    pub records: Vec<PreparedRecord>,
}

/// Splits a body into its records' JSON texts: `{"records": [...]}` or NDJSON.
pub fn split_records(body: &[u8], ndjson: bool) -> Result<Vec<&RawValue>, ApiError> {
    if ndjson {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("invalid_json", "body is not UTF-8"))?;
        return text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(line_number, line)| {
                serde_json::from_str::<&RawValue>(line).map_err(|error| {
                    ApiError::bad_request(
                        "invalid_json",
                        format!("line {}: {error}", line_number + 1),
                    )
                })
            })
            .collect();
    }
    let parsed: ProduceBody<'_> = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request("invalid_json", format!("invalid produce body: {error}"))
    })?;
    Ok(parsed.records)
}

/// Validates every record, chooses partitions and encodes them.
pub fn prepare(
    topic: &Topic,
    raw_records: &[&RawValue],
    max_record_bytes: usize,
    sticky: &AtomicU32,
    now_ms: i64,
) -> Result<PreparedProduce, ApiError> {
    if raw_records.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "records must not be empty",
        ));
    }
    // Records without key or partition all go to one partition per request (Kafka's
    // sticky partitioning), rotating over the partitions from request to request.
    let sticky_partition = sticky.fetch_add(1, Ordering::Relaxed) % topic.partitions.max(1);
    let mut data = BytesMut::new();
    let mut records = Vec::with_capacity(raw_records.len());
    for (index, raw) in raw_records.iter().enumerate() {
        let record = parse_record(index, raw)?;
        let partition = match (record.1, &record.0.key) {
            (Some(partition), _) => {
                if partition < 0 || partition >= i64::from(topic.partitions) {
                    return Err(ApiError::invalid_record(
                        index,
                        format!(
                            "partition {partition} is out of range; topic {:?} has {} partitions",
                            topic.name, topic.partitions
                        ),
                    )
                    .with("error_detail", "partition_out_of_range"));
                }
                partition as u32
            }
            (None, Some(key)) => partition_for_key(key.as_bytes(), topic.partitions),
            (None, None) => sticky_partition,
        };
        let mut record = record.0;
        if record.timestamp == i64::MIN {
            record.timestamp = now_ms;
        }
        let encoded_len = record.encoded_len();
        if encoded_len > max_record_bytes {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "record_too_large",
                format!(
                    "record {index}: {encoded_len} bytes encoded; the limit is {max_record_bytes}"
                ),
            )
            .with("record_index", index));
        }
        let start = data.len();
        record.encode(&mut data);
        records.push(PreparedRecord {
            partition,
            start,
            end: data.len(),
            timestamp: record.timestamp,
        });
    }
    Ok(PreparedProduce {
        data: data.freeze(),
        records,
    })
}

/// Parses one record; a missing timestamp comes back as `i64::MIN`.
fn parse_record(index: usize, raw: &RawValue) -> Result<(Record, Option<i64>), ApiError> {
    let parsed: RecordJson<'_> =
        serde_json::from_str(raw.get()).map_err(|error| ApiError::invalid_record(index, error))?;
    let key = match (parsed.key, parsed.key_base64) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_record(
                index,
                "give key or key_base64, not both",
            ));
        }
        (Some(key), None) => Some(RecordKey::Text(key)),
        (None, Some(encoded)) => Some(RecordKey::Binary(Bytes::from(
            BASE64
                .decode(encoded)
                .map_err(|error| ApiError::invalid_record(index, format!("key_base64: {error}")))?,
        ))),
        (None, None) => None,
    };
    let value = match (parsed.value, parsed.value_base64) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_record(
                index,
                "give value or value_base64, not both",
            ));
        }
        (Some(value), None) => RecordValue::Json(value.get().to_owned()),
        (None, Some(encoded)) => {
            RecordValue::Binary(Bytes::from(BASE64.decode(encoded).map_err(|error| {
                ApiError::invalid_record(index, format!("value_base64: {error}"))
            })?))
        }
        (None, None) => {
            return Err(ApiError::invalid_record(
                index,
                "value is required (or value_base64 for binary)",
            ));
        }
    };
    let headers = parsed.headers.unwrap_or_default();
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid_record(
            index,
            format!("{} headers; the limit is {MAX_HEADERS}", headers.len()),
        ));
    }
    let mut header_list = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if name.is_empty() || name.len() > usize::from(u16::MAX) {
            return Err(ApiError::invalid_record(
                index,
                "header names must be 1 to 65535 bytes",
            ));
        }
        header_list.push((name, Bytes::from(value)));
    }
    let timestamp = match parsed.timestamp {
        Some(timestamp) if timestamp < 0 => {
            return Err(ApiError::invalid_record(
                index,
                format!("timestamp must not be negative, got {timestamp}"),
            ));
        }
        Some(timestamp) => timestamp,
        None => i64::MIN,
    };
    Ok((
        Record {
            timestamp,
            key,
            value,
            headers: header_list,
        },
        parsed.partition,
    ))
}
