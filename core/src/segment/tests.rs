use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::record::{Record, RecordKey, RecordValue};

fn arb_record() -> impl Strategy<Value = Record> {
    let key = prop_oneof![
        Just(None),
        "[a-z0-9]{0,12}".prop_map(|text| Some(RecordKey::Text(text))),
        proptest::collection::vec(any::<u8>(), 0..16)
            .prop_map(|bytes| Some(RecordKey::Binary(Bytes::from(bytes)))),
    ];
    let value = prop_oneof![
        "[a-z ]{0,40}".prop_map(|text| RecordValue::Json(format!("{{\"text\":\"{text}\"}}"))),
        proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(|bytes| RecordValue::Binary(Bytes::from(bytes))),
        Just(RecordValue::Null),
        Just(RecordValue::Binary(Bytes::new())),
    ];
    // Few names, so that they repeat; values null or bytes (empty ones too).
    let headers = proptest::collection::vec(
        (
            "[a-c]{1,2}",
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        ),
        0..6,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value)| (name, value.map(Bytes::from)))
            .collect()
    });
    (any::<i64>(), key, value, headers).prop_map(|(timestamp, key, value, headers)| Record {
        timestamp,
        key,
        value,
        headers,
    })
}

fn build_chunks(partitions: &[Vec<Record>]) -> Vec<ChunkBuilder> {
    partitions
        .iter()
        .enumerate()
        .map(|(partition, records)| {
            let mut chunk = ChunkBuilder::new(format!("topic-{}", partition % 3), partition as u32);
            for record in records {
                let mut encoded = BytesMut::new();
                record.encode(&mut encoded);
                assert_eq!(encoded.len(), record.encoded_len());
                chunk.push_encoded(&encoded, record.timestamp);
            }
            chunk
        })
        .collect()
}

fn decode_all(segment: &EncodedSegment) -> Vec<Vec<Record>> {
    let object = segment.to_bytes();
    let index = decode_segment_index(&object).expect("index decodes");
    assert_eq!(index.chunks, segment.chunks);
    for (location, frame) in segment.chunks.iter().zip(&segment.frames) {
        let at = location.offset as usize;
        assert_eq!(&object[at..at + location.len as usize], &frame[..]);
    }
    index
        .chunks
        .iter()
        .map(|location| {
            let frame = segment
                .to_bytes()
                .slice(location.offset as usize..(location.offset + location.len as u64) as usize);
            let chunk = decode_chunk(&frame).expect("chunk decodes");
            chunk
                .all_records()
                .expect("records decode")
                .iter()
                .map(|stored| stored.to_record().expect("record converts"))
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn segment_round_trip(
        partitions in proptest::collection::vec(proptest::collection::vec(arb_record(), 1..20), 1..6),
        compressed in any::<bool>(),
    ) {
        let compression = if compressed { Compression::Lz4 } else { Compression::None };
        let mut chunks = build_chunks(&partitions);
        let segment = encode_segment(&mut chunks.iter_mut().collect::<Vec<_>>(), compression, 1_700_000_000_000);
        prop_assert_eq!(decode_all(&segment), partitions);
    }
}

fn sample_segment(compression: Compression) -> EncodedSegment {
    let records: Vec<Record> = (0..50)
        .map(|i| Record {
            timestamp: 1_700_000_000_000 + i,
            key: Some(RecordKey::Text(format!("key-{i}"))),
            value: RecordValue::Json(format!("{{\"n\":{i},\"pad\":\"aaaaaaaaaaaaaaaaaaaa\"}}")),
            headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
        })
        .collect();
    encode_segment(
        &mut build_chunks(&[records]).iter_mut().collect::<Vec<_>>(),
        compression,
        0,
    )
}

#[test]
fn every_flipped_byte_in_a_chunk_is_detected() {
    for compression in [Compression::None, Compression::Lz4] {
        let segment = sample_segment(compression);
        let location = &segment.chunks[0];
        let frame = segment
            .to_bytes()
            .slice(location.offset as usize..(location.offset + location.len as u64) as usize);
        assert!(decode_chunk(&frame).is_ok());
        for position in 0..frame.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut corrupted = frame.to_vec();
                corrupted[position] ^= flip;
                let result = decode_chunk(&Bytes::from(corrupted));
                assert!(
                    matches!(result, Err(SegmentError::ChecksumMismatch { .. })),
                    "flip {flip:#x} at byte {position} of {} ({compression:?}) went undetected: {result:?}",
                    frame.len()
                );
            }
        }
    }
}

#[test]
fn truncated_chunk_is_rejected() {
    let segment = sample_segment(Compression::Lz4);
    let location = &segment.chunks[0];
    let frame = segment
        .to_bytes()
        .slice(location.offset as usize..(location.offset + location.len as u64) as usize);
    for len in [0, 5, CHUNK_OVERHEAD - 1, frame.len() - 1] {
        assert!(decode_chunk(&frame.slice(..len)).is_err(), "length {len}");
    }
}

#[test]
fn unknown_version_is_rejected_naming_it() {
    let segment = sample_segment(Compression::None);
    let mut bytes = segment.to_bytes().to_vec();
    bytes[8] = 7; // header version
    let error = decode_segment_index(&bytes).expect_err("version 7 must be rejected");
    let message = error.to_string();
    assert!(
        message.contains("version 7") && message.contains("[1]"),
        "{message}"
    );

    let mut bytes = segment.to_bytes().to_vec();
    let trailer_version = bytes.len() - 8;
    bytes[trailer_version] = 9;
    let error = decode_segment_index(&bytes).expect_err("trailer version 9 must be rejected");
    assert!(error.to_string().contains("version 9"), "{error}");

    // A chunk of an unknown version whose checksum is valid is still refused by name.
    let location = &segment.chunks[0];
    let mut frame = segment.to_bytes()
        [location.offset as usize..(location.offset + location.len as u64) as usize]
        .to_vec();
    frame[0] = 9;
    let body_end = frame.len() - 4;
    let crc = crc32c::crc32c(&frame[..body_end]);
    frame[body_end..].copy_from_slice(&crc.to_le_bytes());
    let error = decode_chunk(&Bytes::from(frame)).expect_err("chunk version 9 must be rejected");
    assert!(error.to_string().contains("version 9"), "{error}");
}

#[test]
fn bad_magic_and_corrupt_index_are_rejected() {
    let segment = sample_segment(Compression::Lz4);
    let mut bytes = segment.to_bytes().to_vec();
    bytes[0] = b'X';
    assert!(matches!(
        decode_segment_index(&bytes),
        Err(SegmentError::BadMagic)
    ));
    let mut bytes = segment.to_bytes().to_vec();
    let inside_index = bytes.len() - TRAILER_LEN - 3;
    bytes[inside_index] ^= 0x10;
    assert!(matches!(
        decode_segment_index(&bytes),
        Err(SegmentError::ChecksumMismatch { .. })
    ));
}

/// Pins the encoded bytes of a small segment so a format change is always deliberate.
#[test]
fn encoded_bytes_are_pinned() {
    let records = vec![
        Record {
            timestamp: 1_700_000_000_000,
            key: Some(RecordKey::Text("k".into())),
            value: RecordValue::Json("{\"a\":1}".into()),
            headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
        },
        Record {
            timestamp: 1_700_000_000_000,
            key: None,
            value: RecordValue::Null,
            headers: vec![("h".into(), None), ("h".into(), Some(Bytes::new()))],
        },
    ];
    let segment = encode_segment(
        &mut build_chunks(&[records]).iter_mut().collect::<Vec<_>>(),
        Compression::None,
        1_700_000_000_001,
    );
    let hex: String = segment
        .to_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        hex, PINNED_SEGMENT_HEX,
        "segment bytes changed: update docs/segment-format.md and bump the version"
    );
}

/// A segment written before chunk version 2 (no nulls) still reads back.
#[test]
fn version_1_segments_are_still_read() {
    let bytes: Vec<u8> = (0..VERSION_1_SEGMENT_HEX.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&VERSION_1_SEGMENT_HEX[at..at + 2], 16).expect("hex"))
        .collect();
    let segment = EncodedSegment {
        chunks: decode_segment_index(&bytes).expect("index").chunks,
        parts: vec![Bytes::from(bytes)],
        frames: vec![],
    };
    let records = decode_all(&segment);
    assert_eq!(
        records,
        vec![vec![Record {
            timestamp: 1_700_000_000_000,
            key: Some(RecordKey::Text("k".into())),
            value: RecordValue::Json("{\"a\":1}".into()),
            headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
        }]]
    );
}

const PINNED_SEGMENT_HEX: &str = concat!(
    "53494c545345473101000000",
    "020002000000480000004800000023000000030068e5cf8b010000010000006b070000007b2261223a317d010001006801000000761d00000008",
    "0068e5cf8b010000000000000200010068ffffffff01006800000000c2c57f7a0168e5cf8b010000010000000700746f7069632d300000",
    "0000020000000c000000000000005a0000000068e5cf8b0100000068e5cf8b010000660000000000000039000000855e645b0100000053494c54",
);

/// The pinned segment of chunk version 1, as Silt wrote it before nulls.
const VERSION_1_SEGMENT_HEX: &str = concat!(
    "53494c545345473101000000",
    "010001000000270000002700000023000000030068e5cf8b010000010000006b070000007b2261223a317d010001006801000000762ad3664e",
    "0168e5cf8b010000010000000700746f7069632d3000000000010000000c00000000000000390000000068e5cf8b0100000068e5cf8b010000",
    "45000000000000003900000064039f5d0100000053494c54",
);

/// Decodes whatever `object` holds as far as it goes: its index, then every chunk the
/// index locates inside it, then their records. Answers how many records decoded.
fn decode_whatever(object: &Bytes) -> usize {
    // The tail a reader reads first, of any length, with the true size and a wrong one.
    for tail_len in [TRAILER_LEN, 64, object.len()] {
        let tail = &object[object.len().saturating_sub(tail_len)..];
        for size in [object.len() as u64, object.len() as u64 + 7] {
            let _ = decode_segment_tail(tail, size);
        }
    }
    let Ok(index) = decode_segment_index(object) else {
        return 0;
    };
    let mut records = 0;
    for location in &index.chunks {
        let end = location.offset.saturating_add(u64::from(location.len));
        if end > object.len() as u64 {
            continue;
        }
        let frame = object.slice(location.offset as usize..end as usize);
        if let Ok(chunk) = decode_chunk(&frame)
            && let Ok(stored) = chunk.all_records()
        {
            records += stored.len();
            for record in stored {
                let _ = record.to_record();
            }
        }
    }
    records
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Segment objects are read back from a bucket anyone with its keys may write:
    /// random bytes and mutated segments (flipped, inserted, cut) decode or fail, never
    /// panic.
    #[test]
    fn mutated_or_random_segments_never_panic(
        random in proptest::collection::vec(any::<u8>(), 0..2048),
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 0..12),
        compressed in any::<bool>(),
    ) {
        decode_whatever(&Bytes::from(random));
        let compression = if compressed { Compression::Lz4 } else { Compression::None };
        let mut object = sample_segment(compression).to_bytes().to_vec();
        for (at, byte, kind) in edits {
            let at = usize::from(at) % (object.len() + 1);
            match kind {
                0 if at < object.len() => object[at] ^= byte | 1,
                1 => object.insert(at, byte),
                2 => object.truncate(at),
                _ => object.extend(std::iter::repeat_n(byte, usize::from(byte % 32))),
            }
        }
        decode_whatever(&Bytes::from(object));
    }
}

/// A reader finds a segment's index from its end: from a tail that holds it, or by
/// reading the range a short tail names; a damaged or foreign tail is an error.
#[test]
fn the_index_is_read_from_the_tail_of_the_object() {
    let segment = sample_segment(Compression::Lz4);
    let bytes = &segment.to_bytes()[..];
    let size = bytes.len() as u64;
    let whole = decode_segment_index(bytes).expect("index");
    let from_tail = |tail_len: usize| decode_segment_tail(&bytes[bytes.len() - tail_len..], size);
    match from_tail(bytes.len()).expect("whole object as tail") {
        SegmentTail::Index(index) => assert_eq!(index.chunks, whole.chunks),
        other => panic!("{other:?}"),
    }
    let needed = match from_tail(TRAILER_LEN).expect("trailer only") {
        SegmentTail::Needs(range) => range,
        other => panic!("{other:?}"),
    };
    assert_eq!(needed.end, size);
    match decode_segment_tail(&bytes[needed.start as usize..], size).expect("the range named") {
        SegmentTail::Index(index) => assert_eq!(index.chunks, whole.chunks),
        other => panic!("{other:?}"),
    }
    assert!(from_tail(TRAILER_LEN - 1).is_err());
    assert!(
        decode_segment_tail(bytes, size + 1).is_err(),
        "a wrong size"
    );
    let mut damaged = bytes.to_vec();
    let inside_index = damaged.len() - TRAILER_LEN - 3;
    damaged[inside_index] ^= 0x10;
    assert!(matches!(
        decode_segment_tail(&damaged, size),
        Err(SegmentError::ChecksumMismatch { .. })
    ));
}

/// Chunks are written by topic, then partition, whatever order they come in, so a
/// topic's chunks are one byte range; their locations keep the callers' order.
#[test]
fn chunks_are_laid_out_by_topic_and_partition() {
    let given = [("b", 1), ("a", 0), ("b", 0), ("a", 1)];
    let mut builders: Vec<ChunkBuilder> = given
        .iter()
        .map(|&(topic, partition)| {
            let mut chunk = ChunkBuilder::new(topic, partition);
            let mut encoded = BytesMut::new();
            Record {
                timestamp: 1,
                key: None,
                value: RecordValue::Json(format!("\"{topic}{partition}\"")),
                headers: vec![],
            }
            .encode(&mut encoded);
            chunk.push_encoded(&encoded, 1);
            chunk
        })
        .collect();
    let segment = encode_segment(
        &mut builders.iter_mut().collect::<Vec<_>>(),
        Compression::None,
        0,
    );
    let named: Vec<(&str, u32)> = segment
        .chunks
        .iter()
        .map(|location| (location.topic.as_str(), location.partition))
        .collect();
    assert_eq!(named, given, "locations in the callers' order");
    let mut by_offset = segment.chunks.clone();
    by_offset.sort_by_key(|location| location.offset);
    let written: Vec<(&str, u32)> = by_offset
        .iter()
        .map(|location| (location.topic.as_str(), location.partition))
        .collect();
    assert_eq!(written, vec![("a", 0), ("a", 1), ("b", 0), ("b", 1)]);
    assert_eq!(
        decode_segment_index(&segment.to_bytes())
            .expect("index")
            .chunks
            .len(),
        4
    );
}

/// A chunk stored as it is becomes its frame where its builder wrote it, and a builder
/// that outgrew its room still gives the right frame (from a copy).
#[test]
fn a_chunk_stored_as_it_is_is_not_copied() {
    let mut roomy = ChunkBuilder::with_capacity("t", 0, 64);
    let mut cramped = ChunkBuilder::with_capacity("t", 1, 1);
    let mut encoded = BytesMut::new();
    Record {
        timestamp: 5,
        key: None,
        value: RecordValue::Json("{}".into()),
        headers: vec![],
    }
    .encode(&mut encoded);
    roomy.push_encoded(&encoded, 5);
    cramped.push_encoded(&encoded, 5);
    let payload_at = roomy.payload.as_ptr() as usize;
    let segment = encode_segment(&mut [&mut roomy, &mut cramped], Compression::None, 0);
    assert_eq!(
        segment.frames[0].as_ptr() as usize + CHUNK_HEADER_LEN,
        payload_at,
        "the frame is the builder's own buffer"
    );
    assert!(
        roomy.payload.is_empty(),
        "the payload moved into the segment"
    );
    assert_eq!(
        segment.frames[0][CHUNK_HEADER_LEN..],
        segment.frames[1][CHUNK_HEADER_LEN..]
    );
    assert_eq!(decode_all(&segment).len(), 2);
}

#[test]
fn lz4_keeps_a_chunk_compressed_only_when_smaller() {
    let compressible = sample_segment(Compression::Lz4);
    let plain = sample_segment(Compression::None);
    assert_eq!(compressible.frames[0][1], Compression::Lz4.code());
    assert!(compressible.frames[0].len() < plain.frames[0].len());
    assert_eq!(decode_all(&compressible), decode_all(&plain));

    // Random bytes do not shrink: the chunk is stored as it is, in its builder's buffer.
    let mut noise = ChunkBuilder::with_capacity("t", 0, 4096);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut encoded = BytesMut::new();
    Record {
        timestamp: 1,
        key: None,
        value: RecordValue::Binary(Bytes::from_iter((0..2048).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        }))),
        headers: vec![],
    }
    .encode(&mut encoded);
    noise.push_encoded(&encoded, 1);
    let payload_at = noise.payload.as_ptr() as usize;
    let segment = encode_segment(&mut [&mut noise], Compression::Lz4, 0);
    assert_eq!(segment.frames[0][1], Compression::None.code());
    assert_eq!(
        segment.frames[0].as_ptr() as usize + CHUNK_HEADER_LEN,
        payload_at
    );
    assert_eq!(decode_all(&segment).len(), 1);
}
