//! Records as stored in segment chunks: key, value, headers and timestamp, plus the
//! attributes that let a value produced as JSON come back as the same JSON.
//!
//! Encoding of one record (all integers little-endian):
//! `u32 body_len | u8 attributes | i64 timestamp | [u32 key_len, key] | u32 value_len,
//! value | u16 header_count | (u16 name_len, name, u32 value_len, value)*`.
//! The key fields are present only when the `HAS_KEY` attribute is set. A null value
//! (Kafka's tombstone) has the `VALUE_NULL` attribute and length 0; a null header value
//! has the length `u32::MAX` and no bytes. Headers keep their order, names may repeat.
//! Chunks of version 1 hold neither; version 2 chunks may.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

/// The value holds UTF-8 JSON text; otherwise it is opaque bytes.
pub const ATTR_VALUE_JSON: u8 = 0b0000_0001;
/// The record has a key.
pub const ATTR_HAS_KEY: u8 = 0b0000_0010;
/// The key was produced as binary (`key_base64`) rather than as a string.
pub const ATTR_KEY_BINARY: u8 = 0b0000_0100;
/// The value is null (a Kafka tombstone), which is not the empty value.
pub const ATTR_VALUE_NULL: u8 = 0b0000_1000;
/// The timestamp is the gateway's append time (the topic's `message.timestamp.type` was
/// `LogAppendTime`), not the producer's. Readers before it refuse such a record by name
/// (`unknown attribute bits`) rather than misread it.
pub const ATTR_LOG_APPEND_TIME: u8 = 0b0001_0000;
const KNOWN_ATTRIBUTES: u8 =
    ATTR_VALUE_JSON | ATTR_HAS_KEY | ATTR_KEY_BINARY | ATTR_VALUE_NULL | ATTR_LOG_APPEND_TIME;
/// The length that marks a null header value.
const NULL_LEN: u32 = u32::MAX;

/// Whether a value that arrived as bytes (a Kafka record's) reads back as JSON: it is
/// non-empty JSON text. Any other value reads back as binary.
pub fn bytes_are_json(value: &[u8]) -> bool {
    !value.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(value).is_ok()
}

/// Whether a key that arrived as bytes reads back as binary: it is not UTF-8. Either
/// way its bytes are kept.
pub fn key_is_binary(key: &[u8]) -> bool {
    std::str::from_utf8(key).is_err()
}

/// A record ready to be stored, borrowed from the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub timestamp: i64,
    pub key: Option<RecordKey>,
    pub value: RecordValue,
    pub headers: Vec<(String, Option<Bytes>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    Text(String),
    Binary(Bytes),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    /// Valid JSON text, stored verbatim.
    Json(String),
    Binary(Bytes),
    /// No value: Kafka's tombstone.
    Null,
}

impl RecordKey {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            RecordKey::Text(text) => text.as_bytes(),
            RecordKey::Binary(bytes) => bytes,
        }
    }
}

impl RecordValue {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            RecordValue::Json(text) => text.as_bytes(),
            RecordValue::Binary(bytes) => bytes,
            RecordValue::Null => &[],
        }
    }
}

/// A record's fields, borrowed from wherever they were parsed: what encoding needs.
#[derive(Debug, Clone, Copy)]
pub struct RecordParts<'a> {
    pub timestamp: i64,
    /// The key's bytes and whether it was produced as binary.
    pub key: Option<(&'a [u8], bool)>,
    /// `None`: a null value.
    pub value: Option<&'a [u8]>,
    pub value_is_json: bool,
    /// In order; a name may repeat, a value may be null.
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// `timestamp` is the gateway's append time ([`ATTR_LOG_APPEND_TIME`]).
    pub log_append_time: bool,
}

impl RecordParts<'_> {
    /// Why these parts cannot be stored, when a field is wider than the format holds
    /// (more than 65,535 headers, a header name over 65,535 bytes, a key, value or
    /// header value of 4 GiB). Callers refuse such a record before encoding it.
    pub fn format_error(&self) -> Option<&'static str> {
        let too_long = |bytes: Option<&[u8]>| bytes.is_some_and(|b| b.len() >= NULL_LEN as usize);
        if self.headers.len() > usize::from(u16::MAX) {
            Some("a record may have at most 65535 headers")
        } else if self
            .headers
            .iter()
            .any(|(name, _)| name.len() > usize::from(u16::MAX))
        {
            Some("a header name may be at most 65535 bytes")
        } else if too_long(self.key.map(|(key, _)| key))
            || too_long(self.value)
            || self.headers.iter().any(|(_, value)| too_long(*value))
        {
            Some("a key, value or header value is too long")
        } else {
            None
        }
    }

    /// Bytes the record takes once encoded.
    pub fn encoded_len(&self) -> usize {
        let key_len = self.key.map_or(0, |(key, _)| 4 + key.len());
        let headers_len: usize = self
            .headers
            .iter()
            .map(|(name, value)| 2 + name.len() + 4 + value.map_or(0, <[u8]>::len))
            .sum();
        4 + 1 + 8 + key_len + 4 + self.value.map_or(0, <[u8]>::len) + 2 + headers_len
    }

    /// Appends the encoded record to `out`. Sizes beyond the format's field widths are
    /// a caller bug: the gateway's limits are far below them.
    pub fn encode(&self, out: &mut BytesMut) {
        let body_len = self.encoded_len() - 4;
        out.reserve(body_len + 4);
        out.put_u32_le(body_len as u32);
        let mut attributes = 0u8;
        match self.value {
            None => attributes |= ATTR_VALUE_NULL,
            Some(_) if self.value_is_json => attributes |= ATTR_VALUE_JSON,
            Some(_) => {}
        }
        if self.log_append_time {
            attributes |= ATTR_LOG_APPEND_TIME;
        }
        if let Some((_, binary)) = self.key {
            attributes |= ATTR_HAS_KEY;
            if binary {
                attributes |= ATTR_KEY_BINARY;
            }
        }
        out.put_u8(attributes);
        out.put_i64_le(self.timestamp);
        if let Some((key, _)) = self.key {
            out.put_u32_le(key.len() as u32);
            out.put_slice(key);
        }
        let value = self.value.unwrap_or_default();
        out.put_u32_le(value.len() as u32);
        out.put_slice(value);
        out.put_u16_le(self.headers.len() as u16);
        for (name, value) in self.headers {
            out.put_u16_le(name.len() as u16);
            out.put_slice(name.as_bytes());
            match value {
                None => out.put_u32_le(NULL_LEN),
                Some(value) => {
                    out.put_u32_le(value.len() as u32);
                    out.put_slice(value);
                }
            }
        }
    }
}

impl Record {
    fn with_parts<T>(&self, use_parts: impl FnOnce(&RecordParts<'_>) -> T) -> T {
        let headers: Vec<(&str, Option<&[u8]>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_deref()))
            .collect();
        let parts = RecordParts {
            timestamp: self.timestamp,
            key: self
                .key
                .as_ref()
                .map(|key| (key.as_bytes(), matches!(key, RecordKey::Binary(_)))),
            value: (!matches!(self.value, RecordValue::Null)).then(|| self.value.as_bytes()),
            value_is_json: matches!(self.value, RecordValue::Json(_)),
            headers: &headers,
            log_append_time: false,
        };
        use_parts(&parts)
    }

    /// Bytes this record takes once encoded.
    pub fn encoded_len(&self) -> usize {
        self.with_parts(|parts| parts.encoded_len())
    }

    /// Appends the encoded record to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        self.with_parts(|parts| parts.encode(out));
    }
}

/// A record decoded from a chunk; its byte fields share the chunk's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub attributes: u8,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    /// Empty when the value is null ([`StoredRecord::value_is_null`]).
    pub value: Bytes,
    pub headers: Vec<(Bytes, Option<Bytes>)>,
    /// Bytes the record took in the chunk, for fetch size limits.
    pub encoded_len: usize,
}

impl StoredRecord {
    pub fn value_is_json(&self) -> bool {
        self.attributes & ATTR_VALUE_JSON != 0
    }

    pub fn key_is_binary(&self) -> bool {
        self.attributes & ATTR_KEY_BINARY != 0
    }

    /// Whether the timestamp is the gateway's append time.
    pub fn log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }

    /// Whether the value is null (a tombstone), not merely empty.
    pub fn value_is_null(&self) -> bool {
        self.attributes & ATTR_VALUE_NULL != 0
    }

    /// The value as Kafka defines it: `None` for a tombstone.
    pub fn kafka_value(&self) -> Option<&Bytes> {
        (!self.value_is_null()).then_some(&self.value)
    }

    /// Turns the stored form back into the record that was produced.
    pub fn to_record(&self) -> Result<Record, RecordDecodeError> {
        let key = match &self.key {
            None => None,
            Some(key) if self.key_is_binary() => Some(RecordKey::Binary(key.clone())),
            Some(key) => Some(RecordKey::Text(utf8(key)?)),
        };
        let value = if self.value_is_null() {
            RecordValue::Null
        } else if self.value_is_json() {
            RecordValue::Json(utf8(&self.value)?)
        } else {
            RecordValue::Binary(self.value.clone())
        };
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| Ok((utf8(name)?, value.clone())))
            .collect::<Result<_, RecordDecodeError>>()?;
        Ok(Record {
            timestamp: self.timestamp,
            key,
            value,
            headers,
        })
    }
}

fn utf8(bytes: &Bytes) -> Result<String, RecordDecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| RecordDecodeError::InvalidUtf8)
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordDecodeError {
    #[error("record is truncated: needed {needed} more bytes")]
    Truncated { needed: usize },
    #[error("record has unknown attribute bits {0:#04x}")]
    UnknownAttributes(u8),
    #[error("record length field {declared} does not match its contents ({actual})")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("record text field is not valid UTF-8")]
    InvalidUtf8,
}

fn need(buf: &Bytes, len: usize) -> Result<(), RecordDecodeError> {
    if buf.remaining() < len {
        return Err(RecordDecodeError::Truncated {
            needed: len - buf.remaining(),
        });
    }
    Ok(())
}

fn take(buf: &mut Bytes, len: usize) -> Result<Bytes, RecordDecodeError> {
    need(buf, len)?;
    Ok(buf.split_to(len))
}

/// Decodes the next record from the front of `buf`, advancing it.
pub fn decode_record(buf: &mut Bytes) -> Result<StoredRecord, RecordDecodeError> {
    need(buf, 4)?;
    let body_len = buf.get_u32_le() as usize;
    let mut body = take(buf, body_len)?;
    need(&body, 1 + 8)?;
    let attributes = body.get_u8();
    if attributes & !KNOWN_ATTRIBUTES != 0 {
        return Err(RecordDecodeError::UnknownAttributes(attributes));
    }
    let timestamp = body.get_i64_le();
    let key = if attributes & ATTR_HAS_KEY != 0 {
        need(&body, 4)?;
        let len = body.get_u32_le() as usize;
        Some(take(&mut body, len)?)
    } else {
        None
    };
    need(&body, 4)?;
    let value_len = body.get_u32_le() as usize;
    let value = take(&mut body, value_len)?;
    need(&body, 2)?;
    let header_count = body.get_u16_le() as usize;
    let mut headers = Vec::with_capacity(header_count.min(64));
    for _ in 0..header_count {
        need(&body, 2)?;
        let name_len = body.get_u16_le() as usize;
        let name = take(&mut body, name_len)?;
        need(&body, 4)?;
        let value_len = body.get_u32_le();
        let value = match value_len {
            NULL_LEN => None,
            len => Some(take(&mut body, len as usize)?),
        };
        headers.push((name, value));
    }
    if body.has_remaining() {
        return Err(RecordDecodeError::LengthMismatch {
            declared: body_len,
            actual: body_len - body.remaining(),
        });
    }
    Ok(StoredRecord {
        attributes,
        timestamp,
        key,
        value,
        headers,
        encoded_len: body_len + 4,
    })
}
