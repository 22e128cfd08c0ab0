//! Decoding the record batches (magic v2) of a Kafka produce request, with every count
//! and length checked against the bytes that hold it.
//!
//! The codec crate's batch decoder reserves room for a batch's declared record count
//! and each record's declared header count before reading them, decompresses without a
//! bound, and keeps a record's headers in a map, so a repeated header key is lost. This
//! decoder keeps each record as Kafka defines it (nullable key and value, headers as an
//! ordered list whose keys may repeat and whose values may be null, a 64-bit
//! timestamp), checks each batch's CRC-32C, and stops a decompression at a limit.

use std::io::Read;

use bytes::{Buf, Bytes};
use thiserror::Error;

/// Why a produce request's records were refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("truncated record batch: {0}")]
    Truncated(&'static str),
    #[error("record batch magic {0} is not supported; producers must send magic 2")]
    Magic(i8),
    #[error("record batch crc {found:#010x} does not match its contents ({computed:#010x})")]
    Crc { found: u32, computed: u32 },
    #[error("unknown compression codec {0}")]
    Codec(i16),
    #[error("decompressing a {codec} record batch: {message}")]
    Decompress {
        codec: &'static str,
        message: String,
    },
    #[error("the records decompress to more than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{what} of {count} with {remaining} bytes left")]
    Count {
        what: &'static str,
        count: i64,
        remaining: usize,
    },
    #[error("a record's length {declared} does not match its fields ({used} bytes)")]
    RecordLength { declared: usize, used: usize },
    #[error("{0} bytes follow the last record of a batch")]
    Trailing(usize),
    #[error("a varint is longer than its type")]
    Varint,
    #[error("a header key is not UTF-8")]
    HeaderKey,
    #[error("a record's timestamp overflows")]
    Timestamp,
}

/// One record as Kafka defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    pub timestamp: i64,
    /// The record's offset less its batch's base offset, as the producer wrote it.
    pub offset_delta: i32,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// One decoded record batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
    pub control: bool,
    /// The batch's timestamps are the broker's append time (attribute bit 3).
    pub log_append_time: bool,
    /// The records' compression (attribute bits 0-2; 0 is none).
    pub codec: i16,
    /// The last record's offset less the base offset, from the batch header.
    pub last_offset_delta: i32,
    /// The header's max timestamp (every record's timestamp when `log_append_time`).
    pub max_timestamp: i64,
    pub records: Vec<KafkaRecord>,
    /// The whole batch as it was sent, from its base offset field to its last byte.
    pub raw: Bytes,
    /// Bytes of the batch as sent (Kafka's `sizeInBytes`: offset, length and the rest),
    /// what a topic's `max.message.bytes` bounds.
    pub size_in_bytes: usize,
}

/// The bytes of a batch after its `length` field, before the records.
const BATCH_HEADER_AFTER_LENGTH: usize = 49;
/// Where a batch's CRC, its attributes (the first byte the CRC covers) and its records
/// start.
pub const CRC_AT: usize = 17;
pub const ATTRIBUTES_AT: usize = 21;
pub const RECORDS_AT: usize = 61;

/// Writes the length and CRC-32C of `batch` (one whole batch) from the bytes after
/// them; a buffer shorter than a batch header is left as it is.
pub fn seal(batch: &mut [u8]) {
    if batch.len() < RECORDS_AT {
        return;
    }
    let length = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_AT..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}
/// `batch` (one uncompressed batch) with its records replaced by `records`, the same
/// records compressed with `codec`, and its length and CRC written anew: a producer's
/// compressed batch, for tests and tools that play a producer.
pub fn compressed(batch: &[u8], codec: i16, records: &[u8]) -> Bytes {
    let mut out = batch[..RECORDS_AT.min(batch.len())].to_vec();
    out.extend_from_slice(records);
    if out.len() >= RECORDS_AT {
        let attributes = i16::from_be_bytes([out[ATTRIBUTES_AT], out[ATTRIBUTES_AT + 1]]) | codec;
        out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    }
    seal(&mut out);
    Bytes::from(out)
}

/// The smallest record: its length and six one-byte fields.
const MIN_RECORD_BYTES: usize = 7;

/// Decodes every batch in `raw`; their records may decompress to at most
/// `max_uncompressed` bytes in all.
pub fn decode_batches(
    mut raw: Bytes,
    max_uncompressed: usize,
) -> Result<Vec<KafkaBatch>, BatchError> {
    let mut batches = Vec::new();
    let mut budget = max_uncompressed;
    while raw.has_remaining() {
        batches.push(decode_next(&mut raw, &mut budget)?);
    }
    Ok(batches)
}

/// Decodes the batch at the front of `raw` and advances past it; its records'
/// decompressed bytes are taken from `budget`.
pub fn decode_next(raw: &mut Bytes, budget: &mut usize) -> Result<KafkaBatch, BatchError> {
    if raw.remaining() < 12 {
        return Err(BatchError::Truncated("batch offset and length"));
    }
    let length = (&raw[8..12]).get_i32();
    let length = usize::try_from(length)
        .ok()
        .filter(|length| *length >= BATCH_HEADER_AFTER_LENGTH && *length <= raw.remaining() - 12)
        .ok_or(BatchError::Truncated("batch length"))?;
    let whole = raw.split_to(12 + length);
    let mut decoded = decode_batch(whole.slice(12..), budget)?;
    decoded.size_in_bytes = whole.len();
    decoded.raw = whole;
    Ok(decoded)
}

impl KafkaBatch {
    /// Whether the batch's records sit at its offsets 0, 1, … up to its last offset
    /// delta, as producers write them (Kafka refuses other inner offsets): only then are
    /// a record's offset and its position in the batch the same, and the batch can be
    /// stored as it was sent. Control batches and batches stamped with the broker's
    /// append time are not kept as sent.
    pub fn keeps_positions(&self) -> bool {
        !self.control
            && !self.log_append_time
            && !self.records.is_empty()
            && i64::from(self.last_offset_delta) + 1 == self.records.len() as i64
            && self
                .records
                .iter()
                .enumerate()
                .all(|(position, record)| i64::from(record.offset_delta) == position as i64)
    }
}

fn decode_batch(mut batch: Bytes, budget: &mut usize) -> Result<KafkaBatch, BatchError> {
    let _partition_leader_epoch = batch.get_i32();
    let magic = batch.get_i8();
    if magic != 2 {
        return Err(BatchError::Magic(magic));
    }
    let found = batch.get_u32();
    let computed = crc32c::crc32c(&batch);
    if found != computed {
        return Err(BatchError::Crc { found, computed });
    }
    let attributes = batch.get_i16();
    let last_offset_delta = batch.get_i32();
    let base_timestamp = batch.get_i64();
    let max_timestamp = batch.get_i64();
    let producer_id = batch.get_i64();
    let producer_epoch = batch.get_i16();
    let base_sequence = batch.get_i32();
    let record_count = batch.get_i32();
    let mut payload = decompress(batch, attributes & 0x7, budget)?;
    let count = usize::try_from(record_count)
        .ok()
        .filter(|count| count.saturating_mul(MIN_RECORD_BYTES) <= payload.remaining())
        .ok_or(BatchError::Count {
            what: "a record count",
            count: i64::from(record_count),
            remaining: payload.remaining(),
        })?;
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        records.push(decode_record(&mut payload, base_timestamp)?);
    }
    if payload.has_remaining() {
        return Err(BatchError::Trailing(payload.remaining()));
    }
    Ok(KafkaBatch {
        producer_id,
        producer_epoch,
        base_sequence,
        transactional: attributes & 0x10 != 0,
        control: attributes & 0x20 != 0,
        log_append_time: attributes & 0x08 != 0,
        codec: attributes & 0x7,
        last_offset_delta,
        max_timestamp,
        records,
        size_in_bytes: 0,
        raw: Bytes::new(),
    })
}

fn decode_record(payload: &mut Bytes, base_timestamp: i64) -> Result<KafkaRecord, BatchError> {
    let declared = varint(payload)?;
    let declared = usize::try_from(declared)
        .ok()
        .filter(|declared| *declared <= payload.remaining())
        .ok_or(BatchError::Truncated("record length"))?;
    let mut record = payload.split_to(declared);
    if record.remaining() < 1 {
        return Err(BatchError::Truncated("record attributes"));
    }
    let _attributes = record.get_i8();
    let timestamp = base_timestamp
        .checked_add(varlong(&mut record)?)
        .ok_or(BatchError::Timestamp)?;
    let offset_delta = varint(&mut record)?;
    let key = nullable_bytes(&mut record)?;
    let value = nullable_bytes(&mut record)?;
    let header_count = varint(&mut record)?;
    // A header is at least its key length and its value length.
    let header_count = usize::try_from(header_count)
        .ok()
        .filter(|count| count.saturating_mul(2) <= record.remaining())
        .ok_or(BatchError::Count {
            what: "a header count",
            count: i64::from(header_count),
            remaining: record.remaining(),
        })?;
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key = nullable_bytes(&mut record)?.ok_or(BatchError::HeaderKey)?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| BatchError::HeaderKey)?;
        headers.push((key, nullable_bytes(&mut record)?));
    }
    if record.has_remaining() {
        return Err(BatchError::RecordLength {
            declared,
            used: declared - record.remaining(),
        });
    }
    Ok(KafkaRecord {
        timestamp,
        offset_delta,
        key,
        value,
        headers,
    })
}

fn nullable_bytes(buf: &mut Bytes) -> Result<Option<Bytes>, BatchError> {
    let length = varint(buf)?;
    if length < 0 {
        return Ok(None);
    }
    let length = length as usize;
    if length > buf.remaining() {
        return Err(BatchError::Truncated("record key, value or header"));
    }
    Ok(Some(buf.split_to(length)))
}

fn varint(buf: &mut Bytes) -> Result<i32, BatchError> {
    let value = varlong(buf)?;
    i32::try_from(value).map_err(|_| BatchError::Varint)
}

/// A zig-zag varint of up to 64 bits.
fn varlong(buf: &mut Bytes) -> Result<i64, BatchError> {
    let mut raw: u64 = 0;
    for shift in (0..70).step_by(7) {
        if !buf.has_remaining() {
            return Err(BatchError::Truncated("varint"));
        }
        let byte = buf.get_u8();
        if shift == 63 && byte > 1 {
            return Err(BatchError::Varint);
        }
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err(BatchError::Varint)
}

/// The first bytes of snappy-java's framing, which the Java client writes.
pub const XERIAL_SNAPPY_MAGIC: &[u8] = b"\x82SNAPPY\x00";
/// The framing's header: magic, version and compatible version.
const XERIAL_SNAPPY_HEADER_LEN: usize = 16;

/// The records of a batch, decompressed; what they decompress to is taken from
/// `budget`, and a decompression that would pass it stops there.
fn decompress(input: Bytes, codec: i16, budget: &mut usize) -> Result<Bytes, BatchError> {
    let limit = *budget;
    let out = match codec {
        0 => {
            if input.len() > limit {
                return Err(BatchError::TooLarge { limit });
            }
            *budget -= input.len();
            return Ok(input);
        }
        1 => read_bounded("gzip", flate2::read::MultiGzDecoder::new(&input[..]), limit)?,
        2 => snappy(&input, limit)?,
        3 => {
            let reader = lz4_flex::frame::FrameDecoder::new(&input[..]);
            read_bounded("lz4", reader, limit)?
        }
        4 => {
            let failed = |error: std::io::Error| BatchError::Decompress {
                codec: "zstd",
                message: error.to_string(),
            };
            let mut reader = zstd::stream::read::Decoder::new(&input[..]).map_err(failed)?;
            // A frame may declare a window of up to 2 GiB, which the decoder would
            // allocate; none larger than what the records may decompress to is needed.
            reader
                .window_log_max(zstd_window_log(limit))
                .map_err(failed)?;
            match read_bounded("zstd", reader, limit) {
                // The window refused above: the frame is larger than the limit allows.
                Err(BatchError::Decompress { message, .. })
                    if message.contains("too much memory") =>
                {
                    return Err(BatchError::TooLarge { limit });
                }
                other => other?,
            }
        }
        other => return Err(BatchError::Codec(other)),
    };
    *budget -= out.len();
    Ok(Bytes::from(out))
}

/// The smallest window log (zstd accepts 10 to 31) whose window holds `limit` bytes.
fn zstd_window_log(limit: usize) -> u32 {
    (usize::BITS - limit.saturating_sub(1).leading_zeros()).clamp(10, 31)
}

/// Reads `reader` to its end, failing once it has given more than `limit` bytes.
fn read_bounded(
    codec: &'static str,
    reader: impl Read,
    limit: usize,
) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| BatchError::Decompress {
            codec,
            message: error.to_string(),
        })?;
    if out.len() > limit {
        return Err(BatchError::TooLarge { limit });
    }
    Ok(out)
}

/// Snappy comes framed (the Java client) or raw (librdkafka); a block's decompressed
/// length is read from its preamble and checked before it is decompressed.
fn snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let failed = |error: snap::Error| BatchError::Decompress {
        codec: "snappy",
        message: error.to_string(),
    };
    let mut out = Vec::new();
    let block = |block: &[u8], out: &mut Vec<u8>| -> Result<(), BatchError> {
        let length = snap::raw::decompress_len(block).map_err(failed)?;
        if out.len() + length > limit {
            return Err(BatchError::TooLarge { limit });
        }
        let start = out.len();
        out.resize(start + length, 0);
        snap::raw::Decoder::new()
            .decompress(block, &mut out[start..])
            .map_err(failed)?;
        Ok(())
    };
    if !input.starts_with(XERIAL_SNAPPY_MAGIC) {
        block(input, &mut out)?;
        return Ok(out);
    }
    let mut rest = &input[XERIAL_SNAPPY_HEADER_LEN.min(input.len())..];
    while rest.has_remaining() {
        if rest.remaining() < 4 {
            return Err(BatchError::Truncated("snappy block length"));
        }
        let length = rest.get_u32() as usize;
        if rest.remaining() < length {
            return Err(BatchError::Truncated("snappy block"));
        }
        block(&rest[..length], &mut out)?;
        rest.advance(length);
    }
    Ok(out)
}

pub mod encode;
