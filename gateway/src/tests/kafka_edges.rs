//! Kafka requests at their edges, over a real socket, encoded by the codec crate as a
//! client would: names that collide, a commit naming a partition twice.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse,
    RequestHeader, TopicName, create_topics_request::CreatableTopic, offset_commit_request,
    offset_fetch_request, produce_request,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::limits::{served, served_with, short_limits};

/// Sends `request` as `api` at `version` and decodes the answer.
pub(super) async fn call<Req: Encodable, Resp: Decodable>(
    addr: SocketAddr,
    api: ApiKey,
    version: i16,
    request: &Req,
) -> Resp {
    let mut header = RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    header.correlation_id = 11;
    header.client_id = Some(StrBytes::from_static_str("edges"));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, api.request_header_version(version))
        .expect("header");
    request.encode(&mut body, version).expect("request");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_i32(body.len() as i32).await.expect("write");
    stream.write_all(&body).await.expect("write");
    let length = tokio::time::timeout(Duration::from_secs(5), stream.read_i32())
        .await
        .expect("an answer")
        .expect("read");
    let mut answer = vec![0u8; length as usize];
    stream.read_exact(&mut answer).await.expect("read");
    let mut answer = bytes::Bytes::from(answer);
    assert_eq!(answer.get_i32(), 11, "correlation id");
    if api.response_header_version(version) >= 1 {
        // Tagged fields of a flexible response header: none.
        assert_eq!(answer.get_u8(), 0);
    }
    Resp::decode(&mut answer, version).expect("response")
}

pub(super) async fn create_topic(addr: SocketAddr, name: &'static str) -> i16 {
    let mut topic = CreatableTopic::default();
    topic.name = TopicName(StrBytes::from_static_str(name));
    topic.num_partitions = 2;
    topic.replication_factor = 1;
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![topic];
    request.timeout_ms = 5000;
    let response: CreateTopicsResponse = call(addr, ApiKey::CreateTopics, 5, &request).await;
    response.topics[0].error_code
}

#[tokio::test]
async fn topic_names_that_collide_are_refused_as_kafka_does() {
    let served = served(short_limits()).await;
    assert_eq!(create_topic(served.kafka, "orders_eu").await, 0);
    // `.` and `_` collide in Kafka's metric names: INVALID_TOPIC_EXCEPTION (17).
    assert_eq!(create_topic(served.kafka, "orders.eu").await, 17);
    assert_eq!(create_topic(served.kafka, "Orders_EU").await, 17);
    // The same name again is TOPIC_ALREADY_EXISTS (36), not a collision.
    assert_eq!(create_topic(served.kafka, "orders_eu").await, 36);
}

#[tokio::test]
async fn a_commit_naming_a_partition_twice_keeps_the_last_offset() {
    let served = served(short_limits()).await;
    assert_eq!(create_topic(served.kafka, "twice").await, 0);
    let partition = |offset: i64| {
        let mut partition = offset_commit_request::OffsetCommitRequestPartition::default();
        partition.partition_index = 0;
        partition.committed_offset = offset;
        partition
    };
    let mut topic = offset_commit_request::OffsetCommitRequestTopic::default();
    topic.name = TopicName(StrBytes::from_static_str("twice"));
    topic.partitions = vec![partition(3), partition(5)];
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(StrBytes::from_static_str("standalone"));
    request.generation_id_or_member_epoch = -1;
    request.topics = vec![topic];
    let response: OffsetCommitResponse =
        call(served.kafka, ApiKey::OffsetCommit, 8, &request).await;
    let codes: Vec<i16> = response.topics[0]
        .partitions
        .iter()
        .map(|partition| partition.error_code)
        .collect();
    assert_eq!(codes, [0, 0]);
    let mut wanted = offset_fetch_request::OffsetFetchRequestTopic::default();
    wanted.name = TopicName(StrBytes::from_static_str("twice"));
    wanted.partition_indexes = vec![0];
    let mut fetch = OffsetFetchRequest::default();
    fetch.group_id = GroupId(StrBytes::from_static_str("standalone"));
    fetch.topics = Some(vec![wanted]);
    let fetched: OffsetFetchResponse = call(served.kafka, ApiKey::OffsetFetch, 7, &fetch).await;
    assert_eq!(fetched.topics[0].partitions[0].committed_offset, 5);
}

/// A record with more headers than the stored format counts (65,535) is refused as
/// INVALID_RECORD, and nothing of it is stored; before, its header count wrapped and
/// the chunk could not be read back.
#[tokio::test]
async fn a_record_with_too_many_headers_is_refused_whole() {
    let served = served_with(crate::GatewayConfig {
        linger_ms: 5,
        max_body_bytes: 4 << 20,
        max_record_bytes: 4 << 20,
        connections: short_limits(),
        ..Default::default()
    })
    .await;
    assert_eq!(create_topic(served.kafka, "wide").await, 0);
    let produce = |headers: usize| {
        let mut names = indexmap::IndexMap::new();
        for index in 0..headers {
            names.insert(StrBytes::from_string(format!("{index:x}")), None);
        }
        let record = kafka_protocol::records::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kafka_protocol::records::TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 1_764_000_000_000,
            key: None,
            value: Some(bytes::Bytes::from_static(b"v")),
            headers: names,
        };
        let mut records = BytesMut::new();
        let options = kafka_protocol::records::RecordEncodeOptions {
            version: 2,
            compression: kafka_protocol::records::Compression::None,
        };
        kafka_protocol::records::RecordBatchEncoder::encode(&mut records, &[record], &options)
            .expect("encode");
        let mut partition = produce_request::PartitionProduceData::default();
        partition.index = 0;
        partition.records = Some(records.freeze());
        let mut topic = produce_request::TopicProduceData::default();
        topic.name = TopicName(StrBytes::from_static_str("wide"));
        topic.partition_data = vec![partition];
        let mut request = ProduceRequest::default();
        request.acks = -1;
        request.timeout_ms = 5000;
        request.topic_data = vec![topic];
        request
    };
    let refused: ProduceResponse = call(served.kafka, ApiKey::Produce, 9, &produce(70_000)).await;
    assert_eq!(refused.responses[0].partition_responses[0].error_code, 87);
    let accepted: ProduceResponse = call(served.kafka, ApiKey::Produce, 9, &produce(65_535)).await;
    assert_eq!(accepted.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(accepted.responses[0].partition_responses[0].base_offset, 0);
}
