//! Certificates for tests, made with openssl at test time.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA, a server certificate for 127.0.0.1 and a client certificate for `dave`, made
/// with openssl in `dir`: (CA, server cert, server key, client cert, client key).
pub fn certificates(dir: &Path) -> [PathBuf; 5] {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=silt test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&ca);
    for (name, subject, extensions) in [
        (
            "server",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "/CN=dave", "extendedKeyUsage=clientAuth\n"),
    ] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let ext = format!("{name}.ext");
        let pem = format!("{name}.pem");
        let mut request = vec!["req", "-subj", subject, "-keyout", &key, "-out", &csr];
        request.extend(ec);
        openssl(&request);
        std::fs::write(dir.join(&ext), extensions).expect("extensions");
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &pem,
            "-extfile",
            &ext,
        ]);
    }
    [
        "ca.pem",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
    ]
    .map(|name| dir.join(name))
}
