//! How `silt dev` and `silt gateway` start securely: the authentication flags, the
//! refusal to serve openly on a non-loopback address without `--allow-anonymous`, and
//! the first administrator, created from `--bootstrap-admin-password` (as Kafka's
//! storage format adds its first SCRAM user) so that a secured cluster can be managed
//! from its first minute.

use std::net::SocketAddr;
use std::sync::Arc;

use silt_core::Coordinator;
use silt_core::security::{SecurityRequest, SecurityResponse, User};
use std::path::Path;

use silt_gateway::GatewayConfig;
use silt_gateway::auth::AuthConfig;
use silt_gateway::auth::credentials::scram_credentials;
use silt_gateway::tls::{Tls, TlsConfig};
use tracing::info;

use crate::error::CliError;

/// The authentication flags of `silt dev` and `silt gateway`.
pub struct AuthFlags<'a> {
    pub tls_cert: Option<&'a Path>,
    pub tls_key: Option<&'a Path>,
    pub tls_client_ca: Option<&'a Path>,
    pub tls_require_client_cert: bool,
    pub auth: bool,
    pub allow_anonymous: bool,
    pub public_metrics: bool,
    pub super_users: Option<&'a str>,
}

/// Applies the authentication and TLS flags over the file's settings.
pub fn apply_flags(args: &AuthFlags<'_>, gateway: &mut GatewayConfig) {
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        gateway.tls = Some(TlsConfig {
            cert_file: cert.to_owned(),
            key_file: key.to_owned(),
            client_ca_file: args.tls_client_ca.map(Path::to_owned),
            require_client_cert: args.tls_require_client_cert,
        });
    }
    let auth = &mut gateway.auth;
    if args.auth {
        auth.enabled = true;
    }
    if args.allow_anonymous {
        auth.allow_anonymous = true;
    }
    if args.public_metrics {
        auth.public_metrics = true;
    }
    if let Some(users) = args.super_users {
        auth.super_users = users
            .split(',')
            .map(str::trim)
            .filter(|user| !user.is_empty())
            .map(str::to_owned)
            .collect();
    }
}

/// Refuses to serve without authentication on an address other hosts can reach, unless
/// told `--allow-anonymous`.
pub fn check_exposure(auth: &AuthConfig, listeners: &[Option<SocketAddr>]) -> Result<(), CliError> {
    if auth.enabled || auth.allow_anonymous {
        return Ok(());
    }
    for address in listeners.iter().flatten() {
        if !address.ip().is_loopback() {
            return Err(CliError::Config(format!(
                "{address} is reachable from other hosts and authentication is off: pass --auth \
                 (with users or keys), or --allow-anonymous to serve everyone on purpose"
            )));
        }
    }
    Ok(())
}

/// Creates the user `name` with `password` if no user of that name exists yet, and
/// makes it a super user.
pub async fn bootstrap_admin(
    coordinator: &Arc<dyn Coordinator>,
    auth: &mut AuthConfig,
    name: &str,
    password: &str,
) -> Result<(), CliError> {
    let principal = format!("User:{name}");
    if !auth.super_users.contains(&principal) {
        auth.super_users.push(principal.clone());
    }
    let view = coordinator
        .security(SecurityRequest::View {
            known_version: None,
        })
        .await
        .map_err(|error| CliError::Server(error.to_string()))?;
    if let SecurityResponse::View(Some(view)) = view
        && view.users.iter().any(|user| user.name == name)
    {
        return Ok(());
    }
    let credentials =
        scram_credentials(password).map_err(|error| CliError::Config(error.to_string()))?;
    coordinator
        .security(SecurityRequest::PutUser(User {
            name: name.to_owned(),
            credentials,
            created_ms: silt_core::now_ms(),
        }))
        .await
        .map_err(|error| CliError::Server(error.to_string()))?;
    info!(user = %name, "bootstrap administrator created");
    Ok(())
}

/// A client of the `silt coordinator` at `urls`, sending `secret` and trusting the CA in
/// `ca` (for `https://`).
pub fn remote_coordinator(
    urls: &str,
    secret: Option<&str>,
    ca: Option<&Path>,
) -> Result<silt_coordinator::RemoteCoordinator, CliError> {
    let remote = silt_coordinator::RemoteCoordinator::new(urls).with_secret(secret);
    let Some(path) = ca else {
        return Ok(remote);
    };
    let pem = std::fs::read(path)
        .map_err(|error| CliError::Config(format!("{}: {error}", path.display())))?;
    remote
        .with_ca(&pem)
        .map_err(|error| CliError::Config(format!("{}: {error}", path.display())))
}

/// Loads the listeners' TLS files (a file that does not load fails the start).
pub fn load_tls(config: Option<&TlsConfig>) -> Result<Option<Arc<Tls>>, CliError> {
    config
        .map(|config| {
            Tls::load(config.clone()).map_err(|error| CliError::Config(error.to_string()))
        })
        .transpose()
}
