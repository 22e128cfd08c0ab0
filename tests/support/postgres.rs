//! A private PostgreSQL server for tests, started once per test process from the
//! machine's PostgreSQL binaries (Debian's `postgresql` package; `scripts/test.sh`
//! installs it) and stopped when the process exits: it runs under
//! `scripts/supervise.py`, which kills it once its standard input closes. Each test
//! asks for a database of its own.
//!
//! `SILT_TEST_POSTGRES_URL` (e.g. `postgres://user:password@host:5432`) points the tests
//! at a server that is already running instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct TestPostgres {
    /// `postgres://user@host:port`, without a database.
    base: String,
    bin_dir: Option<PathBuf>,
    /// The CA that signed the server's certificate (a server this module started
    /// serves TLS too, for `127.0.0.1`).
    ca_file: Option<PathBuf>,
    _server: Option<Mutex<Child>>,
}

#[path = "pki.rs"]
pub mod pki;

static SERVER: OnceLock<TestPostgres> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The folder with `initdb`, `postgres` and `psql`.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SILT_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
                .filter(|bin| bin.join("postgres").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name())
            .and_then(|version| version.to_str())
            .and_then(|version| version.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server under /usr/lib/postgresql/*/bin: run scripts/test-servers.sh \
             (or scripts/test.sh), install Debian's postgresql package, or set SILT_TEST_POSTGRES_URL"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program` from `bin`, as the `postgres` user when this process is root (the server
/// refuses to run as root).
fn command(bin: &Path, program: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Removes data folders of earlier test processes that are gone.
fn remove_stale_clusters(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("silt-pg-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start() -> TestPostgres {
    if let Ok(base) = std::env::var("SILT_TEST_POSTGRES_URL") {
        return TestPostgres {
            base: base.trim_end_matches('/').to_owned(),
            bin_dir: None,
            ca_file: None,
            _server: None,
        };
    }
    let bin = bin_dir();
    let as_postgres = is_root();
    let temp = std::env::temp_dir();
    remove_stale_clusters(&temp);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let dir = temp.join(format!("silt-pg-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("postgres folder");
    if as_postgres {
        run(
            {
                let mut chown = Command::new("chown");
                chown.arg("postgres:").arg(&dir);
                chown
            },
            "chown of the postgres folder",
        );
    }
    let data = dir.join("data");
    let mut initdb = command(&bin, "initdb", as_postgres);
    initdb.arg("-D").arg(&data).args([
        "-U",
        "silt",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run(initdb, "initdb");
    let ca_file = server_certificate(&dir, &data, as_postgres);
    let log = std::fs::File::create(temp.join(format!("silt-pg-{port}.log"))).expect("log");
    let mut server = Command::new("python3");
    server
        .arg(workspace_root().join("scripts").join("supervise.py"))
        .arg("5");
    if as_postgres {
        server.args(["runuser", "-u", "postgres", "--"]);
    }
    server
        .arg(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
            "-c",
            "ssl=on",
            "-c",
            "ssl_cert_file=server.crt",
            "-c",
            "ssl_key_file=server.key",
        ])
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    let child = server.spawn().expect("starting postgres");
    let postgres = TestPostgres {
        base: format!("postgres://silt@127.0.0.1:{port}"),
        bin_dir: Some(bin),
        ca_file: Some(ca_file),
        _server: Some(Mutex::new(child)),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if postgres.try_psql("postgres", "SELECT 1").is_ok() {
            return postgres;
        }
        assert!(
            Instant::now() < deadline,
            "postgres did not start within 60 s; see {}",
            temp.join(format!("silt-pg-{port}.log")).display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The test process's PostgreSQL server.
pub fn server() -> &'static TestPostgres {
    SERVER.get_or_init(start)
}

impl TestPostgres {
    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("{}/{database}", self.base)
    }

    /// The CA file of the server's TLS certificate, when this module started it.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    fn try_psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let psql = match &self.bin_dir {
            Some(bin) => bin.join("psql"),
            None => PathBuf::from("psql"),
        };
        let output = Command::new(psql)
            .arg(self.url(database))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .map_err(|error| error.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Runs `sql` in `database` with psql and returns what it printed.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.try_psql(database, sql)
            .unwrap_or_else(|error| panic!("psql {sql:?}: {error}"))
    }

    /// A new, empty database; returns its name.
    pub fn create_database(&self) -> String {
        let name = format!(
            "silt_test_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }
}

/// A CA and a server certificate for 127.0.0.1 (`pki`); the certificate and key go into
/// the data folder (the key readable by the server's user only). Answers the CA file.
fn server_certificate(dir: &Path, data: &Path, as_postgres: bool) -> PathBuf {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("tls folder");
    pki::ca(&tls);
    pki::leaf(&tls, "server", "/CN=127.0.0.1", pki::SERVER);
    for (from, to) in [("server.pem", "server.crt"), ("server.key", "server.key")] {
        std::fs::copy(tls.join(from), data.join(to)).expect("copy into the data folder");
    }
    let key = data.join("server.key");
    let mut chmod = Command::new("chmod");
    chmod.arg("600").arg(&key);
    run(chmod, "chmod of the server key");
    if as_postgres {
        let mut chown = Command::new("chown");
        chown
            .arg("postgres:")
            .arg(&key)
            .arg(data.join("server.crt"));
        run(chown, "chown of the server certificate");
    }
    tls.join("ca.pem")
}
