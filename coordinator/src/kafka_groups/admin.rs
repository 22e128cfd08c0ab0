//! DescribeGroups, and what the admin calls about groups (ListGroups, DeleteGroups,
//! OffsetDelete) need to know of a group's Kafka members: whether it has any, its
//! state, and the topics they subscribe to.

use std::collections::BTreeSet;
use std::time::Instant;

use super::{KafkaGroup, subscription_topics};

/// The topics a group's live Kafka members subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subscribed {
    /// These topics (none for a group without members).
    Topics(BTreeSet<String>),
    /// A subscription could not be read: every topic counts as subscribed.
    Every,
    /// The members speak another protocol than "consumer" (Connect, say), whose
    /// subscriptions name no topics: the group's offsets are theirs while they live.
    Unknowable,
}

impl KafkaGroup {
    /// Forgets members whose session ran out and completes a rebalance that is due, as
    /// every group call does first.
    pub(crate) fn refresh(&mut self, now: Instant) {
        self.expire(now);
        self.maybe_complete(now);
    }

    pub(crate) fn has_members(&self) -> bool {
        !self.members.is_empty()
    }

    /// Whether the group ever completed a rebalance.
    pub(crate) fn ever_rebalanced(&self) -> bool {
        self.generation > 0
    }

    /// Empty, PreparingRebalance, CompletingRebalance or Stable.
    pub(crate) fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            return "Empty";
        }
        self.describe_phase()
    }

    /// The members' protocol type ("consumer" for a group that never had one).
    pub(crate) fn protocol_type(&self) -> &str {
        if self.protocol_type.is_empty() {
            "consumer"
        } else {
            &self.protocol_type
        }
    }

    /// The topics its live members subscribe to (Kafka's `subscribedTopics`).
    pub(crate) fn subscribed(&self) -> Subscribed {
        if self.members.is_empty() {
            return Subscribed::Topics(BTreeSet::new());
        }
        if self.protocol_type != "consumer" {
            return Subscribed::Unknowable;
        }
        let mut topics = BTreeSet::new();
        for member in self.members.values() {
            for (_, metadata) in &member.protocols {
                match subscription_topics(&self.protocol_type, metadata) {
                    Some(named) => topics.extend(named),
                    None => return Subscribed::Every,
                }
            }
        }
        Subscribed::Topics(topics)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::kafka_groups::KafkaMember;

    fn subscription(topics: &[&str]) -> Vec<u8> {
        let mut out = vec![0, 1];
        out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for topic in topics {
            out.extend_from_slice(&(topic.len() as i16).to_be_bytes());
            out.extend_from_slice(topic.as_bytes());
        }
        out.extend_from_slice(&(-1_i32).to_be_bytes());
        out
    }

    pub(crate) fn member(metadata: Vec<u8>) -> KafkaMember {
        KafkaMember {
            protocols: vec![("range".into(), metadata)],
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            last_seen: Instant::now(),
            joined: true,
            join_answer: None,
            assignment: Vec::new(),
            client_id: "rdkafka".into(),
            client_host: "/127.0.0.1".into(),
            instance_id: None,
        }
    }

    #[test]
    fn subscriptions_are_read_from_members() {
        let mut group = KafkaGroup::default();
        assert_eq!(group.subscribed(), Subscribed::Topics(BTreeSet::new()));
        assert_eq!(group.state_name(), "Empty");
        group.protocol_type = "consumer".into();
        group
            .members
            .insert("a".into(), member(subscription(&["orders", "audit"])));
        group
            .members
            .insert("b".into(), member(subscription(&["users"])));
        assert_eq!(
            group.subscribed(),
            Subscribed::Topics(["audit", "orders", "users"].map(String::from).into())
        );
        group.members.insert("c".into(), member(vec![0, 1, 0xff]));
        assert_eq!(group.subscribed(), Subscribed::Every);
        group.protocol_type = "connect".into();
        assert_eq!(group.subscribed(), Subscribed::Unknowable);
    }
}
