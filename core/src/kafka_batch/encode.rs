//! Writing an uncompressed v2 record batch, as Silt serves records to a Kafka fetch.
//! Each record is written as Kafka defines it: nullable key and value, and its headers
//! in order, keys repeated and values null as they were produced.

use bytes::{BufMut, Bytes, BytesMut};

use super::{RECORDS_AT, seal};

/// Builds one batch, record by record.
pub struct BatchWriter {
    records: BytesMut,
    count: i32,
    base_offset: i64,
    last_offset: i64,
    base_timestamp: i64,
    max_timestamp: i64,
    /// The batch's timestamps are the broker's append time (attribute bit 3).
    log_append_time: bool,
    /// The transaction's producer (id, epoch) of a transactional batch (attribute bit 4).
    producer: Option<(i64, i16)>,
    /// A record's fields before its length is known, reused.
    scratch: BytesMut,
}

/// Attribute bits of a batch (Kafka's `RecordBatch` attributes).
const LOG_APPEND_TIME: i16 = 0x08;
const TRANSACTIONAL: i16 = 0x10;
const CONTROL: i16 = 0x20;

impl BatchWriter {
    pub fn new() -> BatchWriter {
        BatchWriter {
            records: BytesMut::new(),
            count: 0,
            base_offset: 0,
            last_offset: 0,
            base_timestamp: 0,
            max_timestamp: -1,
            log_append_time: false,
            producer: None,
            scratch: BytesMut::new(),
        }
    }

    /// A batch of a transaction's records, written by `producer_id` at `epoch`: clients
    /// reading committed records skip it when its transaction is in the fetch's aborted
    /// transactions.
    pub fn transactional(mut self, producer_id: i64, epoch: i16) -> BatchWriter {
        self.producer = Some((producer_id, epoch));
        self
    }

    /// A batch whose timestamps are the broker's append time: its attributes say so,
    /// and clients take its max timestamp as every record's, as Kafka has it.
    pub fn log_append_time() -> BatchWriter {
        BatchWriter {
            log_append_time: true,
            ..BatchWriter::new()
        }
    }

    /// Whether this batch's timestamps are the broker's append time.
    pub fn is_log_append_time(&self) -> bool {
        self.log_append_time
    }

    /// The batch's max timestamp so far (-1 while empty).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Stretches the batch to end at `last_offset`, past offsets a key compaction
    /// removed after its last record (Kafka's batches keep their last offset delta when
    /// compaction removes their last records, so consumers step over the gap); an empty
    /// batch then starts at `first_offset`. Offsets never shrink.
    pub fn cover(&mut self, first_offset: i64, last_offset: i64) {
        if self.count == 0 {
            self.base_offset = first_offset;
            self.last_offset = first_offset.max(last_offset);
        } else {
            self.last_offset = self.last_offset.max(last_offset);
        }
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds the record at `offset`; offsets must grow, by at most `i32::MAX` over the
    /// batch (a stored chunk's are contiguous).
    pub fn push<'h>(
        &mut self,
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl ExactSizeIterator<Item = (&'h [u8], Option<&'h [u8]>)>,
    ) {
        if self.count == 0 {
            self.base_offset = offset;
            self.base_timestamp = timestamp;
        }
        self.count += 1;
        self.last_offset = offset;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let scratch = &mut self.scratch;
        scratch.clear();
        scratch.put_u8(0); // record attributes: none are defined
        put_varlong(scratch, timestamp.wrapping_sub(self.base_timestamp));
        put_varlong(scratch, offset.wrapping_sub(self.base_offset));
        put_nullable(scratch, key);
        put_nullable(scratch, value);
        put_varlong(scratch, headers.len() as i64);
        for (name, value) in headers {
            put_nullable(scratch, Some(name));
            put_nullable(scratch, value);
        }
        put_varlong(&mut self.records, scratch.len() as i64);
        self.records.put_slice(scratch);
    }

    /// The batch: header, records, length and CRC.
    pub fn finish(self) -> Bytes {
        let mut attributes = if self.log_append_time {
            LOG_APPEND_TIME
        } else {
            0
        };
        if self.producer.is_some() {
            attributes |= TRANSACTIONAL;
        }
        self.finish_with(attributes)
    }

    /// A transaction's commit or abort marker at `offset`: a control batch of one
    /// record whose key holds the marker's type and whose value holds the coordinator
    /// epoch (Kafka's `EndTransactionMarker`).
    pub fn marker(
        offset: i64,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        timestamp: i64,
    ) -> Bytes {
        let mut writer = BatchWriter::new().transactional(producer_id, epoch);
        let mut key = [0u8; 4];
        key[2..].copy_from_slice(&i16::from(commit).to_be_bytes());
        // Version 0, coordinator epoch 0.
        let value = [0u8; 6];
        writer.push(
            offset,
            timestamp,
            Some(&key),
            Some(&value),
            std::iter::empty(),
        );
        writer.finish_with(TRANSACTIONAL | CONTROL)
    }

    fn finish_with(self, attributes: i16) -> Bytes {
        let (producer_id, epoch) = self.producer.unwrap_or((-1, -1));
        let mut out = BytesMut::with_capacity(RECORDS_AT + self.records.len());
        out.put_i64(self.base_offset);
        out.put_i32(0); // length, written by `seal`
        out.put_i32(0); // partition leader epoch: the one epoch Silt has
        out.put_i8(2); // magic
        out.put_u32(0); // CRC, written by `seal`
        // Attributes: no compression; transactional, control, log-append time as set.
        out.put_i16(attributes);
        out.put_i32(self.last_offset.wrapping_sub(self.base_offset) as i32);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(producer_id);
        out.put_i16(epoch);
        out.put_i32(-1); // base sequence
        out.put_i32(self.count);
        out.put_slice(&self.records);
        seal(&mut out);
        out.freeze()
    }
}

impl Default for BatchWriter {
    fn default() -> Self {
        BatchWriter::new()
    }
}

/// A zigzag varint of up to 64 bits (Kafka's varint and varlong are the same bytes).
fn put_varlong(out: &mut BytesMut, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.put_u8((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.put_u8(zigzag as u8);
}

/// A length (-1 for null) and the bytes.
fn put_nullable(out: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varlong(out, -1),
        Some(bytes) => {
            put_varlong(out, bytes.len() as i64);
            out.put_slice(bytes);
        }
    }
}
