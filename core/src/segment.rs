//! Segment format v1: one immutable object per gateway flush, holding one chunk per
//! (topic, partition) that received records. See `docs/segment-format.md`.
//!
//! ```text
//! header   magic "SILTSEG1" (8) | u16 version | u16 flags
//! chunk*   u8 chunk_version | u8 codec | u32 record_count | u32 raw_len | u32 stored_len
//!          | payload (stored_len) | u32 crc32c(chunk header + payload)
//! index    u64 created_ms | u32 entry_count | entry*
//!          entry: u16 topic_len | topic | u32 partition | u32 record_count
//!                 | u64 chunk_offset | u32 chunk_len | i64 min_timestamp | i64 max_timestamp
//! trailer  u64 index_offset | u32 index_len | u32 crc32c(index) | u16 version | u16 flags
//!          | magic "SILT" (4)
//! ```
//!
//! A reader that knows a chunk's byte range (from the coordinator's index) reads it
//! with one ranged GET; the footer makes the object self-describing for recovery.
//! Chunks of version 1 and 2 hold Silt's record encoding ([`crate::record`]); chunks of
//! version 3 hold Kafka record batches as producers sent them ([`kafka_chunk`]).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::record::{RecordDecodeError, StoredRecord, decode_record};

pub const SEGMENT_MAGIC: &[u8; 8] = b"SILTSEG1";
pub const TRAILER_MAGIC: &[u8; 4] = b"SILT";
pub const FORMAT_VERSION: u16 = 1;
/// Chunks are written in version 2 (records may hold null values and null header
/// values); version 1 chunks, which cannot, are still read.
pub const CHUNK_VERSION: u8 = 2;
pub const SUPPORTED_CHUNK_VERSIONS: &[u8] = &[1, CHUNK_VERSION, KAFKA_CHUNK_VERSION];
pub const SUPPORTED_VERSIONS: &[u16] = &[FORMAT_VERSION];
pub const HEADER_LEN: usize = 12;
pub const TRAILER_LEN: usize = 24;
pub const CHUNK_HEADER_LEN: usize = 14;
pub const CHUNK_OVERHEAD: usize = CHUNK_HEADER_LEN + 4;

/// How a chunk's payload is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    #[default]
    Lz4,
}

impl Compression {
    fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
        }
    }

    fn from_code(code: u8) -> Result<Self, SegmentError> {
        match code {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Lz4),
            other => Err(SegmentError::UnknownCompression(other)),
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "none" => Ok(Compression::None),
            "lz4" => Ok(Compression::Lz4),
            other => Err(format!(
                "unknown compression {other:?}; expected none or lz4"
            )),
        }
    }
}

#[derive(Debug, Error)]
pub enum SegmentError {
    #[error("not a silt segment: bad magic number")]
    BadMagic,
    #[error("unsupported segment format version {found} (supported: {supported:?})")]
    UnsupportedVersion {
        found: u16,
        supported: &'static [u16],
    },
    #[error("unsupported chunk format version {found} (supported: {SUPPORTED_CHUNK_VERSIONS:?})")]
    UnsupportedChunkVersion { found: u8 },
    #[error("unknown compression code {0}")]
    UnknownCompression(u8),
    #[error("checksum mismatch in {what}: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        what: &'static str,
        stored: u32,
        computed: u32,
    },
    #[error("{what} is truncated or has inconsistent lengths")]
    Truncated { what: &'static str },
    #[error("chunk payload failed to decompress: {0}")]
    Decompress(String),
    #[error("chunk declares {declared} records but holds {found}")]
    RecordCount { declared: u32, found: u32 },
    #[error("record in chunk is malformed: {0}")]
    Record(#[from] RecordDecodeError),
    #[error("segment index entry names an invalid topic")]
    InvalidTopic,
    #[error("a Kafka record batch in the chunk is malformed: {0}")]
    KafkaBatch(#[from] crate::kafka_batch::BatchError),
}

/// A chunk's records, still encoded, as the gateway accumulates them.
#[derive(Debug, Clone)]
pub struct ChunkBuilder {
    pub topic: String,
    pub partition: u32,
    /// [`CHUNK_VERSION`] for records encoded by Silt, [`KAFKA_CHUNK_VERSION`] for Kafka
    /// record batches kept as sent.
    pub version: u8,
    pub record_count: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    pub payload: BytesMut,
    /// Room for the chunk header, in the same allocation just before `payload`: a chunk
    /// stored as it is becomes its frame without a copy ([`encode_segment`]).
    head: BytesMut,
}

impl ChunkBuilder {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        Self::with_capacity(topic, partition, 0)
    }

    /// A builder whose payload has room for `bytes` without growing (and copying).
    pub fn with_capacity(topic: impl Into<String>, partition: u32, bytes: usize) -> Self {
        let mut head = BytesMut::with_capacity(CHUNK_HEADER_LEN + bytes + 4);
        head.resize(CHUNK_HEADER_LEN, 0);
        let payload = head.split_off(CHUNK_HEADER_LEN);
        ChunkBuilder {
            topic: topic.into(),
            partition,
            version: CHUNK_VERSION,
            record_count: 0,
            min_timestamp: i64::MAX,
            max_timestamp: i64::MIN,
            payload,
            head,
        }
    }

    /// Appends one record already encoded with [`crate::record::Record::encode`].
    pub fn push_encoded(&mut self, encoded: &[u8], timestamp: i64) {
        self.payload.extend_from_slice(encoded);
        self.record_count += 1;
        self.min_timestamp = self.min_timestamp.min(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }

    /// Takes the payload as a chunk frame (header, stored payload, CRC). A payload
    /// stored as it is and that never outgrew its builder's room becomes the frame in
    /// place; a compressed one is compressed straight into its frame.
    fn take_frame(&mut self, compression: Compression) -> Bytes {
        let payload = std::mem::take(&mut self.payload);
        if compression == Compression::Lz4
            && self.version != KAFKA_CHUNK_VERSION
            && let Some(frame) = self.compressed_frame(&payload)
        {
            return frame;
        }
        // The payload still sits right after the header room, with room for the CRC.
        let in_place = self.head.len() == CHUNK_HEADER_LEN
            && self.head.as_ptr() as usize + CHUNK_HEADER_LEN == payload.as_ptr() as usize
            && payload.capacity() >= payload.len() + 4;
        let mut frame = if in_place {
            let mut head = std::mem::take(&mut self.head);
            head.clear();
            head
        } else {
            BytesMut::with_capacity(CHUNK_OVERHEAD + payload.len())
        };
        self.put_header(&mut frame, Compression::None, payload.len(), payload.len());
        if in_place {
            // O(1): the two halves are one allocation.
            frame.unsplit(payload);
        } else {
            frame.extend_from_slice(&payload);
        }
        let crc = crc32c::crc32c(&frame);
        frame.put_u32_le(crc);
        frame.freeze()
    }

    /// The frame of `payload` compressed with lz4, written after its header in one
    /// buffer; `None` when compressing does not make it smaller.
    fn compressed_frame(&self, payload: &[u8]) -> Option<Bytes> {
        let bound = lz4_flex::block::get_maximum_output_size(payload.len());
        let mut frame = BytesMut::with_capacity(CHUNK_OVERHEAD + bound);
        frame.resize(CHUNK_HEADER_LEN + bound, 0);
        let stored_len = lz4_flex::block::compress_into(payload, &mut frame[CHUNK_HEADER_LEN..])
            .ok()
            .filter(|&stored_len| stored_len < payload.len())?;
        frame.truncate(CHUNK_HEADER_LEN + stored_len);
        let mut header = &mut frame[..CHUNK_HEADER_LEN];
        self.put_header(&mut header, Compression::Lz4, payload.len(), stored_len);
        let crc = crc32c::crc32c(&frame);
        frame.put_u32_le(crc);
        Some(frame.freeze())
    }

    /// Writes the chunk header: version, codec, record count, raw and stored lengths.
    fn put_header(&self, out: &mut impl BufMut, codec: Compression, raw: usize, stored: usize) {
        out.put_u8(self.version);
        out.put_u8(codec.code());
        out.put_u32_le(self.record_count);
        out.put_u32_le(raw as u32);
        out.put_u32_le(stored as u32);
    }
}

/// Where a chunk landed inside an encoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkLocation {
    pub topic: String,
    pub partition: u32,
    pub record_count: u32,
    pub offset: u64,
    pub len: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
}

/// An encoded segment object, with the chunk locations its index records. Its bytes
/// are kept in parts (header, each chunk frame, index and trailer), not copied into one
/// buffer: an object store writes them one after the other.
#[derive(Debug, Clone)]
pub struct EncodedSegment {
    pub parts: Vec<Bytes>,
    /// Each chunk's frame, in the order of `chunks`.
    pub frames: Vec<Bytes>,
    pub chunks: Vec<ChunkLocation>,
}

impl EncodedSegment {
    /// The object's size in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The object's bytes in one buffer (a copy).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        for part in &self.parts {
            out.extend_from_slice(part);
        }
        out.freeze()
    }
}

/// Encodes chunks into one segment object. Each builder's payload moves into the
/// segment (the builders are left empty of records but keep their other fields).
pub fn encode_segment(
    chunks: &mut [&mut ChunkBuilder],
    compression: Compression,
    created_ms: i64,
) -> EncodedSegment {
    let mut header = BytesMut::with_capacity(HEADER_LEN);
    header.put_slice(SEGMENT_MAGIC);
    header.put_u16_le(FORMAT_VERSION);
    header.put_u16_le(0);
    let mut parts = Vec::with_capacity(chunks.len() + 2);
    parts.push(header.freeze());
    // Written by topic, then partition, so a topic's chunks are one byte range that a
    // catch-up of the topic reads alone; the locations keep the callers' order.
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by(|a, b| {
        (&chunks[*a].topic, chunks[*a].partition).cmp(&(&chunks[*b].topic, chunks[*b].partition))
    });
    let mut offset = HEADER_LEN as u64;
    let mut placed: Vec<Option<(ChunkLocation, Bytes)>> = vec![None; chunks.len()];
    for index in order {
        let chunk = &mut *chunks[index];
        let frame = chunk.take_frame(compression);
        let location = ChunkLocation {
            topic: chunk.topic.clone(),
            partition: chunk.partition,
            record_count: chunk.record_count,
            offset,
            len: frame.len() as u32,
            min_timestamp: chunk.min_timestamp,
            max_timestamp: chunk.max_timestamp,
        };
        offset += frame.len() as u64;
        parts.push(frame.clone());
        placed[index] = Some((location, frame));
    }
    let (locations, frames): (Vec<ChunkLocation>, Vec<Bytes>) =
        placed.into_iter().flatten().unzip();
    let index_offset = offset;
    let mut out = BytesMut::with_capacity(64 * locations.len() + TRAILER_LEN);
    out.put_i64_le(created_ms);
    out.put_u32_le(locations.len() as u32);
    for location in &locations {
        out.put_u16_le(location.topic.len() as u16);
        out.put_slice(location.topic.as_bytes());
        out.put_u32_le(location.partition);
        out.put_u32_le(location.record_count);
        out.put_u64_le(location.offset);
        out.put_u32_le(location.len);
        out.put_i64_le(location.min_timestamp);
        out.put_i64_le(location.max_timestamp);
    }
    let index_len = out.len() as u32;
    let index_crc = crc32c::crc32c(&out);
    out.put_u64_le(index_offset);
    out.put_u32_le(index_len);
    out.put_u32_le(index_crc);
    out.put_u16_le(FORMAT_VERSION);
    out.put_u16_le(0);
    out.put_slice(TRAILER_MAGIC);
    parts.push(out.freeze());
    EncodedSegment {
        parts,
        frames,
        chunks: locations,
    }
}

/// One chunk frame of Silt's record encoding holding `payload`.
pub fn encode_chunk(payload: &[u8], record_count: u32, compression: Compression) -> Bytes {
    let mut builder = ChunkBuilder::with_capacity("", 0, payload.len());
    builder.payload.extend_from_slice(payload);
    builder.record_count = record_count;
    builder.take_frame(compression)
}

/// A verified, decompressed chunk.
#[derive(Debug, Clone)]
pub struct DecodedChunk {
    /// The chunk format version (see [`SUPPORTED_CHUNK_VERSIONS`]).
    pub version: u8,
    pub record_count: u32,
    pub payload: Bytes,
}

impl DecodedChunk {
    /// Iterates over the chunk's records in offset order.
    pub fn records(&self) -> ChunkRecords {
        ChunkRecords {
            rest: self.payload.clone(),
            remaining: self.record_count,
            kafka: (self.version == KAFKA_CHUNK_VERSION).then(KafkaRecords::default),
        }
    }

    /// Decodes every record, checking the count against the header.
    pub fn all_records(&self) -> Result<Vec<StoredRecord>, SegmentError> {
        let records = self.records().collect::<Result<Vec<_>, _>>()?;
        if records.len() as u32 != self.record_count {
            return Err(SegmentError::RecordCount {
                declared: self.record_count,
                found: records.len() as u32,
            });
        }
        Ok(records)
    }
}

pub struct ChunkRecords {
    rest: Bytes,
    remaining: u32,
    /// Set for a chunk of Kafka record batches: the batch being read.
    kafka: Option<KafkaRecords>,
}

impl Iterator for ChunkRecords {
    type Item = Result<StoredRecord, SegmentError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(kafka) = &mut self.kafka {
            return kafka.next(&mut self.rest);
        }
        if self.remaining == 0 {
            if self.rest.has_remaining() {
                self.rest.clear();
                return Some(Err(SegmentError::Truncated {
                    what: "chunk payload",
                }));
            }
            return None;
        }
        self.remaining -= 1;
        match decode_record(&mut self.rest) {
            Ok(record) => Some(Ok(record)),
            Err(error) => {
                self.remaining = 0;
                self.rest.clear();
                Some(Err(error.into()))
            }
        }
    }
}

/// Verifies and decompresses one chunk frame (exactly the bytes of the chunk).
pub fn decode_chunk(frame: &Bytes) -> Result<DecodedChunk, SegmentError> {
    if frame.len() < CHUNK_OVERHEAD {
        return Err(SegmentError::Truncated { what: "chunk" });
    }
    let body_end = frame.len() - 4;
    let stored_crc = (&frame[body_end..]).get_u32_le();
    let computed = crc32c::crc32c(&frame[..body_end]);
    if stored_crc != computed {
        return Err(SegmentError::ChecksumMismatch {
            what: "chunk",
            stored: stored_crc,
            computed,
        });
    }
    let mut header = &frame[..CHUNK_HEADER_LEN];
    let version = header.get_u8();
    if !SUPPORTED_CHUNK_VERSIONS.contains(&version) {
        return Err(SegmentError::UnsupportedChunkVersion { found: version });
    }
    let codec = Compression::from_code(header.get_u8())?;
    let record_count = header.get_u32_le();
    let raw_len = header.get_u32_le() as usize;
    let stored_len = header.get_u32_le() as usize;
    if CHUNK_HEADER_LEN + stored_len != body_end {
        return Err(SegmentError::Truncated { what: "chunk" });
    }
    let stored = frame.slice(CHUNK_HEADER_LEN..body_end);
    let payload = match codec {
        Compression::None => stored,
        Compression::Lz4 => Bytes::from(
            lz4_flex::block::decompress(&stored, raw_len)
                .map_err(|error| SegmentError::Decompress(error.to_string()))?,
        ),
    };
    if payload.len() != raw_len {
        return Err(SegmentError::Truncated {
            what: "chunk payload",
        });
    }
    Ok(DecodedChunk {
        version,
        record_count,
        payload,
    })
}

/// The footer of a segment: its creation time and where every chunk lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIndex {
    pub created_ms: i64,
    pub chunks: Vec<ChunkLocation>,
}

/// Reads the trailer and index of a whole segment object and checks the header.
pub fn decode_segment_index(object: &[u8]) -> Result<SegmentIndex, SegmentError> {
    if object.len() < HEADER_LEN + TRAILER_LEN {
        return Err(SegmentError::Truncated { what: "segment" });
    }
    if &object[..8] != SEGMENT_MAGIC {
        return Err(SegmentError::BadMagic);
    }
    let header_version = (&object[8..10]).get_u16_le();
    check_version(header_version)?;
    let trailer = decode_trailer(&object[object.len() - TRAILER_LEN..], object.len() as u64)?;
    decode_index(
        &object[trailer.index.start as usize..trailer.index.end as usize],
        trailer.crc,
    )
}

/// Where a segment's index lies, as its trailer says.
struct Trailer {
    index: std::ops::Range<u64>,
    crc: u32,
}

/// The trailer of a segment of `object_size` bytes.
fn decode_trailer(mut trailer: &[u8], object_size: u64) -> Result<Trailer, SegmentError> {
    let truncated = SegmentError::Truncated {
        what: "segment index",
    };
    if trailer.len() != TRAILER_LEN {
        return Err(truncated);
    }
    let index_offset = trailer.get_u64_le();
    let index_len = u64::from(trailer.get_u32_le());
    let crc = trailer.get_u32_le();
    let version = trailer.get_u16_le();
    let _flags = trailer.get_u16_le();
    if trailer != TRAILER_MAGIC {
        return Err(SegmentError::BadMagic);
    }
    check_version(version)?;
    let index_end = index_offset
        .checked_add(index_len)
        .ok_or(SegmentError::Truncated {
            what: "segment index",
        })?;
    if index_offset < HEADER_LEN as u64
        || Some(index_end) != object_size.checked_sub(TRAILER_LEN as u64)
    {
        return Err(truncated);
    }
    Ok(Trailer {
        index: index_offset..index_end,
        crc,
    })
}

/// A segment's index read from the end of the object.
#[derive(Debug)]
pub enum SegmentTail {
    Index(SegmentIndex),
    /// The tail was too short: the index starts earlier; read these bytes (the index
    /// and trailer) and decode them again.
    Needs(std::ops::Range<u64>),
}

/// The index of a segment of `object_size` bytes from its last `tail.len()` bytes, so a
/// reader can find a topic's chunks without reading the object.
pub fn decode_segment_tail(tail: &[u8], object_size: u64) -> Result<SegmentTail, SegmentError> {
    let tail_len = tail.len() as u64;
    if tail.len() < TRAILER_LEN || tail_len > object_size {
        return Err(SegmentError::Truncated { what: "segment" });
    }
    let trailer = decode_trailer(&tail[tail.len() - TRAILER_LEN..], object_size)?;
    let tail_start = object_size - tail_len;
    if trailer.index.start < tail_start {
        return Ok(SegmentTail::Needs(trailer.index.start..object_size));
    }
    let from = (trailer.index.start - tail_start) as usize;
    let to = (trailer.index.end - tail_start) as usize;
    Ok(SegmentTail::Index(decode_index(
        &tail[from..to],
        trailer.crc,
    )?))
}

/// The index's bytes, checked against the trailer's checksum.
fn decode_index(index_bytes: &[u8], stored_crc: u32) -> Result<SegmentIndex, SegmentError> {
    let computed = crc32c::crc32c(index_bytes);
    if computed != stored_crc {
        return Err(SegmentError::ChecksumMismatch {
            what: "segment index",
            stored: stored_crc,
            computed,
        });
    }
    let mut index = index_bytes;
    let truncated = SegmentError::Truncated {
        what: "segment index",
    };
    if index.remaining() < 12 {
        return Err(truncated);
    }
    let created_ms = index.get_i64_le();
    let count = index.get_u32_le() as usize;
    let mut chunks = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        if index.remaining() < 2 {
            return Err(SegmentError::Truncated {
                what: "segment index",
            });
        }
        let topic_len = index.get_u16_le() as usize;
        if index.remaining() < topic_len + 4 + 4 + 8 + 4 + 8 + 8 {
            return Err(SegmentError::Truncated {
                what: "segment index",
            });
        }
        let topic = std::str::from_utf8(&index[..topic_len])
            .map_err(|_| SegmentError::InvalidTopic)?
            .to_owned();
        index.advance(topic_len);
        chunks.push(ChunkLocation {
            topic,
            partition: index.get_u32_le(),
            record_count: index.get_u32_le(),
            offset: index.get_u64_le(),
            len: index.get_u32_le(),
            min_timestamp: index.get_i64_le(),
            max_timestamp: index.get_i64_le(),
        });
    }
    if index.has_remaining() {
        return Err(SegmentError::Truncated {
            what: "segment index",
        });
    }
    Ok(SegmentIndex { created_ms, chunks })
}

fn check_version(found: u16) -> Result<(), SegmentError> {
    if SUPPORTED_VERSIONS.contains(&found) {
        Ok(())
    } else {
        Err(SegmentError::UnsupportedVersion {
            found,
            supported: SUPPORTED_VERSIONS,
        })
    }
}

mod kafka_chunk;
use kafka_chunk::KafkaRecords;
pub use kafka_chunk::{KAFKA_CHUNK_VERSION, serve_kafka_chunk};

#[cfg(test)]
mod kafka_tests;
#[cfg(test)]
mod tests;
