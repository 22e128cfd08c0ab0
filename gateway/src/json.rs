//! Rendering records as JSON. A value produced as JSON is stored verbatim and written
//! back verbatim; binary keys and values come back base64-encoded; a null value (a
//! tombstone) is `"value": null`; headers are an ordered list of `[name, value]` pairs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use silt_reader::FetchedRecord;

fn push_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            // Serialising a &str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, text);
        }
        Err(_) => {
            let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(bytes));
        }
    }
}

/// Appends one record object: offset, timestamp, key, value, headers; with `source`,
/// also the topic and partition (for consumer-group fetches that span partitions).
pub fn write_record(out: &mut Vec<u8>, fetched: &FetchedRecord, source: Option<(&str, u32)>) {
    let record = &fetched.record;
    out.extend_from_slice(b"{");
    if let Some((topic, partition)) = source {
        out.extend_from_slice(b"\"topic\":");
        push_json_string(out, topic.as_bytes());
        out.extend_from_slice(b",\"partition\":");
        out.extend_from_slice(partition.to_string().as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"offset\":");
    out.extend_from_slice(fetched.offset.to_string().as_bytes());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(record.timestamp.to_string().as_bytes());
    match &record.key {
        None => out.extend_from_slice(b",\"key\":null"),
        Some(key) if record.key_is_binary() => {
            out.extend_from_slice(b",\"key\":null,\"key_base64\":\"");
            out.extend_from_slice(BASE64.encode(key).as_bytes());
            out.push(b'"');
        }
        Some(key) => {
            out.extend_from_slice(b",\"key\":");
            push_json_string(out, key);
        }
    }
    if record.value_is_null() {
        out.extend_from_slice(b",\"value\":null");
    } else if record.value_is_json() {
        out.extend_from_slice(b",\"value\":");
        out.extend_from_slice(&record.value);
    } else {
        out.extend_from_slice(b",\"value\":null,\"value_base64\":\"");
        out.extend_from_slice(BASE64.encode(&record.value).as_bytes());
        out.push(b'"');
    }
    // Headers as `[name, value]` pairs, in order, names repeated as produced; a value is
    // a string, null, or `{"base64": ...}` for bytes that are not UTF-8.
    out.extend_from_slice(b",\"headers\":[");
    for (index, (name, value)) in record.headers.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'[');
        push_json_string(out, name);
        out.push(b',');
        match value {
            None => out.extend_from_slice(b"null"),
            Some(value) if std::str::from_utf8(value).is_ok() => push_json_string(out, value),
            Some(value) => {
                out.extend_from_slice(b"{\"base64\":\"");
                out.extend_from_slice(BASE64.encode(value).as_bytes());
                out.extend_from_slice(b"\"}");
            }
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]}");
}
