//! Parsing and validating produce requests. A request is checked whole before any of
//! it reaches the batcher, so an invalid record means nothing of the request is written.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use silt_core::coordinator::{KafkaBatchStamp, ProducerStamp, Topic};
use silt_core::partitioner::partition_for_key;
use silt_core::record::RecordParts;

use crate::error::ApiError;

const MAX_HEADERS: usize = 256;
/// Records one produce request may hold (HTTP body, or one partition of a Kafka
/// produce request): what parsing a request may cost is bounded by it.
pub const MAX_RECORDS_PER_REQUEST: usize = 100_000;
/// Memory a waiting record costs beyond its encoded bytes (its position in the batch,
/// its offset in the answer, its share of the chunk index), charged against the
/// gateway's buffer budget with them.
pub const RECORD_OVERHEAD_BYTES: usize = 64;

fn too_many_records() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_records",
        format!("a produce request holds at most {MAX_RECORDS_PER_REQUEST} records"),
    )
}

/// The `records` array, refused as soon as it passes [`MAX_RECORDS_PER_REQUEST`].
fn bounded_records<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<RecordJson<'de>>, D::Error> {
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<RecordJson<'de>>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an array of records")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(record) = seq.next_element()? {
                if records.len() == MAX_RECORDS_PER_REQUEST {
                    return Err(serde::de::Error::custom(TOO_MANY_RECORDS));
                }
                records.push(record);
            }
            Ok(records)
        }
    }
    deserializer.deserialize_seq(Bounded)
}

/// The message by which a parse error is known to be [`too_many_records`].
const TOO_MANY_RECORDS: &str = "too many records";

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

impl PreparedProduce {
    /// What the request costs the gateway's buffer budget while it waits.
    pub fn cost(&self) -> usize {
        self.data.len() + self.records.len() * RECORD_OVERHEAD_BYTES
    }
}

/// A validated produce request: every record encoded into one buffer.
#[derive(Debug, Clone)]
pub struct PreparedProduce {
    pub data: Bytes,
    pub records: Vec<PreparedRecord>,
    /// Set for an idempotent producer's request.
    pub producer: Option<ProducerStamp>,
    /// Set for one record batch of an idempotent Kafka producer (one partition).
    pub kafka: Option<KafkaBatchStamp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedBody<'a> {
    #[serde(borrow, deserialize_with = "bounded_records")]
    records: Vec<RecordJson<'a>>,
    #[serde(default)]
    producer: Option<ProducerJson>,
}

/// `"producer": {"id": .., "epoch": .., "sequence": n}`: one sequence per request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProducerJson {
    id: i64,
    epoch: i32,
    sequence: i64,
}

/// Parses a body, `{"records": [...]}` or NDJSON, in one pass. When that fails, a
/// second, slower pass finds which record is at fault so the error can name it.
fn parse_body(
    body: &[u8],
    ndjson: bool,
) -> Result<(Vec<RecordJson<'_>>, Option<ProducerStamp>), ApiError> {
    if ndjson {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("invalid_json", "body is not UTF-8"))?;
        let mut records = Vec::new();
        for (line_number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let index = records.len();
            if index == MAX_RECORDS_PER_REQUEST {
                return Err(too_many_records());
            }
            let record = serde_json::from_str::<RecordJson<'_>>(line).map_err(|error| {
                if serde_json::from_str::<serde::de::IgnoredAny>(line).is_err() {
                    ApiError::bad_request(
                        "invalid_json",
                        format!("line {}: {error}", line_number + 1),
                    )
                } else {
                    ApiError::invalid_record(index, error)
                }
            })?;
            records.push(record);
        }
        return Ok((records, None));
    }
    match serde_json::from_slice::<TypedBody<'_>>(body) {
        Ok(parsed) => {
            let producer = match parsed.producer {
                None => None,
                Some(producer) if producer.sequence < 0 || producer.epoch < 0 => {
                    return Err(ApiError::bad_request(
                        "invalid_request",
                        "producer epoch and sequence must not be negative",
                    ));
                }
                Some(producer) => Some(ProducerStamp {
                    producer_id: producer.id,
                    epoch: producer.epoch,
                    sequence: producer.sequence,
                }),
            };
            Ok((parsed.records, producer))
        }
        Err(error) if error.to_string().starts_with(TOO_MANY_RECORDS) => Err(too_many_records()),
        Err(error) => {
            #[derive(Deserialize)]
            struct RawBody<'a> {
                #[serde(borrow)]
                records: Vec<&'a RawValue>,
            }
            let raw: RawBody<'_> = serde_json::from_slice(body).map_err(|raw_error| {
                ApiError::bad_request("invalid_json", format!("invalid produce body: {raw_error}"))
            })?;
            for (index, record) in raw.records.iter().enumerate() {
                serde_json::from_str::<RecordJson<'_>>(record.get())
                    .map_err(|error| ApiError::invalid_record(index, error))?;
            }
            Err(ApiError::bad_request(
                "invalid_json",
                format!("invalid produce body: {error}"),
            ))
        }
    }
}

/// Validates every record of a body, chooses partitions and encodes them. Nothing is
/// kept unless every record is valid.
pub fn prepare(
    topic: &Topic,
    body: &[u8],
    ndjson: bool,
    max_record_bytes: usize,
    sticky: &AtomicU32,
    now_ms: i64,
) -> Result<PreparedProduce, ApiError> {
    let (parsed, producer) = parse_body(body, ndjson)?;
    if parsed.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "records must not be empty",
        ));
    }
    // Records without key or partition all go to one partition per request (Kafka's
    // sticky partitioning), rotating over the partitions from request to request. For
    // an idempotent request the partition follows from (producer, sequence) instead, so
    // a retry through any gateway lands where the original did.
    let partitions = topic.partitions.max(1);
    let sticky_partition = match producer {
        Some(stamp) => {
            let mixed = (stamp.producer_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (stamp.sequence as u64);
            (mixed.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 32) as u32 % partitions
        }
        None => sticky.fetch_add(1, Ordering::Relaxed) % partitions,
    };
    let mut data = BytesMut::with_capacity(body.len() + parsed.len() * 32);
    let mut records = Vec::with_capacity(parsed.len());
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    for (index, record) in parsed.iter().enumerate() {
        let key_bytes;
        let key = match (&record.key, &record.key_base64) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_record(
                    index,
                    "give key or key_base64, not both",
                ));
            }
            (Some(key), None) => Some((key.as_bytes(), false)),
            (None, Some(encoded)) => {
                key_bytes = BASE64.decode(encoded).map_err(|error| {
                    ApiError::invalid_record(index, format!("key_base64: {error}"))
                })?;
                Some((key_bytes.as_slice(), true))
            }
            (None, None) => None,
        };
        let value_bytes;
        let (value, value_is_json) = match (record.value, &record.value_base64) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_record(
                    index,
                    "give value or value_base64, not both",
                ));
            }
            (Some(value), None) => (value.get().as_bytes(), true),
            (None, Some(encoded)) => {
                value_bytes = BASE64.decode(encoded).map_err(|error| {
                    ApiError::invalid_record(index, format!("value_base64: {error}"))
                })?;
                (value_bytes.as_slice(), false)
            }
            (None, None) => {
                return Err(ApiError::invalid_record(
                    index,
                    "value is required (or value_base64 for binary)",
                ));
            }
        };
        headers.clear();
        if let Some(map) = &record.headers {
            if map.len() > MAX_HEADERS {
                return Err(ApiError::invalid_record(
                    index,
                    format!("{} headers; the limit is {MAX_HEADERS}", map.len()),
                ));
            }
            for (name, value) in map {
                if name.is_empty() || name.len() > usize::from(u16::MAX) {
                    return Err(ApiError::invalid_record(
                        index,
                        "header names must be 1 to 65535 bytes",
                    ));
                }
                headers.push((name.as_str(), value.as_bytes()));
            }
        }
        let timestamp = match record.timestamp {
            Some(timestamp) if timestamp < 0 => {
                return Err(ApiError::invalid_record(
                    index,
                    format!("timestamp must not be negative, got {timestamp}"),
                ));
            }
            Some(timestamp) => timestamp,
            None => now_ms,
        };
        let partition = match (record.partition, key) {
            (Some(partition), _) => {
                if partition < 0 || partition >= i64::from(topic.partitions) {
                    return Err(ApiError::invalid_record(
                        index,
                        format!(
                            "partition {partition} is out of range; topic {:?} has {} partitions",
                            topic.name, topic.partitions
                        ),
                    ));
                }
                partition as u32
            }
            (None, Some((key, _))) => partition_for_key(key, topic.partitions),
            (None, None) => sticky_partition,
        };
        let parts = RecordParts {
            timestamp,
            key,
            value,
            value_is_json,
            headers: &headers,
        };
        let encoded_len = parts.encoded_len();
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
        parts.encode(&mut data);
        records.push(PreparedRecord {
            partition,
            start,
            end: data.len(),
            timestamp,
        });
    }
    Ok(PreparedProduce {
        data: data.freeze(),
        records,
        producer,
        kafka: None,
    })
}
