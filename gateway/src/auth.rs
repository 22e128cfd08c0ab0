//! Authentication and authorization on every listener. A [`Security`] holds the
//! coordinator's view of users, API keys and ACLs (refreshed every second and after
//! every change this gateway makes), checks credentials ([`credentials`]) and decides
//! with core's authorizer; [`http`] applies it to every HTTP route, [`sasl`] runs Kafka's
//! SASL exchanges, and [`failures`] slows down an address that keeps failing.

use serde::{Deserialize, Serialize};
use silt_core::security::ANONYMOUS;

pub mod credentials;
pub(crate) mod failures;
pub(crate) mod http;
pub(crate) mod routes;
pub(crate) mod sasl;
mod view;

pub use view::Security;

/// How a gateway authenticates and authorizes its clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Clients authenticate (HTTP: an API key or a user's password; Kafka: SASL PLAIN or
    /// SCRAM) and ACLs decide what each may do. Off, every client may do everything.
    pub enabled: bool,
    /// With `enabled`, a client that presents no credentials is `User:ANONYMOUS` (whom
    /// ACLs may still allow) instead of being refused. Without `enabled`, it is the
    /// explicit consent to serve openly on a non-loopback address.
    pub allow_anonymous: bool,
    /// Principals allowed everything whatever the ACLs say (`User:admin`).
    pub super_users: Vec<String>,
    /// `/metrics` answers without credentials.
    pub public_metrics: bool,
    /// `/openapi.json` answers without credentials.
    pub public_openapi: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: false,
            allow_anonymous: false,
            super_users: Vec::new(),
            public_metrics: false,
            public_openapi: true,
        }
    }
}

/// Who sent a request: a principal (`User:alice`), and the address it came from as ACLs
/// name hosts (`10.0.0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: String,
    pub host: String,
}

impl Caller {
    /// A client that did not authenticate.
    pub fn anonymous(host: impl Into<String>) -> Caller {
        Caller {
            principal: ANONYMOUS.to_owned(),
            host: host.into(),
        }
    }
}
