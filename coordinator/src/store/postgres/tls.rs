//! TLS to PostgreSQL, as libpq's URL parameters ask for it: `sslmode` (`disable`,
//! `prefer`, `require`, `verify-ca`, `verify-full`) and `sslrootcert` (the CA file; by
//! default the system's bundle). Whenever TLS is used, the server's certificate and
//! name are verified (rustls), so `require` and `verify-ca` behave as `verify-full`.
//! Without `sslmode` the connection is in clear text, as before (the driver's own
//! default, `prefer`, would try TLS).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::StoreError;

/// The system's CA bundle on Debian and most Linux distributions.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What a URL asks of TLS: the URL tokio-postgres understands, and the CA file.
#[derive(Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub url: String,
    pub root_cert: Option<PathBuf>,
}

fn invalid(message: String) -> StoreError {
    StoreError::Invalid(format!("metadata database URL: {message}"))
}

/// Takes `sslrootcert` out of a `postgres://` URL and maps the verifying `sslmode`s
/// onto `require` (a `key=value` string is left as it is).
pub fn settings(url: &str) -> Result<TlsSettings, StoreError> {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // `key=value` pairs: clear text unless they name an sslmode.
        let url = if url.contains("sslmode") {
            url.to_owned()
        } else {
            format!("{url} sslmode=disable")
        };
        return Ok(TlsSettings {
            url,
            root_cert: None,
        });
    };
    let mut root_cert = None;
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
            "sslmode" => {
                let mode = match value.as_ref() {
                    "disable" | "prefer" | "require" => value.to_string(),
                    "allow" => "prefer".to_owned(),
                    "verify-ca" | "verify-full" => "require".to_owned(),
                    other => return Err(invalid(format!("sslmode {other:?}"))),
                };
                kept.push(("sslmode".to_owned(), mode));
            }
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    if !kept.iter().any(|(key, _)| key == "sslmode") {
        // The driver's default would try TLS: Silt stays in clear text unless asked.
        kept.push(("sslmode".to_owned(), "disable".to_owned()));
    }
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    Ok(TlsSettings {
        url: parsed.to_string(),
        root_cert,
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| invalid(format!("{}: {error}", path.display())))
}

/// The connector: the CA file's certificates, or the system's bundle, as roots.
pub fn connector(root_cert: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = RootCertStore::empty();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUNDLE));
    let path = root_cert.unwrap_or(&system);
    if root_cert.is_some() || path.exists() {
        for certificate in certificates(path)? {
            roots
                .add(certificate)
                .map_err(|error| invalid(format!("{}: {error}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_map_onto_what_the_driver_reads() {
        let plain = settings("postgres://u:p@h:5432/db").expect("plain");
        assert_eq!(plain.url, "postgres://u:p@h:5432/db?sslmode=disable");
        assert_eq!(plain.root_cert, None);
        let verified = settings(
            "postgres://u:p@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
        )
        .expect("verified");
        assert_eq!(
            verified.url,
            "postgres://u:p@h/db?sslmode=require&application_name=x"
        );
        assert_eq!(verified.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert!(settings("postgres://h/db?sslmode=sometimes").is_err());
        let pairs = settings("host=h user=u sslmode=require").expect("pairs");
        assert_eq!(pairs.url, "host=h user=u sslmode=require");
        let pairs = settings("host=h user=u").expect("pairs");
        assert_eq!(pairs.url, "host=h user=u sslmode=disable");
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let error = connector(Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .expect("refused");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }
}
