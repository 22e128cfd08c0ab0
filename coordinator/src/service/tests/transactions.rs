//! Transactions in the coordinator: a transaction's records are appended as they come
//! and hold the last stable offset back; ending it writes a marker into each of its
//! partitions and (on commit) its consumer offsets, all at once; a newer epoch fences the
//! older and aborts what it left open; a timeout aborts a transaction nobody ends; and
//! all of it survives a restart and a snapshot.

use std::sync::Arc;
use std::time::Duration;

use silt_core::coordinator::{
    ChunkOutcome, Coordinator, CoordinatorError, EntryFormat, IndexEntry, KafkaBatchStamp,
    ProducerIdentity, SegmentCommit,
};
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse};
use silt_core::transactions::{
    Isolation, TopicPartition, TxnOffset, TxnOutcome, TxnRequest, TxnResponse, TxnState,
};

use super::{Backend, chunk, topic};
use crate::CoordinatorService;

async fn init(coordinator: &CoordinatorService, id: &str, timeout_ms: i32) -> ProducerIdentity {
    let request = TxnRequest::InitProducer {
        transactional_id: id.into(),
        timeout_ms,
    };
    match coordinator.transaction(request).await.expect("init") {
        TxnResponse::Producer { producer } => producer,
        other => panic!("{other:?}"),
    }
}

async fn add(
    coordinator: &CoordinatorService,
    id: &str,
    producer: ProducerIdentity,
    partitions: &[(&str, u32)],
) -> Result<TxnResponse, CoordinatorError> {
    coordinator
        .transaction(TxnRequest::AddPartitions {
            transactional_id: id.into(),
            producer,
            partitions: partitions
                .iter()
                .map(|(topic, partition)| TopicPartition {
                    topic: (*topic).into(),
                    partition: *partition,
                })
                .collect(),
        })
        .await
}

async fn end(
    coordinator: &CoordinatorService,
    id: &str,
    producer: ProducerIdentity,
    commit: bool,
) -> Result<TxnResponse, CoordinatorError> {
    coordinator
        .transaction(TxnRequest::End {
            transactional_id: id.into(),
            producer,
            commit,
        })
        .await
}

/// A chunk to commit: (partition, records, transactional producer and base sequence).
type Chunk = (u32, u32, Option<(ProducerIdentity, i32)>);

/// Commits one segment of `chunks` of topic `out`; answers the outcomes.
async fn produce(
    coordinator: &CoordinatorService,
    key: &str,
    chunks: &[Chunk],
) -> Vec<ChunkOutcome> {
    let topic_id = coordinator.get_topic("out").await.expect("topic").topic_id;
    let chunks = chunks
        .iter()
        .map(|(partition, records, txn)| {
            let mut chunk = chunk(topic_id, "out", *partition, *records, 0);
            chunk.kafka = txn.map(|(producer, base_sequence)| KafkaBatchStamp {
                producer_id: producer.producer_id,
                epoch: producer.epoch,
                base_sequence,
                transactional: true,
            });
            chunk
        })
        .collect();
    coordinator
        .commit_segment(SegmentCommit {
            object_key: format!("segments/0000/{key}.seg"),
            object_size: 100,
            chunks,
        })
        .await
        .expect("commit")
}

async fn entries(coordinator: &CoordinatorService, partition: u32) -> Vec<IndexEntry> {
    coordinator
        .lookup("out", partition, 0, 100)
        .await
        .expect("lookup")
        .entries
}

/// (base offset, marker?, outcome) of each entry.
fn shapes(entries: &[IndexEntry]) -> Vec<(u64, bool, Option<TxnOutcome>)> {
    entries
        .iter()
        .map(|entry| {
            (
                entry.base_offset,
                entry.format == EntryFormat::Marker,
                entry.txn.map(|txn| txn.outcome),
            )
        })
        .collect()
}

async fn committed_offset(coordinator: &CoordinatorService, group: &str) -> Option<u64> {
    match coordinator
        .kafka_group(KafkaGroupRequest::Fetch {
            group: group.into(),
            topics: None,
        })
        .await
        .expect("fetch")
    {
        KafkaGroupResponse::Offsets { offsets } => offsets
            .iter()
            .find(|offset| offset.topic == "in" && offset.partition == 0)
            .map(|offset| offset.offset),
        other => panic!("{other:?}"),
    }
}

async fn state_of(coordinator: &CoordinatorService, id: &str) -> TxnState {
    let request = TxnRequest::Describe {
        transactional_ids: vec![id.into()],
    };
    match coordinator.transaction(request).await.expect("describe") {
        TxnResponse::Described { transactions } => transactions[0].state,
        other => panic!("{other:?}"),
    }
}

pub(in crate::service) async fn a_transaction_ends_whole_and_fences_older_epochs(backend: Backend) {
    let coordinator = backend.open().await;
    coordinator.create_topic(topic("in", 1)).await.expect("in");
    coordinator
        .create_topic(topic("out", 2))
        .await
        .expect("out");
    let producer = init(&coordinator, "tx", 60_000).await;
    assert_eq!(producer.epoch, 0);

    // A transactional batch before its partition joins a transaction lands nowhere.
    let refused = produce(&coordinator, "early", &[(0, 1, Some((producer, 0)))]).await;
    assert!(
        matches!(&refused[0], ChunkOutcome::Rejected { error_code, .. } if error_code == "invalid_txn_state"),
        "{refused:?}"
    );
    add(&coordinator, "tx", producer, &[("out", 0), ("out", 1)])
        .await
        .expect("add");
    assert_eq!(state_of(&coordinator, "tx").await, TxnState::Ongoing);
    produce(
        &coordinator,
        "one",
        &[
            (0, 3, Some((producer, 0))),
            (1, 2, None),
            (1, 2, Some((producer, 0))),
        ],
    )
    .await;
    let bounds = coordinator.partition_offsets("out", 1).await.expect("p1");
    assert_eq!((bounds.high_watermark, bounds.last_stable_offset()), (4, 2));
    let bounds = coordinator.partition_offsets("out", 0).await.expect("p0");
    assert_eq!((bounds.high_watermark, bounds.last_stable_offset()), (3, 0));
    // A read_committed long-poll waits for the transaction; read_uncommitted does not.
    let waited = coordinator
        .wait_for_records(
            "out",
            0,
            0,
            Isolation::ReadCommitted,
            Duration::from_millis(50),
        )
        .await
        .expect("wait");
    assert_eq!(waited.last_stable_offset(), 0);
    let offsets = vec![TxnOffset {
        topic: "in".into(),
        partition: 0,
        offset: 5,
        metadata: "m".into(),
        leader_epoch: None,
    }];
    coordinator
        .transaction(TxnRequest::AddOffsets {
            transactional_id: "tx".into(),
            producer,
            group: "g".into(),
        })
        .await
        .expect("add offsets");
    coordinator
        .transaction(TxnRequest::CommitOffsets {
            transactional_id: "tx".into(),
            producer,
            group: "g".into(),
            offsets: offsets.clone(),
            only_forward: false,
            generation: None,
        })
        .await
        .expect("txn offsets");
    assert_eq!(committed_offset(&coordinator, "g").await, None);
    let waiter = {
        let coordinator = Arc::clone(&coordinator);
        tokio::spawn(async move {
            coordinator
                .wait_for_records(
                    "out",
                    0,
                    0,
                    Isolation::ReadCommitted,
                    Duration::from_secs(10),
                )
                .await
        })
    };
    end(&coordinator, "tx", producer, true)
        .await
        .expect("commit");
    let woken = waiter.await.expect("join").expect("woken");
    assert_eq!((woken.high_watermark, woken.last_stable_offset()), (4, 4));
    assert_eq!(committed_offset(&coordinator, "g").await, Some(5));
    assert_eq!(state_of(&coordinator, "tx").await, TxnState::CompleteCommit);
    let committed = Some(TxnOutcome::Committed);
    assert_eq!(
        shapes(&entries(&coordinator, 0).await),
        vec![(0, false, committed), (3, true, committed)]
    );
    assert_eq!(
        shapes(&entries(&coordinator, 1).await),
        vec![
            (0, false, None),
            (2, false, committed),
            (4, true, committed)
        ]
    );
    // A retry of the commit is answered as the commit was; an abort now is refused.
    end(&coordinator, "tx", producer, true)
        .await
        .expect("retry");
    assert!(matches!(
        end(&coordinator, "tx", producer, false).await,
        Err(CoordinatorError::InvalidTxnState(_))
    ));

    // The next transaction aborts: its records stay in the log, marked, and its offsets
    // are never committed.
    add(&coordinator, "tx", producer, &[("out", 0)])
        .await
        .expect("add again");
    produce(&coordinator, "two", &[(0, 2, Some((producer, 3)))]).await;
    coordinator
        .transaction(TxnRequest::CommitOffsets {
            transactional_id: "tx".into(),
            producer,
            group: "g".into(),
            offsets: vec![TxnOffset {
                offset: 9,
                ..offsets[0].clone()
            }],
            only_forward: false,
            generation: None,
        })
        .await
        .expect("txn offsets");
    end(&coordinator, "tx", producer, false)
        .await
        .expect("abort");
    let aborted = Some(TxnOutcome::Aborted);
    assert_eq!(
        shapes(&entries(&coordinator, 0).await)[2..],
        [(4, false, aborted), (6, true, aborted)]
    );
    assert_eq!(committed_offset(&coordinator, "g").await, Some(5));

    // A newer epoch fences the older one, and aborts what the older one left open.
    add(&coordinator, "tx", producer, &[("out", 1)])
        .await
        .expect("add");
    produce(&coordinator, "three", &[(1, 1, Some((producer, 2)))]).await;
    let successor = init(&coordinator, "tx", 60_000).await;
    assert_eq!(
        (successor.producer_id, successor.epoch),
        (producer.producer_id, 1)
    );
    let bounds = coordinator.partition_offsets("out", 1).await.expect("p1");
    assert_eq!((bounds.high_watermark, bounds.last_stable_offset()), (7, 7));
    assert_eq!(
        shapes(&entries(&coordinator, 1).await)[3..],
        [(5, false, aborted), (6, true, aborted)]
    );
    assert!(matches!(
        add(&coordinator, "tx", producer, &[("out", 0)]).await,
        Err(CoordinatorError::ProducerFenced { .. })
    ));
    let zombie = produce(&coordinator, "zombie", &[(0, 1, Some((producer, 5)))]).await;
    assert!(
        matches!(&zombie[0], ChunkOutcome::Rejected { error_code, .. } if error_code == "producer_fenced"),
        "{zombie:?}"
    );
    assert!(matches!(
        end(&coordinator, "other", successor, true).await,
        Err(CoordinatorError::UnknownTransactionalId(_))
    ));
    assert!(matches!(
        add(&coordinator, "tx", successor, &[("nope", 0)]).await,
        Err(CoordinatorError::TopicNotFound(_))
    ));
    assert!(matches!(
        add(&coordinator, "tx", successor, &[("out", 2)]).await,
        Err(CoordinatorError::PartitionNotFound { .. })
    ));
    for bad in [0, -1, 15 * 60 * 1000 + 1] {
        assert!(matches!(
            coordinator
                .transaction(TxnRequest::InitProducer {
                    transactional_id: "bad".into(),
                    timeout_ms: bad,
                })
                .await,
            Err(CoordinatorError::InvalidArgument(_))
        ));
    }

    // An open transaction holds the last stable offset across a restart and a snapshot.
    add(&coordinator, "tx", successor, &[("out", 0)])
        .await
        .expect("add");
    produce(&coordinator, "four", &[(0, 1, Some((successor, 0)))]).await;
    let before = coordinator.partition_offsets("out", 0).await.expect("p0");
    assert_eq!((before.high_watermark, before.last_stable_offset()), (8, 7));
    let lookups = (
        entries(&coordinator, 0).await,
        entries(&coordinator, 1).await,
    );
    let snapshot = coordinator.snapshot().await.expect("snapshot");
    drop(coordinator);
    let reopened = backend.open().await;
    assert_eq!(
        reopened.partition_offsets("out", 0).await.expect("p0"),
        before
    );
    let restored = Backend::sqlite();
    let copy = restored.open().await;
    copy.restore(snapshot).await.expect("restore");
    assert_eq!(copy.partition_offsets("out", 0).await.expect("p0"), before);
    assert_eq!((entries(&copy, 0).await, entries(&copy, 1).await), lookups);
    assert_eq!(state_of(&copy, "tx").await, TxnState::Ongoing);
    assert_eq!(committed_offset(&copy, "g").await, Some(5));
    end(&copy, "tx", successor, true)
        .await
        .expect("commit the copy");
    let after = copy.partition_offsets("out", 0).await.expect("p0");
    assert_eq!((after.high_watermark, after.last_stable_offset()), (9, 9));
}

pub(in crate::service) async fn a_transaction_past_its_timeout_is_aborted(backend: Backend) {
    let clock = Arc::new(silt_core::clock::ManualClock::new());
    let coordinator = backend
        .open_with_clock(crate::DEFAULT_PRODUCER_IDLE_EXPIRY_MS, clock.clone())
        .await;
    coordinator
        .create_topic(topic("out", 1))
        .await
        .expect("out");
    let producer = init(&coordinator, "slow", 1_000).await;
    add(&coordinator, "slow", producer, &[("out", 0)])
        .await
        .expect("add");
    produce(&coordinator, "slow", &[(0, 4, Some((producer, 0)))]).await;
    clock.advance(Duration::from_millis(900));
    assert_eq!(
        coordinator
            .abort_expired_transactions()
            .await
            .expect("check"),
        0
    );
    let bounds = coordinator.partition_offsets("out", 0).await.expect("p0");
    assert_eq!((bounds.high_watermark, bounds.last_stable_offset()), (4, 0));
    clock.advance(Duration::from_millis(200));
    assert_eq!(
        coordinator
            .abort_expired_transactions()
            .await
            .expect("abort"),
        1
    );
    let bounds = coordinator.partition_offsets("out", 0).await.expect("p0");
    assert_eq!((bounds.high_watermark, bounds.last_stable_offset()), (5, 5));
    assert_eq!(
        state_of(&coordinator, "slow").await,
        TxnState::CompleteAbort
    );
    // Offsets of a Silt group's generation fail the commit once the group moved on.
    coordinator.create_topic(topic("in", 1)).await.expect("in");
    let join = |member_id: Option<String>| silt_core::groups::JoinGroup {
        member_id,
        topics: vec!["in".into()],
        session_timeout_ms: 30_000,
        auto_offset_reset: Default::default(),
    };
    let first = coordinator.join_group("g", join(None)).await.expect("join");
    let gen_producer = init(&coordinator, "gen", 60_000).await;
    add(&coordinator, "gen", gen_producer, &[("out", 0)])
        .await
        .expect("add");
    coordinator
        .transaction(TxnRequest::CommitOffsets {
            transactional_id: "gen".into(),
            producer: gen_producer,
            group: "g".into(),
            offsets: vec![TxnOffset {
                topic: "in".into(),
                partition: 0,
                offset: 1,
                metadata: String::new(),
                leader_epoch: None,
            }],
            only_forward: true,
            generation: Some(first.generation),
        })
        .await
        .expect("offsets");
    coordinator
        .join_group("g", join(None))
        .await
        .expect("second member");
    assert!(matches!(
        end(&coordinator, "gen", gen_producer, true).await,
        Err(CoordinatorError::StaleGeneration { .. })
    ));
    assert_eq!(state_of(&coordinator, "gen").await, TxnState::Ongoing);
    end(&coordinator, "gen", gen_producer, false)
        .await
        .expect("abort");

    // The producer comes back fenced: nothing it sends opens a new transaction that
    // would commit only what came after the abort.
    assert!(matches!(
        end(&coordinator, "slow", producer, true).await,
        Err(CoordinatorError::ProducerFenced { .. })
    ));
    assert!(matches!(
        add(&coordinator, "slow", producer, &[("out", 0)]).await,
        Err(CoordinatorError::ProducerFenced { .. })
    ));
    let late = produce(&coordinator, "late", &[(0, 1, Some((producer, 4)))]).await;
    assert!(
        matches!(&late[0], ChunkOutcome::Rejected { error_code, .. } if error_code == "producer_fenced"),
        "{late:?}"
    );
    // Its next InitProducerId (a restart, or librdkafka's epoch bump) carries on.
    let again = init(&coordinator, "slow", 1_000).await;
    assert_eq!(
        (again.producer_id, again.epoch),
        (producer.producer_id, producer.epoch + 2)
    );
    // Operators list transactions by state.
    let listed = coordinator
        .transaction(TxnRequest::List {
            states: vec![TxnState::Empty],
            producer_ids: Vec::new(),
        })
        .await
        .expect("list");
    assert!(matches!(listed, TxnResponse::Described { transactions } if transactions.len() == 1));
    let listed = coordinator
        .transaction(TxnRequest::List {
            states: vec![TxnState::Ongoing],
            producer_ids: Vec::new(),
        })
        .await
        .expect("list");
    assert!(matches!(listed, TxnResponse::Described { transactions } if transactions.is_empty()));
    // Idle transactional ids are forgotten: a request's own after an hour, any other
    // after Kafka's seven days; an open transaction's never.
    let request_id = format!(
        "{}gateway_0",
        silt_core::transactions::REQUEST_TRANSACTION_PREFIX
    );
    init(&coordinator, &request_id, 1_000).await;
    let open = init(&coordinator, "open", 900_000).await;
    add(&coordinator, "open", open, &[("out", 0)])
        .await
        .expect("add");
    clock.advance(Duration::from_secs(3601));
    assert_eq!(
        coordinator
            .forget_idle_transactional_ids()
            .await
            .expect("forget"),
        1
    );
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    // "slow" and "gen", ended above.
    assert_eq!(
        coordinator
            .forget_idle_transactional_ids()
            .await
            .expect("forget"),
        2
    );
    let listed = coordinator
        .transaction(TxnRequest::List {
            states: Vec::new(),
            producer_ids: Vec::new(),
        })
        .await
        .expect("list");
    let TxnResponse::Described { transactions } = listed else {
        panic!("{listed:?}");
    };
    let ids: Vec<&str> = transactions
        .iter()
        .map(|txn| txn.transactional_id.as_str())
        .collect();
    assert_eq!(ids, vec!["open"]);
    end(&coordinator, "open", open, false).await.expect("abort");
}
