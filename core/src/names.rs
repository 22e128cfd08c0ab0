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
