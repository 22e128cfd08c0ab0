//! Certificates for tests, made with openssl at test time: a CA (`ca.pem`, `ca.key`)
//! and leaf certificates it signs, with ECDSA P-256 keys (quick to make).

use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
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
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA in `dir`: `ca.pem` and `ca.key`.
pub fn ca(dir: &Path) {
    let mut args = vec!["req", "-x509", "-days", "2", "-subj", "/CN=silt test CA"];
    args.extend(EC);
    args.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &args);
}

/// `<name>.pem` and `<name>.key` in `dir`, for `subject`, signed by the CA there, with
/// `extensions` (openssl's `-extfile` lines, e.g. a subjectAltName and the key usage).
pub fn leaf(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let ext = format!("{name}.ext");
    let pem = format!("{name}.pem");
    let mut request = vec!["req", "-subj", subject, "-keyout", &key, "-out", &csr];
    request.extend(EC);
    openssl(dir, &request);
    std::fs::write(dir.join(&ext), extensions).expect("extensions");
    openssl(
        dir,
        &[
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
        ],
    );
}

/// A server certificate for 127.0.0.1 and localhost.
pub const SERVER: &str = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
