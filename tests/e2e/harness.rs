//! Starting and stopping real processes: `silt dev`, moto's S3 server and LocalStack.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const SILT: &str = env!("CARGO_BIN_EXE_silt");

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `silt` server process (`dev`, `gateway` or `coordinator`); killed with SIGKILL
/// when dropped.
pub struct Silt {
    child: Child,
    pub url: String,
    port: u16,
    /// The command line without `--listen`, to start the same server again.
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl Silt {
    /// CPU time the process has used so far (user and system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the process's stat");
        // Fields after the command (which may hold spaces) in parentheses; utime and
        // stime are the 14th and 15th fields, in clock ticks (100 per second here).
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let fields: Vec<u64> = after
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|field| field.parse().expect("a tick count"))
            .collect();
        Duration::from_millis(fields.iter().sum::<u64>() * 10)
    }

    /// `silt dev` on `data_dir`, with the bucket at `object_store` if given.
    pub fn start(data_dir: &Path, object_store: Option<&str>, env: &[(String, String)]) -> Silt {
        Silt::spawn(server_args("dev", data_dir, object_store), env)
    }

    /// `silt gateway` using the coordinator at `coordinator_url`.
    pub fn gateway(
        data_dir: &Path,
        object_store: &str,
        coordinator_url: &str,
        env: &[(String, String)],
    ) -> Silt {
        let mut args = server_args("gateway", data_dir, Some(object_store));
        args.extend(["--coordinator".to_owned(), coordinator_url.to_owned()]);
        Silt::spawn(args, env)
    }

    /// `silt coordinator` with its database in `data_dir`.
    /// `silt dev --auth` with a bootstrap administrator, and an API client signed in as
    /// that administrator with a Basic password.
    pub fn authenticated(data_dir: &Path) -> (Silt, Api) {
        use base64::Engine;
        let env = [
            ("SILT_AUTH".to_owned(), "true".to_owned()),
            (
                "SILT_BOOTSTRAP_ADMIN_PASSWORD".to_owned(),
                ADMIN_PASSWORD.to_owned(),
            ),
        ];
        let silt = Silt::start(data_dir, None, &env);
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
        let admin = Api::new(&silt.url).with_authorization(&format!("Basic {basic}"));
        (silt, admin)
    }

    pub fn coordinator(data_dir: &Path) -> Silt {
        Silt::spawn(server_args("coordinator", data_dir, None), &[])
    }

    /// `silt coordinator` with `env` (its internal secret, say).
    pub fn coordinator_with(data_dir: &Path, env: &[(String, String)]) -> Silt {
        Silt::spawn(server_args("coordinator", data_dir, None), env)
    }

    /// `silt gateway` as [`Silt::gateway`], waiting only until it answers `/healthz`
    /// (its coordinator may refuse it).
    pub fn gateway_unready(
        data_dir: &Path,
        object_store: &str,
        coordinator_url: &str,
        env: &[(String, String)],
    ) -> Silt {
        let mut args = server_args("gateway", data_dir, Some(object_store));
        args.extend(["--coordinator".to_owned(), coordinator_url.to_owned()]);
        Silt::launch(args, env, free_port(), false)
    }

    /// `silt compactor` behind `coordinator_url`, working often and on young data.
    pub fn compactor(
        data_dir: &Path,
        object_store: &str,
        coordinator_url: &str,
        env: &[(String, String)],
    ) -> std::process::Child {
        let log = std::fs::File::create(
            std::env::temp_dir().join(format!("silt-e2e-compactor-{}.log", free_port())),
        )
        .expect("log");
        Command::new(SILT)
            .args(["compactor", "--coordinator", coordinator_url])
            .args(["--object-store", object_store])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--interval-ms", "500", "--min-age-ms", "1000"])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .envs(
                env.iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
            .env("SILT_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("silt compactor")
    }

    /// `silt coordinator` on PostgreSQL at `metadata_url`, snapshotting to `object_store`
    /// every `snapshot_interval_ms`. `wait_ready`: wait until it leads (a standby never
    /// becomes ready).
    pub fn coordinator_on_postgres(
        metadata_url: &str,
        object_store: &str,
        snapshot_interval_ms: u64,
        env: &[(String, String)],
        wait_ready: bool,
    ) -> Silt {
        let args = vec![
            "coordinator".to_owned(),
            "--metadata-url".to_owned(),
            metadata_url.to_owned(),
            "--object-store".to_owned(),
            object_store.to_owned(),
            "--snapshot-interval-ms".to_owned(),
            snapshot_interval_ms.to_string(),
        ];
        Silt::launch(args, env, free_port(), wait_ready)
    }

    fn spawn(args: Vec<String>, env: &[(String, String)]) -> Silt {
        Silt::launch(args, env, free_port(), true)
    }

    fn launch(args: Vec<String>, env: &[(String, String)], port: u16, wait_ready: bool) -> Silt {
        let log = std::env::temp_dir().join(format!("silt-e2e-{}-{port}.log", args[0]));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(SILT);
        command
            .args(&args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("SILT_LOG", "info")
            .env("SILT_LINGER_MS", "20")
            // Many servers run at once: a test that wants Kafka names a port.
            .env("SILT_KAFKA_LISTEN", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("spawn silt");
        let tls = env.iter().any(|(key, _)| key == "SILT_TLS_CERT");
        let scheme = if tls { "https" } else { "http" };
        let silt = Silt {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            args,
            env: env.to_vec(),
            log,
        };
        if wait_ready {
            silt.wait_ready();
        } else {
            silt.wait_until(Duration::from_secs(30), "/healthz");
        }
        silt
    }

    fn wait_ready(&self) {
        self.wait_until(Duration::from_secs(30), "/readyz");
    }

    fn wait_until(&self, timeout: Duration, path: &str) {
        if !self.answers_ok(path, timeout) {
            panic!("silt: {path} did not answer 200; log:\n{}", self.log_text());
        }
    }

    /// Whether `path` answers 200 within `timeout`.
    pub fn answers_ok(&self, path: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if probe(&format!("{}{path}", self.url)) == Some(200) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`, then the same command line on the same port (clients keep their
    /// address); `wait_ready` as for the first start.
    pub fn restart_in_place(&mut self, wait_ready: bool) {
        self.kill9();
        let fresh = Silt::launch(self.args.clone(), &self.env, self.port, wait_ready);
        let old = std::mem::replace(self, fresh);
        drop(old);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM: the server shuts down in order.
    pub fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// `kill -9`: no flush, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a new process with the same command line (data directory, bucket), on a
    /// new port.
    pub fn restart(mut self) -> Silt {
        self.kill9();
        Silt::spawn(self.args.clone(), &self.env)
    }
}

fn server_args(subcommand: &str, data_dir: &Path, object_store: Option<&str>) -> Vec<String> {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let mut args = vec![
        subcommand.to_owned(),
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
    ];
    if let Some(location) = object_store {
        args.extend(["--object-store".to_owned(), location.to_owned()]);
    }
    args
}

impl Drop for Silt {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The status code and body of a plain HTTP/1.0 GET, or `None` if nothing answers:
/// enough for readiness checks without an async runtime.
fn http_get(url: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut response = String::new();
    let _ = stream.take(1 << 20).read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// An S3-compatible server process that dies with the test process: it is started by
/// `scripts/supervise.py`, which stops it once its standard input (held by this
/// process) closes.
pub struct S3Server {
    _guard: Child,
    pub endpoint: String,
}

fn spawn_guarded(
    program: &str,
    args: &[&str],
    env: &HashMap<&str, String>,
    log: &Path,
    kill_grace_secs: u32,
) -> Child {
    let log_file = std::fs::File::create(log).expect("server log");
    let supervisor = workspace_root().join("scripts").join("supervise.py");
    let mut command = Command::new("python3");
    command
        .arg(supervisor)
        .arg(kill_grace_secs.to_string())
        .arg(program)
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(Stdio::piped())
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file);
    command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {program}: {error}"))
}

/// Waits until `url` answers with a body that contains `expect`.
fn wait_for_http(url: &str, expect: &str, what: &str, log: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if http_get(url).is_some_and(|(_, body)| body.contains(expect)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not start within {timeout:?}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn venv_program(venv: &str, program: &str) -> PathBuf {
    let path = workspace_root()
        .join(".venv")
        .join(venv)
        .join("bin")
        .join(program);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test-servers.sh (or scripts/test.sh) to install the S3 test servers",
        path.display()
    );
    path
}

/// Runs the Python of `.venv/<venv>` (installed by scripts/test-servers.sh) with `args`
/// and parses the JSON it prints; a failure shows what it wrote.
pub fn venv_json<S: AsRef<std::ffi::OsStr>>(venv: &str, args: &[S]) -> Value {
    let output = std::process::Command::new(venv_program(venv, "python"))
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("running {venv}'s python: {error}"));
    assert!(
        output.status.success(),
        "{venv}'s python failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

/// The bootstrap administrator's password of [`Silt::authenticated`].
pub const ADMIN_PASSWORD: &str = "admin-password-1";

static MOTO: OnceLock<S3Server> = OnceLock::new();
static LOCALSTACK: OnceLock<S3Server> = OnceLock::new();

/// moto's S3 server, started once for the whole test process.
pub fn moto() -> &'static S3Server {
    MOTO.get_or_init(|| {
        let port = free_port();
        let program = venv_program("moto", "moto_server");
        let log = std::env::temp_dir().join(format!("silt-moto-{port}.log"));
        let child = spawn_guarded(
            program.to_str().expect("utf-8 path"),
            &["-H", "127.0.0.1", "-p", &port.to_string()],
            &HashMap::new(),
            &log,
            2,
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_for_http(
            &format!("{endpoint}/moto-api/"),
            "",
            "moto",
            &log,
            Duration::from_secs(60),
        );
        S3Server {
            _guard: child,
            endpoint,
        }
    })
}

/// LocalStack (S3 only, no Docker), started once for the whole test process.
pub fn localstack() -> &'static S3Server {
    LOCALSTACK.get_or_init(|| {
        let port = free_port();
        let python = venv_program("localstack", "python");
        let root = std::env::temp_dir().join(format!("silt-localstack-{port}"));
        std::fs::create_dir_all(&root).expect("localstack root");
        let log = std::env::temp_dir().join(format!("silt-localstack-{port}.log"));
        let env: HashMap<&str, String> = [
            ("OVERRIDE_IN_DOCKER", "0".to_owned()),
            ("SERVICES", "s3".to_owned()),
            ("GATEWAY_SERVER", "hypercorn".to_owned()),
            ("GATEWAY_LISTEN", format!("127.0.0.1:{port}")),
            ("EAGER_SERVICE_LOADING", "1".to_owned()),
            ("SKIP_SSL_CERT_DOWNLOAD", "1".to_owned()),
            ("DISABLE_EVENTS", "1".to_owned()),
            ("DNS_ADDRESS", "0".to_owned()),
            ("FILESYSTEM_ROOT", root.display().to_string()),
        ]
        .into_iter()
        .collect();
        let child = spawn_guarded(
            python.to_str().expect("utf-8 path"),
            &["-m", "localstack.runtime.main"],
            &env,
            &log,
            5,
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_for_http(
            &format!("{endpoint}/_localstack/health"),
            "\"s3\": \"running\"",
            "LocalStack",
            &log,
            Duration::from_secs(120),
        );
        S3Server {
            _guard: child,
            endpoint,
        }
    })
}

impl S3Server {
    /// Creates a fresh bucket and returns the environment a Silt process needs to use it.
    pub async fn bucket(&self, name: &str) -> Vec<(String, String)> {
        let client = reqwest::Client::new();
        let mut last = String::new();
        for _ in 0..50 {
            match client.put(format!("{}/{name}", self.endpoint)).send().await {
                Ok(response) if response.status().is_success() => {
                    return vec![
                        ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
                        ("AWS_ALLOW_HTTP".into(), "true".into()),
                        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
                        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
                        ("AWS_REGION".into(), "us-east-1".into()),
                    ];
                }
                Ok(response) => {
                    last = format!(
                        "{} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    )
                }
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("creating bucket {name} at {} failed: {last}", self.endpoint);
    }

    /// Writes an object directly, as something other than Silt would.
    pub async fn put_object(&self, bucket: &str, key: &str, body: &'static [u8]) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}/{key}", self.endpoint))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("put");
        assert!(
            response.status().is_success(),
            "PUT {key}: {}",
            response.status()
        );
    }

    /// Keys of the objects in a bucket (first page of a ListObjectsV2).
    pub async fn object_keys(&self, bucket: &str) -> Vec<String> {
        let text = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("list body");
        text.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect()
    }
}

/// The status `url` answers: over TLS with curl (the certificate is not checked: this
/// only waits for the server), else with a plain HTTP GET.
fn probe(url: &str) -> Option<u16> {
    if !url.starts_with("https://") {
        return http_get(url).map(|(status, _)| status);
    }
    let output = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", url])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// A JSON client of a running gateway.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
    authorization: Option<String>,
}

impl Api {
    pub fn new(url: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            authorization: None,
        }
    }

    /// A client of a gateway serving TLS with a certificate `ca_pem` signed.
    pub fn trusting(url: &str, ca_pem: &[u8]) -> Api {
        let ca = reqwest::Certificate::from_pem(ca_pem).expect("CA");
        Api {
            http: reqwest::Client::builder()
                .add_root_certificate(ca)
                .build()
                .expect("client"),
            url: url.to_owned(),
            authorization: None,
        }
    }

    /// The same server, sending `Authorization: <value>` with every request.
    pub fn with_authorization(&self, value: &str) -> Api {
        Api {
            http: self.http.clone(),
            url: self.url.clone(),
            authorization: Some(value.to_owned()),
        }
    }

    /// A request to `path` that carries this client's authorization.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.url));
        match &self.authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(value) = &self.authorization {
            request = request.header("authorization", value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|error| error.to_string())?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())?
        };
        Ok((status, value))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body))
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None)
            .await
            .expect("request")
    }

    /// A new API key of `principal` (as an administrator), allowed `operation` on
    /// `topic`.
    pub async fn key_allowed(&self, principal: &str, topic: &str, operation: &str) -> String {
        let (status, body) = self
            .post("/v1/admin/keys", json!({ "principal": principal }))
            .await;
        assert_eq!(status, 201, "{body}");
        let key = body["key"].as_str().expect("key").to_owned();
        let (status, body) = self
            .post(
                "/v1/admin/acls",
                json!({"principal": principal, "resource_type": "topic",
                       "resource_name": topic, "operation": operation}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        key
    }

    pub async fn create_topic(&self, name: &str, partitions: u32) {
        let (status, body) = self
            .post(
                "/v1/topics",
                json!({"name": name, "partitions": partitions}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Every record of a partition from its log start (offset 0 unless retention moved
    /// it) to the high watermark.
    pub async fn read_partition(&self, topic: &str, partition: u32) -> Vec<Value> {
        let mut records = Vec::new();
        // Without an offset the first fetch starts at the log start.
        let mut from = String::new();
        loop {
            let path =
                format!("/v1/topics/{topic}/partitions/{partition}/records?max_records=1000{from}");
            let (status, body) = self.get(&path).await;
            assert_eq!(status, 200, "{body}");
            let batch = body["records"].as_array().expect("records").clone();
            let high_watermark = body["high_watermark"].as_u64().expect("hw");
            let offset = body["next_offset"].as_u64().expect("next_offset");
            from = format!("&offset={offset}");
            records.extend(batch);
            if offset >= high_watermark {
                return records;
            }
        }
    }

    /// The sum of a consumer group's lag over its partitions (a partition whose lag is
    /// missing counts as unbounded).
    pub async fn group_lag(&self, group: &str) -> u64 {
        let (status, described) = self.get(&format!("/v1/groups/{group}")).await;
        assert_eq!(status, 200, "{described}");
        described["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .map(|partition| partition["lag"].as_u64().unwrap_or(u64::MAX))
            .fold(0u64, u64::saturating_add)
    }

    pub async fn metric(&self, name: &str) -> u64 {
        let mut request = self.http.get(format!("{}/metrics", self.url));
        if let Some(value) = &self.authorization {
            request = request.header("authorization", value);
        }
        let text = request
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        silt_core::metrics::read_sample(&text, name)
            .map(|value| value as u64)
            .unwrap_or_else(|| panic!("metric {name} missing"))
    }
}

/// Appends a line to a log file; used for progress notes in long tests.
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "e2e: {message}");
}

/// `count` random lowercase values of `size` bytes (they do not compress).
pub fn random_values(seed: &mut u64, count: usize, size: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            (0..size)
                .map(|_| {
                    *seed ^= *seed << 13;
                    *seed ^= *seed >> 7;
                    *seed ^= *seed << 17;
                    char::from(b'a' + (*seed % 26) as u8)
                })
                .collect()
        })
        .collect()
}
