//! One request: decoded, handed to its API's handler, its answer encoded.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, ResponseHeader, api_versions_response::ApiVersion,
};
use kafka_protocol::protocol::Encodable;
use tracing::{Instrument, info_span};

use super::admin_groups::{delete_groups, describe_groups, list_groups, offset_delete};
use super::admin_topics::{alter_configs, create_partitions, incremental_alter_configs};
use super::codes::kafka as code;
use super::context::{Context, Scope};
use super::context::{KafkaError, NODE_ID};
use super::decode::{Decoded, Request, SUPPORTED};
use super::fetch::fetch;
use super::groups::{offset_commit, offset_fetch};
use super::membership::{find_coordinator, heartbeat, join_group, leave_group, sync_group};
use super::offsets::list_offsets;
use super::produce::{init_producer_id, produce};
use super::security::{
    Session, create_acls, delete_acls, describe_acls, redact_configs, redact_epochs,
    sasl_authenticate, sasl_handshake, split_delete_records,
};
use super::topics::{create_topics, delete_topics, metadata};
use super::transactions::{
    add_offsets_to_txn, add_partitions_to_txn, describe_transactions, end_txn, list_transactions,
    txn_offset_commit,
};
use super::{admin, decode};
use silt_core::security::Operation;

/// This gateway as the one broker admin answers describe.
pub(super) fn broker(context: &Context) -> admin::Broker<'_> {
    admin::Broker {
        node_id: NODE_ID,
        host: &context.config.advertised_host,
        port: context.config.advertised_port,
        max_record_bytes: context.state.config.max_record_bytes,
        auto_create_partitions: context.config.auto_create_partitions,
    }
}

/// A response, ready or once the records it answers for are durable (`None`: no
/// response, as for a produce with `acks=0`).
pub(super) type PendingResponse =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<BytesMut>, KafkaError>> + Send>>;

/// A response that is ready now.
pub(super) fn ready(response: BytesMut) -> PendingResponse {
    Box::pin(std::future::ready(Ok(Some(response))))
}

/// Decodes one request and handles it; the response is ready, or (a produce) once its
/// records are durable (`None`: no response, as for a produce with `acks=0`).
/// `peer_host` is the client's address as Kafka shows it (`/127.0.0.1`).
pub(super) async fn request(
    listener: &Context,
    session: &mut Session,
    frame: Bytes,
    peer_host: &str,
) -> Result<PendingResponse, KafkaError> {
    let (header, version, request) = match decode::decode_request(frame)? {
        Decoded::Request {
            header,
            version,
            request,
        } => (header, version, request),
        Decoded::UnsupportedApiVersions { correlation_id } => {
            let mut response = api_versions();
            response.error_code = code::UNSUPPORTED_VERSION;
            return encode_response(correlation_id, 0, &response, 0).map(ready);
        }
    };
    let correlation_id = header.correlation_id;
    let key = ApiKey::try_from(header.request_api_key)
        .map_err(|()| KafkaError::Protocol("unknown api key".into()))?;
    let header_version = key.response_header_version(version);
    let span = info_span!("kafka_request", api = ?key, version, correlation_id);
    async move {
        let request = match *request {
            Request::ApiVersions(_) => {
                return encode_response(correlation_id, header_version, &api_versions(), version)
                    .map(ready);
            }
            Request::SaslHandshake(request) => {
                let response = sasl_handshake(listener, session, request);
                return encode_response(correlation_id, header_version, &response, version)
                    .map(ready);
            }
            Request::SaslAuthenticate(request) => {
                let response = sasl_authenticate(listener, session, request).await;
                return encode_response(correlation_id, header_version, &response, version)
                    .map(ready);
            }
            request => request,
        };
        let Some(caller) = session.caller(listener) else {
            // Kafka closes a connection that skips authentication.
            return Err(KafkaError::Protocol(format!(
                "{key:?} before authenticating on a listener that requires it"
            )));
        };
        let scope = Scope { listener, caller };
        let context = &scope;
        macro_rules! answer {
            ($request:expr, $handler:ident) => {{
                let response = $handler(context, $request, version).await;
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }};
        }
        match request {
            Request::ApiVersions(_) | Request::SaslHandshake(_) | Request::SaslAuthenticate(_) => {
                unreachable_answered()
            }
            Request::DescribeAcls(request) => answer!(request, describe_acls),
            Request::CreateAcls(request) => answer!(request, create_acls),
            Request::DeleteAcls(request) => answer!(request, delete_acls),
            Request::Metadata(request) => answer!(request, metadata),
            Request::CreateTopics(request) => answer!(request, create_topics),
            Request::DeleteTopics(request) => answer!(request, delete_topics),
            Request::FindCoordinator(request) => answer!(request, find_coordinator),
            Request::InitProducerId(request) => answer!(request, init_producer_id),
            Request::ListOffsets(request) => answer!(request, list_offsets),
            Request::Fetch(request) => answer!(request, fetch),
            Request::JoinGroup(request) => {
                let client_id = header.client_id.as_ref().map_or("", |id| id.as_str());
                let response = join_group(context, request, version, (client_id, peer_host));
                encode_response(correlation_id, header_version, &response.await, version).map(ready)
            }
            Request::SyncGroup(request) => answer!(request, sync_group),
            Request::Heartbeat(request) => answer!(request, heartbeat),
            Request::LeaveGroup(request) => answer!(request, leave_group),
            Request::OffsetCommit(request) => answer!(request, offset_commit),
            Request::OffsetFetch(request) => answer!(request, offset_fetch),
            Request::DescribeGroups(request) => answer!(request, describe_groups),
            Request::ListGroups(request) => answer!(request, list_groups),
            Request::DescribeConfigs(request) => {
                let broker = broker(context);
                let coordinator = context.state.coordinator.as_ref();
                let response = admin::describe_configs(coordinator, &broker, request, version);
                let mut response = response.await;
                redact_configs(context, &mut response);
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }
            Request::DescribeCluster(request) => {
                let mut response = admin::describe_cluster(&broker(context), request, version);
                if !context.allowed_on_cluster(Operation::Describe) {
                    response.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
                    response.brokers.clear();
                }
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }
            Request::DeleteRecords(mut request) => {
                let denied = split_delete_records(context, &mut request);
                let coordinator = context.state.coordinator.as_ref();
                let mut response = admin::delete_records(coordinator, request, version).await;
                response.topics.extend(denied);
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }
            Request::CreatePartitions(request) => answer!(request, create_partitions),
            Request::AlterConfigs(request) => answer!(request, alter_configs),
            Request::IncrementalAlterConfigs(request) => {
                answer!(request, incremental_alter_configs)
            }
            Request::DeleteGroups(request) => answer!(request, delete_groups),
            Request::OffsetDelete(request) => answer!(request, offset_delete),
            Request::AddPartitionsToTxn(request) => answer!(request, add_partitions_to_txn),
            Request::AddOffsetsToTxn(request) => answer!(request, add_offsets_to_txn),
            Request::EndTxn(request) => answer!(request, end_txn),
            Request::TxnOffsetCommit(request) => answer!(request, txn_offset_commit),
            Request::DescribeTransactions(request) => answer!(request, describe_transactions),
            Request::ListTransactions(request) => answer!(request, list_transactions),
            Request::OffsetForLeaderEpoch(request) => {
                let coordinator = context.state.coordinator.as_ref();
                let response = admin::offset_for_leader_epoch(coordinator, request, version);
                let mut response = response.await;
                redact_epochs(context, &mut response);
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }
            Request::Produce(request) => {
                let acks = request.acks;
                let durable = produce(context, request).await;
                let pending = async move {
                    let response = durable.await;
                    if acks == 0 {
                        return Ok(None);
                    }
                    encode_response(correlation_id, header_version, &response, version).map(Some)
                };
                let pending: PendingResponse = Box::pin(pending.in_current_span());
                Ok(pending)
            }
        }
    }
    .instrument(span)
    .await
}

/// The requests answered before a caller is known never reach the second match.
fn unreachable_answered() -> Result<PendingResponse, KafkaError> {
    Err(KafkaError::Protocol("a request answered twice".into()))
}

/// A response as it goes on the wire: its size, header and body, in one buffer sized
/// for them up front (a fetch's records are copied once, not again as it grows or is
/// framed).
pub(super) fn encode_response<T: Encodable>(
    correlation_id: i32,
    header_version: i16,
    body: &T,
    version: i16,
) -> Result<BytesMut, KafkaError> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let failed =
        |error: anyhow::Error| KafkaError::Protocol(format!("encoding a response: {error}"));
    let size = header.compute_size(header_version).map_err(failed)?
        + body.compute_size(version).map_err(failed)?;
    let length = i32::try_from(size)
        .map_err(|_| KafkaError::Protocol(format!("a response of {size} bytes")))?;
    let mut out = BytesMut::with_capacity(4 + size);
    out.put_i32(length);
    header.encode(&mut out, header_version).map_err(failed)?;
    body.encode(&mut out, version).map_err(failed)?;
    if out.len() != 4 + size {
        return Err(KafkaError::Protocol(format!(
            "a response encoded to {} bytes, sized {size}",
            out.len() - 4
        )));
    }
    Ok(out)
}

pub(super) fn api_versions() -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            let valid = key.valid_versions();
            let mut version = ApiVersion::default();
            version.api_key = *key as i16;
            version.min_version = (*min).max(valid.min);
            version.max_version = (*max).min(valid.max);
            version
        })
        .collect();
    response
}
