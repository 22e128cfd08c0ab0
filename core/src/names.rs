//! Topic and group name validation, following Kafka's rule so names move freely
//! between systems.

use std::fmt;

use thiserror::Error;

/// Longest topic name Kafka accepts, and so Silt (groups too).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// What a name names, so that an error says which name is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Topic,
    Group,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Topic => "topic name",
            NameKind::Group => "group name",
        })
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{kind} must not be empty")]
    Empty { kind: NameKind },
    #[error("{kind} is {len} characters long; the limit is {MAX_TOPIC_NAME_LEN}")]
    TooLong { kind: NameKind, len: usize },
    #[error("{kind} must not be '.' or '..'")]
    Dots { kind: NameKind },
    #[error(
        "{kind} contains {character:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
    )]
    InvalidCharacter { kind: NameKind, character: char },
}

/// Checks a topic name: 1–249 characters of `[A-Za-z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), NameError> {
    validate_name(NameKind::Topic, name)
}

/// Checks a consumer group name by the topic rule (a group name is also a URL path
/// segment and a metric label).
pub fn validate_group_name(name: &str) -> Result<(), NameError> {
    validate_name(NameKind::Group, name)
}

/// The key under which two topic names collide: lowercase, with '.' as '_'. Kafka
/// refuses a topic whose name differs from an existing one only in '.' versus '_' (its
/// metric names replace one with the other); Silt refuses differences in case too, so
/// that no two topics are told apart only by case. The rule lives here only: the
/// coordinator stores this key and refuses a second topic with the same key.
pub fn topic_collision_key(name: &str) -> String {
    name.to_ascii_lowercase().replace('.', "_")
}

fn validate_name(kind: NameKind, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if let Some(character) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::InvalidCharacter { kind, character });
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(NameError::TooLong {
            kind,
            len: name.len(),
        });
    }
    if name == "." || name == ".." {
        return Err(NameError::Dots { kind });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kafka_style_names() {
        for name in ["orders", "a", "my.topic_v2-final", &"x".repeat(249)] {
            assert_eq!(validate_topic_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        let kind = NameKind::Topic;
        assert_eq!(validate_topic_name(""), Err(NameError::Empty { kind }));
        assert_eq!(
            validate_topic_name(&"x".repeat(250)),
            Err(NameError::TooLong { kind, len: 250 })
        );
        assert_eq!(validate_topic_name(".."), Err(NameError::Dots { kind }));
        assert_eq!(
            validate_topic_name("a/b"),
            Err(NameError::InvalidCharacter {
                kind,
                character: '/'
            })
        );
        assert_eq!(
            validate_topic_name("café"),
            Err(NameError::InvalidCharacter {
                kind,
                character: 'é'
            })
        );
        assert!(validate_topic_name("with space").is_err());
    }

    #[test]
    fn names_differing_in_case_or_dot_and_underscore_collide() {
        for (a, b) in [
            ("orders", "ORDERS"),
            ("a.b", "a_b"),
            ("My.Topic", "my_topic"),
        ] {
            assert_eq!(topic_collision_key(a), topic_collision_key(b), "{a} {b}");
        }
        for (a, b) in [("orders", "orders2"), ("a-b", "a_b"), ("a.b", "ab")] {
            assert_ne!(topic_collision_key(a), topic_collision_key(b), "{a} {b}");
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        for (topic, group) in [
            (validate_topic_name(""), validate_group_name("")),
            (validate_topic_name("a b"), validate_group_name("a b")),
            (validate_topic_name(".."), validate_group_name("..")),
            (
                validate_topic_name(&"x".repeat(250)),
                validate_group_name(&"x".repeat(250)),
            ),
        ] {
            let topic = topic.expect_err("invalid").to_string();
            let group = group.expect_err("invalid").to_string();
            assert!(topic.starts_with("topic name "), "{topic}");
            assert!(group.starts_with("group name "), "{group}");
            assert!(!group.contains("topic"), "{group}");
        }
    }
}
