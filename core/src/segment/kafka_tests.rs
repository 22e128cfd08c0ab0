use std::io::Write;

use bytes::Bytes;

use super::*;
use crate::kafka_batch::encode::BatchWriter;
use crate::kafka_batch::{RECORDS_AT, decode_batches};
use crate::record::{ATTR_HAS_KEY, ATTR_KEY_BINARY, ATTR_VALUE_JSON, ATTR_VALUE_NULL};

type Header<'a> = (&'a [u8], Option<&'a [u8]>);
type Row<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>, Vec<Header<'a>>);

/// One uncompressed batch of `rows` at offsets 0, 1, …, as a producer writes it.
fn batch(rows: &[Row<'_>]) -> Bytes {
    let mut writer = BatchWriter::new();
    for (offset, (timestamp, key, value, headers)) in rows.iter().enumerate() {
        writer.push(
            offset as i64,
            *timestamp,
            *key,
            *value,
            headers.iter().copied(),
        );
    }
    writer.finish()
}

/// `batch` with its records compressed by `compress` and marked with `codec`.
fn compressed(batch: &[u8], codec: i16, compress: impl Fn(&[u8]) -> Vec<u8>) -> Bytes {
    crate::kafka_batch::compressed(batch, codec, &compress(&batch[RECORDS_AT..]))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

const YEAR_2100_MS: i64 = 4_102_444_800_000;

/// Three batches as producers send them: uncompressed with every edge of a record,
/// zstd, gzip.
fn sample_batches() -> Vec<Bytes> {
    let first = batch(&[
        (
            0,
            Some(b"k".as_slice()),
            Some(br#"{"a":1}"#.as_slice()),
            vec![(b"h".as_slice(), Some(b"1".as_slice())), (b"h", None)],
        ),
        (YEAR_2100_MS, Some(&[0xff, 0xfe]), None, vec![]),
        (1, None, Some(b""), vec![]),
    ]);
    let second = batch(&[
        (5, None, Some(b"\x00\x01binary"), vec![]),
        (6, Some(b""), Some(b"text, not json"), vec![]),
    ]);
    let third = batch(&[(-7, Some(b"k"), Some(b"[1,2]"), vec![(b"", Some(b""))])]);
    vec![
        first,
        compressed(&second, 4, |bytes| {
            zstd::bulk::compress(bytes, 3).expect("zstd")
        }),
        compressed(&third, 1, gzip),
    ]
}

/// A chunk of `batches` kept as sent, in a segment beside a chunk of Silt records.
fn kafka_segment(batches: &[Bytes]) -> (EncodedSegment, Vec<crate::kafka_batch::KafkaBatch>) {
    let mut chunk = ChunkBuilder::kafka("t", 0, 0);
    let mut decoded = Vec::new();
    for raw in batches {
        let batch = decode_batches(raw.clone(), 1 << 20)
            .expect("decodes")
            .remove(0);
        assert!(batch.keeps_positions());
        let times = batch.records.iter().map(|record| record.timestamp);
        chunk.push_kafka_batch(
            raw,
            batch.records.len() as u32,
            times.clone().min().unwrap_or(0),
            times.max().unwrap_or(0),
        );
        decoded.push(batch);
    }
    let mut plain = ChunkBuilder::new("t", 1);
    let mut encoded = BytesMut::new();
    crate::record::Record {
        timestamp: 9,
        key: None,
        value: crate::record::RecordValue::Json("1".into()),
        headers: vec![],
    }
    .encode(&mut encoded);
    plain.push_encoded(&encoded, 9);
    (
        encode_segment(&mut [&mut plain, &mut chunk], Compression::Lz4, 0),
        decoded,
    )
}

fn frame(segment: &EncodedSegment, index: usize) -> Bytes {
    let location = &segment.chunks[index];
    segment
        .to_bytes()
        .slice(location.offset as usize..(location.offset + u64::from(location.len)) as usize)
}

#[test]
fn kafka_batches_are_read_back_as_the_records_they_hold() {
    let (segment, _) = kafka_segment(&sample_batches());
    let location = &segment.chunks[1];
    assert_eq!(
        (
            location.record_count,
            location.min_timestamp,
            location.max_timestamp
        ),
        (6, -7, YEAR_2100_MS)
    );
    let index = decode_segment_index(&segment.to_bytes()).expect("index");
    assert_eq!(index.chunks[1].record_count, 6);
    let chunk = decode_chunk(&frame(&segment, 1)).expect("chunk");
    assert_eq!(chunk.version, KAFKA_CHUNK_VERSION);
    let records = chunk.all_records().expect("records");
    let fields: Vec<_> = records
        .iter()
        .map(|record| {
            (
                record.attributes,
                record.timestamp,
                record.key.as_deref().map(<[u8]>::to_vec),
                record.kafka_value().map(|value| value.to_vec()),
            )
        })
        .collect();
    let json = ATTR_VALUE_JSON;
    let key = ATTR_HAS_KEY;
    assert_eq!(
        fields,
        vec![
            (
                key | json,
                0,
                Some(b"k".to_vec()),
                Some(br#"{"a":1}"#.to_vec())
            ),
            (
                key | ATTR_KEY_BINARY | ATTR_VALUE_NULL,
                YEAR_2100_MS,
                Some(vec![0xff, 0xfe]),
                None
            ),
            (0, 1, None, Some(vec![])),
            (0, 5, None, Some(b"\x00\x01binary".to_vec())),
            (key, 6, Some(vec![]), Some(b"text, not json".to_vec())),
            (key | json, -7, Some(b"k".to_vec()), Some(b"[1,2]".to_vec())),
        ]
    );
    // Headers in order, a key repeated, a value null, an empty name and value.
    let headers = |index: usize| -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        records[index]
            .headers
            .iter()
            .map(|(name, value)| (name.to_vec(), value.as_deref().map(<[u8]>::to_vec)))
            .collect()
    };
    assert_eq!(
        headers(0),
        vec![(b"h".to_vec(), Some(b"1".to_vec())), (b"h".to_vec(), None)]
    );
    assert_eq!(headers(5), vec![(vec![], Some(vec![]))]);
    // The chunk of Silt records beside it still reads.
    let plain = decode_chunk(&frame(&segment, 0)).expect("plain chunk");
    assert_eq!(plain.version, CHUNK_VERSION);
    assert_eq!(plain.all_records().expect("records").len(), 1);
}

#[test]
fn a_fetch_is_served_the_batches_as_sent_with_their_offsets() {
    let batches = sample_batches();
    let (segment, decoded) = kafka_segment(&batches);
    let chunk = decode_chunk(&frame(&segment, 1)).expect("chunk");
    // Stored uncompressed by Silt: the batches carry their own codecs.
    assert_eq!(
        chunk.payload.len(),
        batches.iter().map(Bytes::len).sum::<usize>()
    );
    let served = serve_kafka_chunk(&chunk.payload, 1000, 1000).expect("served");
    let again = decode_batches(served, 1 << 20).expect("served batches decode");
    assert_eq!(again.len(), 3);
    for ((served, sent), first_offset) in again.iter().zip(&batches).zip([1000i64, 1003, 1005]) {
        assert_eq!(served.raw[..8], first_offset.to_be_bytes());
        // From the magic byte on (CRC, codec, producer, records) the bytes are the
        // producer's.
        assert_eq!(served.raw[16..], sent[16..]);
    }
    let records = |batches: &[crate::kafka_batch::KafkaBatch]| -> Vec<_> {
        batches
            .iter()
            .flat_map(|batch| batch.records.clone())
            .collect()
    };
    assert_eq!(records(&again), records(&decoded));
    assert_eq!(again[1].codec, 4);
    assert_eq!(again[2].codec, 1);

    // A fetch from inside the chunk starts at the batch that holds its offset.
    let from_1004 = serve_kafka_chunk(&chunk.payload, 1000, 1004).expect("served");
    let from_1004 = decode_batches(from_1004, 1 << 20).expect("decodes");
    assert_eq!(from_1004.len(), 2);
    assert_eq!(from_1004[0].raw[..8], 1003i64.to_be_bytes());
    assert!(
        serve_kafka_chunk(&chunk.payload, 1000, 1006)
            .expect("served")
            .is_empty()
    );
    // A cut chunk is refused, not served short.
    let cut = &chunk.payload[..chunk.payload.len() - 1];
    assert!(serve_kafka_chunk(cut, 1000, 1000).is_err());
    assert!(serve_kafka_chunk(&chunk.payload[..30], 1000, 1000).is_err());
}

#[test]
fn a_damaged_batch_in_a_chunk_is_refused_by_its_crc() {
    let (segment, _) = kafka_segment(&sample_batches());
    let mut damaged = frame(&segment, 1).to_vec();
    damaged[CHUNK_HEADER_LEN + RECORDS_AT + 3] ^= 0x40;
    // A chunk checksum that matches the damage: only the batch's own CRC can tell.
    let body_end = damaged.len() - 4;
    let crc = crc32c::crc32c(&damaged[..body_end]);
    damaged[body_end..].copy_from_slice(&crc.to_le_bytes());
    let chunk = decode_chunk(&Bytes::from(damaged)).expect("frame checks out");
    let error = chunk.all_records().expect_err("the batch's crc catches it");
    assert!(error.to_string().contains("crc"), "{error}");
}

#[test]
fn only_batches_whose_offsets_are_their_positions_are_kept_as_sent() {
    let decode = |raw: Bytes| decode_batches(raw, 1 << 20).expect("decodes").remove(0);
    let mut gap = BatchWriter::new();
    gap.push(0, 1, None, Some(b"a"), std::iter::empty());
    gap.push(2, 1, None, Some(b"b"), std::iter::empty());
    assert!(!decode(gap.finish()).keeps_positions());
    assert!(!decode(BatchWriter::marker(0, 1, 0, true, 5)).keeps_positions());
    let mut appended = BatchWriter::log_append_time();
    appended.push(0, 1, None, Some(b"a"), std::iter::empty());
    assert!(!decode(appended.finish()).keeps_positions());
    let mut stretched = BatchWriter::new();
    stretched.push(0, 1, None, Some(b"a"), std::iter::empty());
    stretched.cover(0, 3);
    assert!(!decode(stretched.finish()).keeps_positions());
    assert!(decode(batch(&[(1, None, None, vec![])])).keeps_positions());
}

/// The bytes of a chunk of Kafka batches, pinned: a change fails here, and must come
/// with a new chunk version, a reader that still reads version 3, and the docs.
const PINNED_KAFKA_CHUNK_HEX: &str = "030002000000920000009200000000000000000000000000003d0000000002ecc46c110000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000116000000026b02760202680100000000000000010000003d0000000002ecc46c110000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000116000000026b0276020268014d9771f7";

#[test]
fn kafka_chunk_bytes_are_pinned() {
    let raw = batch(&[(
        1_700_000_000_000,
        Some(b"k".as_slice()),
        Some(b"v".as_slice()),
        vec![(b"h".as_slice(), None)],
    )]);
    let mut chunk = ChunkBuilder::kafka("t", 0, 0);
    chunk.push_kafka_batch(&raw, 1, 1_700_000_000_000, 1_700_000_000_000);
    chunk.push_kafka_batch(&raw, 1, 1_700_000_000_000, 1_700_000_000_000);
    let segment = encode_segment(&mut [&mut chunk], Compression::Lz4, 1_700_000_000_001);
    let hex: String = frame(&segment, 0)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        hex, PINNED_KAFKA_CHUNK_HEX,
        "chunk bytes changed: update docs/segment-format.md and bump the chunk version"
    );
}
