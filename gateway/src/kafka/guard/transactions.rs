//! The schemas of the transaction requests a producer or an operator sends:
//! AddPartitionsToTxn (versions 0-3 a client's, 4+ a broker's batch), AddOffsetsToTxn,
//! EndTxn, TxnOffsetCommit, DescribeTransactions and ListTransactions.

use super::Ty::{self, Bool, I16, I32, I64, Str};
use super::{Field, array, f, upto};

const TXN_TOPIC: Ty = Ty::Struct(&[f(0, Str), f(0, array(&I32))]);

pub(super) const ADD_PARTITIONS_TO_TXN: &[Field] = &[
    f(
        4,
        array(&Ty::Struct(&[
            f(4, Str),
            f(4, I64),
            f(4, I16),
            f(4, Bool),
            f(4, array(&TXN_TOPIC)),
        ])),
    ),
    upto(0, 3, Str),
    upto(0, 3, I64),
    upto(0, 3, I16),
    upto(0, 3, array(&TXN_TOPIC)),
];

pub(super) const ADD_OFFSETS_TO_TXN: &[Field] = &[f(0, Str), f(0, I64), f(0, I16), f(0, Str)];

pub(super) const END_TXN: &[Field] = &[f(0, Str), f(0, I64), f(0, I16), f(0, Bool)];

pub(super) const TXN_OFFSET_COMMIT: &[Field] = &[
    f(0, Str),
    f(0, Str),
    f(0, I64),
    f(0, I16),
    f(3, I32),
    f(3, Str),
    // Nullable: no group instance id.
    f(3, Str),
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(
                0,
                array(&Ty::Struct(&[f(0, I32), f(0, I64), f(2, I32), f(0, Str)])),
            ),
        ])),
    ),
];

pub(super) const DESCRIBE_TRANSACTIONS: &[Field] = &[f(0, array(&Str))];

pub(super) const LIST_TRANSACTIONS: &[Field] = &[
    f(0, array(&Str)),
    f(0, array(&I64)),
    f(1, I64),
    // Nullable: no pattern.
    f(2, Str),
];
