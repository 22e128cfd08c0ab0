//! The Kafka wire protocol on the gateway (`--kafka-listen`, port 9092 by default), with
//! the `kafka-protocol` crate as the codec. Every gateway answers as the leader of every
//! partition and as every group's coordinator; the state lives in the coordinator, so
//! topics, offsets and groups are the same ones the HTTP API serves. Supported APIs and
//! versions: `docs/kafka-compatibility.md`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::{join_all, select_all};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, FetchRequest, FetchResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse,
    ResponseHeader, TopicName, api_versions_response::ApiVersion,
    create_topics_response::CreatableTopicResult, delete_topics_response::DeletableTopicResult,
    fetch_response, find_coordinator_response, list_offsets_response, metadata_response,
    produce_response,
};
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse, join_group_response,
    leave_group_response,
};
use kafka_protocol::protocol::Encodable;
use silt_core::coordinator::{
    CoordinatorError, EntryFormat, IndexEntry, KafkaBatchStamp, PartitionOffsets, Topic,
    TopicConfig,
};
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse};
use silt_core::record::RecordParts;
use silt_reader::FetchRequest as ReadRequest;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::api::AppState;
use crate::batcher::PendingProduce;
use crate::listener::{IdleTimeout, ListenerStats};
use crate::metrics::Metrics;
use crate::produce::{PreparedProduce, PreparedRecord};
use decode::{Decoded, Request, SUPPORTED};

mod admin;
mod admin_groups;
mod admin_topics;
pub mod batch;
mod codes;
mod context;
pub mod decode;
mod groups;
pub mod guard;
mod topic_configs;

/// This gateway as the one broker admin answers describe.
fn broker(context: &Context) -> admin::Broker<'_> {
    admin::Broker {
        node_id: NODE_ID,
        host: &context.config.advertised_host,
        port: context.config.advertised_port,
        max_record_bytes: context.state.config.max_record_bytes,
        auto_create_partitions: context.config.auto_create_partitions,
    }
}

use admin_groups::{delete_groups, describe_groups, list_groups, offset_delete};
use admin_topics::{alter_configs, create_partitions, incremental_alter_configs};
use groups::{group_call, offset_commit, offset_fetch};

/// Largest request frame accepted; larger ones close the connection.
const MAX_FRAME_BYTES: usize = 64 << 20;
use context::NODE_ID;

use codes::error_code;
/// Error codes of the Kafka protocol that Silt answers with.
use codes::kafka as code;
pub use context::KafkaConfig;
use context::{Context, done_code, str_bytes, topic_name};

#[derive(Debug, Error)]
pub enum KafkaError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed request: {0}")]
    Protocol(String),
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
}

/// Serves the Kafka protocol on `listener` until `shutdown` turns true, then waits for
/// open connections to end.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: KafkaConfig,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let limits = state.config.connections.clone();
    let stats = Arc::clone(&state.metrics.kafka_listener);
    // Frame bytes being read at once, across connections, in KiB.
    let frame_budget_kib =
        (state.config.max_buffered_bytes / 1024).clamp(1, u32::MAX as usize >> 1);
    let context = Arc::new(Context {
        state,
        config,
        frame_budget: Arc::new(Semaphore::new(frame_budget_kib)),
    });
    info!(
        listen = %listener.local_addr()?,
        advertised_host = %context.config.advertised_host,
        advertised_port = context.config.advertised_port,
        max_connections = limits.max_connections,
        "kafka listener is serving"
    );
    crate::listener::accept_loop(
        "kafka",
        listener,
        limits.max_connections,
        Arc::clone(&stats),
        shutdown,
        move |stream, _peer, admitted| {
            let context = Arc::clone(&context);
            let stats = Arc::clone(&stats);
            async move {
                if let Err(error) = connection(stream, &context, &stats).await {
                    debug!(%error, "kafka connection closed");
                }
                drop(admitted);
            }
        },
    )
    .await;
    Ok(())
}

/// Requests of one connection whose responses may be pending at once. A produce is
/// submitted to the batcher as soon as it is read, so a client that keeps several
/// produce requests in flight gets them into one flush; responses go back in request
/// order, as the protocol requires.
const MAX_IN_FLIGHT: usize = 8;

/// A response, ready or once the records it answers for are durable (`None`: no
/// response, as for a produce with `acks=0`).
type PendingResponse =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<BytesMut>, KafkaError>> + Send>>;

/// A response that is ready now.
fn ready(response: BytesMut) -> PendingResponse {
    Box::pin(std::future::ready(Ok(Some(response))))
}

/// Largest frame of any request but Produce.
const MAX_OTHER_FRAME_BYTES: usize = 4 << 20;

async fn connection(
    stream: TcpStream,
    context: &Context,
    stats: &Arc<ListenerStats>,
) -> Result<(), KafkaError> {
    stream.set_nodelay(true)?;
    let peer_host = stream
        .peer_addr()
        .map(|peer| format!("/{}", peer.ip()))
        .unwrap_or_default();
    let limits = &context.state.config.connections;
    let stream = IdleTimeout::new(
        stream,
        Duration::from_millis(limits.kafka_idle_timeout_ms),
        Arc::clone(stats),
    );
    let (read, write) = tokio::io::split(stream);
    let mut read = BufReader::new(read);
    let (pending_tx, pending_rx) = mpsc::channel::<PendingResponse>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_responses(write, pending_rx).in_current_span());
    let reading = async {
        loop {
            // Shutting down: no new requests; those read are answered, then it closes.
            let frame = tokio::select! {
                frame = read_frame(&mut read, context, stats) => frame?,
                () = context.state.stopping() => None,
            };
            let Some(frame) = frame else {
                return Ok(());
            };
            let pending = request(context, frame.bytes.clone(), &peer_host).await?;
            drop(frame);
            if pending_tx.send(pending).await.is_err() {
                // The writer stopped: the connection is broken.
                return Ok(());
            }
        }
    }
    .await;
    drop(pending_tx);
    let written = writer
        .await
        .map_err(|error| KafkaError::Protocol(format!("response writer: {error}")))?;
    reading.and(written)
}

/// A request frame, holding its share of the listener's frame budget.
struct Frame {
    bytes: Bytes,
    _budget: OwnedSemaphorePermit,
}

/// Reads one request frame: `None` at a clean end of the connection. Once the first
/// byte of a frame has come, its size and header must come within the header timeout
/// and the whole frame within the body timeout. A frame larger than its API allows
/// closes the connection before its body is read, and frames being read at once hold
/// at most the listener's budget of memory, allocated as their bytes arrive.
async fn read_frame<R: AsyncRead + Unpin>(
    read: &mut R,
    context: &Context,
    stats: &ListenerStats,
) -> Result<Option<Frame>, KafkaError> {
    let limits = &context.state.config.connections;
    let header_timeout = Duration::from_millis(limits.header_timeout_ms);
    let body_timeout = Duration::from_millis(limits.body_timeout_ms);
    let mut head = [0u8; 6];
    if read.read(&mut head[..1]).await? == 0 {
        return Ok(None);
    }
    let started = tokio::time::Instant::now();
    if tokio::time::timeout(header_timeout, read.read_exact(&mut head[1..]))
        .await
        .is_err()
    {
        ListenerStats::count(&stats.header_timeouts);
        return Err(KafkaError::Protocol(
            "the request's size and header came too slowly".into(),
        ));
    }
    let length = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let api_key = i16::from_be_bytes([head[4], head[5]]);
    let limit = if api_key == ApiKey::Produce as i16 {
        MAX_FRAME_BYTES
    } else {
        MAX_OTHER_FRAME_BYTES
    };
    let length = usize::try_from(length)
        .ok()
        .filter(|length| (4..=limit).contains(length))
        .ok_or_else(|| {
            KafkaError::Protocol(format!(
                "a frame of {length} bytes (api key {api_key}, limit {limit})"
            ))
        })?;
    let kib = u32::try_from(length.div_ceil(1024)).unwrap_or(u32::MAX);
    let budget = Arc::clone(&context.frame_budget)
        .acquire_many_owned(kib)
        .await
        .map_err(|_| KafkaError::Protocol("the listener is closing".into()))?;
    let mut bytes = Vec::with_capacity(length.min(64 << 10));
    bytes.extend_from_slice(&head[4..]);
    let rest = (length - 2) as u64;
    let deadline = started + body_timeout;
    match tokio::time::timeout_at(deadline, (&mut *read).take(rest).read_to_end(&mut bytes)).await {
        Err(_) => {
            ListenerStats::count(&stats.body_timeouts);
            return Err(KafkaError::Protocol("the request came too slowly".into()));
        }
        Ok(result) => {
            result?;
        }
    }
    if bytes.len() != length {
        return Err(KafkaError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(Some(Frame {
        bytes: Bytes::from(bytes),
        _budget: budget,
    }))
}

/// Writes each response once it is ready, in request order.
async fn write_responses(
    mut write: WriteHalf<IdleTimeout<TcpStream>>,
    mut pending: mpsc::Receiver<PendingResponse>,
) -> Result<(), KafkaError> {
    while let Some(response) = pending.recv().await {
        let Some(response) = response.await? else {
            continue;
        };
        let mut out = BytesMut::with_capacity(response.len() + 4);
        out.put_i32(response.len() as i32);
        out.extend_from_slice(&response);
        write.write_all(&out).await?;
    }
    Ok(())
}

/// Decodes one request and handles it; the response is ready, or (a produce) once its
/// records are durable (`None`: no response, as for a produce with `acks=0`).
/// `peer_host` is the client's address as Kafka shows it (`/127.0.0.1`).
async fn request(
    context: &Context,
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
        macro_rules! answer {
            ($request:expr, $handler:ident) => {{
                let response = $handler(context, $request, version).await;
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }};
        }
        match *request {
            Request::ApiVersions(_) => {
                encode_response(correlation_id, header_version, &api_versions(), version).map(ready)
            }
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
                encode_response(correlation_id, header_version, &response.await, version).map(ready)
            }
            Request::DescribeCluster(request) => {
                let response = admin::describe_cluster(&broker(context), request, version);
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }
            Request::DeleteRecords(request) => {
                let coordinator = context.state.coordinator.as_ref();
                let response = admin::delete_records(coordinator, request, version).await;
                encode_response(correlation_id, header_version, &response, version).map(ready)
            }
            Request::CreatePartitions(request) => answer!(request, create_partitions),
            Request::AlterConfigs(request) => answer!(request, alter_configs),
            Request::IncrementalAlterConfigs(request) => {
                answer!(request, incremental_alter_configs)
            }
            Request::DeleteGroups(request) => answer!(request, delete_groups),
            Request::OffsetDelete(request) => answer!(request, offset_delete),
            Request::OffsetForLeaderEpoch(request) => {
                let coordinator = context.state.coordinator.as_ref();
                let response = admin::offset_for_leader_epoch(coordinator, request, version);
                encode_response(correlation_id, header_version, &response.await, version).map(ready)
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

fn encode_response<T: Encodable>(
    correlation_id: i32,
    header_version: i16,
    body: &T,
    version: i16,
) -> Result<BytesMut, KafkaError> {
    let mut out = BytesMut::new();
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(&mut out, header_version)
        .map_err(|error| KafkaError::Protocol(format!("encoding a response header: {error}")))?;
    body.encode(&mut out, version)
        .map_err(|error| KafkaError::Protocol(format!("encoding a response: {error}")))?;
    Ok(out)
}

fn api_versions() -> ApiVersionsResponse {
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

async fn metadata(context: &Context, request: MetadataRequest, version: i16) -> MetadataResponse {
    let coordinator = &context.state.coordinator;
    let mut topics = Vec::new();
    match request.topics {
        None => match coordinator.list_topics().await {
            Ok(all) => topics.extend(all.into_iter().map(Ok)),
            Err(error) => warn!(%error, "listing topics for metadata"),
        },
        Some(wanted) => {
            for wanted in wanted {
                let Some(name) = wanted.name else { continue };
                let name = name.0.as_str().to_owned();
                if silt_core::names::validate_topic_name(&name).is_err() {
                    // Kafka's answer, which producers do not retry.
                    topics.push(Err((name, code::INVALID_TOPIC_EXCEPTION)));
                    continue;
                }
                let mut found = coordinator.get_topic(&name).await;
                if matches!(found, Err(CoordinatorError::TopicNotFound(_)))
                    && request.allow_auto_topic_creation
                    && context.config.auto_create_partitions > 0
                {
                    found = match coordinator
                        .create_topic(TopicConfig {
                            name: name.clone(),
                            partitions: context.config.auto_create_partitions,
                            retention_ms: None,
                            retention_bytes: None,
                            value_schema: None,
                        })
                        .await
                    {
                        Ok(topic) => {
                            info!(topic = %name, "topic created on first use by a kafka client");
                            Ok(topic)
                        }
                        Err(CoordinatorError::TopicExists(_)) => coordinator.get_topic(&name).await,
                        Err(error) => Err(error),
                    };
                }
                topics.push(found.map_err(|error| (name, error_code(&error))));
            }
        }
    }
    let mut response = MetadataResponse::default();
    let mut broker = metadata_response::MetadataResponseBroker::default();
    broker.node_id = BrokerId(NODE_ID);
    broker.host = str_bytes(&context.config.advertised_host);
    broker.port = i32::from(context.config.advertised_port);
    response.brokers = vec![broker];
    if version >= 2 {
        response.cluster_id = Some(str_bytes("silt"));
    }
    if version >= 1 {
        response.controller_id = BrokerId(NODE_ID);
    }
    response.topics = topics
        .into_iter()
        .map(|found| {
            let mut topic = metadata_response::MetadataResponseTopic::default();
            match found {
                Ok(found) => {
                    topic.name = Some(topic_name(&found.name));
                    // Kafka's topic id: unique to this incarnation of the name, so a
                    // client can tell a topic deleted and created again.
                    topic.topic_id = uuid::Uuid::from_u64_pair(
                        found.topic_id as u64,
                        found.created_at_ms as u64,
                    );
                    topic.partitions = (0..found.partitions as i32)
                        .map(|index| {
                            let mut partition =
                                metadata_response::MetadataResponsePartition::default();
                            partition.partition_index = index;
                            partition.leader_id = BrokerId(NODE_ID);
                            partition.replica_nodes = vec![BrokerId(NODE_ID)];
                            partition.isr_nodes = vec![BrokerId(NODE_ID)];
                            partition
                        })
                        .collect();
                }
                Err((name, error_code)) => {
                    topic.name = Some(topic_name(&name));
                    topic.error_code = error_code;
                }
            }
            topic
        })
        .collect();
    response
}

async fn create_topics(
    context: &Context,
    request: CreateTopicsRequest,
    _version: i16,
) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    for creatable in request.topics {
        let name = creatable.name.0.as_str().to_owned();
        let mut result = CreatableTopicResult::default();
        result.name = creatable.name.clone();
        let outcome = match topic_configs::requested(
            &creatable,
            context.config.auto_create_partitions.max(1),
            NODE_ID,
        ) {
            Err(refused) => Err(refused),
            Ok(asked) => {
                result.num_partitions = asked.partitions as i32;
                result.replication_factor = 1;
                if silt_core::names::validate_topic_name(&name).is_err() {
                    Err((
                        code::INVALID_TOPIC_EXCEPTION,
                        format!("{name:?} is not a valid topic name"),
                    ))
                } else if request.validate_only {
                    Ok(())
                } else {
                    let config = TopicConfig {
                        name: name.clone(),
                        partitions: asked.partitions,
                        retention_ms: asked.retention_ms,
                        retention_bytes: asked.retention_bytes,
                        value_schema: None,
                    };
                    context
                        .state
                        .coordinator
                        .create_topic(config)
                        .await
                        .map(|_| ())
                        .map_err(|error| {
                            let code = match &error {
                                CoordinatorError::InvalidArgument(message)
                                    if message.contains("partitions") =>
                                {
                                    code::INVALID_PARTITIONS
                                }
                                CoordinatorError::InvalidArgument(_) => {
                                    code::INVALID_TOPIC_EXCEPTION
                                }
                                other => error_code(other),
                            };
                            (code, error.to_string())
                        })
                }
            }
        };
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(str_bytes(&message));
        }
        response.topics.push(result);
    }
    response
}

async fn delete_topics(
    context: &Context,
    request: DeleteTopicsRequest,
    _version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = request
        .topic_names
        .into_iter()
        .chain(request.topics.into_iter().filter_map(|topic| topic.name))
        .collect();
    let mut response = DeleteTopicsResponse::default();
    for name in names {
        let mut result = DeletableTopicResult::default();
        if let Err(error) = context
            .state
            .coordinator
            .delete_topic(name.0.as_str())
            .await
        {
            result.error_code = error_code(&error);
            result.error_message = Some(str_bytes(&error.to_string()));
        }
        result.name = Some(name);
        response.responses.push(result);
    }
    response
}

async fn find_coordinator(
    context: &Context,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = str_bytes(&context.config.advertised_host);
    let port = i32::from(context.config.advertised_port);
    let mut response = FindCoordinatorResponse::default();
    if version < 4 {
        response.node_id = BrokerId(NODE_ID);
        response.host = host;
        response.port = port;
        return response;
    }
    let keys = if request.coordinator_keys.is_empty() {
        vec![request.key]
    } else {
        request.coordinator_keys
    };
    response.coordinators = keys
        .into_iter()
        .map(|key| {
            let mut found = find_coordinator_response::Coordinator::default();
            found.key = key;
            found.node_id = BrokerId(NODE_ID);
            found.host = host.clone();
            found.port = port;
            found
        })
        .collect();
    response
}

async fn init_producer_id(
    context: &Context,
    request: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    if request.transactional_id.is_some() {
        response.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return response;
    }
    let existing = (request.producer_id.0 >= 0).then_some(request.producer_id.0);
    match context.state.coordinator.init_producer(existing).await {
        Ok(identity) => match i16::try_from(identity.epoch) {
            Ok(epoch) => {
                response.producer_id = identity.producer_id.into();
                response.producer_epoch = epoch;
            }
            Err(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
        },
        Err(CoordinatorError::UnknownProducer(_)) => {
            // Forgotten (idle too long): a new id serves the client as well.
            match context.state.coordinator.init_producer(None).await {
                Ok(identity) => {
                    response.producer_id = identity.producer_id.into();
                    response.producer_epoch = 0;
                }
                Err(error) => response.error_code = error_code(&error),
            }
        }
        Err(error) => response.error_code = error_code(&error),
    }
    response
}

/// Earliest (-2), latest (-1) and by-timestamp offsets.
async fn list_offsets(
    context: &Context,
    request: ListOffsetsRequest,
    _version: i16,
) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_owned();
        let mut answered = list_offsets_response::ListOffsetsTopicResponse::default();
        answered.name = topic.name;
        for wanted in topic.partitions {
            let mut partition = list_offsets_response::ListOffsetsPartitionResponse::default();
            partition.partition_index = wanted.partition_index;
            partition.timestamp = -1;
            match offset_for(context, &name, wanted.partition_index, wanted.timestamp).await {
                Ok((offset, timestamp)) => {
                    partition.offset = offset;
                    partition.timestamp = timestamp;
                }
                Err(error) => {
                    partition.error_code = error_code(&error);
                    partition.offset = -1;
                }
            }
            answered.partitions.push(partition);
        }
        response.topics.push(answered);
    }
    response
}

fn partition_number(partition: i32) -> Result<u32, CoordinatorError> {
    u32::try_from(partition)
        .map_err(|_| CoordinatorError::InvalidArgument(format!("partition {partition}")))
}

/// The offset (and its record's timestamp, or -1) that a ListOffsets query names.
async fn offset_for(
    context: &Context,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<(i64, i64), CoordinatorError> {
    let partition = partition_number(partition)?;
    let offsets = context
        .state
        .coordinator
        .partition_offsets(topic, partition)
        .await?;
    match timestamp {
        -2 => return Ok((offsets.log_start_offset as i64, -1)),
        -1 | -3 => return Ok((offsets.high_watermark as i64, -1)),
        _ => {}
    }
    // The first record at or after the timestamp: walk the index from the log start,
    // skipping every entry whose newest record is older, and read only the entry that
    // holds it. None found: -1, as a broker answers.
    let mut next = offsets.log_start_offset;
    for _ in 0..MAX_TIMESTAMP_LOOKUPS {
        if next >= offsets.high_watermark {
            break;
        }
        let lookup = context
            .state
            .coordinator
            .lookup(topic, partition, next, LOOKUP_ENTRIES)
            .await?;
        if lookup.entries.is_empty() {
            break;
        }
        for entry in &lookup.entries {
            if entry.max_timestamp >= timestamp {
                let records = context
                    .state
                    .reader
                    .read_entry_with_retries(entry, topic, partition, next)
                    .await
                    .map_err(read_error)?;
                if let Some((offset, record)) = records
                    .iter()
                    .find(|(offset, record)| *offset >= next && record.timestamp >= timestamp)
                {
                    return Ok((*offset as i64, record.timestamp));
                }
                // A compacted file's row group holds part of the entry: look again.
                if let Some((last, _)) = records.last()
                    && *last + 1 < entry.end_offset()
                {
                    next = *last + 1;
                    break;
                }
            }
            next = entry.end_offset();
        }
    }
    Ok((-1, -1))
}

/// Index lookups a ListOffsets by timestamp may make (16 entries each).
const MAX_TIMESTAMP_LOOKUPS: usize = 4096;

/// What one partition of a produce request came to.
struct PartitionAnswer {
    index: i32,
    error_code: i16,
    base_offset: i64,
    message: Option<String>,
    log_start_offset: i64,
}

/// Validates and decodes a produce request and submits its records to the batcher, in
/// request order; the returned future answers once they are durable.
async fn produce(
    context: &Context,
    request: ProduceRequest,
) -> impl Future<Output = ProduceResponse> + Send + 'static {
    let mut topics = Vec::with_capacity(request.topic_data.len());
    for topic in request.topic_data {
        let name = topic.name.0.as_str().to_owned();
        let found = context.state.coordinator.get_topic(&name).await;
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            partitions.push(match &found {
                Err(error) => PartitionPending::Done(PartitionAnswer {
                    index: data.index,
                    error_code: error_code(error),
                    base_offset: -1,
                    message: Some(error.to_string()),
                    log_start_offset: -1,
                }),
                Ok(found) => produce_partition(context, found, data.index, data.records).await,
            });
        }
        topics.push((topic.name, partitions));
    }
    async move {
        let mut response = ProduceResponse::default();
        for (name, partitions) in topics {
            let answers = join_all(partitions.into_iter().map(PartitionPending::answer)).await;
            let mut answered = produce_response::TopicProduceResponse::default();
            answered.name = name;
            answered.partition_responses = answers
                .into_iter()
                .map(|answer| {
                    let mut partition = produce_response::PartitionProduceResponse::default();
                    partition.index = answer.index;
                    partition.error_code = answer.error_code;
                    partition.base_offset = answer.base_offset;
                    partition.log_append_time_ms = -1;
                    partition.log_start_offset = answer.log_start_offset;
                    partition.error_message = answer.message.as_deref().map(str_bytes);
                    partition
                })
                .collect();
            response.responses.push(answered);
        }
        response
    }
}

/// A partition of a produce request: answered already (refused), or submitted and
/// waiting for its records to be durable.
enum PartitionPending {
    Done(PartitionAnswer),
    Submitted {
        index: i32,
        pending: Vec<PendingProduce>,
    },
}

impl PartitionPending {
    async fn answer(self) -> PartitionAnswer {
        let (index, pending) = match self {
            PartitionPending::Done(answer) => return answer,
            PartitionPending::Submitted { index, pending } => (index, pending),
        };
        let mut base_offset = None;
        for produce in pending {
            match produce.durable().await {
                Ok(offsets) => {
                    base_offset =
                        base_offset.or_else(|| offsets.first().map(|(_, offset)| *offset as i64));
                }
                Err(error) => {
                    return PartitionAnswer {
                        index,
                        error_code: produce_error_code(error.error_code),
                        base_offset: -1,
                        message: Some(error.message),
                        log_start_offset: -1,
                    };
                }
            }
        }
        PartitionAnswer {
            index,
            error_code: code::NONE,
            base_offset: base_offset.unwrap_or(-1),
            message: None,
            log_start_offset: -1,
        }
    }
}

/// Decodes a partition's record batches into Silt records and produces them through the
/// batcher: acknowledged once durable, like an HTTP produce.
async fn produce_partition(
    context: &Context,
    topic: &Topic,
    index: i32,
    records: Option<Bytes>,
) -> PartitionPending {
    let failed = |error_code: i16, message: String| {
        PartitionPending::Done(PartitionAnswer {
            index,
            error_code,
            base_offset: -1,
            message: Some(message),
            log_start_offset: -1,
        })
    };
    let partition = match u32::try_from(index) {
        Ok(partition) if partition < topic.partitions => partition,
        _ => {
            return failed(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic {} has no partition {index}", topic.name),
            );
        }
    };
    // The records of a partition may decompress to at most the body limit of an HTTP
    // produce request.
    let raw = records.unwrap_or_default();
    let sets = match batch::decode_batches(raw, context.state.config.max_body_bytes) {
        Ok(sets) => sets,
        Err(error) => {
            debug!(topic = %topic.name, partition, %error, "undecodable record batch");
            let code = match error {
                batch::BatchError::TooLarge { .. } => code::MESSAGE_TOO_LARGE,
                _ => code::CORRUPT_MESSAGE,
            };
            return failed(code, format!("record batch: {error}"));
        }
    };
    let record_count: usize = sets.iter().map(|set| set.records.len()).sum();
    if record_count > crate::produce::MAX_RECORDS_PER_REQUEST {
        return failed(
            code::MESSAGE_TOO_LARGE,
            format!(
                "{record_count} records; a partition of a produce request holds at most {}",
                crate::produce::MAX_RECORDS_PER_REQUEST
            ),
        );
    }
    if sets.iter().any(|set| set.transactional) {
        return failed(
            code::INVALID_RECORD,
            "transactional record batches are not supported".into(),
        );
    }
    let max_record_bytes = context.state.config.max_record_bytes;
    // The batches of an idempotent producer are produced one by one, each in a chunk of
    // its own, so the coordinator can check its sequence; plain batches go together.
    let idempotent = sets.iter().any(|set| kafka_stamp(set).is_some());
    let mut produces = Vec::new();
    let mut data = BytesMut::new();
    let mut prepared = Vec::new();
    for set in sets.iter().filter(|set| !set.control) {
        for record in &set.records {
            let key = record.key.as_deref().map(|key| {
                // A UTF-8 key reads back over HTTP as text; either way its bytes are kept.
                (key, std::str::from_utf8(key).is_err())
            });
            // Null stays null (a tombstone), apart from empty.
            let value = record.value.as_deref();
            let value_is_json = value.is_some_and(|value| {
                !value.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(value).is_ok()
            });
            let headers: Vec<(&str, Option<&[u8]>)> = record
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_deref()))
                .collect();
            let parts = RecordParts {
                timestamp: record.timestamp,
                key,
                value,
                value_is_json,
                headers: &headers,
            };
            if let Some(reason) = parts.format_error() {
                return failed(code::INVALID_RECORD, reason.into());
            }
            if parts.encoded_len() > max_record_bytes {
                return failed(
                    code::MESSAGE_TOO_LARGE,
                    format!(
                        "a record of {} bytes exceeds the limit of {max_record_bytes}",
                        parts.encoded_len()
                    ),
                );
            }
            let start = data.len();
            parts.encode(&mut data);
            prepared.push(PreparedRecord {
                partition,
                start,
                end: data.len(),
                timestamp: record.timestamp,
            });
        }
        if idempotent && !prepared.is_empty() {
            let Some(stamp) = kafka_stamp(set) else {
                return failed(
                    code::INVALID_RECORD,
                    "an idempotent producer's request mixes stamped and unstamped batches".into(),
                );
            };
            produces.push(PreparedProduce {
                data: std::mem::take(&mut data).freeze(),
                records: std::mem::take(&mut prepared),
                producer: None,
                kafka: Some(stamp),
            });
        }
    }
    if !prepared.is_empty() {
        produces.push(PreparedProduce {
            data: data.freeze(),
            records: prepared,
            producer: None,
            kafka: None,
        });
    }
    if produces.is_empty() {
        return failed(code::CORRUPT_MESSAGE, "no records in the batch".into());
    }
    let mut pending = Vec::with_capacity(produces.len());
    for produce in produces {
        match context.state.batcher.submit(topic, produce).await {
            Ok(submitted) => pending.push(submitted),
            // What was submitted before still lands; the client's retry of the whole
            // partition is recognised for idempotent producers.
            Err(error) => return failed(produce_error_code(error.error_code), error.message),
        }
    }
    PartitionPending::Submitted { index, pending }
}

/// The producer id, epoch and base sequence of an idempotent producer's batch.
fn kafka_stamp(set: &batch::KafkaBatch) -> Option<KafkaBatchStamp> {
    (set.producer_id >= 0 && set.base_sequence >= 0).then_some(KafkaBatchStamp {
        producer_id: set.producer_id,
        epoch: i32::from(set.producer_epoch),
        base_sequence: set.base_sequence,
    })
}

/// The Kafka error code for a produce the batcher or the coordinator refused.
fn produce_error_code(error_code: &str) -> i16 {
    match error_code {
        "topic_not_found" => code::UNKNOWN_TOPIC_OR_PARTITION,
        "out_of_order_sequence" => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
        "duplicate_sequence" => code::DUPLICATE_SEQUENCE_NUMBER,
        "producer_fenced" | "invalid_producer_epoch" => code::INVALID_PRODUCER_EPOCH,
        "unknown_producer" => code::UNKNOWN_PRODUCER_ID,
        "sequence_reused" => code::INVALID_RECORD,
        // Backpressure and storage failures alike are retriable for the client.
        _ => code::KAFKA_STORAGE_ERROR,
    }
}

/// One partition of a fetch, as read: record batches, each ready to send.
struct PartitionRead {
    index: i32,
    result: Result<(Vec<Bytes>, PartitionOffsets), CoordinatorError>,
}

/// The name under which a chunk's Kafka record batch is kept in the chunk cache.
/// (v3: batches written by Silt, keeping null values and header values.)
const KAFKA_BATCH_VIEW: &str = "kafka-v3";
/// Index lookups one partition's fetch may make.
const MAX_FETCH_LOOKUPS: usize = 8;

fn read_error(error: silt_reader::ReadError) -> CoordinatorError {
    match error {
        silt_reader::ReadError::Coordinator(error) => error,
        other => CoordinatorError::Unavailable(other.to_string()),
    }
}

/// Reads whole stored chunks from the one holding `offset` on, each as one Kafka record
/// batch, as a broker returns the batches that hold the offset (clients skip the
/// records before it). A chunk is encoded once and kept in the chunk cache, so every
/// fetch inside it is served the same bytes without decoding or encoding. Compacted
/// (Parquet) ranges are read from `offset` on and encoded for the fetch.
///
/// Batches are added while they fit in `max_bytes`; the first may exceed it only when
/// `first_may_exceed` (KIP-74: the first batch of a response, so a consumer always
/// progresses). With `max_bytes` 0 only the partition's offsets are read.
async fn read_partition(
    context: &Context,
    topic: &str,
    index: i32,
    offset: i64,
    max_bytes: usize,
    first_may_exceed: bool,
) -> PartitionRead {
    let result = async {
        let partition = partition_number(index)?;
        let offset = u64::try_from(offset)
            .map_err(|_| CoordinatorError::InvalidArgument(format!("offset {offset}")))?;
        let coordinator = &context.state.coordinator;
        let mut batches = Vec::new();
        let mut bytes = 0;
        let mut next = offset;
        let mut offsets = None;
        'lookups: for _ in 0..MAX_FETCH_LOOKUPS {
            let lookup = coordinator
                .lookup(topic, partition, next, LOOKUP_ENTRIES)
                .await?;
            offsets.get_or_insert(lookup.offsets);
            for entry in &lookup.entries {
                if entry.base_offset > next {
                    return Err(CoordinatorError::Internal(format!(
                        "index gap: expected offset {next}, next entry starts at {}",
                        entry.base_offset
                    )));
                }
                if max_bytes == 0 && !first_may_exceed {
                    break 'lookups;
                }
                let fits = |batches: &Vec<Bytes>, bytes: usize, batch: &Bytes| {
                    bytes + batch.len() <= max_bytes || (batches.is_empty() && first_may_exceed)
                };
                if entry.format == EntryFormat::Parquet {
                    if batches.is_empty() {
                        let (batch, _) =
                            read_compacted(context, topic, partition, next, max_bytes).await?;
                        batches.extend(batch.filter(|batch| fits(&batches, bytes, batch)));
                    }
                    break 'lookups;
                }
                let batch = chunk_batch(context, entry, topic, partition).await?;
                if !fits(&batches, bytes, &batch) {
                    break 'lookups;
                }
                bytes += batch.len();
                batches.push(batch);
                next = entry.end_offset();
                if bytes >= max_bytes {
                    break 'lookups;
                }
            }
            if lookup.entries.is_empty() || next >= lookup.offsets.high_watermark {
                break;
            }
        }
        let offsets = offsets.ok_or_else(|| CoordinatorError::Internal("no lookup".into()))?;
        Ok((batches, offsets))
    }
    .await;
    PartitionRead { index, result }
}

/// Partitions of a fetch read at once.
const FETCH_WAVE: usize = 8;

/// Index entries asked for per lookup of a fetch.
const LOOKUP_ENTRIES: u32 = 16;

/// A segment chunk as one Kafka record batch (base offset = the chunk's first offset),
/// from the chunk cache or encoded now and kept there.
async fn chunk_batch(
    context: &Context,
    entry: &IndexEntry,
    topic: &str,
    partition: u32,
) -> Result<Bytes, CoordinatorError> {
    let reader = &context.state.reader;
    let metrics = &context.state.metrics;
    let (key, at, len) = (&entry.object_key, entry.byte_offset, entry.byte_len);
    if let Some(batch) = reader
        .cache()
        .get_view(key, at, len, KAFKA_BATCH_VIEW)
        .await
    {
        Metrics::add(&metrics.kafka_batch_cache_hits, 1);
        return Ok(batch);
    }
    let records = reader
        .read_entry_with_retries(entry, topic, partition, entry.base_offset)
        .await
        .map_err(read_error)?;
    let batch = encode_batch(records.into_iter())?;
    Metrics::add(&metrics.kafka_batches_encoded, 1);
    reader
        .cache()
        .insert_view(key, at, len, KAFKA_BATCH_VIEW, batch.clone());
    Ok(batch)
}

/// Records of a compacted range from `offset` on, as one batch (none at the end).
async fn read_compacted(
    context: &Context,
    topic: &str,
    partition: u32,
    offset: u64,
    max_bytes: usize,
) -> Result<(Option<Bytes>, PartitionOffsets), CoordinatorError> {
    let fetched = context
        .state
        .reader
        .fetch(&ReadRequest {
            topic: topic.to_owned(),
            partition,
            offset,
            max_records: 10_000,
            max_bytes,
        })
        .await
        .map_err(read_error)?;
    if fetched.records.is_empty() {
        return Ok((None, fetched.offsets));
    }
    let batch = encode_batch(
        fetched
            .records
            .into_iter()
            .map(|fetched| (fetched.offset, fetched.record)),
    )?;
    Ok((Some(batch), fetched.offsets))
}

/// Stored records as one uncompressed v2 record batch.
fn encode_batch(
    records: impl Iterator<Item = (u64, silt_core::record::StoredRecord)>,
) -> Result<Bytes, CoordinatorError> {
    let mut writer = batch::encode::BatchWriter::new();
    for (offset, record) in records {
        writer.push(
            offset as i64,
            record.timestamp,
            record.key.as_deref(),
            record.kafka_value().map(|value| &value[..]),
            record
                .headers
                .iter()
                .map(|(name, value)| (&name[..], value.as_deref())),
        );
    }
    Ok(writer.finish())
}

/// A topic of a fetch request: its name, as text and as sent, and the (partition,
/// offset, max bytes) asked for.
type WantedTopic = (String, TopicName, Vec<(i32, i64, usize)>);

/// Reads every requested partition; when nothing is there yet and the client is willing
/// to wait, waits (up to `max_wait_ms`) for any of them to grow, then reads again.
async fn fetch(context: &Context, request: FetchRequest, version: i16) -> FetchResponse {
    let wanted: Vec<WantedTopic> = request
        .topics
        .iter()
        .map(|topic| {
            (
                topic.topic.0.as_str().to_owned(),
                topic.topic.clone(),
                topic
                    .partitions
                    .iter()
                    .map(|partition| {
                        (
                            partition.partition,
                            partition.fetch_offset,
                            usize::try_from(partition.partition_max_bytes).unwrap_or(1 << 20),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    // KIP-74: the response holds at most `max_bytes` (v3+), but its first batch may
    // exceed it. Partitions are read in request order, a few at a time, each within
    // what is left, so a request for many partitions never holds more than a few
    // partitions' worth beyond its limit.
    let max_bytes = if version >= 3 {
        usize::try_from(request.max_bytes).unwrap_or(0)
    } else {
        usize::MAX
    };
    let read_all = || async {
        let mut reads: Vec<Vec<PartitionRead>> = Vec::new();
        let mut left = max_bytes;
        let mut any = false;
        for (name, _, partitions) in &wanted {
            let mut topic_reads = Vec::new();
            for wave in partitions.chunks(FETCH_WAVE) {
                let read = join_all(wave.iter().map(|(index, offset, partition_max)| {
                    read_partition(
                        context,
                        name,
                        *index,
                        *offset,
                        (*partition_max).min(left),
                        !any,
                    )
                }))
                .await;
                // Read at once, a wave's partitions may together pass what is left:
                // keep, in order, what fits.
                for mut partition in read {
                    if let Ok((batches, _)) = &mut partition.result {
                        let mut kept = 0;
                        for batch in batches.iter() {
                            if batch.len() > left && any {
                                break;
                            }
                            left = left.saturating_sub(batch.len());
                            any = true;
                            kept += 1;
                        }
                        batches.truncate(kept);
                    }
                    topic_reads.push(partition);
                }
            }
            reads.push(topic_reads);
        }
        reads
    };
    let mut reads = read_all().await;
    let found: usize = reads
        .iter()
        .flatten()
        .map(|read| read.result.as_ref().map_or(0, |(batches, _)| batches.len()))
        .sum();
    let max_wait = Duration::from_millis(
        u64::try_from(request.max_wait_ms)
            .unwrap_or(0)
            .min(context.state.config.max_wait_ms),
    );
    if found == 0 && !max_wait.is_zero() {
        let waits: Vec<_> = wanted
            .iter()
            .flat_map(|(name, _, partitions)| {
                partitions.iter().filter_map(move |(index, offset, _)| {
                    let partition = u32::try_from(*index).ok()?;
                    let offset = u64::try_from(*offset).ok()?;
                    Some(Box::pin(async move {
                        context
                            .state
                            .coordinator
                            .wait_for_records(name, partition, offset, max_wait)
                            .await
                    }))
                })
            })
            .collect();
        if !waits.is_empty() {
            tokio::select! {
                _ = tokio::time::timeout(max_wait, select_all(waits)) => reads = read_all().await,
                // Shutting down: answer now with what there is (nothing).
                () = context.state.stopping() => {}
            }
        }
    }
    let mut response = FetchResponse::default();
    for ((_, name, _), partitions) in wanted.iter().zip(reads) {
        let mut topic = fetch_response::FetchableTopicResponse::default();
        topic.topic = name.clone();
        for read in partitions {
            let mut partition = fetch_response::PartitionData::default();
            partition.partition_index = read.index;
            partition.preferred_read_replica = BrokerId(-1);
            match read.result {
                Ok((batches, offsets)) => {
                    partition.high_watermark = offsets.high_watermark as i64;
                    partition.last_stable_offset = offsets.high_watermark as i64;
                    if version >= 5 {
                        partition.log_start_offset = offsets.log_start_offset as i64;
                    }
                    // No data is an empty record set, never null: clients reject a
                    // null one.
                    partition.records = Some(match batches.len() {
                        0 => Bytes::new(),
                        1 => batches.into_iter().next().unwrap_or_default(),
                        _ => batches.concat().into(),
                    });
                }
                Err(error) => {
                    partition.records = Some(Bytes::new());
                    partition.error_code = error_code(&error);
                    partition.high_watermark = -1;
                }
            }
            topic.partitions.push(partition);
        }
        response.responses.push(topic);
    }
    response
}

fn millis(value: i32) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// `client` is the client's id and address (the member id starts with the id).
async fn join_group(
    context: &Context,
    request: JoinGroupRequest,
    version: i16,
    client: (&str, &str),
) -> JoinGroupResponse {
    let mut response = JoinGroupResponse::default();
    let session_timeout_ms = millis(request.session_timeout_ms);
    let call = KafkaGroupRequest::Join {
        group: request.group_id.0.as_str().to_owned(),
        member_id: request.member_id.as_str().to_owned(),
        protocol_type: request.protocol_type.as_str().to_owned(),
        protocols: request
            .protocols
            .iter()
            .map(|protocol| {
                (
                    protocol.name.as_str().to_owned(),
                    protocol.metadata.to_vec(),
                )
            })
            .collect(),
        session_timeout_ms,
        // Version 0 has no rebalance timeout: the session timeout serves.
        rebalance_timeout_ms: if request.rebalance_timeout_ms > 0 {
            millis(request.rebalance_timeout_ms)
        } else {
            session_timeout_ms
        },
        require_member_id: version >= 4,
        client_id: client.0.to_owned(),
        client_host: client.1.to_owned(),
    };
    response.member_id = request.member_id;
    match group_call(context, call).await {
        Ok(KafkaGroupResponse::Joined {
            error_code,
            generation,
            protocol_type,
            protocol_name,
            leader,
            member_id,
            members,
        }) => {
            response.error_code = error_code;
            response.generation_id = generation;
            if version >= 7 {
                response.protocol_type = protocol_type.as_deref().map(str_bytes);
            }
            response.protocol_name = protocol_name.as_deref().map(str_bytes);
            response.leader = str_bytes(&leader);
            response.member_id = str_bytes(&member_id);
            response.members = members
                .into_iter()
                .map(|(id, metadata)| {
                    let mut member = join_group_response::JoinGroupResponseMember::default();
                    member.member_id = str_bytes(&id);
                    member.metadata = Bytes::from(metadata);
                    member
                })
                .collect();
        }
        Ok(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
        Err(error_code) => response.error_code = error_code,
    }
    response
}

async fn sync_group(
    context: &Context,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let mut response = SyncGroupResponse::default();
    let call = KafkaGroupRequest::Sync {
        group: request.group_id.0.as_str().to_owned(),
        member_id: request.member_id.as_str().to_owned(),
        generation: request.generation_id,
        assignments: request
            .assignments
            .iter()
            .map(|given| {
                (
                    given.member_id.as_str().to_owned(),
                    given.assignment.to_vec(),
                )
            })
            .collect(),
    };
    match group_call(context, call).await {
        Ok(KafkaGroupResponse::Synced {
            error_code,
            protocol_type,
            protocol_name,
            assignment,
        }) => {
            response.error_code = error_code;
            if version >= 5 {
                response.protocol_type = protocol_type.as_deref().map(str_bytes);
                response.protocol_name = protocol_name.as_deref().map(str_bytes);
            }
            response.assignment = Bytes::from(assignment);
        }
        Ok(_) => response.error_code = code::UNKNOWN_SERVER_ERROR,
        Err(error_code) => response.error_code = error_code,
    }
    response
}

async fn heartbeat(
    context: &Context,
    request: HeartbeatRequest,
    _version: i16,
) -> HeartbeatResponse {
    let call = KafkaGroupRequest::Heartbeat {
        group: request.group_id.0.as_str().to_owned(),
        member_id: request.member_id.as_str().to_owned(),
        generation: request.generation_id,
    };
    let mut response = HeartbeatResponse::default();
    response.error_code = done_code(group_call(context, call).await);
    response
}

async fn leave_group(
    context: &Context,
    request: LeaveGroupRequest,
    _version: i16,
) -> LeaveGroupResponse {
    let mut member_ids: Vec<String> = request
        .members
        .iter()
        .map(|member| member.member_id.as_str().to_owned())
        .collect();
    if !request.member_id.is_empty() {
        member_ids.push(request.member_id.as_str().to_owned());
    }
    let call = KafkaGroupRequest::Leave {
        group: request.group_id.0.as_str().to_owned(),
        member_ids: member_ids.clone(),
    };
    let error_code = done_code(group_call(context, call).await);
    let mut response = LeaveGroupResponse::default();
    response.error_code = error_code;
    response.members = request
        .members
        .into_iter()
        .map(|member| {
            let mut answered = leave_group_response::MemberResponse::default();
            answered.member_id = member.member_id;
            answered.group_instance_id = member.group_instance_id;
            answered.error_code = error_code;
            answered
        })
        .collect();
    response
}
