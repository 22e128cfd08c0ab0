//! Idempotent producers: what a commit does with the chunks of a request stamped with
//! (producer id, epoch, sequence). The coordinator keeps, per producer, its epoch, its
//! last committed sequence and where that request's chunks landed, so that a retry of
//! the last sequence is answered with the original offsets and writes nothing new.

use serde::{Deserialize, Serialize};
use silt_core::coordinator::ProducerStamp;

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

#[cfg(test)]
mod tests {
    use super::*;

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
