//! The Kafka protocol's consumer groups ("classic" protocol), kept beside Silt's own
//! groups: members join, the coordinator waits until every known member has joined
//! again (or the rebalance timeout passes), makes one of them the leader and hands it
//! everyone's metadata; the leader computes the assignment and brings it in its
//! SyncGroup, and every member gets its part. Membership lives in memory (members join
//! again after a coordinator restart, as after any coordinator move in Kafka);
//! committed offsets are the group's durable offsets, shared with the HTTP API.
//!
//! As in Kafka, a member that has not joined again is removed once its session times
//! out, rebalance or not (a live one keeps its session with heartbeats until it
//! joins): a dead member holds a rebalance for its session timeout, not for the
//! rebalance timeout. A member waiting in JoinGroup is alive while its request waits; a
//! new member (JoinGroup v4+) is first handed its id with MEMBER_ID_REQUIRED and is
//! forgotten if it does not join with it within its session timeout. Static members
//! (KIP-345, `group.instance.id`) are in [`static_members`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::coordinator::CoordinatorError;
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse};
use tokio::sync::Notify;
use tracing::info;

use crate::service::CoordinatorService;
use static_members::StaticJoin;

mod admin;
mod leave;
mod offsets;
mod static_members;

pub(crate) use admin::Subscribed;

/// The Kafka protocol's error codes that groups answer with.
pub mod code {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const INVALID_REQUEST: i16 = 42;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const FENCED_INSTANCE_ID: i16 = 82;
}

/// A first rebalance waits this long for more members, so that consumers started
/// together land in one generation (Kafka's `group.initial.rebalance.delay.ms`).
const INITIAL_REBALANCE_DELAY: Duration = Duration::from_millis(300);
const MIN_SESSION_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a rebalance waits for members to join again.
const MAX_REBALANCE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a waiting JoinGroup sleeps before it looks at the group again (and keeps
/// its member alive).
const JOIN_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Empty,
    /// Waiting for members to join; `eager` completes as soon as all have.
    Preparing {
        deadline: Instant,
        eager: bool,
    },
    /// Waiting for the leader's assignment.
    Completing,
    Stable,
}

#[derive(Debug)]
struct KafkaMember {
    protocols: Vec<(String, Vec<u8>)>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    last_seen: Instant,
    /// Joined (again) in the rebalance under way.
    joined: bool,
    /// The answer to its JoinGroup, set when the rebalance completes.
    join_answer: Option<KafkaGroupResponse>,
    assignment: Vec<u8>,
    /// The client's id and address, for DescribeGroups.
    client_id: String,
    client_host: String,
    /// A static member's `group.instance.id`.
    instance_id: Option<String>,
}

impl KafkaMember {
    /// Its metadata for `protocol` (empty if it does not speak it).
    fn metadata(&self, protocol: &str) -> Vec<u8> {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }
}

/// A group's Kafka-protocol state.
#[derive(Debug)]
pub(crate) struct KafkaGroup {
    generation: i32,
    phase: Phase,
    protocol_type: String,
    protocol: String,
    leader: String,
    members: BTreeMap<String, KafkaMember>,
    /// New members handed their id with MEMBER_ID_REQUIRED, until they join with it:
    /// the instant they are forgotten (their session timeout after the first join).
    pending: BTreeMap<String, Instant>,
    changed: Arc<Notify>,
}

impl Default for KafkaGroup {
    fn default() -> Self {
        KafkaGroup {
            generation: 0,
            phase: Phase::Empty,
            protocol_type: String::new(),
            protocol: String::new(),
            leader: String::new(),
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            changed: Arc::new(Notify::new()),
        }
    }
}

impl KafkaGroup {
    /// How long a rebalance waits for members to join again: the longest rebalance
    /// timeout of a member.
    fn rebalance_wait(&self) -> Duration {
        self.members
            .values()
            .map(|member| member.rebalance_timeout)
            .max()
            .unwrap_or(MIN_SESSION_TIMEOUT)
            .min(MAX_REBALANCE_TIMEOUT)
    }

    /// The leader's most preferred protocol that every member supports.
    fn select_protocol(&self) -> String {
        let Some(leader) = self.members.get(&self.leader) else {
            return String::new();
        };
        leader
            .protocols
            .iter()
            .map(|(name, _)| name)
            .find(|name| {
                self.members
                    .values()
                    .all(|member| member.protocols.iter().any(|(other, _)| other == *name))
            })
            .cloned()
            .unwrap_or_default()
    }

    /// Every member's metadata for the group's protocol, as the leader is given it.
    fn everyone(&self) -> Vec<(String, Vec<u8>)> {
        self.members
            .iter()
            .map(|(id, member)| (id.clone(), member.metadata(&self.protocol)))
            .collect()
    }

    /// Adds a member that joins (or replaces one that joins again): a join outside a
    /// rebalance (a new member, or one that wants to change its subscription) starts
    /// one.
    fn add_joined(&mut self, member_id: String, member: KafkaMember, now: Instant) {
        self.members.insert(member_id.clone(), member);
        if !matches!(self.phase, Phase::Preparing { .. }) {
            self.start_rebalance(now);
            if let Some(member) = self.members.get_mut(&member_id) {
                member.joined = true;
            }
        }
        self.maybe_complete(now);
    }

    fn start_rebalance(&mut self, now: Instant) {
        let wait = self.rebalance_wait();
        let eager = self.phase != Phase::Empty;
        let deadline = now + if eager { wait } else { INITIAL_REBALANCE_DELAY };
        self.phase = Phase::Preparing { deadline, eager };
        for member in self.members.values_mut() {
            member.joined = false;
            member.join_answer = None;
        }
        self.changed.notify_waiters();
    }

    /// Removes members whose session ran out, and new members that did not come back
    /// with the id they were given. During a rebalance the others go on without them
    /// (it completes once every remaining member has joined); otherwise a departure
    /// starts a rebalance. A member waiting in JoinGroup is kept alive by its waiting
    /// request ([`CoordinatorService::kafka_join`]), so only one that has not joined
    /// again, or whose request is gone, runs out.
    fn expire(&mut self, now: Instant) {
        let pending = self.pending.len();
        self.pending.retain(|_, forget_at| now <= *forget_at);
        let forgotten = pending - self.pending.len();
        let before = self.members.len();
        self.members
            .retain(|_, member| now.duration_since(member.last_seen) <= member.session_timeout);
        let gone = before - self.members.len();
        if gone > 0 {
            info!(
                gone,
                rebalancing = matches!(self.phase, Phase::Preparing { .. }),
                "kafka group members missed their session timeout"
            );
            if matches!(self.phase, Phase::Preparing { .. }) {
                if self.members.is_empty() {
                    self.phase = Phase::Empty;
                }
            } else {
                self.after_departure(now);
            }
        }
        if forgotten > 0 {
            info!(
                forgotten,
                "new kafka group members did not join with their member id"
            );
        }
        if gone > 0 || forgotten > 0 {
            self.changed.notify_waiters();
        }
    }

    /// When a waiting JoinGroup should look at the group again: at the rebalance's
    /// deadline, when the first member (or new member that has not come back) runs out
    /// of time, and at least every `keep_alive`.
    fn next_check(&self, now: Instant, keep_alive: Duration) -> Instant {
        let mut until = now + keep_alive;
        if let Phase::Preparing { deadline, .. } = self.phase {
            until = until.min(deadline);
        }
        // Just past the instant, as `expire` removes what is strictly past it.
        let past = Duration::from_millis(1);
        for member in self.members.values() {
            until = until.min(member.last_seen + member.session_timeout + past);
        }
        for forget_at in self.pending.values() {
            until = until.min(*forget_at + past);
        }
        until.max(now)
    }

    fn after_departure(&mut self, now: Instant) {
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.changed.notify_waiters();
        } else {
            self.start_rebalance(now);
        }
    }

    /// Completes the rebalance if every member joined again (or time is up).
    fn maybe_complete(&mut self, now: Instant) {
        let Phase::Preparing { deadline, eager } = self.phase else {
            return;
        };
        // A new member handed its id is expected back (or forgotten) first, as in Kafka.
        let all_joined =
            self.members.values().all(|member| member.joined) && self.pending.is_empty();
        if !(now >= deadline || (eager && all_joined)) {
            return;
        }
        // Dynamic members that did not join again are out; static ones stay until
        // their session times out, as in Kafka.
        self.members
            .retain(|_, member| member.joined || member.instance_id.is_some());
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.changed.notify_waiters();
            return;
        }
        let Some(first_joined) = self
            .members
            .iter()
            .find(|(_, member)| member.joined)
            .map(|(id, _)| id.clone())
        else {
            // Only static members that have not joined again: wait on, until they
            // join or their sessions run out.
            self.phase = Phase::Preparing {
                deadline: now + self.rebalance_wait(),
                eager,
            };
            return;
        };
        self.generation += 1;
        if !self
            .members
            .get(&self.leader)
            .is_some_and(|leader| leader.joined)
        {
            self.leader = first_joined;
        }
        self.protocol = self.select_protocol();
        let everyone = self.everyone();
        let instances = self.instances();
        let (generation, leader) = (self.generation, self.leader.clone());
        for (id, member) in self.members.iter_mut() {
            let waiting = member.joined;
            member.joined = false;
            member.last_seen = now;
            member.assignment.clear();
            member.join_answer = waiting.then(|| KafkaGroupResponse::Joined {
                error_code: code::NONE,
                generation,
                protocol_type: Some(self.protocol_type.clone()),
                protocol_name: Some(self.protocol.clone()),
                leader: leader.clone(),
                member_id: id.clone(),
                members: if *id == leader {
                    everyone.clone()
                } else {
                    Vec::new()
                },
                instances: if *id == leader {
                    instances.clone()
                } else {
                    Vec::new()
                },
                skip_assignment: false,
            });
        }
        self.phase = Phase::Completing;
        info!(generation, members = self.members.len(), protocol = %self.protocol, "kafka group rebalanced");
        self.changed.notify_waiters();
    }

    /// A topic was deleted: a group with a member that subscribes to it (or whose
    /// subscription cannot be read) rebalances, so that the members rejoin and commits
    /// of the old generation are refused.
    pub(crate) fn topic_deleted(&mut self, topic: &str, now: Instant) {
        if matches!(self.phase, Phase::Empty | Phase::Preparing { .. }) {
            return;
        }
        let subscribed = self.members.values().any(|member| {
            member.protocols.iter().any(|(_, metadata)| {
                subscription_topics(&self.protocol_type, metadata)
                    .is_none_or(|topics| topics.iter().any(|name| name == topic))
            })
        });
        if subscribed {
            info!(
                topic,
                generation = self.generation,
                "kafka group rebalances: a topic it used was deleted"
            );
            self.start_rebalance(now);
        }
    }

    fn describe_phase(&self) -> &'static str {
        match self.phase {
            Phase::Empty => "Empty",
            Phase::Preparing { .. } => "PreparingRebalance",
            Phase::Completing => "CompletingRebalance",
            Phase::Stable => "Stable",
        }
    }
}

/// The topics of a Kafka consumer's subscription (the "consumer" protocol type's
/// `ConsumerProtocolSubscription`: a version, then an array of topic names, in every
/// version); `None` when it is not that or cannot be read. Other protocol types
/// (Connect, Streams' own) name no topics: `Some(empty)`.
fn subscription_topics(protocol_type: &str, metadata: &[u8]) -> Option<Vec<String>> {
    if protocol_type != "consumer" {
        return Some(Vec::new());
    }
    let mut rest = metadata.get(2..)?;
    let count = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    rest = rest.get(4..)?;
    let mut topics = Vec::with_capacity(usize::try_from(count).ok()?.min(1024));
    for _ in 0..count {
        let len = usize::try_from(i16::from_be_bytes(rest.get(..2)?.try_into().ok()?)).ok()?;
        let name = std::str::from_utf8(rest.get(2..2 + len)?).ok()?;
        topics.push(name.to_owned());
        rest = rest.get(2 + len..)?;
    }
    Some(topics)
}

/// A JoinGroup as the coordinator reads it: what the joining member is, and how it
/// joins.
struct Joining {
    protocols: Vec<(String, Vec<u8>)>,
    session: Duration,
    rebalance: Duration,
    client_id: String,
    client_host: String,
    /// JoinGroup v4+ (dynamic members only): a new member is first handed its id.
    require_member_id: bool,
    instance_id: Option<String>,
    skip_assignment_supported: bool,
}

impl Joining {
    /// The member it joins as, joined in the rebalance under way.
    fn member(self) -> KafkaMember {
        KafkaMember {
            protocols: self.protocols,
            session_timeout: self.session,
            rebalance_timeout: self.rebalance.max(self.session),
            last_seen: Instant::now(),
            joined: true,
            join_answer: None,
            assignment: Vec::new(),
            client_id: self.client_id,
            client_host: self.client_host,
            instance_id: self.instance_id,
        }
    }
}

fn joined_error(error_code: i16, member_id: String) -> KafkaGroupResponse {
    KafkaGroupResponse::Joined {
        error_code,
        generation: -1,
        protocol_type: None,
        protocol_name: None,
        leader: String::new(),
        member_id,
        members: Vec::new(),
        instances: Vec::new(),
        skip_assignment: false,
    }
}

fn synced_error(error_code: i16) -> KafkaGroupResponse {
    KafkaGroupResponse::Synced {
        error_code,
        protocol_type: None,
        protocol_name: None,
        assignment: Vec::new(),
    }
}

fn done(error_code: i16) -> KafkaGroupResponse {
    KafkaGroupResponse::Done { error_code }
}

/// Checks a member (and its instance id, if static) and generation; touches the
/// member.
fn check_member(
    kafka: &mut KafkaGroup,
    member_id: &str,
    instance: Option<&str>,
    generation: i32,
    now: Instant,
) -> Result<(), i16> {
    kafka.check_instance(member_id, instance)?;
    let Some(member) = kafka.members.get_mut(member_id) else {
        return Err(code::UNKNOWN_MEMBER_ID);
    };
    member.last_seen = now;
    if generation != kafka.generation {
        return Err(code::ILLEGAL_GENERATION);
    }
    Ok(())
}

impl CoordinatorService {
    pub(crate) async fn kafka_group_impl(
        &self,
        request: KafkaGroupRequest,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        match request {
            KafkaGroupRequest::Join {
                group,
                member_id,
                protocol_type,
                protocols,
                session_timeout_ms,
                rebalance_timeout_ms,
                require_member_id,
                client_id,
                client_host,
                group_instance_id,
                skip_assignment_supported,
            } => {
                let joining = Joining {
                    protocols,
                    session: Duration::from_millis(session_timeout_ms),
                    rebalance: Duration::from_millis(rebalance_timeout_ms),
                    client_id,
                    client_host,
                    require_member_id,
                    instance_id: group_instance_id,
                    skip_assignment_supported,
                };
                self.kafka_join(&group, member_id, protocol_type, joining)
                    .await
            }
            KafkaGroupRequest::Sync {
                group,
                member_id,
                generation,
                assignments,
                group_instance_id,
            } => {
                let member = (member_id.as_str(), group_instance_id.as_deref());
                self.kafka_sync(&group, member, generation, assignments)
                    .await
            }
            KafkaGroupRequest::Heartbeat {
                group,
                member_id,
                generation,
                group_instance_id,
            } => {
                let mut groups = self.groups().lock().await;
                let state = self.group_entry(&mut groups, &group, true).await?;
                let kafka = state.kafka();
                let now = Instant::now();
                kafka.expire(now);
                kafka.maybe_complete(now);
                let instance = group_instance_id.as_deref();
                Ok(done(
                    match check_member(kafka, &member_id, instance, generation, now) {
                        Err(error_code) => error_code,
                        Ok(()) if matches!(kafka.phase, Phase::Preparing { .. }) => {
                            code::REBALANCE_IN_PROGRESS
                        }
                        Ok(()) => code::NONE,
                    },
                ))
            }
            KafkaGroupRequest::Leave {
                group,
                member_ids,
                members,
            } => self.kafka_leave(&group, member_ids, members).await,
            KafkaGroupRequest::Commit {
                group,
                member_id,
                generation,
                offsets,
                group_instance_id,
            } => {
                let member = (member_id.as_str(), group_instance_id.as_deref());
                self.kafka_commit(&group, member, generation, offsets).await
            }
            KafkaGroupRequest::Fetch { group, topics } => {
                self.kafka_fetch_offsets(&group, topics).await
            }
            KafkaGroupRequest::List => self.kafka_list_groups().await,
            KafkaGroupRequest::DeleteGroup { group } => self.kafka_delete_group(&group).await,
            KafkaGroupRequest::DeleteOffsets { group, partitions } => {
                self.kafka_delete_offsets(&group, partitions).await
            }
            KafkaGroupRequest::Describe { group } => self.kafka_describe(&group).await,
        }
    }

    async fn kafka_join(
        &self,
        group: &str,
        member_id: String,
        protocol_type: String,
        joining: Joining,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let session_timeout = joining.session;
        if !(MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(&session_timeout) {
            return Ok(joined_error(code::INVALID_SESSION_TIMEOUT, member_id));
        }
        // Kafka's clients refuse an empty `group.instance.id` (and KIP-848's heartbeat
        // refuses it as INVALID_REQUEST): it would name every such client alike.
        if joining.protocols.is_empty()
            || group.is_empty()
            || joining.instance_id.as_deref() == Some("")
        {
            return Ok(joined_error(code::INVALID_REQUEST, member_id));
        }
        let instance = joining.instance_id.clone();
        let member_id = {
            let mut groups = self.groups().lock().await;
            let state = self.group_entry(&mut groups, group, true).await?;
            let kafka = state.kafka();
            let now = Instant::now();
            kafka.expire(now);
            kafka.maybe_complete(now);
            if !kafka.members.is_empty() && kafka.protocol_type != protocol_type {
                return Ok(joined_error(code::INCONSISTENT_GROUP_PROTOCOL, member_id));
            }
            kafka.protocol_type = protocol_type;
            match (member_id.is_empty(), instance.as_deref()) {
                (true, Some(instance)) => match kafka.join_static(instance, joining, now) {
                    StaticJoin::Answered(answer) => return Ok(answer),
                    StaticJoin::Waiting(member_id) => member_id,
                },
                (true, None) => {
                    // As Kafka names them: the client id, then a random part.
                    let member_id = format!("{}-{}", joining.client_id, uuid::Uuid::new_v4());
                    if joining.require_member_id {
                        kafka
                            .pending
                            .insert(member_id.clone(), now + session_timeout);
                        return Ok(joined_error(code::MEMBER_ID_REQUIRED, member_id));
                    }
                    kafka.add_joined(member_id.clone(), joining.member(), now);
                    member_id
                }
                (false, Some(instance)) => {
                    // A static member joins again with its member id: it must still be
                    // the instance's (a pending id is never a static member's).
                    if let Err(error_code) = kafka.check_instance(&member_id, Some(instance)) {
                        return Ok(joined_error(error_code, member_id));
                    }
                    kafka.add_joined(member_id.clone(), joining.member(), now);
                    member_id
                }
                (false, None) => {
                    if !(kafka.members.contains_key(&member_id)
                        || kafka.pending.remove(&member_id).is_some())
                    {
                        return Ok(joined_error(code::UNKNOWN_MEMBER_ID, member_id));
                    }
                    // A static member that joins without its instance id (v0-4) stays
                    // static, as in Kafka.
                    let mut member = joining.member();
                    member.instance_id = kafka
                        .members
                        .get(&member_id)
                        .and_then(|known| known.instance_id.clone());
                    kafka.add_joined(member_id.clone(), member, now);
                    member_id
                }
            }
        };
        let keep_alive = (session_timeout / 2).min(JOIN_RECHECK);
        loop {
            let mut groups = self.groups().lock().await;
            let state = self.group_entry(&mut groups, group, true).await?;
            let kafka = state.kafka();
            let now = Instant::now();
            // This request still waits: its member is alive.
            if let Some(member) = kafka.members.get_mut(&member_id) {
                member.last_seen = now;
            }
            kafka.expire(now);
            kafka.maybe_complete(now);
            // Gone, or (FENCED_INSTANCE_ID) another process took its instance id.
            if let Err(error_code) = kafka.check_instance(&member_id, instance.as_deref()) {
                return Ok(joined_error(error_code, member_id));
            }
            let Some(member) = kafka.members.get_mut(&member_id) else {
                return Ok(joined_error(code::UNKNOWN_MEMBER_ID, member_id));
            };
            if let Some(answer) = member.join_answer.take() {
                return Ok(answer);
            }
            let until = kafka.next_check(now, keep_alive);
            let changed = Arc::clone(&kafka.changed);
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            drop(groups);
            let _ = tokio::time::timeout_at(until.into(), notified).await;
        }
    }

    /// `member` is the member id and, for a static member, its instance id.
    async fn kafka_sync(
        &self,
        group: &str,
        member: (&str, Option<&str>),
        generation: i32,
        assignments: Vec<(String, Vec<u8>)>,
    ) -> Result<KafkaGroupResponse, CoordinatorError> {
        let (member_id, instance) = member;
        let started = Instant::now();
        let mut assignments = Some(assignments);
        loop {
            let mut groups = self.groups().lock().await;
            let state = self.group_entry(&mut groups, group, true).await?;
            let kafka = state.kafka();
            let now = Instant::now();
            kafka.maybe_complete(now);
            if let Err(error_code) = check_member(kafka, member_id, instance, generation, now) {
                return Ok(synced_error(error_code));
            }
            match kafka.phase {
                Phase::Preparing { .. } | Phase::Empty => {
                    return Ok(synced_error(code::REBALANCE_IN_PROGRESS));
                }
                Phase::Completing if kafka.leader == member_id => {
                    let given: BTreeMap<String, Vec<u8>> =
                        assignments.take().unwrap_or_default().into_iter().collect();
                    for (id, member) in kafka.members.iter_mut() {
                        member.assignment = given.get(id).cloned().unwrap_or_default();
                    }
                    kafka.phase = Phase::Stable;
                    kafka.changed.notify_waiters();
                }
                Phase::Completing => {}
                Phase::Stable => {}
            }
            let session_timeout = kafka
                .members
                .get(member_id)
                .map_or(MIN_SESSION_TIMEOUT, |member| member.session_timeout);
            if kafka.phase == Phase::Stable {
                let assignment = kafka
                    .members
                    .get(member_id)
                    .map(|member| member.assignment.clone())
                    .unwrap_or_default();
                return Ok(KafkaGroupResponse::Synced {
                    error_code: code::NONE,
                    protocol_type: Some(kafka.protocol_type.clone()),
                    protocol_name: Some(kafka.protocol.clone()),
                    assignment,
                });
            }
            if now.duration_since(started) > session_timeout {
                // The leader never brought the assignment: start over.
                kafka.start_rebalance(now);
                return Ok(synced_error(code::REBALANCE_IN_PROGRESS));
            }
            let changed = Arc::clone(&kafka.changed);
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            drop(groups);
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }
}
