//! Authentication and ACLs end to end, with `silt dev --auth` and its bootstrap
//! administrator: HTTP with API keys and Basic passwords (401 without or with wrong or
//! revoked credentials, 403 without the ACL, and nothing written either way), the admin
//! API that `silt users|keys|acls` calls, and Kafka clients with SASL PLAIN and
//! SCRAM-SHA-512 whose ACLs confluent-kafka's AdminClient creates; and all of it again
//! over TLS (HTTPS with curl, SASL_SSL) with a CA made at test time, client certificates
//! authenticating as their subject.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};

use crate::harness::{Api, Silt, free_port};
use crate::kafka::python;

const ADMIN_PASSWORD: &str = "admin-password-1";
const ALICE_PASSWORD: &str = "alice-password-1";

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

async fn high_watermark(api: &Api, topic: &str) -> u64 {
    let (status, body) = api.get(&format!("/v1/topics/{topic}")).await;
    assert_eq!(status, 200, "{body}");
    body["partitions"][0]["high_watermark"]
        .as_u64()
        .unwrap_or_else(|| panic!("{body}"))
}

/// As the administrator: topics `orders` and `secret`, and the user `alice`.
async fn topics_and_alice(admin: &Api) {
    for topic in ["orders", "secret"] {
        let (status, body) = admin
            .post("/v1/topics", json!({"name": topic, "partitions": 1}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = admin
        .post(
            "/v1/admin/users",
            json!({"name": "alice", "password": ALICE_PASSWORD}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Revokes the API key `id` as the administrator.
async fn revoke(admin: &Api, id: &str) {
    let (status, body) = admin
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/admin/keys/{id}"),
            None,
        )
        .await
        .expect("revoke");
    assert_eq!(status, 204, "{body}");
}

async fn produce(api: &Api, topic: &str) -> (u16, Value) {
    api.post(
        &format!("/v1/topics/{topic}/records"),
        json!({"records": [{"value": "v"}]}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_passwords_and_acls_guard_http_and_kafka() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kafka = format!("127.0.0.1:{}", free_port());
    let env = [
        ("SILT_KAFKA_LISTEN".to_owned(), kafka.clone()),
        ("SILT_AUTH".to_owned(), "true".to_owned()),
        (
            "SILT_BOOTSTRAP_ADMIN_PASSWORD".to_owned(),
            ADMIN_PASSWORD.to_owned(),
        ),
    ];
    let silt = Silt::start(dir.path(), None, &env);
    let open = Api::new(&silt.url);
    let admin = open.with_authorization(&basic("admin", ADMIN_PASSWORD));

    // Without credentials, or with wrong ones: 401 and nothing done. Health stays open.
    assert!(silt.answers_ok("/healthz", std::time::Duration::from_secs(5)));
    let (status, body) = open
        .post("/v1/topics", json!({"name": "orders", "partitions": 1}))
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let wrong = open.with_authorization(&basic("admin", "guess"));
    assert_eq!(wrong.get("/v1/topics").await.0, 401);
    assert_eq!(
        open.with_authorization("Bearer silt_nope_nope")
            .get("/v1/topics")
            .await
            .0,
        401
    );
    assert_eq!(
        open.get("/metrics").await.0,
        401,
        "metrics need credentials by default"
    );

    // The administrator creates topics, a user, a key and ACLs.
    topics_and_alice(&admin).await;
    let (status, body) = admin
        .post(
            "/v1/admin/users",
            json!({"name": "bob", "password": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("invalid_argument"))
    );
    let (status, body) = admin
        .post(
            "/v1/admin/keys",
            json!({"principal": "User:carol", "description": "ci"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().expect("key").to_owned();
    let key_id = &body["id"].as_str().expect("id").to_owned();
    let (_, keys) = admin.get("/v1/admin/keys").await;
    assert!(
        !keys.to_string().contains(&key[key.len() - 20..]),
        "secrets are never listed"
    );
    let (status, body) = admin
        .post(
            "/v1/admin/acls",
            json!({"principal": "User:carol", "resource_type": "topic",
                   "resource_name": "orders", "operation": "write"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // carol's key may write orders, not secret: 403 and secret's high watermark stays.
    let carol = open.with_authorization(&format!("Bearer {key}"));
    let (status, body) = produce(&carol, "orders").await;
    assert_eq!(status, 200, "{body}");
    let before = high_watermark(&admin, "secret").await;
    let (status, body) = produce(&carol, "secret").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (403, Some("topic_authorization_failed"))
    );
    let (status, _) = carol
        .post(
            "/v1/records",
            json!({"records": [
            {"topic": "orders", "value": "a"}, {"topic": "secret", "value": "b"}]}),
        )
        .await;
    assert_eq!(
        status, 403,
        "a request naming one forbidden topic writes nothing"
    );
    assert_eq!(high_watermark(&admin, "secret").await, before);
    assert_eq!(high_watermark(&admin, "orders").await, 1);
    // Listing shows only what carol may describe (WRITE implies DESCRIBE).
    let (_, listed) = carol.get("/v1/topics").await;
    let names: Vec<&str> = listed["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|topic| topic["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["orders"]);
    // A group member without READ on the topic cannot join.
    let (status, body) = carol
        .post("/v1/groups/g/members", json!({"topics": ["orders"]}))
        .await;
    assert_eq!(status, 403, "{body}");
    // Administration needs the cluster's ALTER.
    assert_eq!(carol.get("/v1/admin/users").await.0, 403);

    // A revoked key is refused at once on the gateway that revoked it.
    revoke(&admin, key_id).await;
    let (status, _) = produce(&carol, "orders").await;
    assert_eq!(status, 401);
    assert_eq!(high_watermark(&admin, "orders").await, 1);

    // Kafka clients: ACLs created with confluent-kafka's AdminClient take effect.
    check_kafka_clients(
        &python(
            "security_clients.py",
            &[&kafka, ADMIN_PASSWORD, ALICE_PASSWORD],
        ),
        &["\"v\""],
    );
    // 1 from carol, 5 from alice's librdkafka, 3 from her kafka-python: nothing else.
    assert_eq!(high_watermark(&admin, "orders").await, 9);
    // Nothing reached the topic alice may not write.
    assert_eq!(high_watermark(&admin, "secret").await, before);
    // Failures were counted.
    let failures = |listener: &str| {
        let admin = admin.clone();
        let series = format!("silt_auth_failures_total{{listener=\"{listener}\"}}");
        async move { admin.metric(&series).await as f64 }
    };
    assert!(failures("http").await >= 3.0);
    assert!(failures("kafka").await >= 1.0);
    drop(silt);
}

/// What `security_clients.py` saw: ACLs created with confluent-kafka's AdminClient took
/// effect for librdkafka (SCRAM-SHA-512) and kafka-python (PLAIN), and wrong passwords
/// failed.
/// `before` are the values the topic held before the script ran.
fn check_kafka_clients(result: &Value, before: &[&str]) {
    let mut read: Vec<&str> = before.to_vec();
    read.extend(["v0", "v1", "v2", "v3", "v4"]);
    let first = before.len() + 5;
    assert_eq!(
        result["described"],
        json!([
            "GROUP:alice-:PREFIXED:READ",
            "TOPIC:orders:LITERAL:READ",
            "TOPIC:orders:LITERAL:WRITE"
        ]),
        "{result}"
    );
    assert_eq!(result["deleted"], json!(["GROUP:alice-:READ"]), "{result}");
    assert_eq!(result["left_after_delete"], 2, "{result}");
    assert_eq!(result["orders_delivered"], 5, "{result}");
    assert_eq!(
        result["secret_error"],
        json!(["TOPIC_AUTHORIZATION_FAILED"]),
        "{result}"
    );
    assert_eq!(result["alice_sees"], json!(["orders"]), "{result}");
    assert_eq!(result["alice_read"], json!(read), "{result}");
    assert_eq!(
        result["foreign_group_error"], "GROUP_AUTHORIZATION_FAILED",
        "{result}"
    );
    // librdkafka reports the refused authentication (and then that no broker is up).
    assert!(
        result["wrong_password_errors"]
            .as_array()
            .is_some_and(|errors| errors.contains(&json!("_AUTHENTICATION"))),
        "{result}"
    );
    assert_eq!(
        result["kafka_python_offsets"],
        json!([first, first + 1, first + 2]),
        "{result}"
    );
    assert!(
        result["kafka_python_wrong_password"]
            .as_str()
            .is_some_and(|name| name != "sent"),
        "{result}"
    );
}

/// `curl` over TLS trusting `ca`: (status, body).
fn curl(ca: &Path, args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_both_listeners_with_keys_client_certificates_and_sasl_ssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = tempfile::tempdir().expect("pki");
    let [ca, cert, key, client_cert, client_key] = crate::pki::certificates(pki.path());
    let kafka = format!("127.0.0.1:{}", free_port());
    let path = |path: &PathBuf| path.display().to_string();
    let env = [
        ("SILT_KAFKA_LISTEN".to_owned(), kafka.clone()),
        ("SILT_AUTH".to_owned(), "true".to_owned()),
        (
            "SILT_BOOTSTRAP_ADMIN_PASSWORD".to_owned(),
            ADMIN_PASSWORD.to_owned(),
        ),
        ("SILT_TLS_CERT".to_owned(), path(&cert)),
        ("SILT_TLS_KEY".to_owned(), path(&key)),
        ("SILT_TLS_CLIENT_CA".to_owned(), path(&ca)),
    ];
    let silt = Silt::start(dir.path(), None, &env);
    assert!(silt.url.starts_with("https://"));
    let ca_pem = std::fs::read(&ca).expect("ca");
    let admin =
        Api::trusting(&silt.url, &ca_pem).with_authorization(&basic("admin", ADMIN_PASSWORD));
    topics_and_alice(&admin).await;

    // Clear text to the TLS port gets nothing; an untrusted certificate is refused by curl.
    let plain = silt.url.replace("https://", "http://");
    assert_ne!(curl(&ca, &[&format!("{plain}/healthz")]).0, 200);
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let (status, _) = curl(system, &[&format!("{}/healthz", silt.url)]);
    assert_eq!(
        status, 0,
        "a client that does not trust the test CA refuses the server"
    );

    // Over TLS with curl: no key 401, a key without the ACL 403, a revoked key 401; the
    // topic's high watermark never moves.
    let produce = format!("{}/v1/topics/secret/records", silt.url);
    let body = r#"{"records":[{"value":"x"}]}"#;
    let json = ["-H", "content-type: application/json", "-d", body];
    let (status, answer) = curl(&ca, &[&[produce.as_str()][..], &json].concat());
    assert_eq!(status, 401, "{answer}");
    let (_, created) = admin
        .post("/v1/admin/keys", json!({"principal": "User:erin"}))
        .await;
    let bearer = format!(
        "authorization: Bearer {}",
        created["key"].as_str().expect("key")
    );
    let with_key = [&["-H", bearer.as_str(), produce.as_str()][..], &json].concat();
    let (status, answer) = curl(&ca, &with_key);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("topic_authorization_failed"), "{answer}");
    let key_id = created["id"].as_str().expect("id");
    revoke(&admin, key_id).await;
    assert_eq!(curl(&ca, &with_key).0, 401);
    assert_eq!(high_watermark(&admin, "secret").await, 0);

    // A client certificate authenticates as its subject (User:CN=dave): dave sees only
    // what ACLs allow.
    let certificate = ["--cert", &path(&client_cert), "--key", &path(&client_key)];
    let topics = format!("{}/v1/topics", silt.url);
    let (status, answer) = curl(&ca, &[&certificate[..], &[topics.as_str()]].concat());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).expect("json")["topics"],
        json!([])
    );
    let (status, _) = admin
        .post(
            "/v1/admin/acls",
            json!({"principal": "User:CN=dave", "resource_type": "topic",
                   "resource_name": "orders", "operation": "describe"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, answer) = curl(&ca, &[&certificate[..], &[topics.as_str()]].concat());
    let listed: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(listed["topics"][0]["name"], "orders", "{answer}");

    // Kafka over SASL_SSL, checked against the same CA.
    check_kafka_clients(
        &python(
            "security_clients.py",
            &[&kafka, ADMIN_PASSWORD, ALICE_PASSWORD, &path(&ca)],
        ),
        &[],
    );
    assert_eq!(high_watermark(&admin, "orders").await, 8);
    assert_eq!(high_watermark(&admin, "secret").await, 0);
    drop(silt);
}

/// Runs `silt <args>` expecting it to refuse to start; answers what it printed.
fn refused_start(args: &[&str], dir: &Path) -> String {
    let output = Command::new(crate::harness::SILT)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("SILT_KAFKA_LISTEN", "off")
        .env_remove("SILT_AUTH")
        .output()
        .expect("silt");
    assert!(!output.status.success(), "{args:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_serves_tls_and_refuses_gateways_without_its_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = tempfile::tempdir().expect("pki");
    let [ca, cert, key, _, _] = crate::pki::certificates(pki.path());
    let secret = (
        "SILT_INTERNAL_SECRET".to_owned(),
        "internal-s3cret".to_owned(),
    );
    let trust = ("SILT_COORDINATOR_CA".to_owned(), ca.display().to_string());
    // The coordinator serves its internal API over TLS and wants the secret.
    let coordinator = Silt::coordinator_with(
        &dir.path().join("coordinator"),
        &[
            secret.clone(),
            ("SILT_TLS_CERT".to_owned(), cert.display().to_string()),
            ("SILT_TLS_KEY".to_owned(), key.display().to_string()),
        ],
    );
    assert!(coordinator.url.starts_with("https://"));
    let bucket = dir.path().join("bucket");
    std::fs::create_dir_all(&bucket).expect("bucket");
    let bucket = bucket.display().to_string();

    // Without the secret a gateway starts but is never ready, and its calls fail.
    let stranger = Silt::gateway_unready(
        &dir.path().join("g1"),
        &bucket,
        &coordinator.url,
        std::slice::from_ref(&trust),
    );
    assert!(!stranger.answers_ok("/readyz", std::time::Duration::from_secs(3)));
    let (status, body) = Api::new(&stranger.url)
        .post("/v1/topics", json!({"name": "t", "partitions": 1}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("internal secret")),
        "{body}"
    );
    // With the secret but without trusting the coordinator's CA: not ready either.
    let untrusting = Silt::gateway_unready(
        &dir.path().join("g3"),
        &bucket,
        &coordinator.url,
        std::slice::from_ref(&secret),
    );
    assert!(!untrusting.answers_ok("/readyz", std::time::Duration::from_secs(3)));
    // With both, the same calls go through.
    let trusted = Silt::gateway(
        &dir.path().join("g2"),
        &bucket,
        &coordinator.url,
        &[secret.clone(), trust.clone()],
    );
    let (status, body) = Api::new(&trusted.url)
        .post("/v1/topics", json!({"name": "t", "partitions": 1}))
        .await;
    assert_eq!(status, 201, "{body}");
}

#[test]
fn nothing_starts_open_on_a_reachable_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing serves openly on an address other hosts reach unless told to.
    let port = free_port().to_string();
    let any = format!("0.0.0.0:{port}");
    let said = refused_start(&["dev", "--listen", &any], &dir.path().join("d1"));
    assert!(said.contains("--allow-anonymous"), "{said}");
    let said = refused_start(&["coordinator", "--listen", &any], &dir.path().join("d2"));
    assert!(said.contains("SILT_INTERNAL_SECRET"), "{said}");
}
