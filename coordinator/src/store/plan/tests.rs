//! The planner alone, no database: what a commit decides from the rows it read.

use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, KafkaBatchStamp, ProducerStamp, SegmentCommit, TableCommit,
    TableRange,
};

use super::*;

fn chunk(topic_id: i64, partition: u32, records: u32) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        topic: format!("t{topic_id}"),
        partition,
        record_count: records,
        byte_offset: 0,
        byte_len: 10,
        min_timestamp: 1,
        max_timestamp: 2,
        producer: None,
        kafka: None,
        txn: None,
        request: 0,
    }
}

fn stamped(mut chunk: ChunkCommit, producer_id: i64, epoch: i32, sequence: i64) -> ChunkCommit {
    chunk.producer = Some(ProducerStamp {
        producer_id,
        epoch,
        sequence,
    });
    chunk
}

fn kafka(mut chunk: ChunkCommit, producer_id: i64, epoch: i32, base_sequence: i32) -> ChunkCommit {
    chunk.kafka = Some(KafkaBatchStamp {
        producer_id,
        epoch,
        base_sequence,
        transactional: false,
    });
    chunk
}

fn segment(key: &str, chunks: Vec<ChunkCommit>) -> SegmentCommit {
    SegmentCommit {
        object_key: key.into(),
        object_size: 100,
        chunks,
    }
}

fn partition(topic_id: i64, high_watermark: i64) -> PartitionState {
    PartitionState {
        topic: format!("t{topic_id}"),
        log_start_offset: 0,
        high_watermark,
        first_unstable_offset: None,
    }
}

/// Reads holding partitions 0 and 1 of topic 1 at `high_watermark`, and producer 7 at
/// epoch 0 with last sequence `last_sequence` on topic 1.
fn reads(high_watermark: i64, last_sequence: i64) -> SegmentReads {
    let mut reads = SegmentReads::default();
    reads
        .partitions
        .insert((1, 0), partition(1, high_watermark));
    reads
        .partitions
        .insert((1, 1), partition(1, high_watermark));
    reads.producers.insert(
        7,
        ProducerState {
            epoch: 0,
            last_sequence,
            last_topic_id: Some(1),
            last_chunks: vec![LastChunk {
                partition: 0,
                base_offset: 3,
                record_count: 2,
            }],
        },
    );
    reads
}

fn committed(base_offset: u64) -> ChunkOutcome {
    ChunkOutcome::Committed { base_offset }
}

fn rejected(outcome: &ChunkOutcome) -> Option<&str> {
    match outcome {
        ChunkOutcome::Rejected { error_code, .. } => Some(error_code),
        ChunkOutcome::Committed { .. } => None,
    }
}

#[test]
fn the_keys_name_each_row_once() {
    let commits = vec![
        segment(
            "a",
            vec![
                stamped(chunk(1, 0, 1), 7, 0, 0),
                stamped(chunk(1, 1, 1), 7, 0, 0),
            ],
        ),
        segment("b", vec![kafka(chunk(1, 0, 1), 7, 0, 0), chunk(2, 0, 1)]),
    ];
    let keys = SegmentKeys::of(&commits);
    assert_eq!(keys.object_keys, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(keys.partitions, vec![(1, 0), (1, 1), (2, 0)]);
    assert_eq!(keys.producers, vec![7]);
    assert_eq!(keys.kafka_sequences, vec![(7, 1, 0)]);
}

#[test]
fn chunks_take_the_next_offsets_and_move_the_high_watermark() {
    let commits = vec![segment(
        "a",
        vec![chunk(1, 0, 3), chunk(1, 1, 2), chunk(1, 0, 4)],
    )];
    let plan = plan_segments(commits, reads(10, -1)).expect("plan");
    assert_eq!(
        plan.outcomes[0].0,
        vec![committed(10), committed(10), committed(13)]
    );
    assert_eq!(
        plan.high_watermarks,
        vec![(1, 0, 17, None), (1, 1, 12, None)]
    );
    assert_eq!(plan.entries.len(), 3);
    assert_eq!(plan.segments.len(), 1);
    let advanced: Vec<(i64, u32, u64)> = plan.outcomes[0]
        .1
        .iter()
        .map(|(topic_id, offsets)| (*topic_id, offsets.partition, offsets.high_watermark))
        .collect();
    assert_eq!(advanced, vec![(1, 0, 17), (1, 1, 12)]);
    assert!(plan.producers.is_empty());
}

#[test]
fn a_chunk_of_a_topic_that_is_gone_or_renamed_is_rejected() {
    let mut renamed = chunk(1, 0, 1);
    renamed.topic = "other".into();
    let commits = vec![segment("a", vec![chunk(9, 0, 1), renamed, chunk(1, 1, 1)])];
    let plan = plan_segments(commits, reads(0, -1)).expect("plan");
    let outcomes = &plan.outcomes[0].0;
    assert_eq!(rejected(&outcomes[0]), Some("topic_not_found"));
    assert_eq!(rejected(&outcomes[1]), Some("topic_not_found"));
    assert_eq!(outcomes[2], committed(0));
    assert_eq!(plan.high_watermarks, vec![(1, 1, 1, None)]);
}

/// A case of [`stamped_requests_are_appended_repeated_or_refused_once`]: its name, the
/// request's sequence, epoch and topic, and the offset or error code its chunk gets.
type StampCase = (&'static str, i64, i32, i64, Result<u64, &'static str>);

/// The idempotent producer's decisions, table-driven.
#[test]
fn stamped_requests_are_appended_repeated_or_refused_once() {
    let cases: [StampCase; 7] = [
        ("the next sequence", 5, 0, 1, Ok(10)),
        ("a retry of the last", 4, 0, 1, Ok(3)),
        (
            "the last sequence on another topic",
            4,
            0,
            2,
            Err("out_of_order_sequence"),
        ),
        ("an older sequence", 2, 0, 1, Err("duplicate_sequence")),
        ("a gap", 7, 0, 1, Err("out_of_order_sequence")),
        ("an older epoch", 5, -1, 1, Err("producer_fenced")),
        ("a newer epoch", 5, 1, 1, Err("invalid_producer_epoch")),
    ];
    for (case, sequence, epoch, topic_id, expected) in cases {
        let mut reads = reads(10, 4);
        reads.partitions.insert((2, 0), partition(2, 10));
        let commits = vec![segment(
            "a",
            vec![stamped(chunk(topic_id, 0, 2), 7, epoch, sequence)],
        )];
        let plan = plan_segments(commits, reads).expect("plan");
        let outcome = &plan.outcomes[0].0[0];
        match expected {
            Ok(base_offset) => assert_eq!(outcome, &committed(base_offset), "{case}"),
            Err(code) => assert_eq!(rejected(outcome), Some(code), "{case}: {outcome:?}"),
        }
        let appended = expected == Ok(10);
        assert_eq!(plan.entries.len(), usize::from(appended), "{case}");
        assert_eq!(plan.producers.len(), usize::from(appended), "{case}");
    }
}

#[test]
fn an_unknown_producer_is_refused() {
    let commits = vec![segment("a", vec![stamped(chunk(1, 0, 1), 8, 0, 0)])];
    let plan = plan_segments(commits, reads(0, -1)).expect("plan");
    assert_eq!(rejected(&plan.outcomes[0].0[0]), Some("unknown_producer"));
    assert!(plan.entries.is_empty());
}

#[test]
fn a_retry_with_other_records_is_refused() {
    let commits = vec![segment("a", vec![stamped(chunk(1, 0, 5), 7, 0, 4)])];
    let plan = plan_segments(commits, reads(10, 4)).expect("plan");
    assert_eq!(rejected(&plan.outcomes[0].0[0]), Some("sequence_reused"));
}

#[test]
fn a_request_split_over_partitions_is_remembered_whole() {
    let mut second = stamped(chunk(1, 1, 3), 7, 0, 5);
    second.request = 0;
    let commits = vec![segment("a", vec![stamped(chunk(1, 0, 2), 7, 0, 5), second])];
    let plan = plan_segments(commits, reads(10, 4)).expect("plan");
    let (producer_id, state) = &plan.producers[0];
    assert_eq!(*producer_id, 7);
    assert_eq!(state.last_sequence, 5);
    assert_eq!(
        state.last_chunks,
        vec![
            LastChunk {
                partition: 0,
                base_offset: 10,
                record_count: 2
            },
            LastChunk {
                partition: 1,
                base_offset: 10,
                record_count: 3
            },
        ]
    );
}

#[test]
fn a_later_commit_of_the_batch_sees_what_an_earlier_one_wrote() {
    // Sequence 5 in the first segment, its retry and then 6 in the second.
    let commits = vec![
        segment("a", vec![stamped(chunk(1, 0, 2), 7, 0, 5)]),
        segment(
            "b",
            vec![stamped(chunk(1, 0, 2), 7, 0, 5), {
                let mut next = stamped(chunk(1, 0, 1), 7, 0, 6);
                next.request = 1;
                next
            }],
        ),
    ];
    let plan = plan_segments(commits, reads(10, 4)).expect("plan");
    assert_eq!(plan.outcomes[0].0, vec![committed(10)]);
    assert_eq!(plan.outcomes[1].0, vec![committed(10), committed(12)]);
    assert_eq!(plan.high_watermarks, vec![(1, 0, 13, None)]);
    assert_eq!(plan.producers[0].1.last_sequence, 6);
}

#[test]
fn a_repeated_object_key_answers_its_first_outcomes_and_writes_nothing() {
    let mut reads = reads(10, -1);
    reads.committed.insert("a".into(), vec![committed(3)]);
    let commits = vec![
        segment("a", vec![chunk(1, 0, 1)]),
        segment("b", vec![chunk(1, 0, 1)]),
        segment("b", vec![chunk(1, 0, 1)]),
    ];
    let plan = plan_segments(commits, reads).expect("plan");
    assert_eq!(plan.outcomes[0], (vec![committed(3)], Vec::new()));
    assert_eq!(plan.outcomes[1].0, vec![committed(10)]);
    assert_eq!(plan.outcomes[2], (vec![committed(10)], Vec::new()));
    assert_eq!(plan.segments.len(), 1);
    assert_eq!(plan.entries.len(), 1);
}

#[test]
fn kafka_batches_keep_their_sequences_per_partition() {
    let commits = vec![segment(
        "a",
        vec![
            kafka(chunk(1, 0, 3), 7, 0, 0),
            kafka(chunk(1, 0, 3), 7, 0, 0),
            kafka(chunk(1, 0, 2), 7, 0, 3),
            kafka(chunk(1, 1, 2), 7, 0, 5),
        ],
    )];
    let plan = plan_segments(commits, reads(10, -1)).expect("plan");
    let outcomes = &plan.outcomes[0].0;
    assert_eq!(outcomes[0], committed(10));
    assert_eq!(outcomes[1], committed(10), "a retry gets its first offset");
    assert_eq!(outcomes[2], committed(13));
    assert_eq!(
        rejected(&outcomes[3]),
        Some("out_of_order_sequence"),
        "a first batch starts at 0"
    );
    assert_eq!(plan.kafka_sequences.len(), 1);
    assert_eq!(plan.kafka_sequences[0].0, (7, 1, 0));
    assert_eq!(plan.kafka_sequences[0].1.batches.len(), 2);
    assert_eq!(
        plan.producers.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![7]
    );
}

fn table(ranges: Vec<(u32, u64, u64)>) -> TableCommit {
    TableCommit {
        topic_id: 1,
        topic: "t1".into(),
        object_key: "table".into(),
        object_size: 10,
        replaces: Vec::new(),
        ranges: ranges
            .into_iter()
            .map(|(partition, base_offset, record_count)| TableRange {
                partition,
                base_offset,
                record_count,
                min_timestamp: 0,
                max_timestamp: 0,
                byte_size: 0,
            })
            .collect(),
    }
}

fn entry(base_offset: i64, record_count: i64) -> CoveredEntry {
    CoveredEntry {
        base_offset,
        record_count,
        parquet: false,
        object_key: format!("segment-{base_offset}"),
        open_txn: false,
    }
}

#[test]
fn a_table_swap_needs_contiguous_segment_entries() {
    let commit = table(vec![(0, 0, 10)]);
    let with = |covered: Vec<CoveredEntry>| TableReads {
        committed: false,
        topic_live: true,
        covered: vec![covered],
    };
    let cases: [(&str, Vec<CoveredEntry>, Result<TablePlan, &str>); 6] = [
        ("exact", vec![entry(0, 4), entry(4, 6)], Ok(TablePlan::Swap)),
        (
            "a gap",
            vec![entry(0, 4), entry(5, 5)],
            Err("the index changed at offset 5"),
        ),
        ("short", vec![entry(0, 4)], Err("segment entries end at 4")),
        (
            "past the end",
            vec![entry(0, 12)],
            Err("segment entries end at 12"),
        ),
        (
            "late start",
            vec![entry(2, 8)],
            Err("the index changed at offset 2"),
        ),
        (
            "already parquet",
            vec![CoveredEntry {
                parquet: true,
                ..entry(0, 10)
            }],
            Err("the index changed at offset 0"),
        ),
    ];
    for (case, covered, expected) in cases {
        let outcome = plan_table(&commit, &with(covered));
        match expected {
            Ok(plan) => assert_eq!(outcome.expect(case), plan, "{case}"),
            Err(why) => {
                let error = outcome.expect_err(case).to_string();
                assert!(error.contains(why), "{case}: {error}");
            }
        }
    }
}

#[test]
fn a_repeated_or_orphaned_table_swap() {
    let commit = table(vec![(0, 0, 10)]);
    let repeated = TableReads {
        committed: true,
        topic_live: false,
        covered: Vec::new(),
    };
    assert_eq!(
        plan_table(&commit, &repeated).expect("repeat"),
        TablePlan::Repeated
    );
    let gone = TableReads {
        committed: false,
        topic_live: false,
        covered: Vec::new(),
    };
    assert!(plan_table(&commit, &gone).is_err());
    let too_big = table(vec![(0, 0, u64::from(u32::MAX) + 1)]);
    let covered = TableReads {
        committed: false,
        topic_live: true,
        covered: vec![vec![entry(0, i64::from(u32::MAX) + 1)]],
    };
    assert!(plan_table(&too_big, &covered).is_err());
}

#[test]
fn truncation_stays_within_the_partition() {
    let cases = [
        (5, (2, 9), 5),
        (0, (2, 9), 2),
        (20, (2, 9), 9),
        (u64::MAX, (2, 9), 9),
    ];
    for (requested, current, expected) in cases {
        let offsets = truncate(1, 0, Some(current), requested).expect("truncate");
        assert_eq!(offsets.log_start_offset, expected, "{requested}");
        assert_eq!(offsets.high_watermark, 9);
    }
    assert!(truncate(1, 3, None, 1).is_err());
}

#[test]
fn epochs_grow_until_they_would_overflow() {
    assert_eq!(next_epoch(0).expect("next"), 1);
    assert!(next_epoch(i64::from(i32::MAX)).is_err());
}

#[test]
fn reads_of_an_empty_store_plan_only_rejections() {
    let commits = vec![segment("a", vec![chunk(1, 0, 1)])];
    let plan = plan_segments(commits, SegmentReads::default()).expect("plan");
    assert_eq!(rejected(&plan.outcomes[0].0[0]), Some("topic_not_found"));
    assert_eq!(
        plan.segments.len(),
        1,
        "the segment row still records its outcome"
    );
}

#[test]
fn a_rewrite_replaces_only_the_compacted_files_it_names() {
    let mut commit = table(vec![(0, 0, 10)]);
    commit.replaces = vec!["old.parquet".into()];
    let covered = |object_key: &str| TableReads {
        committed: false,
        topic_live: true,
        covered: vec![vec![CoveredEntry {
            parquet: true,
            object_key: object_key.into(),
            ..entry(0, 10)
        }]],
    };
    assert_eq!(
        plan_table(&commit, &covered("old.parquet")).expect("named"),
        TablePlan::Swap
    );
    assert!(plan_table(&commit, &covered("other.parquet")).is_err());
}
