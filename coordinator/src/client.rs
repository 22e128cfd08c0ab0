//! [`RemoteCoordinator`]: the [`Coordinator`] trait over the internal protocol, for
//! gateways that run apart from the coordinator (`silt gateway --coordinator URL`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use silt_core::Coordinator;
use silt_core::coordinator::{
    ChunkOutcome, CoordinatorError, IndexLookup, PartitionOffsets, ProducerIdentity, SegmentCommit,
    TableCommit, TableFile, Topic, TopicAlteration, TopicConfig, TopicDescription, TopicStorage,
};
use silt_core::groups::{
    FetchAck, FetchPlan, GroupDescription, JoinGroup, KafkaGroupRequest, KafkaGroupResponse,
    MemberAssignment, PartitionOffset, ResetTarget,
};
use silt_core::security::{SecurityRequest, SecurityResponse};
use silt_core::transactions::{Isolation, TxnRequest, TxnResponse};
use tracing::debug;

use crate::protocol::{CALL_PATH, Call, Reply};

/// How long an ordinary call may take before it counts as unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call keeps trying other replicas (and the same one, while it restarts)
/// when none accepts it.
const FAILOVER: Duration = Duration::from_secs(30);
/// Pause after every replica was tried once.
const FAILOVER_PAUSE: Duration = Duration::from_millis(200);

/// Talks to a `silt coordinator`: one address, or the replicas of one (the leader
/// serves; standbys answer 503, and a call moves on to the next replica).
#[derive(Debug, Clone)]
pub struct RemoteCoordinator {
    http: reqwest::Client,
    urls: Arc<Vec<String>>,
    /// The replica that answered last.
    current: Arc<AtomicUsize>,
    /// The coordinator's internal secret, sent with every call.
    secret: Option<Secret>,
}

/// A secret that debug output does not show.
#[derive(Clone)]
struct Secret(Arc<str>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl RemoteCoordinator {
    /// `base_urls` is the coordinator's address, e.g. `http://127.0.0.1:9090`, or the
    /// addresses of its replicas separated by commas.
    pub fn new(base_urls: &str) -> Self {
        let urls: Vec<String> = base_urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| format!("{}{CALL_PATH}", url.trim_end_matches('/')))
            .collect();
        RemoteCoordinator {
            http: reqwest::Client::new(),
            urls: Arc::new(urls),
            current: Arc::new(AtomicUsize::new(0)),
            secret: None,
        }
    }

    /// Trusts the CA certificates in `pem` (for an `https://` coordinator), besides the
    /// system's.
    pub fn with_ca(mut self, pem: &[u8]) -> Result<Self, CoordinatorError> {
        let invalid = |error: reqwest::Error| {
            CoordinatorError::InvalidArgument(format!("the coordinator's CA: {error}"))
        };
        let mut builder = reqwest::Client::builder();
        for certificate in reqwest::Certificate::from_pem_bundle(pem).map_err(invalid)? {
            builder = builder.add_root_certificate(certificate);
        }
        self.http = builder.build().map_err(invalid)?;
        Ok(self)
    }

    /// Sends `secret` (the coordinator's `SILT_INTERNAL_SECRET`) with every call.
    pub fn with_secret(mut self, secret: Option<&str>) -> Self {
        self.secret = secret.map(|secret| Secret(Arc::from(secret)));
        self
    }

    /// Sends `call` to the leader: a replica that refuses the connection or answers 503
    /// (a standby, or one that is starting) passes the call to the next. Calls that
    /// reached a replica and failed otherwise are not repeated, as they may have
    /// taken effect.
    async fn call<T: DeserializeOwned>(
        &self,
        call: Call,
        timeout: Duration,
    ) -> Result<T, CoordinatorError> {
        let method = call.method();
        if self.urls.is_empty() {
            return Err(CoordinatorError::InvalidArgument(
                "no coordinator address".into(),
            ));
        }
        let unavailable = |error: reqwest::Error| {
            debug!(method, %error, "coordinator call failed");
            CoordinatorError::Unavailable(format!("coordinator {method}: {error}"))
        };
        let deadline = Instant::now() + FAILOVER;
        let mut tried = 0usize;
        let (status, body) = loop {
            let index = self.current.load(Ordering::Relaxed) % self.urls.len();
            let mut request = self.http.post(&self.urls[index]).timeout(timeout);
            if let Some(Secret(secret)) = &self.secret {
                request = request.bearer_auth(secret);
            }
            let refused = match request.json(&call).send().await {
                Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    format!("{} answered 503", self.urls[index])
                }
                Ok(response) => {
                    let status = response.status();
                    break (status, response.bytes().await.map_err(unavailable)?);
                }
                Err(error) if error.is_connect() => error.to_string(),
                Err(error) => return Err(unavailable(error)),
            };
            tried += 1;
            if Instant::now() >= deadline {
                return Err(CoordinatorError::Unavailable(format!(
                    "coordinator {method}: no replica accepted the call within {FAILOVER:?}: {refused}"
                )));
            }
            debug!(method, %refused, "trying the next coordinator replica");
            let _ = self.current.compare_exchange(
                index,
                (index + 1) % self.urls.len(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if tried.is_multiple_of(self.urls.len()) {
                tokio::time::sleep(FAILOVER_PAUSE).await;
            }
        };
        if !status.is_success() {
            return Err(CoordinatorError::Unavailable(format!(
                "coordinator {method} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        let reply: Reply = serde_json::from_slice(&body).map_err(|error| {
            CoordinatorError::Internal(format!("coordinator {method} reply: {error}"))
        })?;
        match reply {
            Reply::Ok(value) => serde_json::from_value(value).map_err(|error| {
                CoordinatorError::Internal(format!("coordinator {method} reply: {error}"))
            }),
            Reply::Err(error) => Err(error),
        }
    }

    async fn simple<T: DeserializeOwned>(&self, call: Call) -> Result<T, CoordinatorError> {
        self.call(call, CALL_TIMEOUT).await
    }
}

#[async_trait]
impl Coordinator for RemoteCoordinator {
    async fn create_topic(&self, config: TopicConfig) -> Result<Topic, CoordinatorError> {
        self.simple(Call::CreateTopic(config)).await
    }

    async fn list_topics(&self) -> Result<Vec<Topic>, CoordinatorError> {
        self.simple(Call::ListTopics).await
    }

    async fn get_topic(&self, name: &str) -> Result<Topic, CoordinatorError> {
        self.simple(Call::GetTopic {
            name: name.to_owned(),
        })
        .await
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, CoordinatorError> {
        self.simple(Call::DescribeTopic {
            name: name.to_owned(),
        })
        .await
    }

    async fn alter_topic(
        &self,
        name: &str,
        alteration: TopicAlteration,
    ) -> Result<Topic, CoordinatorError> {
        self.simple(Call::AlterTopic {
            name: name.to_owned(),
            alteration,
        })
        .await
    }

    async fn delete_topic(&self, name: &str) -> Result<(), CoordinatorError> {
        self.simple(Call::DeleteTopic {
            name: name.to_owned(),
        })
        .await
    }

    async fn commit_segment(
        &self,
        commit: SegmentCommit,
    ) -> Result<Vec<ChunkOutcome>, CoordinatorError> {
        self.simple(Call::CommitSegment(commit)).await
    }

    async fn truncate_before(
        &self,
        topic: &str,
        partition: u32,
        log_start_offset: u64,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.simple(Call::TruncateBefore {
            topic: topic.to_owned(),
            partition,
            log_start_offset,
        })
        .await
    }

    async fn list_tables(&self, topic: &str) -> Result<Vec<TableFile>, CoordinatorError> {
        self.simple(Call::ListTables {
            topic: topic.to_owned(),
        })
        .await
    }

    async fn topic_storage(&self, topic: &str) -> Result<TopicStorage, CoordinatorError> {
        self.simple(Call::TopicStorage {
            topic: topic.to_owned(),
        })
        .await
    }

    async fn unreferenced_objects(
        &self,
        committed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, CoordinatorError> {
        self.simple(Call::UnreferencedObjects {
            committed_before_ms,
            limit,
        })
        .await
    }

    async fn forget_object(&self, object_key: &str) -> Result<bool, CoordinatorError> {
        self.simple(Call::ForgetObject {
            object_key: object_key.to_owned(),
        })
        .await
    }

    async fn known_objects(
        &self,
        object_keys: Vec<String>,
    ) -> Result<Vec<String>, CoordinatorError> {
        self.simple(Call::KnownObjects { object_keys }).await
    }

    async fn commit_table(&self, commit: TableCommit) -> Result<(), CoordinatorError> {
        self.simple(Call::CommitTable(commit)).await
    }

    async fn lookup(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_entries: u32,
    ) -> Result<IndexLookup, CoordinatorError> {
        self.simple(Call::Lookup {
            topic: topic.to_owned(),
            partition,
            offset,
            max_entries,
        })
        .await
    }

    async fn init_producer(
        &self,
        producer_id: Option<i64>,
    ) -> Result<ProducerIdentity, CoordinatorError> {
        self.simple(Call::InitProducer { producer_id }).await
    }

    async fn join_group(
        &self,
        group: &str,
        join: JoinGroup,
    ) -> Result<MemberAssignment, CoordinatorError> {
        self.simple(Call::JoinGroup {
            group: group.to_owned(),
            join,
        })
        .await
    }

    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<MemberAssignment, CoordinatorError> {
        self.simple(Call::Heartbeat {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
        })
        .await
    }

    async fn leave_group(&self, group: &str, member_id: &str) -> Result<(), CoordinatorError> {
        self.simple(Call::LeaveGroup {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
        })
        .await
    }

    async fn fetch_plan(
        &self,
        group: &str,
        member_id: &str,
        ack: FetchAck,
    ) -> Result<FetchPlan, CoordinatorError> {
        self.simple(Call::FetchPlan {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
            ack,
        })
        .await
    }

    async fn advance_positions(
        &self,
        group: &str,
        member_id: &str,
        fetch_id: u64,
        positions: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        let call = Call::AdvancePositions {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
            fetch_id,
            positions,
        };
        self.simple(call).await
    }

    async fn commit_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation: u64,
        offsets: Vec<PartitionOffset>,
    ) -> Result<(), CoordinatorError> {
        let call = Call::CommitOffsets {
            group: group.to_owned(),
            member_id: member_id.to_owned(),
            generation,
            offsets,
        };
        self.simple(call).await
    }

    async fn describe_group(&self, group: &str) -> Result<GroupDescription, CoordinatorError> {
        self.simple(Call::DescribeGroup {
            group: group.to_owned(),
        })
        .await
    }

    async fn list_groups(&self) -> Result<Vec<String>, CoordinatorError> {
        self.simple(Call::ListGroups).await
    }

    async fn reset_offsets(
        &self,
        group: &str,
        target: ResetTarget,
        topics: Option<Vec<String>>,
    ) -> Result<Vec<PartitionOffset>, CoordinatorError> {
        self.simple(Call::ResetOffsets {
            group: group.to_owned(),
            target,
            topics,
        })
        .await
    }

    async fn partition_offsets(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        self.simple(Call::PartitionOffsets {
            topic: topic.to_owned(),
            partition,
        })
        .await
    }

    async fn wait_for_records(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        isolation: Isolation,
        timeout: Duration,
    ) -> Result<PartitionOffsets, CoordinatorError> {
        let call = Call::WaitForRecords {
            topic: topic.to_owned(),
            partition,
            offset,
            isolation,
            timeout_ms: timeout.as_millis() as u64,
        };
        self.call(call, timeout + CALL_TIMEOUT).await
    }

    async fn kafka_group(
        &self,
        request: KafkaGroupRequest,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        // Joins wait for the other members for up to the rebalance timeout.
        let wait = match &request {
            KafkaGroupRequest::Join {
                rebalance_timeout_ms,
                session_timeout_ms,
                ..
            } => Duration::from_millis((*rebalance_timeout_ms).max(*session_timeout_ms)),
            KafkaGroupRequest::Sync { .. } => Duration::from_secs(600),
            _ => Duration::ZERO,
        };
        self.call(Call::KafkaGroup(request), wait + CALL_TIMEOUT)
            .await
    }

    async fn transaction(&self, request: TxnRequest) -> Result<TxnResponse, CoordinatorError> {
        self.simple(Call::Transaction(request)).await
    }

    async fn security(
        &self,
        request: SecurityRequest,
    ) -> Result<SecurityResponse, CoordinatorError> {
        self.simple(Call::Security(request)).await
    }
}
