//! The Kafka listener's SASL states at their edges, over a real socket with requests
//! encoded by the codec crate: a request before authenticating, an unknown mechanism,
//! SaslAuthenticate without a handshake, a wrong password, and a PLAIN login that then
//! may do only what its ACLs allow.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use silt_core::security::{SecurityRequest, User};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::limits::served_with;
use crate::GatewayConfig;
use crate::auth::AuthConfig;
use crate::auth::credentials::scram_credentials;

/// One connection, kept across requests.
struct Connection(TcpStream);

impl Connection {
    async fn open(addr: SocketAddr) -> Connection {
        Connection(TcpStream::connect(addr).await.expect("connect"))
    }

    /// Sends a request; answers its response, or `None` when the server closed instead.
    async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> Option<Resp> {
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = 5;
        header.client_id = Some(StrBytes::from_static_str("sasl-edges"));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(version))
            .expect("header");
        request.encode(&mut body, version).expect("request");
        self.0.write_i32(body.len() as i32).await.ok()?;
        self.0.write_all(&body).await.ok()?;
        let length = tokio::time::timeout(Duration::from_secs(5), self.0.read_i32())
            .await
            .expect("an answer or a close")
            .ok()?;
        let mut answer = vec![0u8; usize::try_from(length).expect("length")];
        self.0.read_exact(&mut answer).await.expect("read");
        let mut answer = bytes::Bytes::from(answer);
        assert_eq!(answer.get_i32(), 5, "correlation id");
        if api.response_header_version(version) >= 1 {
            assert_eq!(answer.get_u8(), 0, "no tagged fields");
        }
        Some(Resp::decode(&mut answer, version).expect("response"))
    }

    /// Whether the server closed the connection (a read sees its end).
    async fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.0.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

fn handshake(mechanism: &'static str) -> SaslHandshakeRequest {
    let mut request = SaslHandshakeRequest::default();
    request.mechanism = StrBytes::from_static_str(mechanism);
    request
}

fn plain(user: &str, password: &str) -> SaslAuthenticateRequest {
    let mut request = SaslAuthenticateRequest::default();
    request.auth_bytes = bytes::Bytes::from(format!("\0{user}\0{password}"));
    request
}

#[tokio::test]
async fn sasl_states_at_their_edges() {
    let served = served_with(GatewayConfig {
        auth: AuthConfig {
            enabled: true,
            ..AuthConfig::default()
        },
        ..GatewayConfig::default()
    })
    .await;
    served
        .state
        .coordinator
        .security(SecurityRequest::PutUser(User {
            name: "alice".into(),
            credentials: scram_credentials("alice-secret").expect("credentials"),
            created_ms: 0,
        }))
        .await
        .expect("user");
    served.state.security.refresh().await.expect("view");
    let addr = served.kafka;

    // Anything but ApiVersions and SASL before authenticating closes the connection.
    let mut early = Connection::open(addr).await;
    let answer: Option<MetadataResponse> = early
        .call(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert!(answer.is_none() || early.closed().await, "{answer:?}");

    // An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the ones served, and the
    // connection may try another.
    let mut connection = Connection::open(addr).await;
    let answer: SaslHandshakeResponse = connection
        .call(ApiKey::SaslHandshake, 1, &handshake("GSSAPI"))
        .await
        .expect("answer");
    assert_eq!(answer.error_code, 33);
    let served_mechanisms: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(
        served_mechanisms,
        ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    );
    let answer: SaslHandshakeResponse = connection
        .call(ApiKey::SaslHandshake, 1, &handshake("PLAIN"))
        .await
        .expect("answer");
    assert_eq!(answer.error_code, 0);
    // A wrong password: SASL_AUTHENTICATION_FAILED, then the connection closes.
    let answer: SaslAuthenticateResponse = connection
        .call(ApiKey::SaslAuthenticate, 2, &plain("alice", "alice-secreT"))
        .await
        .expect("answer");
    assert_eq!(answer.error_code, 58);
    assert!(connection.closed().await);

    // SaslAuthenticate without a handshake: ILLEGAL_SASL_STATE, then closed.
    let mut connection = Connection::open(addr).await;
    let answer: SaslAuthenticateResponse = connection
        .call(ApiKey::SaslAuthenticate, 0, &plain("alice", "alice-secret"))
        .await
        .expect("answer");
    assert_eq!(answer.error_code, 34);
    assert!(connection.closed().await);

    // A PLAIN login, then requests; a second handshake on an authenticated connection is
    // ILLEGAL_SASL_STATE. Without DESCRIBE on any topic, Metadata lists none.
    let mut connection = Connection::open(addr).await;
    let _: SaslHandshakeResponse = connection
        .call(ApiKey::SaslHandshake, 1, &handshake("PLAIN"))
        .await
        .expect("answer");
    let answer: SaslAuthenticateResponse = connection
        .call(ApiKey::SaslAuthenticate, 2, &plain("alice", "alice-secret"))
        .await
        .expect("answer");
    assert_eq!(answer.error_code, 0, "{:?}", answer.error_message);
    served
        .state
        .coordinator
        .create_topic(silt_core::coordinator::TopicConfig {
            name: "hidden".into(),
            partitions: 1,
            retention_ms: None,
            retention_bytes: None,
            value_schema: None,
            configs: Default::default(),
        })
        .await
        .expect("topic");
    let mut all = MetadataRequest::default();
    all.topics = None;
    let answer: MetadataResponse = connection
        .call(ApiKey::Metadata, 12, &all)
        .await
        .expect("answer");
    assert!(answer.topics.is_empty(), "{:?}", answer.topics);
    let answer: SaslHandshakeResponse = connection
        .call(ApiKey::SaslHandshake, 1, &handshake("PLAIN"))
        .await
        .expect("answer");
    assert_eq!(answer.error_code, 34);
}
