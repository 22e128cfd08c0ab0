//! Kafka's transaction APIs at their edges, encoded by the codec crate as a client (or
//! an operator's admin client) would send them: partial adds, unknown ids, fenced
//! epochs, ends out of order, a stale member's offsets, and the operator's views.

use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, DescribeTransactionsRequest,
    DescribeTransactionsResponse, EndTxnRequest, EndTxnResponse, GroupId, InitProducerIdRequest,
    InitProducerIdResponse, ListTransactionsRequest, ListTransactionsResponse, OffsetFetchRequest,
    OffsetFetchResponse, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse, add_partitions_to_txn_request::AddPartitionsToTxnTopic,
    offset_fetch_request, txn_offset_commit_request,
};
use kafka_protocol::protocol::StrBytes;
use silt_core::coordinator::TopicConfig;

use super::kafka_edges::call;
use super::limits::{served, short_limits};

fn text(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

async fn init(
    addr: std::net::SocketAddr,
    id: &'static str,
    timeout_ms: i32,
) -> InitProducerIdResponse {
    let mut request = InitProducerIdRequest::default();
    request.transactional_id = Some(TransactionalId(text(id)));
    request.transaction_timeout_ms = timeout_ms;
    request.producer_id = ProducerId(-1);
    request.producer_epoch = -1;
    call(addr, ApiKey::InitProducerId, 4, &request).await
}

async fn add(
    addr: std::net::SocketAddr,
    producer: (i64, i16),
    partitions: &[(&'static str, i32)],
) -> Vec<(String, i32, i16)> {
    let mut request = AddPartitionsToTxnRequest::default();
    request.v3_and_below_transactional_id = TransactionalId(text("ops"));
    request.v3_and_below_producer_id = ProducerId(producer.0);
    request.v3_and_below_producer_epoch = producer.1;
    for (topic, partition) in partitions {
        let mut named = AddPartitionsToTxnTopic::default();
        named.name = TopicName(text(topic));
        named.partitions = vec![*partition];
        request.v3_and_below_topics.push(named);
    }
    let response: AddPartitionsToTxnResponse =
        call(addr, ApiKey::AddPartitionsToTxn, 3, &request).await;
    response
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|topic| {
            topic.results_by_partition.iter().map(|result| {
                (
                    topic.name.0.to_string(),
                    result.partition_index,
                    result.partition_error_code,
                )
            })
        })
        .collect()
}

async fn end(addr: std::net::SocketAddr, producer: (i64, i16), commit: bool) -> i16 {
    let mut request = EndTxnRequest::default();
    request.transactional_id = TransactionalId(text("ops"));
    request.producer_id = ProducerId(producer.0);
    request.producer_epoch = producer.1;
    request.committed = commit;
    let response: EndTxnResponse = call(addr, ApiKey::EndTxn, 3, &request).await;
    response.error_code
}

/// Group `g`'s committed offset of `t`/0 as OffsetFetch v7 answers it: (error, offset).
async fn fetch_offset(addr: std::net::SocketAddr, require_stable: bool) -> (i16, i64) {
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(text("g"));
    let mut topic = offset_fetch_request::OffsetFetchRequestTopic::default();
    topic.name = TopicName(text("t"));
    topic.partition_indexes = vec![0];
    request.topics = Some(vec![topic]);
    request.require_stable = require_stable;
    let response: OffsetFetchResponse = call(addr, ApiKey::OffsetFetch, 7, &request).await;
    let partition = &response.topics[0].partitions[0];
    (partition.error_code, partition.committed_offset)
}

#[tokio::test]
async fn transaction_apis_answer_kafka_error_codes_at_their_edges() {
    let served = served(short_limits()).await;
    let addr = served.kafka;
    let config = TopicConfig {
        name: "t".into(),
        partitions: 2,
        retention_ms: None,
        retention_bytes: None,
        value_schema: None,
        configs: Default::default(),
    };
    served
        .state
        .coordinator
        .create_topic(config)
        .await
        .expect("topic");

    assert_eq!(
        init(addr, "bad", 0).await.error_code,
        50,
        "INVALID_TRANSACTION_TIMEOUT"
    );
    let first = init(addr, "ops", 60_000).await;
    assert_eq!(first.error_code, 0);
    let producer = (first.producer_id.0, first.producer_epoch);

    // All or nothing: the unknown topic names its error, the others were not attempted.
    let answer = add(addr, producer, &[("t", 0), ("nope", 0)]).await;
    assert_eq!(
        answer,
        vec![("t".into(), 0, 55), ("nope".into(), 0, 3)],
        "OPERATION_NOT_ATTEMPTED, UNKNOWN_TOPIC_OR_PARTITION"
    );
    assert_eq!(add(addr, producer, &[("t", 7)]).await[0].2, 3);
    assert_eq!(add(addr, producer, &[("t", -1)]).await[0].2, 3);
    assert_eq!(
        add(addr, producer, &[("t", 0), ("t", 1)]).await,
        vec![("t".into(), 0, 0), ("t".into(), 1, 0)]
    );
    assert_eq!(
        add(addr, (producer.0, 9), &[("t", 0)]).await[0].2,
        90,
        "PRODUCER_FENCED"
    );
    assert_eq!(
        add(addr, (producer.0 + 1000, 0), &[("t", 0)]).await[0].2,
        49
    );

    // A member the group does not know cannot commit offsets in a transaction.
    let mut offsets = TxnOffsetCommitRequest::default();
    offsets.transactional_id = TransactionalId(text("ops"));
    offsets.group_id = GroupId(text("g"));
    offsets.producer_id = ProducerId(producer.0);
    offsets.producer_epoch = producer.1;
    offsets.generation_id = 1;
    offsets.member_id = text("ghost");
    let mut topic = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default();
    topic.name = TopicName(text("t"));
    let mut partition = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default();
    partition.partition_index = 0;
    partition.committed_offset = 1;
    topic.partitions.push(partition);
    offsets.topics.push(topic);
    let answer: TxnOffsetCommitResponse = call(addr, ApiKey::TxnOffsetCommit, 3, &offsets).await;
    assert_eq!(
        answer.topics[0].partitions[0].error_code, 25,
        "UNKNOWN_MEMBER_ID"
    );
    // Version 2 names no member: the offsets wait for the transaction, and a consumer
    // that needs stable offsets (KIP-447) is told to ask again until it ends.
    offsets.generation_id = -1;
    offsets.member_id = text("");
    let answer: TxnOffsetCommitResponse = call(addr, ApiKey::TxnOffsetCommit, 2, &offsets).await;
    assert_eq!(answer.topics[0].partitions[0].error_code, 0);
    assert_eq!(
        fetch_offset(addr, true).await,
        (88, -1),
        "UNSTABLE_OFFSET_COMMIT"
    );
    assert_eq!(fetch_offset(addr, false).await, (0, -1));

    // The operator's views.
    let mut describe = DescribeTransactionsRequest::default();
    describe.transactional_ids = vec![
        TransactionalId(text("ops")),
        TransactionalId(text("missing")),
    ];
    let described: DescribeTransactionsResponse =
        call(addr, ApiKey::DescribeTransactions, 0, &describe).await;
    let states = &described.transaction_states;
    assert_eq!(states[0].error_code, 0);
    assert_eq!(states[0].transaction_state.as_str(), "Ongoing");
    assert_eq!(states[0].producer_id.0, producer.0);
    assert_eq!(states[0].topics[0].partitions, vec![0, 1]);
    assert_eq!(states[1].error_code, 105, "TRANSACTIONAL_ID_NOT_FOUND");
    let mut list = ListTransactionsRequest::default();
    list.state_filters = vec![text("Ongoing"), text("Bogus")];
    list.duration_filter = -1;
    let listed: ListTransactionsResponse = call(addr, ApiKey::ListTransactions, 1, &list).await;
    assert_eq!(listed.unknown_state_filters, vec![text("Bogus")]);
    let ids: Vec<String> = listed
        .transaction_states
        .iter()
        .map(|state| state.transactional_id.0.to_string())
        .collect();
    assert_eq!(ids, vec!["ops".to_owned()]);
    // Only unknown states: nothing can match; an empty filter lists every id.
    list.state_filters = vec![text("Bogus")];
    let listed: ListTransactionsResponse = call(addr, ApiKey::ListTransactions, 1, &list).await;
    assert!(listed.transaction_states.is_empty());
    assert_eq!(listed.unknown_state_filters, vec![text("Bogus")]);
    list.state_filters = Vec::new();
    let listed: ListTransactionsResponse = call(addr, ApiKey::ListTransactions, 0, &list).await;
    assert_eq!(
        listed.transaction_states.len(),
        1,
        "ops: the refused init of \"bad\" made none"
    );

    // Ends: a fenced epoch, the end, its retry, and the other end after it.
    assert_eq!(end(addr, (producer.0, 9), true).await, 90);
    assert_eq!(end(addr, producer, true).await, 0);
    assert_eq!(
        fetch_offset(addr, true).await,
        (0, 1),
        "committed with the transaction"
    );
    assert_eq!(
        end(addr, producer, true).await,
        0,
        "a retry is answered as it was"
    );
    assert_eq!(end(addr, producer, false).await, 48, "INVALID_TXN_STATE");
    // A second InitProducerId bumps the epoch and fences the first.
    let second = init(addr, "ops", 60_000).await;
    assert_eq!(
        (second.producer_id.0, second.producer_epoch),
        (producer.0, producer.1 + 1)
    );
    assert_eq!(end(addr, producer, false).await, 90);
}
