//! Credentials as Silt keeps them: SCRAM keys derived from a password (RFC 5802, with a
//! random salt; the password itself is never kept), and API keys shown once as
//! `silt_<id>_<secret>` and kept as the secret's SHA-256. Comparisons of secrets are
//! constant-time.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsasl::mechanisms::scram::tools::{derive_keys, hash_password};
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256, Sha512};
use silt_core::security::{ApiKey, ScramCredential, ScramMechanism};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Iterations of new SCRAM credentials (Kafka's minimum, which clients expect).
pub const SCRAM_ITERATIONS: u32 = 4096;
/// The prefix of every API key.
pub const KEY_PREFIX: &str = "silt_";
/// Shortest password a user may be given.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (so that hashing one stays cheap).
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} bytes")]
    Password,
}

fn random<const N: usize>() -> Result<[u8; N], CredentialError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| CredentialError::Random(error.to_string()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// (stored key, server key) of `password` under `salt`.
fn scram_keys(
    mechanism: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> (Vec<u8>, Vec<u8>) {
    macro_rules! keys {
        ($digest:ty) => {{
            let mut salted = GenericArray::default();
            hash_password::<$digest>(password, iterations, salt, &mut salted);
            let (client_key, server_key) = derive_keys::<$digest>(salted.as_slice());
            (<$digest>::digest(client_key).to_vec(), server_key.to_vec())
        }};
    }
    match mechanism {
        ScramMechanism::Sha256 => keys!(Sha256),
        ScramMechanism::Sha512 => keys!(Sha512),
    }
}

/// Whether a password may be set.
pub fn check_password(password: &str) -> Result<(), CredentialError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(CredentialError::Password);
    }
    Ok(())
}

/// SCRAM-SHA-256 and SCRAM-SHA-512 credentials for `password`, each with its own salt.
pub fn scram_credentials(password: &str) -> Result<Vec<ScramCredential>, CredentialError> {
    check_password(password)?;
    ScramMechanism::ALL
        .into_iter()
        .map(|mechanism| {
            let salt = random::<24>()?;
            let (stored_key, server_key) =
                scram_keys(mechanism, password.as_bytes(), &salt, SCRAM_ITERATIONS);
            Ok(ScramCredential {
                mechanism,
                salt: STANDARD.encode(salt),
                iterations: SCRAM_ITERATIONS,
                stored_key: STANDARD.encode(stored_key),
                server_key: STANDARD.encode(server_key),
            })
        })
        .collect()
}

/// Whether `password` is the one `credential` was derived from.
pub fn verify_password(credential: &ScramCredential, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let (Ok(salt), Ok(stored_key)) = (
        STANDARD.decode(&credential.salt),
        STANDARD.decode(&credential.stored_key),
    ) else {
        return false;
    };
    let (derived, _) = scram_keys(
        credential.mechanism,
        password.as_bytes(),
        &salt,
        credential.iterations,
    );
    bool::from(derived.ct_eq(&stored_key))
}

/// The SHA-256 of a secret, in hex.
pub fn secret_sha256(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// A new API key: what the caller is shown once, and what the store keeps.
pub struct NewKey {
    pub key: String,
    pub record: ApiKey,
}

/// Makes a key for `principal`: a 12-hex-digit id and a 256-bit secret.
pub fn new_api_key(
    principal: &str,
    description: &str,
    expires_ms: Option<i64>,
    now_ms: i64,
) -> Result<NewKey, CredentialError> {
    let id = hex(&random::<6>()?);
    let secret = URL_SAFE_NO_PAD.encode(random::<32>()?);
    Ok(NewKey {
        key: format!("{KEY_PREFIX}{id}_{secret}"),
        record: ApiKey {
            id,
            principal: principal.to_owned(),
            secret_sha256: secret_sha256(&secret),
            description: description.to_owned(),
            created_ms: now_ms,
            expires_ms,
            revoked_ms: None,
        },
    })
}

/// The id and secret of a key as a client sends it.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// Whether `secret` is the one `record` keeps the hash of.
pub fn key_matches(record: &ApiKey, secret: &str) -> bool {
    bool::from(
        secret_sha256(secret)
            .as_bytes()
            .ct_eq(record.secret_sha256.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_credentials_only() {
        let credentials = scram_credentials("correct horse").expect("derive");
        assert_eq!(credentials.len(), 2);
        assert_ne!(credentials[0].salt, credentials[1].salt);
        for credential in &credentials {
            assert!(verify_password(credential, "correct horse"));
            assert!(!verify_password(credential, "correct hors"));
            assert!(!credential.stored_key.contains("correct"));
        }
        assert!(scram_credentials("short").is_err());
        assert!(!verify_password(
            &credentials[0],
            &"x".repeat(MAX_PASSWORD_BYTES + 1)
        ));
    }

    #[test]
    fn keys_are_shown_once_and_kept_as_hashes() {
        let new = new_api_key("User:a", "ci", None, 1).expect("key");
        let (id, secret) = parse_key(&new.key).expect("parse");
        assert_eq!(id, new.record.id);
        assert!(!new.record.secret_sha256.contains(secret));
        assert!(key_matches(&new.record, secret));
        assert!(!key_matches(&new.record, "guess"));
        assert_eq!(parse_key("silt_abc"), None);
        assert_eq!(parse_key("bearer"), None);
        let other = new_api_key("User:a", "", None, 1).expect("key");
        assert_ne!(other.record.id, new.record.id);
    }
}
