//! Turns one request frame (after its length) into a typed request: the API and version
//! are checked against what Silt speaks, the frame is walked by its schema
//! ([`super::guard`]) so no declared count can make the codec allocate beyond the frame,
//! then the header and body are decoded by the codec. Nothing here is async or touches
//! state, so any byte string can be fed to it (the fuzz test does).

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeTransactionsRequest, EndTxnRequest,
    ListTransactionsRequest, TxnOffsetCommitRequest,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest,
    HeartbeatRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, OffsetForLeaderEpochRequest, ProduceRequest,
    RequestHeader, SyncGroupRequest,
};
use kafka_protocol::messages::{
    CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::Decodable;
use thiserror::Error;

use super::guard;

/// The APIs Silt answers, and the versions it speaks (within the codec's own range).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 8),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    // Version 0 of SaslHandshake sends the SASL tokens outside Kafka's framing.
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DescribeAcls, 0, 3),
    (ApiKey::CreateAcls, 0, 3),
    (ApiKey::DeleteAcls, 0, 3),
];

/// Whether Silt speaks `version` of `key`.
pub fn supported(key: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|(api, min, max)| *api == key && (*min..=*max).contains(&version))
}

/// Why a frame could not be decoded; the connection is closed with it.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("a frame of {0} bytes is shorter than a request header")]
    Short(usize),
    #[error("unknown api key {0}")]
    UnknownApi(i16),
    #[error("{0:?} version {1} is not supported")]
    Unsupported(ApiKey, i16),
    #[error("malformed {0:?} request: {1}")]
    Malformed(ApiKey, String),
}

/// One request body, typed.
#[derive(Debug)]
pub enum Request {
    ApiVersions(ApiVersionsRequest),
    Metadata(MetadataRequest),
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    FindCoordinator(FindCoordinatorRequest),
    InitProducerId(InitProducerIdRequest),
    ListOffsets(ListOffsetsRequest),
    Fetch(FetchRequest),
    Produce(ProduceRequest),
    JoinGroup(JoinGroupRequest),
    SyncGroup(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    LeaveGroup(LeaveGroupRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    DescribeGroups(DescribeGroupsRequest),
    ListGroups(ListGroupsRequest),
    DescribeConfigs(DescribeConfigsRequest),
    DescribeCluster(DescribeClusterRequest),
    DeleteRecords(DeleteRecordsRequest),
    OffsetForLeaderEpoch(OffsetForLeaderEpochRequest),
    CreatePartitions(CreatePartitionsRequest),
    AlterConfigs(AlterConfigsRequest),
    IncrementalAlterConfigs(IncrementalAlterConfigsRequest),
    DeleteGroups(DeleteGroupsRequest),
    OffsetDelete(OffsetDeleteRequest),
    AddPartitionsToTxn(AddPartitionsToTxnRequest),
    AddOffsetsToTxn(AddOffsetsToTxnRequest),
    EndTxn(EndTxnRequest),
    TxnOffsetCommit(TxnOffsetCommitRequest),
    DescribeTransactions(DescribeTransactionsRequest),
    ListTransactions(ListTransactionsRequest),
    SaslHandshake(SaslHandshakeRequest),
    SaslAuthenticate(SaslAuthenticateRequest),
    DescribeAcls(DescribeAclsRequest),
    CreateAcls(CreateAclsRequest),
    DeleteAcls(DeleteAclsRequest),
}

/// A decoded frame.
#[derive(Debug)]
pub enum Decoded {
    /// A request Silt speaks.
    Request {
        header: RequestHeader,
        version: i16,
        request: Box<Request>,
    },
    /// ApiVersions in a version Silt does not speak: answered in version 0 with what it
    /// does, as the protocol asks, so the client can pick a version.
    UnsupportedApiVersions { correlation_id: i32 },
}

/// Decodes one request frame.
pub fn decode_request(mut frame: Bytes) -> Result<Decoded, DecodeError> {
    if frame.len() < 8 {
        return Err(DecodeError::Short(frame.len()));
    }
    let (api_key, version, correlation_id) = {
        let mut peek = &frame[..];
        (peek.get_i16(), peek.get_i16(), peek.get_i32())
    };
    let key = ApiKey::try_from(api_key).map_err(|()| DecodeError::UnknownApi(api_key))?;
    if !supported(key, version) {
        if key == ApiKey::ApiVersions {
            return Ok(Decoded::UnsupportedApiVersions { correlation_id });
        }
        return Err(DecodeError::Unsupported(key, version));
    }
    let malformed = |error: &dyn std::fmt::Display| DecodeError::Malformed(key, error.to_string());
    // Bounds every array, string and tagged field before the codec allocates for them.
    guard::check_request(&frame, key, version).map_err(|error| malformed(&error))?;
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version))
        .map_err(|error| malformed(&error))?;
    macro_rules! body {
        ($variant:ident, $request:ty) => {
            Request::$variant(
                <$request>::decode(&mut frame, version).map_err(|error| malformed(&error))?,
            )
        };
    }
    let request = match key {
        ApiKey::ApiVersions => body!(ApiVersions, ApiVersionsRequest),
        ApiKey::Metadata => body!(Metadata, MetadataRequest),
        ApiKey::CreateTopics => body!(CreateTopics, CreateTopicsRequest),
        ApiKey::DeleteTopics => body!(DeleteTopics, DeleteTopicsRequest),
        ApiKey::FindCoordinator => body!(FindCoordinator, FindCoordinatorRequest),
        ApiKey::InitProducerId => body!(InitProducerId, InitProducerIdRequest),
        ApiKey::ListOffsets => body!(ListOffsets, ListOffsetsRequest),
        ApiKey::Fetch => body!(Fetch, FetchRequest),
        ApiKey::Produce => body!(Produce, ProduceRequest),
        ApiKey::JoinGroup => body!(JoinGroup, JoinGroupRequest),
        ApiKey::SyncGroup => body!(SyncGroup, SyncGroupRequest),
        ApiKey::Heartbeat => body!(Heartbeat, HeartbeatRequest),
        ApiKey::LeaveGroup => body!(LeaveGroup, LeaveGroupRequest),
        ApiKey::OffsetCommit => body!(OffsetCommit, OffsetCommitRequest),
        ApiKey::OffsetFetch => body!(OffsetFetch, OffsetFetchRequest),
        ApiKey::DescribeGroups => body!(DescribeGroups, DescribeGroupsRequest),
        ApiKey::ListGroups => body!(ListGroups, ListGroupsRequest),
        ApiKey::DescribeConfigs => body!(DescribeConfigs, DescribeConfigsRequest),
        ApiKey::DescribeCluster => body!(DescribeCluster, DescribeClusterRequest),
        ApiKey::DeleteRecords => body!(DeleteRecords, DeleteRecordsRequest),
        ApiKey::OffsetForLeaderEpoch => body!(OffsetForLeaderEpoch, OffsetForLeaderEpochRequest),
        ApiKey::CreatePartitions => body!(CreatePartitions, CreatePartitionsRequest),
        ApiKey::AlterConfigs => body!(AlterConfigs, AlterConfigsRequest),
        ApiKey::IncrementalAlterConfigs => {
            body!(IncrementalAlterConfigs, IncrementalAlterConfigsRequest)
        }
        ApiKey::DeleteGroups => body!(DeleteGroups, DeleteGroupsRequest),
        ApiKey::OffsetDelete => body!(OffsetDelete, OffsetDeleteRequest),
        ApiKey::AddPartitionsToTxn => body!(AddPartitionsToTxn, AddPartitionsToTxnRequest),
        ApiKey::AddOffsetsToTxn => body!(AddOffsetsToTxn, AddOffsetsToTxnRequest),
        ApiKey::EndTxn => body!(EndTxn, EndTxnRequest),
        ApiKey::TxnOffsetCommit => body!(TxnOffsetCommit, TxnOffsetCommitRequest),
        ApiKey::DescribeTransactions => body!(DescribeTransactions, DescribeTransactionsRequest),
        ApiKey::ListTransactions => body!(ListTransactions, ListTransactionsRequest),
        ApiKey::SaslHandshake => body!(SaslHandshake, SaslHandshakeRequest),
        ApiKey::SaslAuthenticate => body!(SaslAuthenticate, SaslAuthenticateRequest),
        ApiKey::DescribeAcls => body!(DescribeAcls, DescribeAclsRequest),
        ApiKey::CreateAcls => body!(CreateAcls, CreateAclsRequest),
        ApiKey::DeleteAcls => body!(DeleteAcls, DeleteAclsRequest),
        other => return Err(DecodeError::Unsupported(other, version)),
    };
    Ok(Decoded::Request {
        header,
        version,
        request: Box::new(request),
    })
}
