//! The schemas of the admin requests that change topics and groups: CreatePartitions,
//! AlterConfigs, IncrementalAlterConfigs, DeleteGroups and OffsetDelete.

use super::Ty::{self, Bool, I8, I32, Str};
use super::{Field, array, f};

pub(super) const CREATE_PARTITIONS: &[Field] = &[
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(0, I32),
            // Nullable: no explicit assignment.
            f(0, array(&Ty::Struct(&[f(0, array(&I32))]))),
        ])),
    ),
    f(0, I32),
    f(0, Bool),
];

pub(super) const ALTER_CONFIGS: &[Field] = &[
    f(
        0,
        array(&Ty::Struct(&[
            f(0, I8),
            f(0, Str),
            f(0, array(&Ty::Struct(&[f(0, Str), f(0, Str)]))),
        ])),
    ),
    f(0, Bool),
];

pub(super) const INCREMENTAL_ALTER_CONFIGS: &[Field] = &[
    f(
        0,
        array(&Ty::Struct(&[
            f(0, I8),
            f(0, Str),
            f(0, array(&Ty::Struct(&[f(0, Str), f(0, I8), f(0, Str)]))),
        ])),
    ),
    f(0, Bool),
];

pub(super) const DELETE_GROUPS: &[Field] = &[f(0, array(&Str))];

pub(super) const OFFSET_DELETE: &[Field] = &[
    f(0, Str),
    f(0, array(&Ty::Struct(&[f(0, Str), f(0, array(&I32))]))),
];
