//! Idempotent producers: what a commit does with the chunks of a request stamped with
//! (producer id, epoch, sequence). The coordinator keeps, per producer, its epoch, its
//! last committed sequence and where that request's chunks landed, so that a retry of
//! the last sequence is answered with the original offsets and writes nothing new.

//!
//! Kafka's idempotent producers count sequences per partition instead: for each
//! (producer, topic, partition) the coordinator keeps the epoch and the last
//! [`KAFKA_BATCHES_KEPT`] batches' sequence ranges and offsets, as a Kafka broker does, so
//! that a client retrying any of its in-flight batches gets the original offset.

use serde::{Deserialize, Serialize};
use silt_core::coordinator::{KafkaBatchStamp, ProducerStamp};

/// Where one chunk of a producer's last committed request landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastChunk {
    pub partition: u32,
    pub base_offset: u64,
    pub record_count: u32,
}

/// A producer's state as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    pub epoch: i32,
    /// -1 before the first request.
    pub last_sequence: i64,
    pub last_topic_id: Option<i64>,
    pub last_chunks: Vec<LastChunk>,
}

/// What to do with the chunks of one stamped request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The next sequence: commit the chunks and remember them.
    Append,
    /// A retry of the last committed request: answer with these chunks' offsets.
    Duplicate(Vec<LastChunk>),
    Reject {
        error_code: &'static str,
        message: String,
    },
}

pub fn decide(state: Option<&ProducerState>, stamp: &ProducerStamp, topic_id: i64) -> Decision {
    let Some(state) = state else {
        return Decision::Reject {
            error_code: "unknown_producer",
            message: format!(
                "producer {} is unknown or expired; ask for a new producer id",
                stamp.producer_id
            ),
        };
    };
    if stamp.epoch < state.epoch {
        return Decision::Reject {
            error_code: "producer_fenced",
            message: format!(
                "producer {} epoch {} was fenced by epoch {}",
                stamp.producer_id, stamp.epoch, state.epoch
            ),
        };
    }
    if stamp.epoch > state.epoch {
        return Decision::Reject {
            error_code: "invalid_producer_epoch",
            message: format!(
                "producer {} has epoch {}, not {}",
                stamp.producer_id, state.epoch, stamp.epoch
            ),
        };
    }
    let expected = state.last_sequence + 1;
    if stamp.sequence == expected {
        return Decision::Append;
    }
    if stamp.sequence == state.last_sequence && state.last_topic_id == Some(topic_id) {
        return Decision::Duplicate(state.last_chunks.clone());
    }
    if stamp.sequence < state.last_sequence {
        return Decision::Reject {
            error_code: "duplicate_sequence",
            message: format!(
                "sequence {} of producer {} was committed before sequence {}; only the last one can be retried",
                stamp.sequence, stamp.producer_id, state.last_sequence
            ),
        };
    }
    Decision::Reject {
        error_code: "out_of_order_sequence",
        message: format!(
            "producer {} sent sequence {}; expected {expected}",
            stamp.producer_id, stamp.sequence
        ),
    }
}

/// Batches remembered per Kafka producer and partition: Kafka clients keep at most five
/// requests in flight per connection with idempotence on, so five cover every retry.
pub const KAFKA_BATCHES_KEPT: usize = 5;

/// One committed batch of a Kafka producer on one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaBatch {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub base_offset: u64,
}

/// A Kafka producer's state on one partition, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaPartitionState {
    pub epoch: i32,
    /// Oldest first, at most [`KAFKA_BATCHES_KEPT`].
    pub batches: Vec<KafkaBatch>,
}

/// A `producers` row's state.
pub fn state_from_row(
    producer_id: i64,
    epoch: i64,
    last_sequence: i64,
    last_topic_id: Option<i64>,
    last_chunks: &str,
) -> Result<ProducerState, crate::error::StoreError> {
    let invalid = |what: String| crate::error::StoreError::Invalid(what);
    Ok(ProducerState {
        epoch: i32::try_from(epoch).map_err(|_| invalid(format!("producer epoch {epoch}")))?,
        last_sequence,
        last_topic_id,
        last_chunks: serde_json::from_str(last_chunks)
            .map_err(|error| invalid(format!("producer {producer_id} chunks: {error}")))?,
    })
}

/// A `kafka_sequences` row's state.
pub fn kafka_state_from_row(
    producer_id: i64,
    epoch: i64,
    batches: &str,
) -> Result<KafkaPartitionState, crate::error::StoreError> {
    let invalid = |what: String| crate::error::StoreError::Invalid(what);
    Ok(KafkaPartitionState {
        epoch: i32::try_from(epoch)
            .map_err(|_| invalid(format!("producer {producer_id} epoch {epoch}")))?,
        batches: serde_json::from_str(batches)
            .map_err(|error| invalid(format!("producer {producer_id} kafka batches: {error}")))?,
    })
}

/// Kafka's sequence arithmetic: sequences wrap from `i32::MAX` to 0.
fn add_sequence(sequence: i32, delta: u32) -> i32 {
    let next = (i64::from(sequence) + i64::from(delta)) % (i64::from(i32::MAX) + 1);
    // In range by construction: the remainder of a non-negative number by 2^31.
    i32::try_from(next).unwrap_or(0)
}

/// The last sequence of a batch of `record_count` records from `first_sequence` on.
pub fn last_sequence(first_sequence: i32, record_count: u32) -> i32 {
    add_sequence(first_sequence, record_count.saturating_sub(1))
}

/// What to do with a chunk holding one Kafka batch of `record_count` records for
/// `partition`. A [`Decision::Duplicate`] carries the original batch's offset.
pub fn decide_kafka(
    producer: Option<&ProducerState>,
    state: Option<&KafkaPartitionState>,
    stamp: &KafkaBatchStamp,
    partition: u32,
    record_count: u32,
) -> Decision {
    let Some(producer) = producer else {
        return Decision::Reject {
            error_code: "unknown_producer",
            message: format!(
                "producer {} is unknown or expired; ask for a new producer id",
                stamp.producer_id
            ),
        };
    };
    if stamp.epoch != producer.epoch {
        let error_code = if stamp.epoch < producer.epoch {
            "producer_fenced"
        } else {
            "invalid_producer_epoch"
        };
        return Decision::Reject {
            error_code,
            message: format!(
                "producer {} has epoch {}, not {}",
                stamp.producer_id, producer.epoch, stamp.epoch
            ),
        };
    }
    let last = last_sequence(stamp.base_sequence, record_count);
    let batches = match state {
        Some(state) if state.epoch == stamp.epoch => state.batches.as_slice(),
        // A new epoch starts its sequences again at 0 on every partition.
        _ => &[],
    };
    if let Some(original) = batches
        .iter()
        .find(|batch| batch.first_sequence == stamp.base_sequence && batch.last_sequence == last)
    {
        return Decision::Duplicate(vec![LastChunk {
            partition,
            base_offset: original.base_offset,
            record_count,
        }]);
    }
    let expected = batches
        .last()
        .map_or(0, |newest| add_sequence(newest.last_sequence, 1));
    if stamp.base_sequence == expected {
        return Decision::Append;
    }
    // Behind the newest batch but not one of those kept: written long ago.
    let behind = batches.last().is_some_and(|newest| {
        stamp.base_sequence <= newest.last_sequence
            && newest.last_sequence - stamp.base_sequence < i32::MAX / 2
    });
    if behind {
        return Decision::Reject {
            error_code: "duplicate_sequence",
            message: format!(
                "sequence {} of producer {} on partition {partition} was committed before; only the last {KAFKA_BATCHES_KEPT} batches can be retried",
                stamp.base_sequence, stamp.producer_id
            ),
        };
    }
    Decision::Reject {
        error_code: "out_of_order_sequence",
        message: format!(
            "producer {} sent sequence {} on partition {partition}; expected {expected}",
            stamp.producer_id, stamp.base_sequence
        ),
    }
}

/// The partition's state after a batch was appended at `base_offset`.
pub fn kafka_appended(
    state: Option<KafkaPartitionState>,
    stamp: &KafkaBatchStamp,
    record_count: u32,
    base_offset: u64,
) -> KafkaPartitionState {
    let mut batches = match state {
        Some(state) if state.epoch == stamp.epoch => state.batches,
        _ => Vec::new(),
    };
    batches.push(KafkaBatch {
        first_sequence: stamp.base_sequence,
        last_sequence: last_sequence(stamp.base_sequence, record_count),
        base_offset,
    });
    let excess = batches.len().saturating_sub(KAFKA_BATCHES_KEPT);
    batches.drain(..excess);
    KafkaPartitionState {
        epoch: stamp.epoch,
        batches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(epoch: i32, base_sequence: i32) -> KafkaBatchStamp {
        KafkaBatchStamp {
            producer_id: 7,
            epoch,
            base_sequence,
            transactional: false,
        }
    }

    #[test]
    fn kafka_sequences_per_partition() {
        let producer = state(1, -1);
        // The first batch of an epoch starts at 0.
        assert_eq!(
            decide_kafka(Some(&producer), None, &kafka(1, 0), 3, 10),
            Decision::Append
        );
        assert!(matches!(
            decide_kafka(Some(&producer), None, &kafka(1, 4), 3, 10),
            Decision::Reject {
                error_code: "out_of_order_sequence",
                ..
            }
        ));
        let mut partition = None;
        for (batch, base_offset) in (0..7).zip((100..).step_by(10)) {
            partition = Some(kafka_appended(
                partition,
                &kafka(1, batch * 10),
                10,
                base_offset,
            ));
        }
        let partition = partition.expect("state");
        assert_eq!(partition.batches.len(), KAFKA_BATCHES_KEPT);
        assert_eq!(partition.batches[0].first_sequence, 20);
        assert_eq!(partition.batches[4].last_sequence, 69);
        // The next batch follows; each of the last five is a retry with its offset.
        assert_eq!(
            decide_kafka(Some(&producer), Some(&partition), &kafka(1, 70), 3, 5),
            Decision::Append
        );
        assert_eq!(
            decide_kafka(Some(&producer), Some(&partition), &kafka(1, 30), 3, 10),
            Decision::Duplicate(vec![LastChunk {
                partition: 3,
                base_offset: 130,
                record_count: 10
            }])
        );
        // Older than those kept, a gap, a different length, another epoch.
        assert!(matches!(
            decide_kafka(Some(&producer), Some(&partition), &kafka(1, 0), 3, 10),
            Decision::Reject {
                error_code: "duplicate_sequence",
                ..
            }
        ));
        assert!(matches!(
            decide_kafka(Some(&producer), Some(&partition), &kafka(1, 71), 3, 5),
            Decision::Reject {
                error_code: "out_of_order_sequence",
                ..
            }
        ));
        assert!(matches!(
            decide_kafka(Some(&producer), Some(&partition), &kafka(1, 30), 3, 4),
            Decision::Reject { .. }
        ));
        assert!(matches!(
            decide_kafka(Some(&producer), Some(&partition), &kafka(0, 70), 3, 5),
            Decision::Reject {
                error_code: "producer_fenced",
                ..
            }
        ));
        assert!(matches!(
            decide_kafka(None, None, &kafka(1, 0), 3, 5),
            Decision::Reject {
                error_code: "unknown_producer",
                ..
            }
        ));
        // A new epoch forgets the old sequences and starts at 0.
        let bumped = state(2, -1);
        assert_eq!(
            decide_kafka(Some(&bumped), Some(&partition), &kafka(2, 0), 3, 5),
            Decision::Append
        );
        assert_eq!(
            kafka_appended(Some(partition), &kafka(2, 0), 5, 900)
                .batches
                .len(),
            1
        );
    }

    #[test]
    fn kafka_sequences_wrap_after_the_largest_int32() {
        assert_eq!(last_sequence(i32::MAX - 1, 4), 1);
        let wrapped = kafka_appended(None, &kafka(0, i32::MAX - 1), 4, 0);
        assert_eq!(wrapped.batches[0].last_sequence, 1);
        let producer = state(0, -1);
        assert_eq!(
            decide_kafka(Some(&producer), Some(&wrapped), &kafka(0, 2), 0, 1),
            Decision::Append
        );
    }

    fn stamp(epoch: i32, sequence: i64) -> ProducerStamp {
        ProducerStamp {
            producer_id: 7,
            epoch,
            sequence,
        }
    }

    fn state(epoch: i32, last_sequence: i64) -> ProducerState {
        let last_chunks = vec![LastChunk {
            partition: 1,
            base_offset: 40,
            record_count: 3,
        }];
        ProducerState {
            epoch,
            last_sequence,
            last_topic_id: Some(1),
            last_chunks,
        }
    }

    #[test]
    fn sequences_epochs_and_retries() {
        let fresh = ProducerState {
            epoch: 0,
            last_sequence: -1,
            last_topic_id: None,
            last_chunks: vec![],
        };
        assert_eq!(decide(Some(&fresh), &stamp(0, 0), 1), Decision::Append);
        assert!(matches!(
            decide(Some(&fresh), &stamp(0, 1), 1),
            Decision::Reject {
                error_code: "out_of_order_sequence",
                ..
            }
        ));
        assert_eq!(
            decide(Some(&state(0, 4)), &stamp(0, 5), 1),
            Decision::Append
        );
        assert_eq!(
            decide(Some(&state(0, 4)), &stamp(0, 4), 1),
            Decision::Duplicate(state(0, 4).last_chunks)
        );
        assert!(matches!(
            decide(Some(&state(0, 4)), &stamp(0, 4), 2),
            Decision::Reject { .. }
        ));
        assert!(matches!(
            decide(Some(&state(0, 4)), &stamp(0, 2), 1),
            Decision::Reject {
                error_code: "duplicate_sequence",
                ..
            }
        ));
        assert!(matches!(
            decide(Some(&state(0, 4)), &stamp(0, 7), 1),
            Decision::Reject {
                error_code: "out_of_order_sequence",
                ..
            }
        ));
        assert!(matches!(
            decide(Some(&state(2, 4)), &stamp(1, 5), 1),
            Decision::Reject {
                error_code: "producer_fenced",
                ..
            }
        ));
        assert!(matches!(
            decide(Some(&state(2, 4)), &stamp(3, 5), 1),
            Decision::Reject {
                error_code: "invalid_producer_epoch",
                ..
            }
        ));
        assert!(matches!(
            decide(None, &stamp(0, 0), 1),
            Decision::Reject {
                error_code: "unknown_producer",
                ..
            }
        ));
    }
}
