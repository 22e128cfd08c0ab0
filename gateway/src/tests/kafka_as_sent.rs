//! Kafka record batches kept as producers sent them: a fetch is served the producer's
//! bytes (codec, producer id and sequence) with only the base offset set, HTTP reads
//! the same records, and a batch whose records are not at their offsets is encoded
//! record by record instead.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, InitProducerIdRequest, InitProducerIdResponse,
    ProduceRequest, ProduceResponse, ProducerId, TopicName, fetch_request, produce_request,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::{Value, json};
use silt_core::kafka_batch::encode::BatchWriter;
use silt_core::kafka_batch::{KafkaBatch, RECORDS_AT, compressed, decode_batches, seal};

use super::kafka_edges::{call, create_topic};
use super::limits::{Served, served_with, short_limits};

async fn produce(addr: SocketAddr, records: Bytes) -> (i16, i64) {
    let mut partition = produce_request::PartitionProduceData::default();
    partition.index = 0;
    partition.records = Some(records);
    let mut topic = produce_request::TopicProduceData::default();
    topic.name = TopicName(StrBytes::from_static_str("kept"));
    topic.partition_data = vec![partition];
    let mut request = ProduceRequest::default();
    request.acks = -1;
    request.timeout_ms = 5000;
    request.topic_data = vec![topic];
    let response: ProduceResponse = call(addr, ApiKey::Produce, 9, &request).await;
    let answer = &response.responses[0].partition_responses[0];
    (answer.error_code, answer.base_offset)
}

async fn fetch(addr: SocketAddr, offset: i64) -> Vec<KafkaBatch> {
    let mut partition = fetch_request::FetchPartition::default();
    partition.partition = 0;
    partition.fetch_offset = offset;
    partition.partition_max_bytes = 1 << 20;
    let mut topic = fetch_request::FetchTopic::default();
    topic.topic = TopicName(StrBytes::from_static_str("kept"));
    topic.partitions = vec![partition];
    let mut request = FetchRequest::default();
    request.replica_id = kafka_protocol::messages::BrokerId(-1);
    request.max_wait_ms = 100;
    request.max_bytes = 1 << 20;
    request.topics = vec![topic];
    let response: FetchResponse = call(addr, ApiKey::Fetch, 12, &request).await;
    let answer = &response.responses[0].partitions[0];
    assert_eq!(answer.error_code, 0);
    decode_batches(answer.records.clone().unwrap_or_default(), 1 << 20).expect("batches")
}

/// A record's key and value.
type Row<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// A producer's batch of `rows` at offsets 0, 1, … (or at `offsets`).
fn batch(rows: &[Row<'_>], offsets: Option<&[i64]>) -> Bytes {
    let mut writer = BatchWriter::new();
    for (index, (key, value)) in rows.iter().enumerate() {
        let offset = offsets.map_or(index as i64, |offsets| offsets[index]);
        let headers: [(&[u8], Option<&[u8]>); 2] = [(b"h", Some(b"1")), (b"h", None)];
        // Timestamps decades apart in one batch.
        let timestamp = [0, 4_102_444_800_000, 1_764_000_000_000][index % 3];
        writer.push(offset, timestamp, *key, *value, headers.into_iter());
    }
    writer.finish()
}

/// `batch` stamped as an idempotent producer's, from sequence `sequence`.
fn stamped(batch: &[u8], producer_id: i64, epoch: i16, sequence: i32) -> Bytes {
    let mut out = batch.to_vec();
    out[43..51].copy_from_slice(&producer_id.to_be_bytes());
    out[51..53].copy_from_slice(&epoch.to_be_bytes());
    out[53..57].copy_from_slice(&sequence.to_be_bytes());
    seal(&mut out);
    Bytes::from(out)
}

/// A gateway with `config` and room for 1 MiB requests and records, and the topic `kept`.
async fn served_kept(config: crate::GatewayConfig) -> Served {
    let served = served_with(crate::GatewayConfig {
        max_body_bytes: 1 << 20,
        max_record_bytes: 1 << 20,
        connections: short_limits(),
        ..config
    })
    .await;
    assert_eq!(create_topic(served.kafka, "kept").await, 0);
    served
}

#[tokio::test]
async fn kafka_batches_are_served_as_sent_and_read_over_http() {
    let served = served_kept(crate::GatewayConfig {
        linger_ms: 5,
        ..Default::default()
    })
    .await;
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = None;
    init.producer_id = ProducerId(-1);
    init.producer_epoch = -1;
    let producer: InitProducerIdResponse =
        call(served.kafka, ApiKey::InitProducerId, 4, &init).await;
    assert_eq!(producer.error_code, 0);

    // An idempotent producer's zstd batch: a null value, a binary key, an empty value.
    let plain = batch(
        &[
            (Some(b"k"), None),
            (Some(&[0xff, 0xfe]), Some(br#"{"a":1}"#)),
            (None, Some(b"")),
        ],
        None,
    );
    let zstd = compressed(
        &plain,
        4,
        &zstd::bulk::compress(&plain[RECORDS_AT..], 3).expect("zstd"),
    );
    let first = stamped(&zstd, producer.producer_id.0, producer.producer_epoch, 0);
    assert_eq!(produce(served.kafka, first.clone()).await, (0, 0));
    // A plain request of two batches, one uncompressed and one gzip.
    let second = batch(&[(None, Some(b"binary \xff"))], None);
    let text = batch(
        &[(Some(b"a"), Some(b"[1]")), (Some(b"b"), Some(b"2"))],
        None,
    );
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, &text[RECORDS_AT..]).expect("gzip");
    let third = compressed(&text, 1, &gzip.finish().expect("gzip"));
    let both = Bytes::from([second.to_vec(), third.to_vec()].concat());
    assert_eq!(produce(served.kafka, both).await, (0, 3));
    // Records at offsets 0 and 2 of their batch: encoded by Silt at 6 and 7.
    let gap = batch(&[(None, Some(b"x")), (None, Some(b"y"))], Some(&[0, 2]));
    assert_eq!(produce(served.kafka, gap).await, (0, 6));

    let fetched = fetch(served.kafka, 0).await;
    assert_eq!(fetched.len(), 4, "{fetched:?}");
    for ((got, sent), base) in fetched
        .iter()
        .zip([&first, &second, &third])
        .zip([0i64, 3, 4])
    {
        assert_eq!(got.raw[..8], base.to_be_bytes());
        // Magic, CRC, codec, producer, sequence and records: the producer's bytes.
        assert_eq!(got.raw[16..], sent[16..]);
    }
    assert_eq!(fetched[0].producer_id, producer.producer_id.0);
    assert_eq!((fetched[0].codec, fetched[2].codec), (4, 1));
    let silt_encoded = &fetched[3];
    assert_eq!(silt_encoded.raw[..8], 6i64.to_be_bytes());
    assert!(silt_encoded.keeps_positions());
    assert_eq!(silt_encoded.records.len(), 2);
    let metrics = &served.state.metrics;
    assert!(metrics.kafka_chunks_served_as_sent.load(Ordering::Relaxed) >= 2);
    assert_eq!(metrics.kafka_batches_encoded.load(Ordering::Relaxed), 1);

    // A fetch inside the chunk of the plain request starts at the batch holding it.
    let from_five = fetch(served.kafka, 5).await;
    assert_eq!(from_five[0].raw[..8], 4i64.to_be_bytes());
    assert_eq!(from_five[0].raw[16..], third[16..]);

    // HTTP reads the same records, each as Kafka defines it.
    let (status, body) = super::get(
        &served.harness.router,
        "/v1/topics/kept/partitions/0/records?offset=0",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().expect("records");
    let summary: Vec<Value> = records
        .iter()
        .map(|record| {
            json!([
                record["offset"],
                record["timestamp"],
                record.get("key_base64").unwrap_or(&record["key"]),
                record.get("value_base64").unwrap_or(&record["value"]),
            ])
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            json!([0, 0, "k", null]),
            json!([1, 4_102_444_800_000u64, "//4=", {"a": 1}]),
            json!([2, 1_764_000_000_000u64, null, ""]),
            json!([3, 0, null, "YmluYXJ5IP8="]),
            json!([4, 0, "a", [1]]),
            json!([5, 4_102_444_800_000u64, "b", 2]),
            json!([6, 0, null, "eA=="]),
            json!([7, 4_102_444_800_000u64, null, "eQ=="]),
        ]
    );
    for record in records {
        assert_eq!(
            record["headers"],
            json!([["h", "1"], ["h", null]]),
            "{record}"
        );
    }
}

#[tokio::test]
async fn a_compressed_batch_counts_its_decoded_bytes_towards_the_batch_size() {
    // Batches are sealed by size only (the floor is above the linger, which is longer
    // than `call` waits for an answer).
    let served = served_kept(crate::GatewayConfig {
        linger_ms: 30_000,
        min_flush_interval_ms: 30_000,
        max_batch_bytes: 64 << 10,
        ..Default::default()
    })
    .await;
    let value = vec![b'a'; 1024];
    let rows: Vec<Row<'_>> = (0..100).map(|_| (None, Some(value.as_slice()))).collect();
    let plain = batch(&rows, None);
    let small = compressed(
        &plain,
        4,
        &zstd::bulk::compress(&plain[RECORDS_AT..], 3).expect("zstd"),
    );
    assert!(small.len() < 8 << 10, "{} bytes compressed", small.len());
    // 100 KiB decoded fill the 64 KiB batch: it is flushed at once, not after the linger.
    assert_eq!(produce(served.kafka, small).await, (0, 0));
}
