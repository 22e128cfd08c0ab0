//! A bounds check of every Kafka request frame before the codec crate decodes it.
//!
//! The `kafka-protocol` crate reserves `Vec::with_capacity(count)` from an array's
//! declared count before it reads any element, so one frame declaring 2^31 elements
//! makes the process abort on a failed allocation. This module walks a frame by the
//! request's schema (the fields of every API and version Silt accepts, written once
//! below as data) and refuses it when any array declares more elements than there are
//! bytes left in the frame, when a string or byte field runs past the frame, or when a
//! known tagged field does not fill its declared size. A frame that passes can make the
//! codec allocate at most a small multiple of its length: every element costs at least
//! one byte of the frame.
//!
//! The same schema drives [`generate`], which writes random well-formed requests: the
//! tests decode those with the codec crate and encode them again, byte for byte, so a
//! field missing from a schema here cannot go unnoticed.

use kafka_protocol::messages::ApiKey;
use thiserror::Error;

/// Why a frame was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("the frame ends inside a field at byte {at}")]
    Truncated { at: usize },
    #[error("an array declares {count} elements with {remaining} bytes left in the frame")]
    ArrayTooLong { count: u64, remaining: usize },
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("a varint longer than 5 bytes at byte {at}")]
    VarintTooLong { at: usize },
    #[error("tagged field {tag} declares {declared} bytes and holds {used}")]
    TaggedFieldSize {
        tag: u32,
        declared: usize,
        used: usize,
    },
    #[error("no schema for {api:?} version {version}")]
    NoSchema { api: ApiKey, version: i16 },
}

/// The type of one field.
#[derive(Debug)]
pub enum Ty {
    I8,
    I16,
    I32,
    I64,
    Bool,
    Uuid,
    /// A string: an `i16` length, or a compact (varint) length in flexible versions.
    Str,
    /// Bytes: an `i32` length, or a compact length in flexible versions.
    Bytes,
    Array(&'static Ty),
    Struct(&'static [Field]),
}

/// A field present in versions `min..=max`; `tag` marks a tagged field of flexible
/// versions.
#[derive(Debug)]
pub struct Field {
    min: i16,
    max: i16,
    tag: Option<u32>,
    ty: Ty,
}

impl Field {
    fn present(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

const ALL: i16 = i16::MAX;

const fn f(min: i16, ty: Ty) -> Field {
    Field {
        min,
        max: ALL,
        tag: None,
        ty,
    }
}

const fn upto(min: i16, max: i16, ty: Ty) -> Field {
    Field {
        min,
        max,
        tag: None,
        ty,
    }
}

const fn tagged(tag: u32, min: i16, ty: Ty) -> Field {
    Field {
        min,
        max: ALL,
        tag: Some(tag),
        ty,
    }
}

use Ty::{Bool, Bytes, I8, I16, I32, I64, Str, Uuid};

/// A request's schema: its fields, and the first version with compact lengths and
/// tagged fields.
#[derive(Debug)]
pub struct Schema {
    pub api: ApiKey,
    pub flexible_from: i16,
    fields: &'static [Field],
}

const fn array(element: &'static Ty) -> Ty {
    Ty::Array(element)
}

const PRODUCE: &[Field] = &[
    f(0, Str),
    f(0, I16),
    f(0, I32),
    f(
        0,
        array(&Ty::Struct(&[
            upto(0, 12, Str),
            f(13, Uuid),
            f(0, array(&Ty::Struct(&[f(0, I32), f(0, Bytes)]))),
        ])),
    ),
];

const FETCH: &[Field] = &[
    upto(0, 14, I32),
    f(0, I32),
    f(0, I32),
    f(3, I32),
    f(4, I8),
    f(7, I32),
    f(7, I32),
    f(
        0,
        array(&Ty::Struct(&[
            upto(0, 12, Str),
            f(13, Uuid),
            f(
                0,
                array(&Ty::Struct(&[
                    f(0, I32),
                    f(9, I32),
                    f(0, I64),
                    f(12, I32),
                    f(5, I64),
                    f(0, I32),
                    tagged(0, 17, Uuid),
                    tagged(1, 18, I64),
                ])),
            ),
        ])),
    ),
    f(
        7,
        array(&Ty::Struct(&[
            upto(7, 12, Str),
            f(13, Uuid),
            f(7, array(&I32)),
        ])),
    ),
    f(11, Str),
    tagged(0, 12, Str),
    tagged(1, 15, Ty::Struct(&[f(15, I32), f(15, I64)])),
];

const LIST_OFFSETS: &[Field] = &[
    f(0, I32),
    f(2, I8),
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(0, array(&Ty::Struct(&[f(0, I32), f(4, I32), f(0, I64)]))),
        ])),
    ),
    f(10, I32),
];

const METADATA: &[Field] = &[
    f(0, array(&Ty::Struct(&[f(10, Uuid), f(0, Str)]))),
    f(4, Bool),
    upto(8, 10, Bool),
    f(8, Bool),
];

const FIND_COORDINATOR: &[Field] = &[upto(0, 3, Str), f(1, I8), f(4, array(&Str))];

const API_VERSIONS: &[Field] = &[f(3, Str), f(3, Str)];

const CREATE_TOPICS: &[Field] = &[
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(0, I32),
            f(0, I16),
            f(0, array(&Ty::Struct(&[f(0, I32), f(0, array(&I32))]))),
            f(0, array(&Ty::Struct(&[f(0, Str), f(0, Str)]))),
        ])),
    ),
    f(0, I32),
    f(1, Bool),
];

const DELETE_TOPICS: &[Field] = &[
    f(6, array(&Ty::Struct(&[f(6, Str), f(6, Uuid)]))),
    upto(0, 5, array(&Str)),
    f(0, I32),
];

const INIT_PRODUCER_ID: &[Field] = &[f(0, Str), f(0, I32), f(3, I64), f(3, I16)];

const JOIN_GROUP: &[Field] = &[
    f(0, Str),
    f(0, I32),
    f(1, I32),
    f(0, Str),
    f(5, Str),
    f(0, Str),
    f(0, array(&Ty::Struct(&[f(0, Str), f(0, Bytes)]))),
    f(8, Str),
];

const SYNC_GROUP: &[Field] = &[
    f(0, Str),
    f(0, I32),
    f(0, Str),
    f(3, Str),
    f(5, Str),
    f(5, Str),
    f(0, array(&Ty::Struct(&[f(0, Str), f(0, Bytes)]))),
];

const HEARTBEAT: &[Field] = &[f(0, Str), f(0, I32), f(0, Str), f(3, Str)];

const LEAVE_GROUP: &[Field] = &[
    f(0, Str),
    upto(0, 2, Str),
    f(3, array(&Ty::Struct(&[f(3, Str), f(3, Str), f(5, Str)]))),
];

const OFFSET_COMMIT: &[Field] = &[
    f(0, Str),
    f(1, I32),
    f(1, Str),
    f(7, Str),
    upto(2, 4, I64),
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(
                0,
                array(&Ty::Struct(&[f(0, I32), f(0, I64), f(6, I32), f(0, Str)])),
            ),
        ])),
    ),
];

const OFFSET_FETCH_TOPICS: Ty = Ty::Struct(&[f(0, Str), f(0, array(&I32))]);

const OFFSET_FETCH: &[Field] = &[
    upto(0, 7, Str),
    upto(0, 7, array(&OFFSET_FETCH_TOPICS)),
    f(
        8,
        array(&Ty::Struct(&[
            f(8, Str),
            f(9, Str),
            f(9, I32),
            f(8, array(&OFFSET_FETCH_TOPICS)),
        ])),
    ),
    f(7, Bool),
];

const DESCRIBE_GROUPS: &[Field] = &[f(0, array(&Str)), f(3, Bool)];

const LIST_GROUPS: &[Field] = &[f(4, array(&Str)), f(5, array(&Str))];

const DESCRIBE_CONFIGS: &[Field] = &[
    f(
        0,
        array(&Ty::Struct(&[f(0, I8), f(0, Str), f(0, array(&Str))])),
    ),
    f(1, Bool),
    f(3, Bool),
];

const DESCRIBE_CLUSTER: &[Field] = &[f(0, Bool), f(1, I8), f(2, Bool)];

const DELETE_RECORDS: &[Field] = &[
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(0, array(&Ty::Struct(&[f(0, I32), f(0, I64)]))),
        ])),
    ),
    f(0, I32),
];

const OFFSET_FOR_LEADER_EPOCH: &[Field] = &[
    f(3, I32),
    f(
        0,
        array(&Ty::Struct(&[
            f(0, Str),
            f(0, array(&Ty::Struct(&[f(0, I32), f(2, I32), f(0, I32)]))),
        ])),
    ),
];

mod admin;
mod security;
mod transactions;

/// Every request schema this module knows.
pub const SCHEMAS: &[Schema] = &[
    Schema {
        api: ApiKey::Produce,
        flexible_from: 9,
        fields: PRODUCE,
    },
    Schema {
        api: ApiKey::Fetch,
        flexible_from: 12,
        fields: FETCH,
    },
    Schema {
        api: ApiKey::ListOffsets,
        flexible_from: 6,
        fields: LIST_OFFSETS,
    },
    Schema {
        api: ApiKey::Metadata,
        flexible_from: 9,
        fields: METADATA,
    },
    Schema {
        api: ApiKey::FindCoordinator,
        flexible_from: 3,
        fields: FIND_COORDINATOR,
    },
    Schema {
        api: ApiKey::ApiVersions,
        flexible_from: 3,
        fields: API_VERSIONS,
    },
    Schema {
        api: ApiKey::CreateTopics,
        flexible_from: 5,
        fields: CREATE_TOPICS,
    },
    Schema {
        api: ApiKey::DeleteTopics,
        flexible_from: 4,
        fields: DELETE_TOPICS,
    },
    Schema {
        api: ApiKey::InitProducerId,
        flexible_from: 2,
        fields: INIT_PRODUCER_ID,
    },
    Schema {
        api: ApiKey::JoinGroup,
        flexible_from: 6,
        fields: JOIN_GROUP,
    },
    Schema {
        api: ApiKey::SyncGroup,
        flexible_from: 4,
        fields: SYNC_GROUP,
    },
    Schema {
        api: ApiKey::Heartbeat,
        flexible_from: 4,
        fields: HEARTBEAT,
    },
    Schema {
        api: ApiKey::LeaveGroup,
        flexible_from: 4,
        fields: LEAVE_GROUP,
    },
    Schema {
        api: ApiKey::OffsetCommit,
        flexible_from: 8,
        fields: OFFSET_COMMIT,
    },
    Schema {
        api: ApiKey::OffsetFetch,
        flexible_from: 6,
        fields: OFFSET_FETCH,
    },
    Schema {
        api: ApiKey::DescribeGroups,
        flexible_from: 5,
        fields: DESCRIBE_GROUPS,
    },
    Schema {
        api: ApiKey::ListGroups,
        flexible_from: 3,
        fields: LIST_GROUPS,
    },
    Schema {
        api: ApiKey::DescribeConfigs,
        flexible_from: 4,
        fields: DESCRIBE_CONFIGS,
    },
    Schema {
        api: ApiKey::DescribeCluster,
        flexible_from: 0,
        fields: DESCRIBE_CLUSTER,
    },
    Schema {
        api: ApiKey::DeleteRecords,
        flexible_from: 2,
        fields: DELETE_RECORDS,
    },
    Schema {
        api: ApiKey::OffsetForLeaderEpoch,
        flexible_from: 4,
        fields: OFFSET_FOR_LEADER_EPOCH,
    },
    Schema {
        api: ApiKey::CreatePartitions,
        flexible_from: 2,
        fields: admin::CREATE_PARTITIONS,
    },
    Schema {
        api: ApiKey::AlterConfigs,
        flexible_from: 2,
        fields: admin::ALTER_CONFIGS,
    },
    Schema {
        api: ApiKey::IncrementalAlterConfigs,
        flexible_from: 1,
        fields: admin::INCREMENTAL_ALTER_CONFIGS,
    },
    Schema {
        api: ApiKey::DeleteGroups,
        flexible_from: 2,
        fields: admin::DELETE_GROUPS,
    },
    Schema {
        // Version 0 only, which is not flexible.
        api: ApiKey::OffsetDelete,
        flexible_from: i16::MAX,
        fields: admin::OFFSET_DELETE,
    },
    Schema {
        api: ApiKey::AddPartitionsToTxn,
        flexible_from: 3,
        fields: transactions::ADD_PARTITIONS_TO_TXN,
    },
    Schema {
        api: ApiKey::AddOffsetsToTxn,
        flexible_from: 3,
        fields: transactions::ADD_OFFSETS_TO_TXN,
    },
    Schema {
        api: ApiKey::EndTxn,
        flexible_from: 3,
        fields: transactions::END_TXN,
    },
    Schema {
        api: ApiKey::TxnOffsetCommit,
        flexible_from: 3,
        fields: transactions::TXN_OFFSET_COMMIT,
    },
    Schema {
        api: ApiKey::DescribeTransactions,
        flexible_from: 0,
        fields: transactions::DESCRIBE_TRANSACTIONS,
    },
    Schema {
        api: ApiKey::ListTransactions,
        flexible_from: 0,
        fields: transactions::LIST_TRANSACTIONS,
    },
];

pub fn schema(api: ApiKey) -> Option<&'static Schema> {
    SCHEMAS
        .iter()
        .chain(security::SCHEMAS)
        .find(|schema| schema.api == api)
}

/// Checks a whole request frame (header and body) of `api` at `version`; returns the
/// length of the header, after which the body starts.
pub fn check_request(frame: &[u8], api: ApiKey, version: i16) -> Result<usize, GuardError> {
    let schema = schema(api).ok_or(GuardError::NoSchema { api, version })?;
    let flexible = version >= schema.flexible_from;
    let mut walker = Walker {
        frame,
        at: 0,
        version,
        flexible,
    };
    // Request header v1 (v2 when flexible): api key, version, correlation id, and a
    // client id that is never compact; v2 adds tagged fields.
    walker.take(8)?;
    let client_id = walker.i16()?;
    if client_id > 0 {
        walker.take(client_id as usize)?;
    }
    if flexible {
        walker.tagged_fields(&[])?;
    }
    let header_len = walker.at;
    walker.fields(schema.fields)?;
    Ok(header_len)
}

struct Walker<'a> {
    frame: &'a [u8],
    at: usize,
    version: i16,
    flexible: bool,
}

impl<'a> Walker<'a> {
    fn remaining(&self) -> usize {
        self.frame.len() - self.at
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], GuardError> {
        if len > self.remaining() {
            return Err(GuardError::Truncated { at: self.at });
        }
        let taken = &self.frame[self.at..self.at + len];
        self.at += len;
        Ok(taken)
    }

    fn i16(&mut self) -> Result<i16, GuardError> {
        let bytes = self.take(2)?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self) -> Result<i32, GuardError> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn uvarint(&mut self) -> Result<u32, GuardError> {
        let start = self.at;
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u32::from(byte & 0x7f).wrapping_shl(shift);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(GuardError::VarintTooLong { at: start })
    }

    /// A length: compact (`n + 1`, 0 for null) when flexible, else `i16`/`i32`.
    /// Returns `None` for null.
    fn length(&mut self, wide: bool) -> Result<Option<usize>, GuardError> {
        if self.flexible {
            return Ok(self.uvarint()?.checked_sub(1).map(|n| n as usize));
        }
        let length = if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        match length {
            -1 => Ok(None),
            n if n < -1 => Err(GuardError::NegativeLength(n)),
            n => Ok(Some(n as usize)),
        }
    }

    fn ty(&mut self, ty: &Ty) -> Result<(), GuardError> {
        match ty {
            Ty::I8 | Ty::Bool => self.take(1).map(drop),
            Ty::I16 => self.take(2).map(drop),
            Ty::I32 => self.take(4).map(drop),
            Ty::I64 => self.take(8).map(drop),
            Ty::Uuid => self.take(16).map(drop),
            Ty::Str | Ty::Bytes => {
                if let Some(len) = self.length(matches!(ty, Ty::Bytes))? {
                    self.take(len)?;
                }
                Ok(())
            }
            Ty::Array(element) => {
                let Some(count) = self.length(true)? else {
                    return Ok(());
                };
                // Every element takes at least one byte of the frame.
                if count > self.remaining() {
                    return Err(GuardError::ArrayTooLong {
                        count: count as u64,
                        remaining: self.remaining(),
                    });
                }
                for _ in 0..count {
                    self.ty(element)?;
                }
                Ok(())
            }
            Ty::Struct(fields) => self.fields(fields),
        }
    }

    fn fields(&mut self, fields: &[Field]) -> Result<(), GuardError> {
        for field in fields {
            if field.tag.is_none() && field.present(self.version) {
                self.ty(&field.ty)?;
            }
        }
        if self.flexible {
            self.tagged_fields(fields)?;
        }
        Ok(())
    }

    /// The tagged fields that end a flexible struct: known tags are walked by their
    /// type and must fill their declared size exactly; unknown ones are skipped.
    fn tagged_fields(&mut self, fields: &[Field]) -> Result<(), GuardError> {
        let count = self.uvarint()?;
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let start = self.at;
            let known = fields
                .iter()
                .find(|field| field.tag == Some(tag) && field.present(self.version));
            match known {
                Some(field) => {
                    // The codec reads a known tagged field from the frame itself.
                    self.ty(&field.ty)?;
                    let used = self.at - start;
                    if used != size {
                        return Err(GuardError::TaggedFieldSize {
                            tag,
                            declared: size,
                            used,
                        });
                    }
                }
                None => {
                    self.take(size)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes a random well-formed request body of `schema` at `version` (after the
/// header), with arrays of up to `max_elements` elements, drawing from `next_random`.
/// Strings are ASCII, booleans 0 or 1, and unknown tagged fields have tags from 100
/// up, so the codec decodes the body and encodes it back to the same bytes.
pub fn generate(
    schema: &Schema,
    version: i16,
    max_elements: u64,
    next_random: &mut dyn FnMut() -> u64,
) -> Vec<u8> {
    let mut generator = Generator {
        out: Vec::new(),
        version,
        flexible: version >= schema.flexible_from,
        max_elements,
        next_random,
    };
    generator.fields(schema.fields);
    generator.out
}

struct Generator<'a> {
    out: Vec<u8>,
    version: i16,
    flexible: bool,
    max_elements: u64,
    next_random: &'a mut dyn FnMut() -> u64,
}

impl Generator<'_> {
    fn random(&mut self, below: u64) -> u64 {
        (self.next_random)() % below.max(1)
    }

    fn uvarint(&mut self, mut value: u32) {
        while value >= 0x80 {
            self.out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    fn length(&mut self, len: usize, wide: bool) {
        if self.flexible {
            self.uvarint(len as u32 + 1);
        } else if wide {
            self.out.extend_from_slice(&(len as i32).to_be_bytes());
        } else {
            self.out.extend_from_slice(&(len as i16).to_be_bytes());
        }
    }

    fn ty(&mut self, ty: &Ty) {
        match ty {
            Ty::Bool => {
                let value = self.random(2) as u8;
                self.out.push(value);
            }
            Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::Uuid => {
                let len = match ty {
                    Ty::I8 => 1,
                    Ty::I16 => 2,
                    Ty::I32 => 4,
                    Ty::I64 => 8,
                    _ => 16,
                };
                for _ in 0..len {
                    let byte = self.random(256) as u8;
                    self.out.push(byte);
                }
            }
            Ty::Str | Ty::Bytes => {
                let len = self.random(6) as usize;
                self.length(len, matches!(ty, Ty::Bytes));
                for _ in 0..len {
                    let byte = b'a' + self.random(26) as u8;
                    self.out.push(byte);
                }
            }
            Ty::Array(element) => {
                let count = self.random(self.max_elements + 1) as usize;
                self.length(count, true);
                for _ in 0..count {
                    self.ty(element);
                }
            }
            Ty::Struct(fields) => self.fields(fields),
        }
    }

    fn fields(&mut self, fields: &[Field]) {
        for field in fields {
            if field.tag.is_none() && field.present(self.version) {
                self.ty(&field.ty);
            }
        }
        if !self.flexible {
            return;
        }
        let version = self.version;
        let mut known = Vec::new();
        for field in fields {
            if field.tag.is_some() && field.present(version) && self.random(2) == 0 {
                known.push(field);
            }
        }
        let unknown = self.random(3) as u32;
        self.uvarint(known.len() as u32 + unknown);
        for field in known {
            let mut inner = Generator {
                out: Vec::new(),
                version: self.version,
                flexible: self.flexible,
                max_elements: self.max_elements,
                next_random: &mut *self.next_random,
            };
            inner.ty(&field.ty);
            let body = inner.out;
            self.uvarint(field.tag.unwrap_or_default());
            self.uvarint(body.len() as u32);
            self.out.extend_from_slice(&body);
        }
        for tag in 0..unknown {
            let len = self.random(4) as usize;
            self.uvarint(100 + tag);
            self.uvarint(len as u32);
            for _ in 0..len {
                let byte = self.random(256) as u8;
                self.out.push(byte);
            }
        }
    }
}

#[cfg(test)]
mod tests;
