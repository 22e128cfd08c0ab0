//! Kafka's SASL exchanges, run by `rsasl`: PLAIN checks a user's password against its
//! SCRAM credential; SCRAM-SHA-256 and SCRAM-SHA-512 prove it without sending it. The
//! outcome is the authenticated principal, or a failure the listener answers with
//! SASL_AUTHENTICATION_FAILED before closing the connection.

use std::io::Cursor;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::mechanisms::scram::properties::ScramStoredPassword;
use rsasl::mechname::Mechname;
use rsasl::prelude::{SASLConfig, SASLServer, Session, SessionError, State};
use rsasl::property::{AuthId, AuthzId, Password};
use rsasl::validate::{Validate, Validation, ValidationError};
use silt_core::security::ScramMechanism;

use super::Security;
use super::credentials::verify_password;

/// The mechanisms a Kafka client may choose, as SaslHandshake lists them.
pub const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

const INVALID: &str = "authentication failed: invalid credentials";

/// The principal an exchange proved, if it did.
struct Proven;

impl Validation for Proven {
    type Value = Option<String>;
}

struct Callback {
    security: Arc<Security>,
}

impl Callback {
    fn mechanism(session_data: &SessionData) -> Option<ScramMechanism> {
        ScramMechanism::from_name(session_data.mechanism().mechanism)
    }

    /// The principal of an exchange that proved `authid`, if it may act as `authzid`
    /// (only as itself).
    fn principal(&self, session_data: &SessionData, context: &Context) -> Option<String> {
        let authid = context.get_ref::<AuthId>()?;
        if context
            .get_ref::<AuthzId>()
            .is_some_and(|authzid| !authzid.is_empty() && authzid != authid)
        {
            return None;
        }
        if session_data.mechanism().mechanism.as_str() == "PLAIN" {
            let password = std::str::from_utf8(context.get_ref::<Password>()?).ok()?;
            let credential = self
                .security
                .credential_now(authid, ScramMechanism::Sha256)?;
            if !verify_password(&credential, password) {
                return None;
            }
        } else {
            // SCRAM validates only after the client's proof matched the stored key.
            Self::mechanism(session_data)?;
        }
        Some(format!("User:{authid}"))
    }
}

impl SessionCallback for Callback {
    fn callback(
        &self,
        session_data: &SessionData,
        context: &Context,
        request: &mut Request,
    ) -> Result<(), SessionError> {
        let (Some(mechanism), Some(user)) =
            (Self::mechanism(session_data), context.get_ref::<AuthId>())
        else {
            return Ok(());
        };
        let Some(credential) = self.security.credential_now(user, mechanism) else {
            return Ok(());
        };
        let decoded = (
            STANDARD.decode(&credential.salt),
            STANDARD.decode(&credential.stored_key),
            STANDARD.decode(&credential.server_key),
        );
        if let (Ok(salt), Ok(stored_key), Ok(server_key)) = decoded {
            request.satisfy::<ScramStoredPassword>(&ScramStoredPassword::new(
                credential.iterations,
                &salt,
                &stored_key,
                &server_key,
            ))?;
        }
        Ok(())
    }

    fn validate(
        &self,
        session_data: &SessionData,
        context: &Context,
        validate: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        validate.with::<Proven, _>(|| Ok(self.principal(session_data, context)))?;
        Ok(())
    }
}

/// Where an exchange stands after a client message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes and wait for the client's next message.
    Continue(Vec<u8>),
    /// Authenticated as the principal; send these last bytes.
    Done { principal: String, last: Vec<u8> },
    /// Refused, for this reason (sent to the client).
    Failed(String),
}

/// One client's SASL exchange.
pub struct Exchange {
    session: Session<Proven>,
    scram: bool,
    /// Client messages taken so far.
    steps: u32,
}

impl Exchange {
    /// Starts an exchange of `mechanism`, if it is one of [`MECHANISMS`].
    pub fn start(security: &Arc<Security>, mechanism: &str) -> Option<Exchange> {
        if !MECHANISMS.contains(&mechanism) {
            return None;
        }
        let config = SASLConfig::builder()
            .with_defaults()
            .with_callback(Callback {
                security: Arc::clone(security),
            })
            .ok()?;
        let name = Mechname::parse(mechanism.as_bytes()).ok()?;
        let session = SASLServer::<Proven>::new(config)
            .start_suggested(name)
            .ok()?;
        Some(Exchange {
            session,
            scram: mechanism.starts_with("SCRAM-"),
            steps: 0,
        })
    }

    /// Takes the client's next message.
    pub fn step(&mut self, input: &[u8]) -> Step {
        self.steps += 1;
        // rsasl 2.3.1 indexes each attribute of a SCRAM client-final message as if it
        // had two bytes, and panics on a shorter one: such a message is refused here.
        if self.scram && self.steps == 2 && input.split(|byte| *byte == b',').any(|a| a.len() < 2) {
            return Step::Failed(INVALID.into());
        }
        let mut out = Cursor::new(Vec::new());
        // Any other panic in the mechanism fails the exchange, not the connection's task.
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.session.step(Some(input), &mut out)
        }));
        let Ok(stepped) = stepped else {
            tracing::warn!("a SASL mechanism panicked on a client's message");
            return Step::Failed(INVALID.into());
        };
        match stepped {
            Ok(State::Running) => Step::Continue(out.into_inner()),
            Ok(State::Finished(_)) => match self.session.validation().flatten() {
                Some(principal) => Step::Done {
                    principal,
                    last: out.into_inner(),
                },
                None => Step::Failed(INVALID.into()),
            },
            Err(error) => {
                // The reason stays in the log: the client learns only that it failed.
                tracing::debug!(%error, "a SASL exchange failed");
                Step::Failed(INVALID.into())
            }
        }
    }
}

#[cfg(test)]
mod tests;
