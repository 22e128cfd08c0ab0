//! Parsing and validating produce requests. A request is checked whole before any of
//! it reaches the batcher, so an invalid record means nothing of the request is written.

use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use silt_core::coordinator::{KafkaBatchStamp, ProducerIdentity, ProducerStamp, Topic};
use silt_core::partitioner::partition_for_key;
use silt_core::record::RecordParts;
use silt_core::topic_configs::TimestampType;

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

fn some_raw<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordJson<'a> {
    /// Only in a request to several topics (`POST /v1/records`).
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_base64: Option<String>,
    #[serde(default, borrow, deserialize_with = "some_raw")]
    value: Option<&'a RawValue>,
    #[serde(default)]
    value_base64: Option<String>,
    #[serde(default)]
    headers: Option<HeadersJson>,
    #[serde(default)]
    partition: Option<i64>,
    #[serde(default)]
    timestamp: Option<i64>,
}

/// A header value over HTTP: text, or `{"base64": ...}` for bytes; null is `None`.
#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderValueJson {
    Text(String),
    Bytes { base64: String },
}

/// A record's headers, in order: a list of `[name, value]` pairs (names may repeat,
/// values may be null), or an object of names to values as a shorthand.
struct HeadersJson(Vec<(String, Option<HeaderValueJson>)>);

impl<'de> Deserialize<'de> for HeadersJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = HeadersJson;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a list of [name, value] pairs or an object")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<HeadersJson, A::Error> {
                let mut headers = Vec::new();
                while let Some(pair) = seq.next_element()? {
                    if headers.len() == MAX_HEADERS {
                        return Err(serde::de::Error::custom(TOO_MANY_HEADERS));
                    }
                    headers.push(pair);
                }
                Ok(HeadersJson(headers))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeadersJson, A::Error> {
                let mut headers = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    if headers.len() == MAX_HEADERS {
                        return Err(serde::de::Error::custom(TOO_MANY_HEADERS));
                    }
                    headers.push(pair);
                }
                Ok(HeadersJson(headers))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

const TOO_MANY_HEADERS: &str = "more headers than the limit of 256";

/// Why a record without a key is refused by a compacted topic (Kafka refuses it too:
/// compaction keeps the latest record of each key, and a record without one has none).
pub fn null_key_refusal(topic: &Topic) -> String {
    format!(
        "topic {:?} is compacted (cleanup.policy={}): every record needs a key",
        topic.name,
        topic.configs.cleanup_policy().as_str()
    )
}

/// One validated record, encoded into [`PreparedProduce::data`].
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    pub partition: u32,
    pub start: usize,
    pub end: usize,
    pub timestamp: i64,
}

/// One Kafka record batch, validated and kept as the producer sent it (chunk version
/// 3): its records sit at its offsets 0, 1, ….
#[derive(Debug, Clone)]
pub struct KeptBatch {
    pub partition: u32,
    /// The whole batch, from its base offset field on.
    pub raw: Bytes,
    pub record_count: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// Bytes its records take decoded (they may be compressed in `raw`).
    pub decoded_bytes: usize,
}

impl PreparedProduce {
    /// Bytes of the records as they will be stored.
    pub fn bytes(&self) -> usize {
        self.data.len()
            + self
                .batches
                .iter()
                .map(|batch| batch.raw.len())
                .sum::<usize>()
    }

    /// What the records count towards a batch's `max_batch_bytes`: decoded, so that a
    /// chunk of compressed Kafka batches decodes to about a batch at most for readers.
    pub fn batch_bytes(&self) -> usize {
        self.data.len()
            + self
                .batches
                .iter()
                .map(|batch| batch.raw.len().max(batch.decoded_bytes))
                .sum::<usize>()
    }

    /// What the request costs the gateway's buffer budget while it waits.
    pub fn cost(&self) -> usize {
        let records = self.records.len()
            + self
                .batches
                .iter()
                .map(|batch| batch.record_count as usize)
                .sum::<usize>();
        self.bytes() + records * RECORD_OVERHEAD_BYTES
    }
}

/// A validated produce request: every record encoded into one buffer, or Kafka record
/// batches kept as sent.
#[derive(Debug, Clone)]
pub struct PreparedProduce {
    pub data: Bytes,
    pub records: Vec<PreparedRecord>,
    /// Kafka record batches stored as they came (with no `records`).
    pub batches: Vec<KeptBatch>,
    /// Set for an idempotent producer's request.
    pub producer: Option<ProducerStamp>,
    /// Set for one record batch of an idempotent Kafka producer (one partition).
    pub kafka: Option<KafkaBatchStamp>,
    /// Set for the records of an HTTP transaction: its producer.
    pub txn: Option<ProducerIdentity>,
}

/// `"producer": {"id": .., "epoch": .., "sequence": n}`: one sequence per request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProducerJson {
    id: i64,
    epoch: i32,
    sequence: i64,
}

/// Marks a record that goes to the request's sticky partition, chosen once the whole
/// body (and so its producer stamp) has been read.
const STICKY: u32 = u32::MAX;

/// Validates and encodes records one by one as they are parsed, so a request costs its
/// encoded records and their positions, never a parsed form of all of them at once.
struct Encoder<'t> {
    topic: &'t Topic,
    max_record_bytes: usize,
    now_ms: i64,
    data: BytesMut,
    records: Vec<PreparedRecord>,
    /// Why the record being parsed was refused, when it was Silt's rule and not JSON's.
    refused: Option<ApiError>,
    /// Records name their topic (a request to several topics).
    routed: bool,
}

impl<'t> Encoder<'t> {
    fn new(
        topic: &'t Topic,
        max_record_bytes: usize,
        now_ms: i64,
        capacity: usize,
        routed: bool,
    ) -> Self {
        Encoder {
            topic,
            max_record_bytes,
            now_ms,
            data: BytesMut::with_capacity(capacity),
            records: Vec::new(),
            refused: None,
            routed,
        }
    }

    fn push(&mut self, record: &RecordJson<'_>) -> Result<(), ApiError> {
        self.push_at(self.records.len(), record)
    }

    /// Encodes the request's record number `index`.
    fn push_at(&mut self, index: usize, record: &RecordJson<'_>) -> Result<(), ApiError> {
        if self.records.len() == MAX_RECORDS_PER_REQUEST {
            return Err(too_many_records());
        }
        if record.topic.is_some() && !self.routed {
            return Err(ApiError::invalid_record(
                index,
                "a record's topic is the path's; POST /v1/records writes to several topics",
            ));
        }
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
            // `"value": null` is Kafka's null value, a tombstone.
            (Some(value), None) if value.get() == "null" => (None, false),
            (Some(value), None) => (Some(value.get().as_bytes()), true),
            (None, Some(encoded)) => {
                value_bytes = BASE64.decode(encoded).map_err(|error| {
                    ApiError::invalid_record(index, format!("value_base64: {error}"))
                })?;
                (Some(value_bytes.as_slice()), false)
            }
            (None, None) => {
                return Err(ApiError::invalid_record(
                    index,
                    "value is required (or value_base64 for binary)",
                ));
            }
        };
        let mut decoded: Vec<(&str, Option<std::borrow::Cow<'_, [u8]>>)> = Vec::new();
        for (name, value) in record.headers.iter().flat_map(|headers| &headers.0) {
            if name.is_empty() || name.len() > usize::from(u16::MAX) {
                return Err(ApiError::invalid_record(
                    index,
                    "header names must be 1 to 65535 bytes",
                ));
            }
            let value = match value {
                None => None,
                Some(HeaderValueJson::Text(text)) => Some(text.as_bytes().into()),
                Some(HeaderValueJson::Bytes { base64 }) => {
                    let bytes = BASE64.decode(base64).map_err(|error| {
                        ApiError::invalid_record(index, format!("header {name:?}: {error}"))
                    })?;
                    Some(bytes.into())
                }
            };
            decoded.push((name.as_str(), value));
        }
        let headers: Vec<(&str, Option<&[u8]>)> = decoded
            .iter()
            .map(|(name, value)| (*name, value.as_deref()))
            .collect();
        let timestamp = match record.timestamp {
            Some(timestamp) if timestamp < 0 => {
                return Err(ApiError::invalid_record(
                    index,
                    format!("timestamp must not be negative, got {timestamp}"),
                ));
            }
            Some(timestamp) => timestamp,
            None => self.now_ms,
        };
        let topic = self.topic;
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
            (None, None) => STICKY,
        };
        if key.is_none() && topic.configs.cleanup_policy().compacts() {
            return Err(ApiError::invalid_record(index, null_key_refusal(topic)));
        }
        let log_append_time = topic.configs.timestamp_type() == TimestampType::LogAppendTime;
        let parts = RecordParts {
            // The gateway's clock for a LogAppendTime topic, whatever the producer said.
            timestamp: if log_append_time {
                self.now_ms
            } else {
                timestamp
            },
            key,
            value,
            value_is_json,
            headers: &headers,
            log_append_time,
        };
        let encoded_len = parts.encoded_len();
        let limit = topic.configs.max_message_bytes(self.max_record_bytes);
        if encoded_len > limit {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "record_too_large",
                format!(
                    "record {index}: {encoded_len} bytes encoded; the limit is {limit} \
                     (the topic's max.message.bytes)"
                ),
            )
            .with("record_index", index));
        }
        let start = self.data.len();
        parts.encode(&mut self.data);
        self.records.push(PreparedRecord {
            partition,
            start,
            end: self.data.len(),
            timestamp: parts.timestamp,
        });
        Ok(())
    }

    /// The request: records without key or partition go to `sticky_partition`.
    fn finish(self, sticky_partition: u32, producer: Option<ProducerStamp>) -> PreparedProduce {
        let mut records = self.records;
        for record in records
            .iter_mut()
            .filter(|record| record.partition == STICKY)
        {
            record.partition = sticky_partition;
        }
        PreparedProduce {
            data: self.data.freeze(),
            records,
            batches: Vec::new(),
            producer,
            kafka: None,
            txn: None,
        }
    }

    /// [`Self::push`] inside a deserializer: Silt's refusal is kept aside and the
    /// parse stopped with a marker error.
    fn push_parsed<E: serde::de::Error>(&mut self, record: &RecordJson<'_>) -> Result<(), E> {
        self.push(record).map_err(|refused| {
            self.refused = Some(refused);
            E::custom("record refused")
        })
    }
}

/// The `records` array, each element encoded as it is parsed.
struct RecordsSeed<'e, 't>(&'e mut Encoder<'t>);

impl<'de> serde::de::DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an array of records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<RecordJson<'de>>()? {
            self.0.push_parsed(&record)?;
        }
        Ok(())
    }
}

/// The body `{"records": [...], "producer": {...}}`; returns the producer stamp.
struct BodySeed<'e, 't>(&'e mut Encoder<'t>);

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_, '_> {
    type Value = Option<ProducerJson>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for BodySeed<'_, '_> {
    type Value = Option<ProducerJson>;
    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object with records")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut records = false;
        let mut producer = None;
        while let Some(field) = map.next_key::<&str>()? {
            match field {
                "records" if !records => {
                    map.next_value_seed(RecordsSeed(&mut *self.0))?;
                    records = true;
                }
                "producer" if producer.is_none() => producer = Some(map.next_value()?),
                "records" | "producer" => {
                    return Err(serde::de::Error::custom(format!(
                        "duplicate field `{field}`"
                    )));
                }
                other => {
                    return Err(serde::de::Error::unknown_field(
                        other,
                        &["records", "producer"],
                    ));
                }
            }
        }
        if !records {
            return Err(serde::de::Error::missing_field("records"));
        }
        Ok(producer)
    }
}

/// Parses a body, `{"records": [...]}` or NDJSON, encoding each record as it comes.
/// When the JSON does not fit, a second pass tells a syntax error (`invalid_json`)
/// from a record that is valid JSON but not a record (`invalid_record`, with its index).
fn parse_body(
    body: &[u8],
    ndjson: bool,
    encoder: &mut Encoder<'_>,
) -> Result<Option<ProducerStamp>, ApiError> {
    if ndjson {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("invalid_json", "body is not UTF-8"))?;
        for (line_number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let index = encoder.records.len();
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
            encoder.push(&record)?;
        }
        return Ok(None);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed =
        serde::de::DeserializeSeed::deserialize(BodySeed(&mut *encoder), &mut deserializer)
            .and_then(|producer| deserializer.end().map(|()| producer));
    if let Some(refused) = encoder.refused.take() {
        return Err(refused);
    }
    match parsed {
        Ok(None) => Ok(None),
        Ok(Some(producer)) if producer.sequence < 0 || producer.epoch < 0 => {
            Err(ApiError::bad_request(
                "invalid_request",
                "producer epoch and sequence must not be negative",
            ))
        }
        Ok(Some(producer)) => Ok(Some(ProducerStamp {
            producer_id: producer.id,
            epoch: producer.epoch,
            sequence: producer.sequence,
        })),
        Err(error) => {
            // The records before the one at fault parsed; is the fault JSON's or Silt's?
            let index = encoder.records.len();
            if error.is_syntax() || error.is_eof() {
                return Err(ApiError::bad_request(
                    "invalid_json",
                    format!("invalid produce body: {error}"),
                ));
            }
            #[derive(Deserialize)]
            struct RawBody<'a> {
                #[serde(borrow)]
                records: Vec<&'a RawValue>,
            }
            match serde_json::from_slice::<RawBody<'_>>(body) {
                Ok(raw) if index < raw.records.len() => Err(ApiError::invalid_record(index, error)),
                _ => Err(ApiError::bad_request(
                    "invalid_json",
                    format!("invalid produce body: {error}"),
                )),
            }
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
    // About what the records encode to, at most what a request may hold.
    let capacity = body.len().min(MAX_RECORDS_PER_REQUEST * 64);
    let mut encoder = Encoder::new(topic, max_record_bytes, now_ms, capacity, false);
    let producer = parse_body(body, ndjson, &mut encoder)?;
    if encoder.records.is_empty() {
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
    Ok(encoder.finish(sticky_partition, producer))
}

/// The records of a request to several topics, each with its place in the request,
/// grouped by topic in order of first appearance.
pub(crate) type RoutedRecords<'a> = Vec<(String, Vec<(usize, RecordJson<'a>)>)>;

/// Parses the records of a request to several topics (`POST /v1/records`): each names
/// its topic.
pub(crate) fn route<'a>(records: &[&'a RawValue]) -> Result<RoutedRecords<'a>, ApiError> {
    if records.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "records must not be empty",
        ));
    }
    if records.len() > MAX_RECORDS_PER_REQUEST {
        return Err(too_many_records());
    }
    let mut routed: RoutedRecords<'a> = Vec::new();
    for (index, raw) in records.iter().enumerate() {
        let record: RecordJson<'a> = serde_json::from_str(raw.get())
            .map_err(|error| ApiError::invalid_record(index, error))?;
        let Some(topic) = record.topic.clone() else {
            return Err(ApiError::invalid_record(index, "topic is required"));
        };
        match routed.iter_mut().find(|(name, _)| *name == topic) {
            Some((_, records)) => records.push((index, record)),
            None => routed.push((topic, vec![(index, record)])),
        }
    }
    Ok(routed)
}

/// Validates and encodes one topic's records of a request to several topics; records
/// without key or partition go to one partition of the topic, as in [`prepare`].
pub(crate) fn prepare_routed(
    topic: &Topic,
    records: &[(usize, RecordJson<'_>)],
    max_record_bytes: usize,
    sticky: &AtomicU32,
    now_ms: i64,
) -> Result<PreparedProduce, ApiError> {
    let mut encoder = Encoder::new(topic, max_record_bytes, now_ms, 0, true);
    for (index, record) in records {
        encoder.push_at(*index, record)?;
    }
    let sticky_partition = sticky.fetch_add(1, Ordering::Relaxed) % topic.partitions.max(1);
    Ok(encoder.finish(sticky_partition, None))
}
