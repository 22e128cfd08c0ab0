//! Random and mutated input fed to every decoder a client reaches: Kafka request frames
//! of every API and version Silt accepts, Kafka record batches in every codec, and HTTP
//! produce bodies. Nothing may panic, and what decoding one input allocates in all is
//! bounded by a small multiple of its size (plus, for a batch, what its records may
//! decompress to and a decompressor's fixed working memory).
//!
//! One test in its own binary, so the counting allocator sees this thread alone. It
//! runs for `SILT_FUZZ_SECONDS` (default 20) from `SILT_FUZZ_SEED` (default: the clock);
//! a failure prints the seed and the input.

use std::alloc::System;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use silt_core::coordinator::Topic;
use silt_gateway::kafka::batch::{self, ATTRIBUTES_AT, RECORDS_AT};
use silt_gateway::kafka::decode::{Decoded, Request, SUPPORTED, decode_request};
use silt_gateway::kafka::guard;
use silt_gateway::produce::prepare;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What decoding may allocate per input byte, and in any case.
const PER_BYTE: usize = 64;
const FIXED: usize = 64 << 10;
/// What a batch's records may decompress to, in this test.
const DECOMPRESS_LIMIT: usize = 256 << 10;
/// A decompressor's own working memory: lz4 frames declare blocks of up to 4 MiB and
/// the decoder holds an input and an output block.
const DECOMPRESSOR: usize = 9 << 20;

thread_local! {
    /// The most bytes allocated per input byte seen, by input kind, for the report.
    static WORST: std::cell::RefCell<[f64; 3]> = const { std::cell::RefCell::new([0.0; 3]) };
}

fn note(kind: usize, bytes: usize, input: usize) {
    if input >= 1024 {
        WORST.with(|worst| {
            let ratio = bytes as f64 / input as f64;
            let slot = &mut worst.borrow_mut()[kind];
            *slot = slot.max(ratio);
        });
    }
}

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Bytes allocated while `f` runs (reallocations counted by their growth).
fn allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    let change = region.change();
    let grown = usize::try_from(change.bytes_reallocated).unwrap_or(0);
    (out, change.bytes_allocated + grown)
}

/// A request header of the version `api` uses at `version`.
fn header(api: ApiKey, version: i16) -> Vec<u8> {
    let header_version = api.request_header_version(version);
    let mut out = Vec::new();
    out.extend_from_slice(&(api as i16).to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&7_i32.to_be_bytes());
    if header_version >= 1 {
        out.extend_from_slice(&4_i16.to_be_bytes());
        out.extend_from_slice(b"fuzz");
    }
    if header_version >= 2 {
        out.push(0);
    }
    out
}

/// One of the ways a hostile client bends a valid input.
fn mutate(random: &mut Random, input: &mut Vec<u8>, from: usize) {
    let span = input.len().saturating_sub(from).max(1);
    let at = from + random.below(span);
    match random.below(8) {
        0 => {}
        1 => {
            for _ in 0..1 + random.below(4) {
                let at = from + random.below(span);
                if at < input.len() {
                    input[at] = random.next() as u8;
                }
            }
        }
        2 => input.truncate(at),
        3 => {
            // A count or length at its extreme.
            let value: [u8; 4] = match random.below(4) {
                0 => 0x7fff_ffff_u32.to_be_bytes(),
                1 => 0xffff_ffff_u32.to_be_bytes(),
                2 => 0x8000_0000_u32.to_be_bytes(),
                _ => [0xff, 0xff, 0xff, 0x0f],
            };
            for (offset, byte) in value.iter().enumerate() {
                if let Some(slot) = input.get_mut(at + offset) {
                    *slot = *byte;
                }
            }
        }
        4 => {
            // Varint continuation bytes, endless or long.
            for offset in 0..1 + random.below(12) {
                if let Some(slot) = input.get_mut(at + offset) {
                    *slot = 0xff;
                }
            }
        }
        5 => {
            let extra = random.bytes(64);
            input.extend_from_slice(&extra);
        }
        6 => {
            let length = input.len();
            input.truncate(from.min(length));
            let noise = random.bytes(256);
            input.extend_from_slice(&noise);
        }
        _ => {
            // A stretch repeated, as a confused client might resend it.
            let end = (at + random.below(32)).min(input.len());
            let stretch = input[at.min(end)..end].to_vec();
            input.splice(at.min(input.len())..at.min(input.len()), stretch);
        }
    }
}

fn fail(seed: u64, what: &str, input: &[u8], detail: String) -> ! {
    // Restores the default hook, silenced while panics are caught.
    let _ = std::panic::take_hook();
    let shown: String = input.iter().take(512).map(|b| format!("{b:02x}")).collect();
    panic!(
        "seed {seed}: {what}: {detail}\ninput ({} bytes): {shown}",
        input.len()
    );
}

/// Decodes a frame and, for a produce, its record batches; checks no panic and the
/// allocation bounds: the frame's decode alone, then its batches with what they may
/// decompress to.
fn kafka_frame(seed: u64, frame: &[u8]) {
    let input = Bytes::copy_from_slice(frame);
    let run = catch_unwind(AssertUnwindSafe(|| allocated(|| decode_request(input))));
    let (decoded, bytes) = match run {
        Err(_) => fail(
            seed,
            "a kafka frame panicked the decoder",
            frame,
            String::new(),
        ),
        Ok(done) => done,
    };
    note(0, bytes, frame.len());
    let bound = PER_BYTE * frame.len() + FIXED;
    if bytes > bound {
        fail(
            seed,
            "a kafka frame allocated beyond its bound",
            frame,
            format!("{bytes} > {bound}"),
        );
    }
    if let Ok(Decoded::Request { request, .. }) = &decoded
        && let Request::Produce(produce) = &**request
    {
        for topic in &produce.topic_data {
            for partition in &topic.partition_data {
                if let Some(raw) = &partition.records {
                    record_batches(seed, raw);
                }
            }
        }
    }
}

/// Decodes the record batches of one partition; checks no panic and the allocation
/// bound.
fn record_batches(seed: u64, raw: &Bytes) {
    let run = catch_unwind(AssertUnwindSafe(|| {
        allocated(|| batch::decode_batches(raw.clone(), DECOMPRESS_LIMIT).is_ok())
    }));
    match run {
        Err(_) => fail(
            seed,
            "a record batch panicked the decoder",
            raw,
            String::new(),
        ),
        Ok((_, bytes)) => {
            note(1, bytes, raw.len());
            let bound = PER_BYTE * raw.len() + FIXED + 2 * DECOMPRESS_LIMIT + DECOMPRESSOR;
            if bytes > bound {
                fail(
                    seed,
                    "a record batch allocated beyond its bound",
                    raw,
                    format!("{bytes} > {bound}"),
                );
            }
        }
    }
}

fn kafka_frames(seed: u64, random: &mut Random, deadline: Instant) -> usize {
    let mut count = 0;
    while Instant::now() < deadline {
        for (api, min, max) in SUPPORTED {
            let Some(schema) = guard::schema(*api) else {
                panic!("no schema for {api:?}");
            };
            for version in *min..=*max {
                let mut frame = header(*api, version);
                let header_len = frame.len();
                // Now and then wide arrays, for frames of many kilobytes.
                let widest = if random.below(8) == 0 { 24 } else { 4 };
                let elements = 1 + random.below(widest) as u64;
                let mut draw = || random.next();
                frame.extend(guard::generate(schema, version, elements, &mut draw));
                // The unchanged frame decodes.
                kafka_frame(seed, &frame);
                if count == 0 {
                    for cut in 0..frame.len() {
                        kafka_frame(seed, &frame[..cut]);
                    }
                }
                for _ in 0..8 {
                    let mut mutated = frame.clone();
                    // Mostly the body; now and then the header too.
                    let from = if random.below(4) == 0 { 0 } else { header_len };
                    mutate(random, &mut mutated, from);
                    kafka_frame(seed, &mutated);
                    count += 1;
                }
            }
        }
    }
    count
}

fn record(random: &mut Random, offset: i64) -> Record {
    let mut headers = indexmap::IndexMap::new();
    for index in 0..random.below(3) {
        let value = (random.below(3) > 0).then(|| Bytes::from(random.bytes(8)));
        headers.insert(StrBytes::from_string(format!("h{index}")), value);
    }
    let timestamps = [0, -1, 999_999_999_999, 1_764_000_000_000, i64::MAX / 2];
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: -1,
        timestamp: timestamps[random.below(timestamps.len())],
        key: (random.below(2) == 0).then(|| Bytes::from(random.bytes(16))),
        value: (random.below(4) > 0).then(|| Bytes::from(random.bytes(200))),
        headers,
    }
}

/// A valid batch in a random codec (compressed here, as a client would).
fn random_batch(random: &mut Random) -> Vec<u8> {
    let records: Vec<Record> = (0..random.below(6) as i64)
        .map(|offset| record(random, offset))
        .collect();
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    if RecordBatchEncoder::encode(&mut out, &records, &options).is_err() {
        panic!("the codec crate could not encode a batch");
    }
    let plain = out.to_vec();
    if plain.len() < RECORDS_AT {
        return plain;
    }
    let body = &plain[RECORDS_AT..];
    let (codec, compressed): (i16, Vec<u8>) = match random.below(5) {
        0 => return plain,
        1 => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let done = encoder.write_all(body).and_then(|()| encoder.finish());
            (1, done.unwrap_or_default())
        }
        2 => (
            2,
            snap::raw::Encoder::new()
                .compress_vec(body)
                .unwrap_or_default(),
        ),
        3 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            let done = encoder.write_all(body).map_err(std::io::Error::other);
            (
                3,
                done.and_then(|()| encoder.finish().map_err(std::io::Error::other))
                    .unwrap_or_default(),
            )
        }
        _ => (4, zstd::stream::encode_all(body, 1).unwrap_or_default()),
    };
    let mut batch = plain[..RECORDS_AT].to_vec();
    batch.extend_from_slice(&compressed);
    batch[ATTRIBUTES_AT + 1] |= codec as u8;
    batch::seal(&mut batch);
    batch
}

fn kafka_batches(seed: u64, random: &mut Random, deadline: Instant) -> usize {
    let mut count = 0;
    while Instant::now() < deadline {
        let mut input = random_batch(random);
        if random.below(8) > 0 {
            mutate(random, &mut input, ATTRIBUTES_AT);
            // Mostly with a CRC that matches, so the damage reaches the records.
            if random.below(4) > 0 {
                batch::seal(&mut input);
            }
        }
        record_batches(seed, &Bytes::from(input));
        count += 1;
    }
    count
}

/// A random produce body: mostly the shape Silt expects, with random field values.
fn http_body(random: &mut Random) -> Vec<u8> {
    let values = [
        "1",
        "null",
        "\"text\"",
        "{\"a\":[1,2,{\"b\":null}]}",
        "-0.5e300",
        "18446744073709551616",
        "\"\\ud800\"",
        "[[[[[[[[[[]]]]]]]]]]",
    ];
    let mut records = Vec::new();
    for _ in 0..random.below(40) {
        let mut fields = Vec::new();
        for _ in 0..random.below(4) {
            fields.push(match random.below(9) {
                0 => format!("\"value\":{}", values[random.below(values.len())]),
                1 => "\"key\":\"k\"".to_string(),
                2 => "\"key\":null".to_string(),
                3 => "\"value_base64\":\"AAEC\"".to_string(),
                4 => "\"value_base64\":\"!!\"".to_string(),
                5 => format!("\"partition\":{}", random.next() as i64 % 5),
                6 => format!("\"timestamp\":{}", random.next() as i64),
                7 => "\"headers\":{\"a\":\"1\",\"a\":\"2\",\"b\":null}".to_string(),
                _ => "\"unknown\":1".to_string(),
            });
        }
        records.push(format!("{{{}}}", fields.join(",")));
    }
    let mut body = format!("{{\"records\":[{}]}}", records.join(",")).into_bytes();
    mutate(random, &mut body, 0);
    body
}

fn http_bodies(seed: u64, random: &mut Random, deadline: Instant) -> usize {
    let topic = Topic {
        topic_id: 1,
        name: "fuzz".into(),
        partitions: 3,
        retention_ms: None,
        retention_bytes: None,
        created_at_ms: 0,
        value_schema: None,
        configs: Default::default(),
    };
    let sticky = AtomicU32::new(0);
    // The smallest records, as many as a request may hold and one more.
    let tiny = |record: &str, count: usize| {
        format!("{{\"records\":[{}]}}", vec![record; count].join(",")).into_bytes()
    };
    let mut fixed = vec![
        tiny("{\"value\":1}", 100_000),
        tiny("{\"value\":1}", 100_001),
        tiny("{}", 100_000),
        tiny("{\"key\":\"\",\"value\":1}", 100_000),
    ];
    let mut count = 0;
    while Instant::now() < deadline {
        let body = fixed.pop().unwrap_or_else(|| http_body(random));
        let ndjson = random.below(4) == 0;
        let body = if ndjson {
            // The same records one per line.
            String::from_utf8_lossy(&body)
                .replacen("{\"records\":[", "", 1)
                .replace("},{", "}\n{")
                .into_bytes()
        } else {
            body
        };
        let run = catch_unwind(AssertUnwindSafe(|| {
            allocated(|| prepare(&topic, &body, ndjson, 1 << 20, &sticky, 0).is_ok())
        }));
        match run {
            Err(_) => fail(
                seed,
                "a produce body panicked the parser",
                &body,
                String::new(),
            ),
            Ok((_, bytes)) => {
                note(2, bytes, body.len());
                let bound = PER_BYTE * body.len() + FIXED;
                if bytes > bound {
                    fail(
                        seed,
                        "a produce body allocated beyond its bound",
                        &body,
                        format!("{bytes} > {bound}"),
                    );
                }
            }
        }
        count += 1;
    }
    count
}

#[test]
fn hostile_input_never_panics_and_allocates_within_bounds() {
    let seed = std::env::var("SILT_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |elapsed| elapsed.as_nanos() as u64)
        });
    let seconds: u64 = std::env::var("SILT_FUZZ_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(20);
    let share = Duration::from_secs(seconds) / 3;
    // A panic is caught and reported with its input; keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let mut random = Random(seed);
    let frames = kafka_frames(seed, &mut random, Instant::now() + share);
    let batches = kafka_batches(seed, &mut random, Instant::now() + share);
    let bodies = http_bodies(seed, &mut random, Instant::now() + share);
    let _ = std::panic::take_hook();
    let worst = WORST.with(|worst| *worst.borrow());
    eprintln!(
        "seed {seed}: {frames} kafka frames, {batches} record batches, {bodies} produce \
         bodies; most bytes allocated per input byte (inputs of 1 KiB or more): \
         {:.1}, {:.1}, {:.1}",
        worst[0], worst[1], worst[2]
    );
    assert!(frames > 0 && batches > 0 && bodies > 0);
}
