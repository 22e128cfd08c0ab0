//! Chunk version 3: Kafka record batches kept as the producer sent them (codec,
//! boundaries, producer id, epoch and sequence), one after the other. Only two fields
//! of each batch change, neither covered by its CRC: the base offset becomes the
//! position of the batch's first record in the chunk, and the partition leader epoch
//! becomes 0. A Kafka fetch serves the batches with the chunk's base offset added
//! ([`serve_kafka_chunk`]); every other reader (HTTP, SQL, the compactor) decodes them
//! into stored records ([`KafkaRecords`]).

use bytes::{Buf, Bytes, BytesMut};

use super::{CHUNK_VERSION, ChunkBuilder, SegmentError};
use crate::kafka_batch::{self, KafkaBatch, RECORDS_AT};
use crate::record::{
    ATTR_HAS_KEY, ATTR_KEY_BINARY, ATTR_LOG_APPEND_TIME, ATTR_VALUE_JSON, ATTR_VALUE_NULL,
    StoredRecord, bytes_are_json, key_is_binary,
};

/// The chunk version of Kafka record batches.
pub const KAFKA_CHUNK_VERSION: u8 = CHUNK_VERSION + 1;

/// What the records of one chunk of Kafka batches may decompress to when read. A
/// gateway admits at most its body limit per partition of a request, and a chunk holds
/// at most a flush, so this is a guard against a damaged object, not a working limit.
const MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

/// Where a batch's fields sit (Kafka's `RecordBatch`).
const LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const LAST_OFFSET_DELTA_AT: usize = 23;

impl ChunkBuilder {
    /// A builder of Kafka record batches (chunk version 3) with room for `bytes`.
    pub fn kafka(topic: impl Into<String>, partition: u32, bytes: usize) -> Self {
        ChunkBuilder {
            version: KAFKA_CHUNK_VERSION,
            ..ChunkBuilder::with_capacity(topic, partition, bytes)
        }
    }

    /// Appends one record batch as it was sent (`raw`: from its base offset field to its
    /// end), whose `record_count` records sit at its offsets 0, 1, … (see
    /// [`KafkaBatch::keeps_positions`]) with timestamps from `min_timestamp` to
    /// `max_timestamp`.
    pub fn push_kafka_batch(
        &mut self,
        raw: &[u8],
        record_count: u32,
        min_timestamp: i64,
        max_timestamp: i64,
    ) {
        let start = self.payload.len();
        self.payload.extend_from_slice(raw);
        let position = i64::from(self.record_count);
        if let Some(field) = self.payload.get_mut(start..start + LENGTH_AT) {
            field.copy_from_slice(&position.to_be_bytes());
        }
        if let Some(field) = self
            .payload
            .get_mut(start + LEADER_EPOCH_AT..start + LEADER_EPOCH_AT + 4)
        {
            field.copy_from_slice(&0i32.to_be_bytes());
        }
        self.record_count += record_count;
        self.min_timestamp = self.min_timestamp.min(min_timestamp);
        self.max_timestamp = self.max_timestamp.max(max_timestamp);
    }
}

/// The batches of a version 3 chunk as a Kafka fetch serves them: from the batch that
/// holds offset `from` on (the chunk's first record is at `base_offset`), each with its
/// base offset set to its first record's offset. Nothing is decoded or decompressed.
pub fn serve_kafka_chunk(
    payload: &[u8],
    base_offset: u64,
    from: u64,
) -> Result<Bytes, SegmentError> {
    let base = i64::try_from(base_offset).map_err(|_| truncated())?;
    let from = i64::try_from(from).map_err(|_| truncated())?;
    let mut first = None;
    let mut at = 0;
    while at < payload.len() {
        let (position, end, last_delta) = batch_frame(payload, at)?;
        let last = base
            .saturating_add(position)
            .saturating_add(i64::from(last_delta));
        if first.is_none() && last >= from {
            first = Some(at);
        }
        at = end;
    }
    let Some(first) = first else {
        return Ok(Bytes::new());
    };
    let mut out = BytesMut::from(&payload[first..]);
    let mut at = 0;
    while at < out.len() {
        let (position, end, _) = batch_frame(&out, at)?;
        out[at..at + LENGTH_AT].copy_from_slice(&base.saturating_add(position).to_be_bytes());
        at = end;
    }
    Ok(out.freeze())
}

/// The position, end and last offset delta of the batch at `at` of `payload`.
fn batch_frame(payload: &[u8], at: usize) -> Result<(i64, usize, i32), SegmentError> {
    let header = payload.get(at..at + RECORDS_AT).ok_or_else(truncated)?;
    let position = (&header[..LENGTH_AT]).get_i64();
    let length = (&header[LENGTH_AT..LEADER_EPOCH_AT]).get_i32();
    let last_delta = (&header[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]).get_i32();
    let end = usize::try_from(length)
        .ok()
        .and_then(|length| (at + LENGTH_AT + 4).checked_add(length))
        .filter(|end| *end <= payload.len() && *end >= at + RECORDS_AT)
        .ok_or_else(truncated)?;
    Ok((position, end, last_delta))
}

fn truncated() -> SegmentError {
    SegmentError::Truncated {
        what: "Kafka record batch",
    }
}

/// The records of a version 3 chunk, decoded batch by batch as they are read.
pub(super) struct KafkaRecords {
    batch: std::vec::IntoIter<StoredRecord>,
    budget: usize,
}

impl Default for KafkaRecords {
    fn default() -> Self {
        KafkaRecords {
            batch: Vec::new().into_iter(),
            budget: MAX_DECOMPRESSED_BYTES,
        }
    }
}

impl KafkaRecords {
    /// The next record, decoding the batch at the front of `rest` when the current one
    /// is done.
    pub(super) fn next(&mut self, rest: &mut Bytes) -> Option<Result<StoredRecord, SegmentError>> {
        loop {
            if let Some(record) = self.batch.next() {
                return Some(Ok(record));
            }
            if !rest.has_remaining() {
                return None;
            }
            match kafka_batch::decode_next(rest, &mut self.budget) {
                Ok(batch) => self.batch = stored_records(batch).into_iter(),
                Err(error) => {
                    rest.clear();
                    return Some(Err(error.into()));
                }
            }
        }
    }
}

/// A batch's records as Silt's readers take them: a UTF-8 key reads back as text, a
/// non-empty JSON value as JSON, as when they were encoded on arrival.
fn stored_records(batch: KafkaBatch) -> Vec<StoredRecord> {
    let log_append_time = batch.log_append_time;
    batch
        .records
        .into_iter()
        .map(|record| {
            let mut attributes = 0;
            if let Some(key) = &record.key {
                attributes |= ATTR_HAS_KEY;
                if key_is_binary(key) {
                    attributes |= ATTR_KEY_BINARY;
                }
            }
            match &record.value {
                None => attributes |= ATTR_VALUE_NULL,
                Some(value) if bytes_are_json(value) => attributes |= ATTR_VALUE_JSON,
                Some(_) => {}
            }
            let timestamp = if log_append_time {
                attributes |= ATTR_LOG_APPEND_TIME;
                batch.max_timestamp
            } else {
                record.timestamp
            };
            let headers: Vec<(Bytes, Option<Bytes>)> = record
                .headers
                .into_iter()
                .map(|(name, value)| (Bytes::from(name), value))
                .collect();
            let encoded_len = 4
                + 1
                + 8
                + record.key.as_ref().map_or(0, |key| 4 + key.len())
                + 4
                + record.value.as_ref().map_or(0, Bytes::len)
                + 2
                + headers
                    .iter()
                    .map(|(name, value)| 2 + name.len() + 4 + value.as_ref().map_or(0, Bytes::len))
                    .sum::<usize>();
            StoredRecord {
                attributes,
                timestamp,
                key: record.key,
                value: record.value.unwrap_or_default(),
                headers,
                encoded_len,
            }
        })
        .collect()
}
