use std::io::Write;

use bytes::{BufMut, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use bytes::Bytes;
use silt_core::kafka_batch::*;

fn crate_record(offset: i64, timestamp: i64, key: Option<&str>, value: Option<&[u8]>) -> Record {
    let mut headers = IndexMap::new();
    headers.insert(
        StrBytes::from_static_str("h"),
        Some(Bytes::from_static(b"v")),
    );
    headers.insert(StrBytes::from_static_str("null"), None);
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: 7,
        producer_epoch: 1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: 3 + offset as i32,
        timestamp,
        key: key.map(|key| Bytes::copy_from_slice(key.as_bytes())),
        value: value.map(Bytes::copy_from_slice),
        headers,
    }
}

/// An uncompressed batch written by the codec crate's encoder.
fn crate_batch(records: &[Record]) -> Bytes {
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut out, records, &options).expect("encode");
    out.freeze()
}

/// `batch` (one uncompressed batch) with its records compressed by `compress` and
/// marked with `codec`; the length and CRC are written anew.
fn recompress(batch: &[u8], codec: i16, compress: impl Fn(&[u8]) -> Vec<u8>) -> Bytes {
    compressed(batch, codec, &compress(&batch[RECORDS_AT..]))
}

/// Writes a batch's length and CRC.
fn finish(mut out: Vec<u8>) -> Bytes {
    seal(&mut out);
    Bytes::from(out)
}

fn expected() -> Vec<KafkaRecord> {
    let headers = vec![
        ("h".to_string(), Some(Bytes::from_static(b"v"))),
        ("null".to_string(), None),
    ];
    vec![
        KafkaRecord {
            timestamp: 999_999_999_999,
            offset_delta: 0,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: headers.clone(),
        },
        KafkaRecord {
            timestamp: 1_764_000_000_000,
            offset_delta: 1,
            key: None,
            value: Some(Bytes::from_static(b"")),
            headers: headers.clone(),
        },
        KafkaRecord {
            timestamp: 0,
            offset_delta: 2,
            key: Some(Bytes::from_static(b"")),
            value: Some(Bytes::from_static(b"payload")),
            headers,
        },
    ]
}

fn sample() -> Bytes {
    crate_batch(&[
        crate_record(0, 999_999_999_999, Some("k"), None),
        crate_record(1, 1_764_000_000_000, None, Some(b"")),
        crate_record(2, 0, Some(""), Some(b"payload")),
    ])
}

#[test]
fn decodes_the_codec_crates_batches_exactly() {
    let batches = decode_batches(sample(), 1 << 20).expect("decode");
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(
        (batch.producer_id, batch.producer_epoch, batch.base_sequence),
        (7, 1, 3)
    );
    assert!(!batch.transactional && !batch.control && !batch.log_append_time);
    assert_eq!(batch.records, expected());
    // Two batches back to back.
    let mut two = sample().to_vec();
    two.extend_from_slice(&sample());
    assert_eq!(
        decode_batches(Bytes::from(two), 1 << 20)
            .expect("two")
            .len(),
        2
    );
}

#[test]
fn every_codec_decodes_to_the_same_records() {
    let batch = sample();
    let gzip = |data: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    };
    let snappy_raw = |data: &[u8]| {
        snap::raw::Encoder::new()
            .compress_vec(data)
            .expect("snappy")
    };
    let snappy_framed = |data: &[u8]| {
        let mut out = XERIAL_SNAPPY_MAGIC.to_vec();
        out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for chunk in data.chunks(40) {
            let block = snap::raw::Encoder::new()
                .compress_vec(chunk)
                .expect("snappy");
            out.put_u32(block.len() as u32);
            out.extend_from_slice(&block);
        }
        out
    };
    let lz4 = |data: &[u8]| {
        let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
        encoder.write_all(data).expect("lz4");
        encoder.finish().expect("lz4")
    };
    let zstd = |data: &[u8]| zstd::stream::encode_all(data, 1).expect("zstd");
    let compressed = [
        recompress(&batch, 1, gzip),
        recompress(&batch, 2, snappy_raw),
        recompress(&batch, 2, snappy_framed),
        recompress(&batch, 3, lz4),
        recompress(&batch, 4, zstd),
    ];
    for (index, batch) in compressed.into_iter().enumerate() {
        let decoded =
            decode_batches(batch, 1 << 20).unwrap_or_else(|error| panic!("{index}: {error}"));
        assert_eq!(decoded[0].records, expected(), "codec case {index}");
    }
    // A framed snappy payload cut inside a block is an error, not a panic.
    let cut = recompress(&batch, 2, |data| {
        let framed = snappy_framed(data);
        framed[..framed.len() - 3].to_vec()
    });
    assert!(decode_batches(cut, 1 << 20).is_err());
}

/// A record whose header key repeats keeps both headers, in order.
#[test]
fn repeated_header_keys_are_kept_in_order() {
    let mut record = vec![0u8];
    record.push(0); // timestamp delta 0
    record.push(0); // offset delta 0
    record.push(1); // key: null (-1)
    record.push(2); // value: 1 byte
    record.push(b'v');
    record.push(6); // 3 headers
    for (key, value) in [
        (&b"a"[..], Some(&b"1"[..])),
        (b"a", None),
        (b"b", Some(b"2")),
    ] {
        record.push((key.len() * 2) as u8);
        record.extend_from_slice(key);
        match value {
            Some(value) => {
                record.push((value.len() * 2) as u8);
                record.extend_from_slice(value);
            }
            None => record.push(1),
        }
    }
    let mut batch = sample()[..RECORDS_AT].to_vec();
    batch[57..61].copy_from_slice(&1_i32.to_be_bytes());
    batch.push((record.len() * 2) as u8);
    batch.extend_from_slice(&record);
    let decoded = decode_batches(finish(batch), 1 << 20).expect("decode");
    assert_eq!(
        decoded[0].records[0].headers,
        vec![
            ("a".to_string(), Some(Bytes::from_static(b"1"))),
            ("a".to_string(), None),
            ("b".to_string(), Some(Bytes::from_static(b"2"))),
        ]
    );
    assert_eq!(decoded[0].records[0].key, None);
}

#[test]
fn huge_counts_are_refused_before_anything_is_reserved() {
    let mut batch = sample().to_vec();
    batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        decode_batches(finish(batch), 1 << 20),
        Err(BatchError::Count {
            what: "a record count",
            ..
        })
    ));
    // One record whose header count is 2^30.
    let mut record = vec![0u8, 0, 0, 1, 1];
    record.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
    let mut batch = sample()[..RECORDS_AT].to_vec();
    batch[57..61].copy_from_slice(&1_i32.to_be_bytes());
    batch.push((record.len() * 2) as u8);
    batch.extend_from_slice(&record);
    assert!(matches!(
        decode_batches(finish(batch), 1 << 20),
        Err(BatchError::Count {
            what: "a header count",
            ..
        })
    ));
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    let zeros = vec![0u8; 64 << 20];
    let bomb = zstd::stream::encode_all(&zeros[..], 3).expect("zstd");
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let batch = recompress(&sample(), 4, |_| bomb.clone());
    assert_eq!(
        decode_batches(batch, 1 << 20),
        Err(BatchError::TooLarge { limit: 1 << 20 })
    );
    let snappy_bomb = snap::raw::Encoder::new()
        .compress_vec(&zeros)
        .expect("snappy");
    let batch = recompress(&sample(), 2, |_| snappy_bomb.clone());
    assert_eq!(
        decode_batches(batch, 1 << 20),
        Err(BatchError::TooLarge { limit: 1 << 20 })
    );
    // The limit spans all the batches of a request.
    let mut two = sample().to_vec();
    two.extend_from_slice(&sample());
    let one_batch = sample().len() - RECORDS_AT;
    assert!(decode_batches(Bytes::from(two), one_batch + 10).is_err());
}

#[test]
fn a_damaged_byte_is_caught_by_the_crc_and_every_prefix_is_refused() {
    let batch = sample();
    let mut damaged = batch.to_vec();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(matches!(
        decode_batches(Bytes::from(damaged), 1 << 20),
        Err(BatchError::Crc { .. })
    ));
    for cut in 1..batch.len() {
        assert!(
            decode_batches(batch.slice(..cut), 1 << 20).is_err(),
            "prefix {cut}"
        );
    }
    let mut old = batch.to_vec();
    old[16] = 1;
    assert_eq!(
        decode_batches(Bytes::from(old), 1 << 20),
        Err(BatchError::Magic(1))
    );
}

/// What Silt writes for a fetch reads back exactly (null key, null value, a header key
/// twice, a null header value, timestamps decades apart), by Silt's decoder and by the
/// codec crate's.
#[test]
fn written_batches_keep_every_record_exactly() {
    let records = [
        (
            40,
            999_999_999_999,
            None,
            None,
            vec![("k", Some(&b"1"[..])), ("k", None)],
        ),
        (
            41,
            1_764_000_000_000,
            Some(&b""[..]),
            Some(&b""[..]),
            vec![],
        ),
        (
            42,
            0,
            Some(&b"key"[..]),
            Some(&b"value"[..]),
            vec![
                ("a", Some(&b""[..])),
                ("b", Some(&b"2"[..])),
                ("a", Some(&b"3"[..])),
            ],
        ),
    ];
    let mut writer = encode::BatchWriter::new();
    for (offset, timestamp, key, value, headers) in &records {
        writer.push(
            *offset,
            *timestamp,
            *key,
            *value,
            headers
                .iter()
                .map(|(name, value)| (name.as_bytes(), *value)),
        );
    }
    let batch = writer.finish();
    let decoded = decode_batches(batch.clone(), 1 << 20).expect("decode");
    let got = &decoded[0].records;
    assert_eq!(got.len(), 3);
    for (record, (_, timestamp, key, value, headers)) in got.iter().zip(&records) {
        assert_eq!(record.timestamp, *timestamp);
        assert_eq!(record.key.as_deref(), *key);
        assert_eq!(record.value.as_deref(), *value);
        let want: Vec<(String, Option<Bytes>)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.map(Bytes::copy_from_slice)))
            .collect();
        assert_eq!(record.headers, want);
    }
    // The codec crate agrees on offsets, timestamps, nulls and the CRC.
    let mut input = batch;
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut input).expect("codec");
    let offsets: Vec<i64> = set.records.iter().map(|record| record.offset).collect();
    assert_eq!(offsets, [40, 41, 42]);
    assert_eq!(set.records[0].timestamp, 999_999_999_999);
    assert_eq!(set.records[0].value, None);
    assert_eq!(set.records[1].value.as_deref(), Some(&b""[..]));
}
