//! TLS settings from files made with openssl: a handshake sees the certificate in force,
//! a replaced certificate is served after a reload without a restart, a broken file
//! keeps the old one, and a client certificate names its principal.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::*;

#[path = "../../../tests/support/pki.rs"]
mod pki;

fn client_config(dir: &Path, identity: Option<&str>) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(&dir.join("ca.pem")).expect("ca") {
        roots.add(certificate).expect("root");
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    match identity {
        Some(name) => builder
            .with_client_auth_cert(
                certificates(&dir.join(format!("{name}.pem"))).expect("chain"),
                PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).expect("key"),
            )
            .expect("client auth"),
        None => builder.with_no_client_auth(),
    }
}

/// One handshake over an in-memory pipe: the server's leaf certificate (DER) and the
/// principal the server saw.
async fn handshake(tls: &Tls, client: ClientConfig) -> (Vec<u8>, Option<String>) {
    let (client_side, server_side) = tokio::io::duplex(64 << 10);
    let server = async { tls.accept(server_side, Duration::from_secs(5)).await };
    let connector = TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let client = async { connector.connect(name, client_side).await };
    let (server, client) = tokio::join!(server, client);
    let (_, principal) = server.expect("server handshake");
    let client = client.expect("client handshake");
    let leaf = client.get_ref().1.peer_certificates().expect("peer")[0].to_vec();
    (leaf, principal)
}

#[tokio::test]
async fn a_replaced_certificate_is_served_after_a_reload_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki::ca(dir.path());
    pki::leaf(dir.path(), "first", "/CN=first", pki::SERVER);
    pki::leaf(dir.path(), "second", "/CN=second", pki::SERVER);
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::copy(dir.path().join("first.pem"), &cert).expect("copy");
    std::fs::copy(dir.path().join("first.key"), &key).expect("copy");
    let tls = Tls::load(TlsConfig {
        cert_file: cert.clone(),
        key_file: key.clone(),
        client_ca_file: None,
        require_client_cert: false,
    })
    .expect("load");
    let first = certificates(&dir.path().join("first.pem")).expect("first")[0].to_vec();
    let second = certificates(&dir.path().join("second.pem")).expect("second")[0].to_vec();
    assert_eq!(
        handshake(&tls, client_config(dir.path(), None)).await.0,
        first
    );
    assert!(
        !tls.reload_if_changed().expect("unchanged"),
        "nothing changed yet"
    );

    // Renewed: the files change (a later modification time), the next handshake sees it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(dir.path().join("second.pem"), &cert).expect("copy");
    std::fs::copy(dir.path().join("second.key"), &key).expect("copy");
    assert!(tls.reload_if_changed().expect("reload"));
    assert_eq!(
        handshake(&tls, client_config(dir.path(), None)).await.0,
        second
    );

    // A broken certificate file is refused and the one in force stays.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&cert, "not a certificate").expect("break");
    assert!(tls.reload_if_changed().is_err());
    assert_eq!(
        handshake(&tls, client_config(dir.path(), None)).await.0,
        second
    );
}

#[tokio::test]
async fn a_client_certificate_names_its_principal_and_may_be_required() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki::ca(dir.path());
    pki::leaf(dir.path(), "server", "/CN=server", pki::SERVER);
    pki::leaf(
        dir.path(),
        "dave",
        "/O=Acme, Inc./CN=dave",
        "extendedKeyUsage=clientAuth\n",
    );
    let config = |require| TlsConfig {
        cert_file: dir.path().join("server.pem"),
        key_file: dir.path().join("server.key"),
        client_ca_file: Some(dir.path().join("ca.pem")),
        require_client_cert: require,
    };
    let optional = Tls::load(config(false)).expect("load");
    let (_, principal) = handshake(&optional, client_config(dir.path(), Some("dave"))).await;
    // Kafka's form of the subject: most specific first, commas in values escaped.
    assert_eq!(principal.as_deref(), Some("User:CN=dave,O=Acme\\, Inc."));
    let (_, principal) = handshake(&optional, client_config(dir.path(), None)).await;
    assert_eq!(principal, None, "no certificate, no principal");

    let required = Tls::load(config(true)).expect("load");
    let (client_side, server_side) = tokio::io::duplex(64 << 10);
    let connector = TlsConnector::from(Arc::new(client_config(dir.path(), None)));
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let (server, client) = tokio::join!(
        required.accept(server_side, Duration::from_secs(5)),
        async {
            // TLS 1.3 clients learn of the refusal on their first read.
            let mut stream = connector.connect(name, client_side).await?;
            tokio::io::AsyncReadExt::read(&mut stream, &mut [0u8; 1]).await
        }
    );
    assert!(
        server.is_err(),
        "a client without a certificate was accepted"
    );
    assert!(client.is_err() || matches!(client, Ok(0)));

    // Settings that cannot work are refused at load.
    assert!(
        Tls::load(TlsConfig {
            client_ca_file: None,
            ..config(true)
        })
        .is_err()
    );
}
