//! The schemas of the SASL requests (SaslHandshake, SaslAuthenticate) and of the ACL
//! requests (DescribeAcls, CreateAcls, DeleteAcls).

use kafka_protocol::messages::ApiKey;

use super::Ty::{self, Bytes, I8, Str};
use super::{Field, Schema, array, f};

const SASL_HANDSHAKE: &[Field] = &[f(0, Str)];

const SASL_AUTHENTICATE: &[Field] = &[f(0, Bytes)];

/// A filter of DescribeAcls and DeleteAcls; names, principals and hosts are nullable.
const ACL_FILTER: &[Field] = &[
    f(0, I8),
    f(0, Str),
    f(1, I8),
    f(0, Str),
    f(0, Str),
    f(0, I8),
    f(0, I8),
];

const CREATE_ACLS: &[Field] = &[f(
    0,
    array(&Ty::Struct(&[
        f(0, I8),
        f(0, Str),
        f(1, I8),
        f(0, Str),
        f(0, Str),
        f(0, I8),
        f(0, I8),
    ])),
)];

const DELETE_ACLS: &[Field] = &[f(0, array(&Ty::Struct(ACL_FILTER)))];

pub(super) const SCHEMAS: &[Schema] = &[
    Schema {
        api: ApiKey::SaslHandshake,
        flexible_from: i16::MAX,
        fields: SASL_HANDSHAKE,
    },
    Schema {
        api: ApiKey::SaslAuthenticate,
        flexible_from: 2,
        fields: SASL_AUTHENTICATE,
    },
    Schema {
        api: ApiKey::DescribeAcls,
        flexible_from: 2,
        fields: ACL_FILTER,
    },
    Schema {
        api: ApiKey::CreateAcls,
        flexible_from: 2,
        fields: CREATE_ACLS,
    },
    Schema {
        api: ApiKey::DeleteAcls,
        flexible_from: 2,
        fields: DELETE_ACLS,
    },
];
