use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Message};

use super::*;

/// A deterministic xorshift generator, so a failure names a reproducible seed.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A request header (v1, or v2 when flexible) for `api` at `version`.
fn header(api: ApiKey, version: i16, flexible: bool) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(api as i16).to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&7_i32.to_be_bytes());
    out.extend_from_slice(&4_i16.to_be_bytes());
    out.extend_from_slice(b"test");
    if flexible {
        out.push(0);
    }
    out
}

/// Decodes `body` with the codec crate's type for `api` at `version`, checks that it
/// used every byte and that encoding it again gives the same bytes; returns the
/// codec's range of versions for the type.
fn codec_round_trip(api: ApiKey, version: i16, body: &[u8]) -> Result<(), String> {
    fn check<T: Decodable + Encodable>(body: &[u8], version: i16) -> Result<(), String> {
        let mut input = Bytes::copy_from_slice(body);
        let request = T::decode(&mut input, version).map_err(|error| format!("{error:#}"))?;
        if !input.is_empty() {
            return Err(format!("{} bytes left over", input.len()));
        }
        let mut out = BytesMut::new();
        request
            .encode(&mut out, version)
            .map_err(|error| format!("{error:#}"))?;
        if out[..] != body[..] {
            return Err("encoded again to other bytes".into());
        }
        Ok(())
    }
    match api {
        ApiKey::Produce => check::<ProduceRequest>(body, version),
        ApiKey::Fetch => check::<FetchRequest>(body, version),
        ApiKey::ListOffsets => check::<ListOffsetsRequest>(body, version),
        ApiKey::Metadata => check::<MetadataRequest>(body, version),
        ApiKey::FindCoordinator => check::<FindCoordinatorRequest>(body, version),
        ApiKey::ApiVersions => check::<ApiVersionsRequest>(body, version),
        ApiKey::CreateTopics => check::<CreateTopicsRequest>(body, version),
        ApiKey::DeleteTopics => check::<DeleteTopicsRequest>(body, version),
        ApiKey::InitProducerId => check::<InitProducerIdRequest>(body, version),
        ApiKey::JoinGroup => check::<JoinGroupRequest>(body, version),
        ApiKey::SyncGroup => check::<SyncGroupRequest>(body, version),
        ApiKey::Heartbeat => check::<HeartbeatRequest>(body, version),
        ApiKey::LeaveGroup => check::<LeaveGroupRequest>(body, version),
        ApiKey::OffsetCommit => check::<OffsetCommitRequest>(body, version),
        ApiKey::OffsetFetch => check::<OffsetFetchRequest>(body, version),
        ApiKey::DescribeGroups => check::<DescribeGroupsRequest>(body, version),
        ApiKey::ListGroups => check::<ListGroupsRequest>(body, version),
        ApiKey::DescribeConfigs => check::<DescribeConfigsRequest>(body, version),
        ApiKey::DescribeCluster => check::<DescribeClusterRequest>(body, version),
        ApiKey::DeleteRecords => check::<DeleteRecordsRequest>(body, version),
        ApiKey::OffsetForLeaderEpoch => check::<OffsetForLeaderEpochRequest>(body, version),
        ApiKey::CreatePartitions => check::<CreatePartitionsRequest>(body, version),
        ApiKey::AlterConfigs => check::<AlterConfigsRequest>(body, version),
        ApiKey::IncrementalAlterConfigs => check::<IncrementalAlterConfigsRequest>(body, version),
        ApiKey::DeleteGroups => check::<DeleteGroupsRequest>(body, version),
        ApiKey::OffsetDelete => check::<OffsetDeleteRequest>(body, version),
        ApiKey::AddPartitionsToTxn => check::<AddPartitionsToTxnRequest>(body, version),
        ApiKey::AddOffsetsToTxn => check::<AddOffsetsToTxnRequest>(body, version),
        ApiKey::EndTxn => check::<EndTxnRequest>(body, version),
        ApiKey::TxnOffsetCommit => check::<TxnOffsetCommitRequest>(body, version),
        ApiKey::DescribeTransactions => check::<DescribeTransactionsRequest>(body, version),
        ApiKey::ListTransactions => check::<ListTransactionsRequest>(body, version),
        ApiKey::SaslHandshake => check::<SaslHandshakeRequest>(body, version),
        ApiKey::SaslAuthenticate => check::<SaslAuthenticateRequest>(body, version),
        ApiKey::DescribeAcls => check::<DescribeAclsRequest>(body, version),
        ApiKey::CreateAcls => check::<CreateAclsRequest>(body, version),
        ApiKey::DeleteAcls => check::<DeleteAclsRequest>(body, version),
        other => Err(format!("no codec type listed for {other:?}")),
    }
}

/// The codec's versions of each request type.
fn codec_versions(api: ApiKey) -> (i16, i16) {
    macro_rules! range {
        ($ty:ty) => {
            (
                <$ty as Message>::VERSIONS.min,
                <$ty as Message>::VERSIONS.max,
            )
        };
    }
    match api {
        ApiKey::Produce => range!(ProduceRequest),
        ApiKey::Fetch => range!(FetchRequest),
        ApiKey::ListOffsets => range!(ListOffsetsRequest),
        ApiKey::Metadata => range!(MetadataRequest),
        ApiKey::FindCoordinator => range!(FindCoordinatorRequest),
        ApiKey::ApiVersions => range!(ApiVersionsRequest),
        ApiKey::CreateTopics => range!(CreateTopicsRequest),
        ApiKey::DeleteTopics => range!(DeleteTopicsRequest),
        ApiKey::InitProducerId => range!(InitProducerIdRequest),
        ApiKey::JoinGroup => range!(JoinGroupRequest),
        ApiKey::SyncGroup => range!(SyncGroupRequest),
        ApiKey::Heartbeat => range!(HeartbeatRequest),
        ApiKey::LeaveGroup => range!(LeaveGroupRequest),
        ApiKey::OffsetCommit => range!(OffsetCommitRequest),
        ApiKey::OffsetFetch => range!(OffsetFetchRequest),
        ApiKey::DescribeGroups => range!(DescribeGroupsRequest),
        ApiKey::ListGroups => range!(ListGroupsRequest),
        ApiKey::DescribeConfigs => range!(DescribeConfigsRequest),
        ApiKey::DescribeCluster => range!(DescribeClusterRequest),
        ApiKey::DeleteRecords => range!(DeleteRecordsRequest),
        ApiKey::OffsetForLeaderEpoch => range!(OffsetForLeaderEpochRequest),
        ApiKey::CreatePartitions => range!(CreatePartitionsRequest),
        ApiKey::AlterConfigs => range!(AlterConfigsRequest),
        ApiKey::IncrementalAlterConfigs => range!(IncrementalAlterConfigsRequest),
        ApiKey::DeleteGroups => range!(DeleteGroupsRequest),
        ApiKey::OffsetDelete => range!(OffsetDeleteRequest),
        ApiKey::AddPartitionsToTxn => range!(AddPartitionsToTxnRequest),
        ApiKey::AddOffsetsToTxn => range!(AddOffsetsToTxnRequest),
        ApiKey::EndTxn => range!(EndTxnRequest),
        ApiKey::TxnOffsetCommit => range!(TxnOffsetCommitRequest),
        ApiKey::DescribeTransactions => range!(DescribeTransactionsRequest),
        ApiKey::ListTransactions => range!(ListTransactionsRequest),
        ApiKey::SaslHandshake => range!(SaslHandshakeRequest),
        ApiKey::SaslAuthenticate => range!(SaslAuthenticateRequest),
        ApiKey::DescribeAcls => range!(DescribeAclsRequest),
        ApiKey::CreateAcls => range!(CreateAclsRequest),
        ApiKey::DeleteAcls => range!(DeleteAclsRequest),
        _ => (0, -1),
    }
}

/// Every schema agrees with the codec at every version the codec knows: random
/// requests written by the schema decode with the codec, use every byte and encode back
/// to the same bytes, and the guard accepts them whole.
#[test]
fn schemas_agree_with_the_codec_at_every_version() {
    let mut random = xorshift(0x5eed);
    let mut checked = 0;
    for schema in SCHEMAS.iter().chain(security::SCHEMAS) {
        let (min, max) = codec_versions(schema.api);
        assert!(min <= max, "{:?} has no codec versions", schema.api);
        for version in min..=max {
            for round in 0..60 {
                let body = generate(schema, version, 2, &mut random);
                if let Err(error) = codec_round_trip(schema.api, version, &body) {
                    panic!("{:?} v{version} round {round}: {error}", schema.api);
                }
                let flexible = version >= schema.flexible_from;
                let mut frame = header(schema.api, version, flexible);
                let header_len = frame.len();
                frame.extend_from_slice(&body);
                assert_eq!(
                    check_request(&frame, schema.api, version),
                    Ok(header_len),
                    "{:?} v{version}",
                    schema.api
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

/// The frames of issue #21 that aborted the process: refused before the codec sees them.
#[test]
fn huge_array_counts_are_refused() {
    let metadata_v0 = [
        0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff,
    ];
    assert_eq!(
        check_request(&metadata_v0, ApiKey::Metadata, 0),
        Err(GuardError::ArrayTooLong {
            count: 0x7fff_ffff,
            remaining: 0
        })
    );
    // Produce v3: transactional id null, acks, timeout, then 2^31 - 1 topics.
    let mut produce_v3 = header(ApiKey::Produce, 3, false);
    produce_v3.extend_from_slice(&(-1_i16).to_be_bytes());
    produce_v3.extend_from_slice(&1_i16.to_be_bytes());
    produce_v3.extend_from_slice(&30_000_i32.to_be_bytes());
    produce_v3.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        check_request(&produce_v3, ApiKey::Produce, 3),
        Err(GuardError::ArrayTooLong { .. })
    ));
    // A compact (flexible) array count of 2^32 - 2 elements, in Metadata v12.
    let mut metadata_v12 = header(ApiKey::Metadata, 12, true);
    metadata_v12.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        check_request(&metadata_v12, ApiKey::Metadata, 12),
        Err(GuardError::ArrayTooLong { .. })
    ));
    // A nested count: one topic of Produce v3 whose partitions count is huge.
    let mut nested = header(ApiKey::Produce, 3, false);
    nested.extend_from_slice(&(-1_i16).to_be_bytes());
    nested.extend_from_slice(&1_i16.to_be_bytes());
    nested.extend_from_slice(&30_000_i32.to_be_bytes());
    nested.extend_from_slice(&1_i32.to_be_bytes());
    nested.extend_from_slice(&1_i16.to_be_bytes());
    nested.push(b't');
    nested.extend_from_slice(&0x4000_0000_i32.to_be_bytes());
    assert!(matches!(
        check_request(&nested, ApiKey::Produce, 3),
        Err(GuardError::ArrayTooLong { .. })
    ));
}
