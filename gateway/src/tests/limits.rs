//! The listeners' limits over real sockets on 127.0.0.1: connection caps, idle, header
//! and body timeouts, declared lengths over the limit, media types, and Kafka frames
//! that once aborted the process.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::harness_with;
use crate::kafka::KafkaConfig;
use crate::listener::{ConnectionLimits, ListenerStats};
use crate::{AppState, GatewayConfig};

pub(super) struct Served {
    pub(super) http: SocketAddr,
    pub(super) kafka: SocketAddr,
    pub(super) state: AppState,
    _stop: tokio::sync::watch::Sender<bool>,
    pub(super) harness: super::Harness,
}

/// A gateway serving HTTP and Kafka on free ports with short limits.
pub(super) async fn served(connections: ConnectionLimits) -> Served {
    served_with(GatewayConfig {
        linger_ms: 5,
        max_body_bytes: 64 << 10,
        max_record_bytes: 4096,
        connections,
        ..Default::default()
    })
    .await
}

/// A gateway serving HTTP and Kafka on free ports with `config`.
pub(super) async fn served_with(config: GatewayConfig) -> Served {
    let harness = harness_with(
        config,
        std::sync::Arc::new(object_store::memory::InMemory::new()),
    )
    .await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut state = harness.state.clone();
    state.shutdown = stopped.clone();
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let kafka = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (http_addr, kafka_addr) = (
        http.local_addr().expect("addr"),
        kafka.local_addr().expect("addr"),
    );
    let mut http_stop = stopped.clone();
    tokio::spawn(crate::serve(http, state.clone(), async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    }));
    let kafka_config = KafkaConfig {
        advertised_host: "127.0.0.1".into(),
        advertised_port: kafka_addr.port(),
        auto_create_partitions: 0,
    };
    tokio::spawn(crate::kafka::serve(kafka, state.clone(), kafka_config));
    Served {
        http: http_addr,
        kafka: kafka_addr,
        state,
        _stop: stop,
        harness,
    }
}

pub(super) fn short_limits() -> ConnectionLimits {
    ConnectionLimits {
        max_connections: 64,
        http_idle_timeout_ms: 1500,
        kafka_idle_timeout_ms: 1500,
        header_timeout_ms: 300,
        body_timeout_ms: 600,
    }
}

/// Reads until the peer closes (or 5 s pass); returns what came.
async fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

async fn http_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut out))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    String::from_utf8_lossy(&out[..n]).into_owned()
}

fn stats(served: &Served, kafka: bool) -> &ListenerStats {
    if kafka {
        &served.state.metrics.kafka_listener
    } else {
        &served.state.metrics.http_listener
    }
}

#[tokio::test]
async fn slow_headers_idle_connections_and_slow_bodies_are_closed() {
    let served = served(short_limits()).await;
    // Headers sent a byte at a time, slower than the header timeout allows.
    let mut slow = TcpStream::connect(served.http).await.expect("connect");
    slow.write_all(b"GET /hea").await.expect("write");
    let closed = read_to_close(&mut slow).await;
    assert!(closed.is_some(), "a connection with slow headers was kept");
    // An idle keep-alive connection is closed after the idle timeout.
    let mut idle = TcpStream::connect(served.http).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = read_to_close(&mut idle).await.expect("closed after idling");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(
        stats(&served, false)
            .header_timeouts
            .load(Ordering::Relaxed)
            >= 1
    );
    assert!(
        stats(&served, false)
            .header_timeouts
            .load(Ordering::Relaxed)
            + stats(&served, false).idle_timeouts.load(Ordering::Relaxed)
            >= 2
    );
    // A body that stops coming is answered 408 once the body timeout passes.
    let answer = http_exchange(
        served.http,
        b"POST /v1/topics HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"name\":",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(
        stats(&served, false).body_timeouts.load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_and_a_text_body_are_refused_at_once() {
    let served = served(ConnectionLimits::default()).await;
    let started = std::time::Instant::now();
    let answer = http_exchange(
        served.http,
        b"POST /v1/topics/t/records HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2000000000\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let body = br#"{"name":"plain","partitions":1}"#;
    let request = format!(
        "POST /v1/topics HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(body)
    );
    let answer = http_exchange(served.http, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
    assert!(answer.contains("unsupported_media_type"), "{answer}");
    // Nothing was created.
    assert!(served.state.coordinator.get_topic("plain").await.is_err());
    // JSON, and what `curl -d` sends, are read as JSON.
    for (name, content_type) in [
        ("json", "application/json; charset=utf-8"),
        ("curl", "application/x-www-form-urlencoded"),
    ] {
        let body = format!(r#"{{"name":"{name}","partitions":1}}"#);
        let request = format!(
            "POST /v1/topics HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = http_exchange(served.http, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 201"),
            "{content_type}: {answer}"
        );
    }
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_and_places_come_back() {
    let served = served(ConnectionLimits {
        max_connections: 3,
        ..ConnectionLimits::default()
    })
    .await;
    for kafka in [false, true] {
        let addr = if kafka { served.kafka } else { served.http };
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(addr).await.expect("connect"));
        }
        // Wait until the three are counted open.
        for _ in 0..100 {
            if stats(&served, kafka).open.load(Ordering::Relaxed) == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut over = TcpStream::connect(addr).await.expect("connect");
        assert_eq!(
            read_to_close(&mut over).await,
            Some(Vec::new()),
            "kafka: {kafka}"
        );
        assert_eq!(stats(&served, kafka).refused.load(Ordering::Relaxed), 1);
        held.clear();
        for _ in 0..100 {
            if stats(&served, kafka).open.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            stats(&served, kafka).open.load(Ordering::Relaxed),
            0,
            "kafka: {kafka}"
        );
    }
    let answer = http_exchange(served.http, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// An ApiVersions v0 request; its answer proves the Kafka listener is alive.
async fn kafka_alive(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0];
    stream.write_all(&request).await.expect("write");
    let length = tokio::time::timeout(Duration::from_secs(5), stream.read_i32())
        .await
        .expect("an answer")
        .expect("read");
    assert!(length > 6, "{length}");
}

#[tokio::test]
async fn hostile_kafka_frames_close_their_connection_and_nothing_else() {
    let served = served(short_limits()).await;
    // Metadata v0 declaring 2^31 - 1 topics: aborted the process before.
    let mut stream = TcpStream::connect(served.kafka).await.expect("connect");
    stream
        .write_all(&[
            0x00, 0x00, 0x00, 0x0e, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
            0x7f, 0xff, 0xff, 0xff,
        ])
        .await
        .expect("write");
    assert_eq!(read_to_close(&mut stream).await, Some(Vec::new()));
    // Produce v3 whose topic count is 2^31 - 1.
    let mut produce = vec![
        0, 3, 0, 3, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30,
    ];
    produce.extend_from_slice(&i32::MAX.to_be_bytes());
    let mut frame = (produce.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&produce);
    let mut stream = TcpStream::connect(served.kafka).await.expect("connect");
    stream.write_all(&frame).await.expect("write");
    assert_eq!(read_to_close(&mut stream).await, Some(Vec::new()));
    // A Metadata frame declaring 64 MiB is refused before its body is read.
    let mut stream = TcpStream::connect(served.kafka).await.expect("connect");
    stream
        .write_all(&[0x04, 0x00, 0x00, 0x00, 0x00, 0x03])
        .await
        .expect("write");
    assert_eq!(read_to_close(&mut stream).await, Some(Vec::new()));
    // A frame cut in the middle is closed after the body timeout.
    let mut stream = TcpStream::connect(served.kafka).await.expect("connect");
    stream
        .write_all(&[0x00, 0x00, 0x00, 0x40, 0x00, 0x03, 0x00, 0x00])
        .await
        .expect("write");
    assert_eq!(read_to_close(&mut stream).await, Some(Vec::new()));
    assert_eq!(
        stats(&served, true).body_timeouts.load(Ordering::Relaxed),
        1
    );
    // A size sent one byte, then nothing: the header timeout.
    let mut stream = TcpStream::connect(served.kafka).await.expect("connect");
    stream.write_all(&[0x00]).await.expect("write");
    assert_eq!(read_to_close(&mut stream).await, Some(Vec::new()));
    assert_eq!(
        stats(&served, true).header_timeouts.load(Ordering::Relaxed),
        1
    );
    // An idle connection is closed after the idle timeout.
    let mut stream = TcpStream::connect(served.kafka).await.expect("connect");
    assert_eq!(read_to_close(&mut stream).await, Some(Vec::new()));
    assert!(stats(&served, true).idle_timeouts.load(Ordering::Relaxed) >= 1);
    // Both listeners still serve.
    kafka_alive(served.kafka).await;
    let answer = http_exchange(served.http, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Every route that reads a body answers a body that stops coming the same way, and
/// every route that reads a query answers one that does not parse the same way: the
/// rejection is turned into the API's error in one place.
#[tokio::test]
async fn every_route_answers_slow_bodies_and_bad_queries_alike() {
    let served = served(short_limits()).await;
    let body_routes = [
        "POST /v1/topics",
        "PATCH /v1/topics/t",
        "POST /v1/topics/t/records",
        "POST /v1/producers",
        "POST /v1/groups/g/members",
        "POST /v1/groups/g/offsets",
        "POST /v1/groups/g/offsets/reset",
    ];
    let answers = futures::future::join_all(body_routes.iter().map(|route| {
        let request = format!(
            "{route} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"a\":"
        );
        async move { http_exchange(served.http, request.as_bytes()).await }
    }))
    .await;
    for (route, answer) in body_routes.iter().zip(answers) {
        assert!(answer.starts_with("HTTP/1.1 408"), "{route}: {answer}");
        assert!(
            answer.contains("\"error_code\":\"request_timeout\""),
            "{route}: {answer}"
        );
    }
    for route in [
        "GET /v1/topics/t/partitions/0/records?offset=x",
        "GET /v1/topics/t/partitions/0/stream?offset=-1",
        "GET /v1/groups/g/members/m/records?max_records=many",
        "POST /v1/admin/gc?grace_ms=soon",
    ] {
        let request = format!("{route} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n");
        let answer = http_exchange(served.http, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{route}: {answer}");
        assert!(
            answer.contains("\"error_code\":\"invalid_argument\""),
            "{route}: {answer}"
        );
    }
}
