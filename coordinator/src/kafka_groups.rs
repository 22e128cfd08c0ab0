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

use silt_core::groups::KafkaGroupResponse;
use tokio::sync::Notify;
use tracing::info;

mod admin;
mod leave;
mod offsets;
pub(crate) mod static_members;

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
pub(crate) const MIN_SESSION_TIMEOUT: Duration = Duration::from_millis(100);
pub(crate) const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a rebalance waits for members to join again.
const MAX_REBALANCE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a waiting JoinGroup sleeps before it looks at the group again (and keeps
/// its member alive).
pub(crate) const JOIN_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
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
pub(crate) struct KafkaMember {
    protocols: Vec<(String, Vec<u8>)>,
    pub(crate) session_timeout: Duration,
    rebalance_timeout: Duration,
    pub(crate) last_seen: Instant,
    /// Joined (again) in the rebalance under way.
    joined: bool,
    /// The answer to its JoinGroup, set when the rebalance completes.
    pub(crate) join_answer: Option<KafkaGroupResponse>,
    pub(crate) assignment: Vec<u8>,
    /// The client's id and address, for DescribeGroups.
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    /// A static member's `group.instance.id`.
    pub(crate) instance_id: Option<String>,
}

impl KafkaMember {
    /// Its metadata for `protocol` (empty if it does not speak it).
    pub(crate) fn metadata(&self, protocol: &str) -> Vec<u8> {
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
    pub(crate) phase: Phase,
    pub(crate) protocol_type: String,
    pub(crate) protocol: String,
    pub(crate) leader: String,
    pub(crate) members: BTreeMap<String, KafkaMember>,
    /// New members handed their id with MEMBER_ID_REQUIRED, until they join with it:
    /// the instant they are forgotten (their session timeout after the first join).
    pub(crate) pending: BTreeMap<String, Instant>,
    pub(crate) changed: Arc<Notify>,
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
    pub(crate) fn add_joined(&mut self, member_id: String, member: KafkaMember, now: Instant) {
        self.members.insert(member_id.clone(), member);
        if !matches!(self.phase, Phase::Preparing { .. }) {
            self.start_rebalance(now);
            if let Some(member) = self.members.get_mut(&member_id) {
                member.joined = true;
            }
        }
        self.maybe_complete(now);
    }

    pub(crate) fn start_rebalance(&mut self, now: Instant) {
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
    pub(crate) fn expire(&mut self, now: Instant) {
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
    pub(crate) fn next_check(&self, now: Instant, keep_alive: Duration) -> Instant {
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
    pub(crate) fn maybe_complete(&mut self, now: Instant) {
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

    pub(crate) fn describe_phase(&self) -> &'static str {
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
pub(crate) fn subscription_topics(protocol_type: &str, metadata: &[u8]) -> Option<Vec<String>> {
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
pub(crate) struct Joining {
    pub(crate) protocols: Vec<(String, Vec<u8>)>,
    pub(crate) session: Duration,
    pub(crate) rebalance: Duration,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    /// JoinGroup v4+ (dynamic members only): a new member is first handed its id.
    pub(crate) require_member_id: bool,
    pub(crate) instance_id: Option<String>,
    pub(crate) skip_assignment_supported: bool,
}

impl Joining {
    /// The member it joins as, joined in the rebalance under way.
    pub(crate) fn member(self, now: Instant) -> KafkaMember {
        KafkaMember {
            protocols: self.protocols,
            session_timeout: self.session,
            rebalance_timeout: self.rebalance.max(self.session),
            last_seen: now,
            joined: true,
            join_answer: None,
            assignment: Vec::new(),
            client_id: self.client_id,
            client_host: self.client_host,
            instance_id: self.instance_id,
        }
    }
}

pub(crate) fn joined_error(error_code: i16, member_id: String) -> KafkaGroupResponse {
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

pub(crate) fn synced_error(error_code: i16) -> KafkaGroupResponse {
    KafkaGroupResponse::Synced {
        error_code,
        protocol_type: None,
        protocol_name: None,
        assignment: Vec::new(),
    }
}

pub(crate) fn done(error_code: i16) -> KafkaGroupResponse {
    KafkaGroupResponse::Done { error_code }
}

/// Checks a member (and its instance id, if static) and generation; touches the
/// member.
pub(crate) fn check_member(
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
