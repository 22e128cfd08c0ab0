//! The schemas of the transaction requests a producer or an operator sends:
//! AddPartitionsToTxn (versions 0-3, a client's), AddOffsetsToTxn, EndTxn,
//! TxnOffsetCommit, DescribeTransactions and ListTransactions.

use super::Ty::{self, Bool, I16, I32, I64, Str};
use super::{Field, array, f, upto};

pub(super) const ADD_PARTITIONS_TO_TXN: &[Field] = &[
    upto(0, 3, Str),
    upto(0, 3, I64),
    upto(0, 3, I16),
    upto(0, 3, array(&Ty::Struct(&[f(0, Str), f(0, array(&I32))]))),
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

pub(super) const LIST_TRANSACTIONS: &[Field] = &[f(0, array(&Str)), f(0, array(&I64)), f(1, I64)];
