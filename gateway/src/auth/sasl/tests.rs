//! Whole exchanges against rsasl's client, over a real coordinator's view.

use std::io::Cursor;
use std::sync::Arc;

use rsasl::mechname::Mechname;
use rsasl::prelude::{SASLClient, SASLConfig};
use silt_core::Coordinator;
use silt_core::security::{SecurityRequest, User};

use super::{Exchange, Step};
use crate::auth::credentials::scram_credentials;
use crate::auth::{AuthConfig, Security};

async fn security() -> (Arc<Security>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator: Arc<dyn Coordinator> =
        silt_coordinator::open_sqlite(&dir.path().join("meta.db"))
            .await
            .expect("coordinator");
    coordinator
        .security(SecurityRequest::PutUser(User {
            name: "alice".into(),
            credentials: scram_credentials("alice-secret").expect("credentials"),
            created_ms: 0,
        }))
        .await
        .expect("user");
    let config = AuthConfig {
        enabled: true,
        ..AuthConfig::default()
    };
    let security = Security::new(config, coordinator);
    security.refresh().await.expect("view");
    (security, dir)
}

/// Runs `mechanism` between rsasl's client (as `user` with `password`) and an
/// [`Exchange`]; answers the server's last step.
fn exchange(security: &Arc<Security>, mechanism: &str, user: &str, password: &str) -> Step {
    let config = SASLConfig::with_credentials(None, user.into(), password.into()).expect("config");
    let name = Mechname::parse(mechanism.as_bytes()).expect("name");
    let mut client = SASLClient::new(config)
        .start_suggested(&[name])
        .expect("client");
    let mut server = Exchange::start(security, mechanism).expect("mechanism");
    let mut input: Option<Vec<u8>> = None;
    for _ in 0..4 {
        let mut out = Cursor::new(Vec::new());
        if client.step(input.as_deref(), &mut out).is_err() {
            return Step::Failed("the client gave up".into());
        }
        match server.step(out.get_ref()) {
            Step::Continue(bytes) => input = Some(bytes),
            done => return done,
        }
    }
    panic!("{mechanism} did not finish");
}

#[tokio::test]
async fn plain_and_scram_prove_a_password_and_refuse_a_wrong_one() {
    let (security, _dir) = security().await;
    for mechanism in super::MECHANISMS {
        match exchange(&security, mechanism, "alice", "alice-secret") {
            Step::Done { principal, .. } => assert_eq!(principal, "User:alice", "{mechanism}"),
            other => panic!("{mechanism}: {other:?}"),
        }
        assert!(
            matches!(
                exchange(&security, mechanism, "alice", "alice-secreT"),
                Step::Failed(_)
            ),
            "{mechanism} with a wrong password"
        );
        assert!(
            matches!(
                exchange(&security, mechanism, "mallory", "alice-secret"),
                Step::Failed(_)
            ),
            "{mechanism} for an unknown user"
        );
    }
    assert!(Exchange::start(&security, "GSSAPI").is_none());
}

#[tokio::test]
async fn plain_may_not_act_for_another_user_and_garbage_fails_cleanly() {
    let (security, _dir) = security().await;
    let mut plain = Exchange::start(&security, "PLAIN").expect("plain");
    assert!(matches!(
        plain.step(b"bob\0alice\0alice-secret"),
        Step::Failed(_)
    ));
    let mut plain = Exchange::start(&security, "PLAIN").expect("plain");
    assert!(matches!(
        plain.step(b"alice\0alice\0alice-secret"),
        Step::Done { .. }
    ));
    for garbage in [&b""[..], b"\0", b"\xff\xfe\0\0", &[0u8; 5000][..]] {
        let mut plain = Exchange::start(&security, "PLAIN").expect("plain");
        assert!(
            matches!(plain.step(garbage), Step::Failed(_)),
            "{garbage:?}"
        );
        let mut scram = Exchange::start(&security, "SCRAM-SHA-512").expect("scram");
        assert!(
            !matches!(scram.step(garbage), Step::Done { .. }),
            "{garbage:?}"
        );
    }
}
