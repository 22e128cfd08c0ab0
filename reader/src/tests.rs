use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use silt_core::ErrorKind;
use silt_core::coordinator::{ChunkCommit, ChunkOutcome, Coordinator, SegmentCommit, TopicConfig};
use silt_core::keys::SegmentId;
use silt_core::record::{Record, RecordKey, RecordValue};
use silt_core::segment::{ChunkBuilder, Compression, encode_segment};

use crate::{CacheConfig, ChunkCache, FetchRequest, ReadError, Reader, ViewCost};

struct Fixture {
    store: Arc<dyn ObjectStore>,
    coordinator: Arc<dyn Coordinator>,
    reader: Reader,
    topic_id: i64,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator: Arc<dyn Coordinator> =
        silt_coordinator::open_sqlite(&dir.path().join("meta.db"))
            .await
            .expect("coordinator");
    let topic = coordinator
        .create_topic(TopicConfig {
            value_schema: None,
            name: "t".into(),
            partitions: 2,
            retention_ms: None,
            retention_bytes: None,
            configs: Default::default(),
        })
        .await
        .expect("topic");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let cache = ChunkCache::open(&CacheConfig::default())
        .await
        .expect("cache");
    let reader = Reader::new(Arc::clone(&store), Arc::clone(&coordinator), cache);
    Fixture {
        store,
        coordinator,
        reader,
        topic_id: topic.topic_id,
        _dir: dir,
    }
}

fn record(n: u64, value_len: usize) -> Record {
    Record {
        timestamp: n as i64,
        key: Some(RecordKey::Text(format!("k{n}"))),
        value: RecordValue::Json(format!(
            "{{\"n\":{n},\"pad\":\"{}\"}}",
            "p".repeat(value_len)
        )),
        headers: vec![],
    }
}

/// Writes one segment holding `counts[p]` records for partition `p`, numbered from
/// `first[p]`, and commits it. Returns the object key.
async fn write_segment(f: &Fixture, chunks: &[(u32, u64, u64)]) -> String {
    let builders: Vec<ChunkBuilder> = chunks
        .iter()
        .map(|&(partition, first, count)| {
            let mut chunk = ChunkBuilder::new("t", partition);
            for n in first..first + count {
                let mut encoded = BytesMut::new();
                let record = record(n, 10);
                record.encode(&mut encoded);
                chunk.push_encoded(&encoded, record.timestamp);
            }
            chunk
        })
        .collect();
    put_and_commit(f, &builders, Compression::Lz4, &|_| f.topic_id).await
}

/// Encodes `builders` into one segment, puts it and commits every chunk (topic ids by
/// name); answers the object key.
async fn put_and_commit(
    f: &Fixture,
    builders: &[ChunkBuilder],
    compression: Compression,
    topic_id: &dyn Fn(&str) -> i64,
) -> String {
    let mut builders = builders.to_vec();
    let segment = encode_segment(&mut builders.iter_mut().collect::<Vec<_>>(), compression, 0);
    let key = SegmentId::generate().object_key();
    f.store
        .put(
            &ObjectPath::from(key.as_str()),
            PutPayload::from_bytes(segment.to_bytes()),
        )
        .await
        .expect("put");
    let commit = SegmentCommit {
        object_key: key.clone(),
        object_size: segment.len() as u64,
        chunks: builders
            .iter()
            .zip(&segment.chunks)
            .map(|(chunk, location)| ChunkCommit {
                topic_id: topic_id(&chunk.topic),
                topic: chunk.topic.clone(),
                partition: chunk.partition,
                record_count: chunk.record_count,
                byte_offset: location.offset,
                byte_len: location.len,
                min_timestamp: chunk.min_timestamp,
                max_timestamp: chunk.max_timestamp,
                producer: None,
                kafka: None,
                txn: None,
                request: 0,
            })
            .collect(),
    };
    let outcomes = f.coordinator.commit_segment(commit).await.expect("commit");
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, ChunkOutcome::Committed { .. }))
    );
    key
}

/// Changes one byte of a stored object, at `at(object length)`.
async fn flip_byte(f: &Fixture, key: &str, at: impl Fn(usize) -> usize) {
    let path = ObjectPath::from(key);
    let mut bytes = f
        .store
        .get(&path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let at = at(bytes.len());
    bytes[at] ^= 0x55;
    f.store
        .put(&path, PutPayload::from_bytes(Bytes::from(bytes)))
        .await
        .expect("overwrite");
}

fn request(offset: u64, max_records: usize, max_bytes: usize) -> FetchRequest {
    FetchRequest {
        topic: "t".into(),
        partition: 0,
        offset,
        max_records,
        max_bytes,
        isolation: silt_core::transactions::Isolation::ReadCommitted,
    }
}

fn numbers(result: &crate::FetchResult) -> Vec<u64> {
    result
        .records
        .iter()
        .map(|fetched| {
            let value: serde_json::Value =
                serde_json::from_slice(&fetched.record.value).expect("json");
            assert_eq!(
                value["n"].as_u64(),
                Some(fetched.offset),
                "record at offset {} holds another",
                fetched.offset
            );
            fetched.offset
        })
        .collect()
}

#[tokio::test]
async fn fetch_spans_chunks_and_segments_from_any_offset() {
    let f = fixture().await;
    write_segment(&f, &[(0, 0, 5), (1, 0, 3)]).await;
    write_segment(&f, &[(0, 5, 7)]).await;
    write_segment(&f, &[(1, 3, 2), (0, 12, 4)]).await;

    let all = f
        .reader
        .fetch(&request(0, 100, 1 << 20))
        .await
        .expect("fetch");
    assert_eq!(numbers(&all), (0..16).collect::<Vec<_>>());
    assert_eq!((all.next_offset, all.offsets.high_watermark), (16, 16));

    let middle = f
        .reader
        .fetch(&request(6, 100, 1 << 20))
        .await
        .expect("fetch");
    assert_eq!(numbers(&middle), (6..16).collect::<Vec<_>>());

    let limited = f
        .reader
        .fetch(&request(3, 4, 1 << 20))
        .await
        .expect("fetch");
    assert_eq!(numbers(&limited), vec![3, 4, 5, 6]);
    assert_eq!(limited.next_offset, 7);

    // max_bytes bounds the answer, but the first record always comes back.
    let one = f.reader.fetch(&request(2, 100, 1)).await.expect("fetch");
    assert_eq!(numbers(&one), vec![2]);
    let record_len = one.records[0].record.encoded_len;
    let two = f
        .reader
        .fetch(&request(2, 100, 2 * record_len))
        .await
        .expect("fetch");
    assert_eq!(numbers(&two), vec![2, 3]);

    let at_end = f
        .reader
        .fetch(&request(16, 100, 1 << 20))
        .await
        .expect("fetch");
    assert!(at_end.records.is_empty());
    assert_eq!(at_end.next_offset, 16);
    let beyond = f
        .reader
        .fetch(&request(17, 100, 1 << 20))
        .await
        .expect_err("beyond the high watermark");
    assert_eq!(beyond.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn chunks_are_read_once_then_served_from_the_cache() {
    let f = fixture().await;
    write_segment(&f, &[(0, 0, 10)]).await;
    f.reader
        .fetch(&request(0, 100, 1 << 20))
        .await
        .expect("fetch");
    assert_eq!(f.reader.object_reads(), 1);
    for offset in [0, 4, 9] {
        f.reader
            .fetch(&request(offset, 100, 1 << 20))
            .await
            .expect("fetch");
    }
    assert_eq!(
        f.reader.object_reads(),
        1,
        "cached chunks must not be read again"
    );
}

#[tokio::test]
async fn a_corrupted_object_is_an_error_not_garbage() {
    let f = fixture().await;
    let key = write_segment(&f, &[(0, 0, 10)]).await;
    flip_byte(&f, &key, |_| 40).await;
    let error = f
        .reader
        .fetch(&request(0, 100, 1 << 20))
        .await
        .expect_err("corruption must be detected");
    assert!(matches!(error, ReadError::Corrupt { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::Corrupt);
    assert!(error.to_string().contains("checksum"), "{error}");
}

#[test]
fn fault_specs_parse_and_reject_nonsense() {
    use crate::storage::FaultConfig;
    let config: FaultConfig =
        "error_rate=0.2, timeout_rate=0.05,timeout_ms=300,reset_rate=0.01,latency_ms=2,seed=9"
            .parse()
            .expect("spec");
    assert_eq!(
        (
            config.error_rate,
            config.timeout_rate,
            config.timeout_ms,
            config.reset_rate,
            config.latency_ms,
            config.seed
        ),
        (0.2, 0.05, 300, 0.01, 2, 9)
    );
    for bad in [
        "error_rate=2",
        "reset_rate=-0.1",
        "error_rate",
        "colour=red",
        "seed=-1",
        "latency_ms=fast",
    ] {
        assert!(bad.parse::<FaultConfig>().is_err(), "{bad}");
    }
}

/// A reset write lands, but its writer sees an error, as when an answer is lost.
#[tokio::test]
async fn a_reset_write_lands_but_reports_an_error() {
    use object_store::{ObjectStoreExt, PutPayload};

    use crate::storage::{FaultConfig, FaultInjector, InterceptedStore};
    let inner: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let injector = FaultInjector::new(FaultConfig {
        reset_rate: 1.0,
        ..FaultConfig::default()
    });
    let faulty = InterceptedStore::new(Arc::clone(&inner), injector);
    let path = object_store::path::Path::from("segments/x.seg");
    let error = faulty
        .put(&path, PutPayload::from_static(b"landed"))
        .await
        .expect_err("the answer is lost");
    assert!(error.to_string().contains("connection reset"), "{error}");
    let stored = inner.get(&path).await.expect("it landed");
    assert_eq!(stored.bytes().await.expect("bytes").as_ref(), b"landed");
    assert!(faulty.get(&path).await.is_err(), "reads are reset too");
}

#[tokio::test]
async fn injected_faults_are_retried_by_the_read_path() {
    use crate::storage::{FaultConfig, FaultInjector, InterceptedStore};
    let f = fixture().await;
    write_segment(&f, &[(0, 0, 10)]).await;
    // Every other request fails: each read succeeds within the reader's retries.
    let config = FaultConfig {
        error_rate: 0.5,
        seed: 3,
        ..FaultConfig::default()
    };
    let injector = FaultInjector::new(config);
    let injected = Arc::clone(&injector.injected);
    let faulty: Arc<dyn ObjectStore> =
        Arc::new(InterceptedStore::new(Arc::clone(&f.store), injector));
    for round in 0..5 {
        let cache = ChunkCache::open(&CacheConfig::default())
            .await
            .expect("cache");
        let reader = Reader::new(Arc::clone(&faulty), Arc::clone(&f.coordinator), cache);
        let result = reader
            .fetch(&request(0, 100, 1 << 20))
            .await
            .expect("fetch despite faults");
        assert_eq!(
            numbers(&result),
            (0..10).collect::<Vec<_>>(),
            "round {round}"
        );
    }
    assert!(injected.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

fn partition_request(partition: u32) -> FetchRequest {
    FetchRequest {
        partition,
        ..request(0, 100, 1 << 20)
    }
}

#[tokio::test]
async fn misses_read_whole_segments_once_several_partitions_are_read() {
    let f = fixture().await;
    for first in [0, 3, 6] {
        write_segment(&f, &[(0, first, 3), (1, first, 3)]).await;
    }
    let reads = || f.reader.object_reads();
    // A consumer of one partition is served just its chunks.
    let zero = f
        .reader
        .fetch(&partition_request(0))
        .await
        .expect("fetch 0");
    assert_eq!(numbers(&zero), (0..9).collect::<Vec<_>>());
    assert_eq!(reads(), 3, "one ranged GET per chunk");
    assert_eq!(f.reader.whole_segment_reads(), 0);
    // A second partition of the topic misses: from now on a miss reads its whole
    // segment, and caches the other partitions' chunks with it.
    let one = f
        .reader
        .fetch(&partition_request(1))
        .await
        .expect("fetch 1");
    assert_eq!(one.records.len(), 9);
    assert_eq!(reads(), 6);
    for first in [9, 12, 15] {
        write_segment(&f, &[(0, first, 3), (1, first, 3)]).await;
    }
    let zero = f
        .reader
        .fetch(&request(9, 100, 1 << 20))
        .await
        .expect("fetch 0");
    assert_eq!(numbers(&zero), (9..18).collect::<Vec<_>>());
    assert_eq!(reads(), 9, "one GET per segment");
    let one = f
        .reader
        .fetch(&FetchRequest {
            offset: 9,
            ..partition_request(1)
        })
        .await
        .expect("fetch 1");
    assert_eq!(one.records.len(), 9);
    assert_eq!(reads(), 9, "partition 1 came with partition 0's reads");
    assert_eq!(f.reader.whole_segment_reads(), 6);

    // Without whole-segment reads, every chunk costs its own GET.
    let cache = ChunkCache::open(&CacheConfig::default())
        .await
        .expect("cache");
    let ranged = Reader::new(Arc::clone(&f.store), Arc::clone(&f.coordinator), cache)
        .with_whole_segment_reads(0);
    ranged.fetch(&partition_request(0)).await.expect("fetch 0");
    ranged.fetch(&partition_request(1)).await.expect("fetch 1");
    assert_eq!(ranged.object_reads(), 12);
}

#[tokio::test]
async fn concurrent_misses_on_one_segment_share_one_get() {
    use crate::storage::{FaultConfig, FaultInjector, InterceptedStore};
    let f = fixture().await;
    write_segment(&f, &[(0, 0, 2), (1, 0, 2)]).await;
    // A slow store, so that both partitions miss while the first GET is in flight.
    let slow: Arc<dyn ObjectStore> = Arc::new(InterceptedStore::new(
        Arc::clone(&f.store),
        FaultInjector::new(FaultConfig {
            latency_ms: 50,
            ..FaultConfig::default()
        }),
    ));
    let cache = ChunkCache::open(&CacheConfig::default())
        .await
        .expect("cache");
    let reader = Reader::new(slow, Arc::clone(&f.coordinator), cache);
    // Both partitions have missed (the first with a ranged read, the second with a
    // whole one): whole-segment reads are on for the topic.
    reader.fetch(&partition_request(0)).await.expect("fetch 0");
    reader.fetch(&partition_request(1)).await.expect("fetch 1");
    assert_eq!(reader.object_reads(), 2);
    write_segment(&f, &[(0, 2, 5), (1, 2, 4)]).await;
    let (zero, one) = (
        FetchRequest {
            offset: 2,
            ..partition_request(0)
        },
        FetchRequest {
            offset: 2,
            ..partition_request(1)
        },
    );
    let (zero, one) = tokio::join!(reader.fetch(&zero), reader.fetch(&one));
    assert_eq!(numbers(&zero.expect("fetch 0")), (2..7).collect::<Vec<_>>());
    assert_eq!(one.expect("fetch 1").records.len(), 4);
    assert_eq!(reader.object_reads(), 3, "one GET for both misses");
    let misses = reader
        .cache()
        .stats()
        .misses
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        misses, 4,
        "every first look misses once, and is counted once"
    );
}

#[tokio::test]
async fn a_small_chunk_of_a_large_segment_is_read_on_its_own() {
    let f = fixture().await;
    write_segment(&f, &[(0, 0, 1), (1, 0, 20_000)]).await;
    write_segment(&f, &[(0, 1, 1), (1, 20_000, 20_000)]).await;
    let entry = f
        .coordinator
        .lookup("t", 0, 1, 1)
        .await
        .expect("lookup")
        .entries
        .remove(0);
    assert!(
        entry.object_size > 256 * u64::from(entry.byte_len),
        "the premise: the segment is {} bytes, its partition-0 chunk {}",
        entry.object_size,
        entry.byte_len
    );
    let reads = || f.reader.object_reads();
    let from = |partition, offset| FetchRequest {
        offset,
        ..partition_request(partition)
    };
    f.reader
        .fetch(&request(0, 1, 1 << 20))
        .await
        .expect("fetch 0");
    f.reader.fetch(&from(1, 0)).await.expect("fetch 1");
    assert_eq!(reads(), 2, "a ranged read, then a whole one");
    // Whole-segment reads are on for the topic, but not for a chunk this small.
    let small = f.reader.fetch(&from(0, 1)).await.expect("fetch 0");
    assert_eq!(numbers(&small), vec![1]);
    assert_eq!(reads(), 3);
    f.reader.fetch(&from(1, 20_000)).await.expect("fetch 1");
    assert_eq!(
        reads(),
        4,
        "partition 1's chunk was not read with partition 0's"
    );
}

#[tokio::test]
async fn a_segment_with_a_damaged_footer_still_serves_its_chunks() {
    let f = fixture().await;
    let key = write_segment(&f, &[(0, 0, 5), (1, 0, 3)]).await;
    // The byte before the trailer belongs to the footer's index.
    flip_byte(&f, &key, |len| len - 25).await;
    let result = f.reader.fetch(&partition_request(0)).await.expect("fetch");
    assert_eq!(numbers(&result), (0..5).collect::<Vec<_>>());
}

/// Writes one uncompressed segment with chunks of "t" and of `other` (300 records of
/// 1 KB each), in the order given, and commits it.
async fn write_two_topic_segment(f: &Fixture, other: i64, chunks: &[(&str, u32, u64)]) {
    let builders: Vec<ChunkBuilder> = chunks
        .iter()
        .map(|&(topic, partition, first)| {
            let mut chunk = ChunkBuilder::new(topic, partition);
            for n in first..first + 300 {
                let mut encoded = BytesMut::new();
                let record = record(n, 1000);
                record.encode(&mut encoded);
                chunk.push_encoded(&encoded, record.timestamp);
            }
            chunk
        })
        .collect();
    let topic_id = |topic: &str| if topic == "t" { f.topic_id } else { other };
    put_and_commit(f, &builders, Compression::None, &topic_id).await;
}

/// A catch-up of several of a topic's partitions reads the segment's index and then
/// only the topic's chunks (one range, whatever order they were given in), not the
/// other topic's: those still miss when that topic is read.
#[tokio::test]
async fn catch_up_reads_only_the_topics_range_of_a_shared_segment() {
    let f = fixture().await;
    let other = f
        .coordinator
        .create_topic(TopicConfig {
            value_schema: None,
            name: "other".into(),
            partitions: 2,
            retention_ms: None,
            retention_bytes: None,
            configs: Default::default(),
        })
        .await
        .expect("topic")
        .topic_id;
    let layout = [("other", 1, 0), ("t", 1, 0), ("other", 0, 0), ("t", 0, 0)];
    write_two_topic_segment(&f, other, &layout).await;
    let reads = || f.reader.object_reads();
    let wide = |partition, offset| FetchRequest {
        partition,
        ..request(offset, 1000, 16 << 20)
    };
    let zero = f.reader.fetch(&wide(0, 0)).await.expect("fetch 0");
    assert_eq!(numbers(&zero).len(), 300);
    assert_eq!(reads(), 1, "one partition: its chunk alone");
    let one = f.reader.fetch(&wide(1, 0)).await.expect("fetch 1");
    assert_eq!(numbers(&one), (0..300).collect::<Vec<_>>());
    assert_eq!(reads(), 3, "the index, then the topic's range");
    assert_eq!(f.reader.topic_range_reads(), 1);

    let layout = [
        ("t", 1, 300),
        ("other", 0, 300),
        ("t", 0, 300),
        ("other", 1, 300),
    ];
    write_two_topic_segment(&f, other, &layout).await;
    let zero = f.reader.fetch(&wide(0, 300)).await.expect("fetch 0");
    assert_eq!(numbers(&zero), (300..600).collect::<Vec<_>>());
    assert_eq!(reads(), 5);
    let one = f.reader.fetch(&wide(1, 300)).await.expect("fetch 1");
    assert_eq!(numbers(&one), (300..600).collect::<Vec<_>>());
    assert_eq!(reads(), 5, "partition 1 came with partition 0's range");
    assert_eq!(f.reader.whole_segment_reads(), 0);

    // The other topic's chunks were never read.
    let theirs = f
        .reader
        .fetch(&FetchRequest {
            topic: "other".into(),
            ..wide(0, 0)
        })
        .await
        .expect("fetch other");
    assert_eq!(theirs.records.len(), 600);
    assert_eq!(reads(), 7, "a ranged GET for each of its two chunks");
}

/// While several of a topic's partitions are caught up, a read-ahead of the next
/// segment caches its chunks in the background: the fetches that then reach it read
/// nothing from the bucket. Without that demand, or for a chunk already cached, a
/// read-ahead does nothing.
#[tokio::test]
async fn a_catch_up_reads_the_next_segment_ahead() {
    let f = fixture().await;
    for first in [0, 3, 6] {
        write_segment(&f, &[(0, first, 3), (1, first, 3)]).await;
    }
    let cache = ChunkCache::open(&CacheConfig::default())
        .await
        .expect("cache");
    let reader = Arc::new(Reader::new(
        Arc::clone(&f.store),
        Arc::clone(&f.coordinator),
        cache,
    ));
    let next_chunk = |partition, offset| {
        let coordinator = Arc::clone(&f.coordinator);
        async move {
            coordinator
                .lookup("t", partition, offset, 1)
                .await
                .expect("lookup")
                .entries
                .remove(0)
        }
    };
    let settled = |expected: u64| {
        let reader = Arc::clone(&reader);
        async move {
            for _ in 0..200 {
                if reader.read_aheads() == expected && reader.read_ahead_permits_free() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            panic!("read-aheads: {} of {expected}", reader.read_aheads());
        }
    };
    // One partition read: no catch-up of several, so nothing is read ahead.
    let first = FetchRequest {
        max_records: 3,
        ..partition_request(0)
    };
    reader.fetch(&first).await.expect("fetch 0");
    reader.read_ahead(&next_chunk(0, 3).await, "t");
    settled(0).await;
    assert_eq!(reader.object_reads(), 1);
    // A second partition misses: a catch-up of several. Reading ahead the segment of
    // offsets 3..6 costs one GET, and the fetches of both partitions there none.
    reader
        .fetch(&FetchRequest {
            partition: 1,
            ..first.clone()
        })
        .await
        .expect("fetch 1");
    let reads = reader.object_reads();
    reader.read_ahead(&next_chunk(0, 3).await, "t");
    settled(1).await;
    assert_eq!(reader.object_reads(), reads + 1);
    for partition in [0, 1] {
        let fetched = reader
            .fetch(&FetchRequest {
                offset: 3,
                partition,
                ..first.clone()
            })
            .await
            .expect("fetch ahead");
        assert_eq!(numbers(&fetched), vec![3, 4, 5]);
    }
    assert_eq!(reader.object_reads(), reads + 1, "served from the cache");
    // Already cached: nothing more is read.
    reader.read_ahead(&next_chunk(1, 3).await, "t");
    settled(1).await;
    assert_eq!(reader.object_reads(), reads + 1);
}

/// A view rebuilt from its frame (a Kafka batch) is evicted before any frame, so a
/// catch-up's batches, each served once, leave the chunks still to be read cached;
/// frames alone push out the oldest frame as usual.
#[tokio::test]
async fn rebuildable_views_are_evicted_before_frames() {
    const KIB: u32 = 1 << 10;
    let cache = ChunkCache::open(&CacheConfig {
        memory_bytes: 1 << 20,
        ..CacheConfig::default()
    })
    .await
    .expect("cache");
    let frame = Bytes::from(vec![1u8; 16 * KIB as usize]);
    cache.insert("s", 0, 16 * KIB, frame.clone());
    let filler = || Bytes::from(vec![2u8; 64 * KIB as usize]);
    for n in 1..=64 {
        cache.insert_view("s", n << 20, 64 * KIB, "kafka", ViewCost::Rebuilt, filler());
    }
    assert_eq!(cache.get("s", 0, 16 * KIB).await, Some(frame.clone()));
    for n in 1..=64 {
        cache.insert("s", n << 20, 64 * KIB, filler());
    }
    assert_eq!(
        cache.get("s", 0, 16 * KIB).await,
        None,
        "4 MiB through 1 MiB"
    );
}
