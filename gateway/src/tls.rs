//! TLS on the gateway's HTTP and Kafka listeners (rustls with aws-lc-rs): a certificate
//! chain and key from PEM files, optionally client certificates checked against a CA
//! (mTLS, the certificate's subject becoming the principal, `User:CN=dave,O=Acme` as
//! Kafka writes it), and the
//! files read again when they change, without a restart.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{info, warn};

/// How often the certificate files are checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// Where a listener's certificate, key and client CA are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Clients may present certificates signed by these CAs (PEM); their subject
    /// becomes their principal (`User:CN=dave,O=Acme`).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// With `client_ca_file`: clients without a valid certificate are refused.
    #[serde(default)]
    pub require_client_cert: bool,
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS settings: {0}")]
    Config(String),
}

fn file_error(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(path, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, error))?;
    if certificates.is_empty() {
        return Err(file_error(path, "holds no PEM certificate"));
    }
    Ok(certificates)
}

/// Reads the files and builds the server's TLS settings.
pub fn server_config(config: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let chain = certificates(&config.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .map_err(|error| file_error(&config.key_file, error))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?;
    let builder = match &config.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(path)? {
                roots
                    .add(certificate)
                    .map_err(|error| file_error(path, error))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if config.require_client_cert {
                verifier.build()
            } else {
                verifier.allow_unauthenticated().build()
            }
            .map_err(|error| TlsError::Config(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None if config.require_client_cert => {
            return Err(TlsError::Config(
                "require_client_cert needs client_ca_file".into(),
            ));
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Config(error.to_string()))
}

/// The modification times of the files, to notice a change.
fn stamp(config: &TlsConfig) -> Vec<Option<SystemTime>> {
    [
        Some(&config.cert_file),
        Some(&config.key_file),
        config.client_ca_file.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
    .collect()
}

/// A listener's TLS settings, swapped when the files change.
pub struct Tls {
    config: TlsConfig,
    current: RwLock<(TlsAcceptor, Vec<Option<SystemTime>>)>,
}

impl Tls {
    /// Loads the files (a bad file fails the start).
    pub fn load(config: TlsConfig) -> Result<Arc<Tls>, TlsError> {
        let stamp = stamp(&config);
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&config)?));
        Ok(Arc::new(Tls {
            config,
            current: RwLock::new((acceptor, stamp)),
        }))
    }

    /// The acceptor of the settings in force.
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.current.read().ok().map(|current| current.0.clone())
    }

    /// Reads the files again if they changed; answers whether the settings changed. A
    /// file that does not load leaves the settings in force.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.config);
        let unchanged = self
            .current
            .read()
            .map(|current| current.1 == now)
            .unwrap_or(false);
        if unchanged {
            return Ok(false);
        }
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&self.config)?));
        if let Ok(mut current) = self.current.write() {
            *current = (acceptor, now);
        }
        Ok(true)
    }

    /// Checks the files every few seconds until `shutdown` turns true.
    pub fn spawn_reload(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let tls = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(RELOAD_CHECK) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                let Some(tls) = tls.upgrade() else { return };
                match tls.reload_if_changed() {
                    Ok(true) => {
                        info!(cert = %tls.config.cert_file.display(), "TLS certificate reloaded")
                    }
                    Ok(false) => {}
                    Err(error) => {
                        warn!(%error, "TLS files changed but do not load; keeping the old ones")
                    }
                }
            }
        });
    }

    /// Runs a connection's handshake within `timeout`; answers the encrypted stream and
    /// the principal its client certificate names, if any.
    pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        timeout: Duration,
    ) -> io::Result<(TlsStream<S>, Option<String>)> {
        let acceptor = self
            .acceptor()
            .ok_or_else(|| io::Error::other("TLS settings lock poisoned"))?;
        let stream = tokio::time::timeout(timeout, acceptor.accept(stream))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        let principal = certificate_principal(stream.get_ref().1);
        Ok((stream, principal))
    }
}

/// `User:<subject>` of a verified client certificate, the subject written as Kafka
/// writes it (RFC 2253: the most specific part first, `User:CN=dave,O=Acme`).
pub fn certificate_principal(connection: &rustls::ServerConnection) -> Option<String> {
    let certificate = connection.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref()).ok()?;
    distinguished_name(parsed.subject()).map(|name| format!("User:{name}"))
}

/// A name in RFC 2253's form; `None` if an attribute is not a string.
fn distinguished_name(name: &x509_parser::x509::X509Name<'_>) -> Option<String> {
    let registry = x509_parser::objects::oid_registry();
    let mut parts = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attributes = Vec::new();
        for attribute in rdn.iter() {
            let kind = x509_parser::objects::oid2abbrev(attribute.attr_type(), registry)
                .map(str::to_owned)
                .unwrap_or_else(|_| attribute.attr_type().to_id_string());
            let value = attribute.as_str().ok()?;
            attributes.push(format!("{kind}={}", escape_dn_value(value)));
        }
        parts.push(attributes.join("+"));
    }
    parts.reverse();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// RFC 2253's escapes of an attribute value.
fn escape_dn_value(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (at, character) in value.chars().enumerate() {
        if matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (at == 0 && matches!(character, '#' | ' '))
            || (at == last && character == ' ')
        {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

#[cfg(test)]
mod tests;
