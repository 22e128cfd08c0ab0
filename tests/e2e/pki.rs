//! Certificates for the e2e tests (`tests/support/pki.rs` makes them).

use std::path::{Path, PathBuf};

use crate::test_postgres::pki as support;

/// A CA, a server certificate for 127.0.0.1 and a client certificate for `dave`, made
/// in `dir`: (CA, server cert, server key, client cert, client key).
pub fn certificates(dir: &Path) -> [PathBuf; 5] {
    support::ca(dir);
    support::leaf(dir, "server", "/CN=localhost", support::SERVER);
    support::leaf(dir, "client", "/CN=dave", "extendedKeyUsage=clientAuth\n");
    [
        "ca.pem",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
    ]
    .map(|name| dir.join(name))
}
