//! Topic name validation, following Kafka's rule so names move freely between systems.

use thiserror::Error;

/// Longest topic name Kafka accepts, and so Silt.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("topic name must not be empty")]
    Empty,
    #[error("topic name is {len} characters long; the limit is {MAX_TOPIC_NAME_LEN}")]
    TooLong { len: usize },
    #[error("topic name must not be '.' or '..'")]
    Dots,
    #[error(
        "topic name contains {character:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
    )]
    InvalidCharacter { character: char },
}

/// Checks a topic name: 1–249 characters of `[A-Za-z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(character) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::InvalidCharacter { character });
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(NameError::TooLong { len: name.len() });
    }
    if name == "." || name == ".." {
        return Err(NameError::Dots);
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
        assert_eq!(validate_topic_name(""), Err(NameError::Empty));
        assert_eq!(
            validate_topic_name(&"x".repeat(250)),
            Err(NameError::TooLong { len: 250 })
        );
        assert_eq!(validate_topic_name(".."), Err(NameError::Dots));
        assert_eq!(
            validate_topic_name("a/b"),
            Err(NameError::InvalidCharacter { character: '/' })
        );
        assert_eq!(
            validate_topic_name("café"),
            Err(NameError::InvalidCharacter { character: 'é' })
        );
        assert!(validate_topic_name("with space").is_err());
    }
}
