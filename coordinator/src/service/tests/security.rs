//! Users, API keys and ACLs in the coordinator: each change is stored, checked, shown
//! to gateways under a new view version, crosses the wire, and survives a restart and a
//! snapshot.

use std::sync::Arc;

use silt_core::Coordinator;
use silt_core::coordinator::CoordinatorError;
use silt_core::security::{
    AclBinding, AclFilter, ApiKey, Operation, PatternFilter, PatternType, Permission, ResourceType,
    ScramCredential, ScramMechanism, SecurityRequest, SecurityResponse, SecurityView, User,
};

use super::Backend;
use crate::RemoteCoordinator;

fn user(name: &str) -> User {
    User {
        name: name.into(),
        credentials: ScramMechanism::ALL
            .into_iter()
            .map(|mechanism| ScramCredential {
                mechanism,
                salt: "c2FsdA==".into(),
                iterations: 4096,
                stored_key: format!("stored-{name}-{}", mechanism.name()),
                server_key: format!("server-{name}"),
            })
            .collect(),
        created_ms: 7,
    }
}

fn acl(principal: &str, name: &str, operation: Operation) -> AclBinding {
    AclBinding {
        principal: principal.into(),
        host: "*".into(),
        resource_type: ResourceType::Topic,
        resource_name: name.into(),
        pattern_type: PatternType::Literal,
        operation,
        permission: Permission::Allow,
    }
}

async fn view(coordinator: &dyn Coordinator, known: Option<u64>) -> Option<SecurityView> {
    match coordinator
        .security(SecurityRequest::View {
            known_version: known,
        })
        .await
        .expect("view")
    {
        SecurityResponse::View(view) => view,
        other => panic!("{other:?}"),
    }
}

async fn change(coordinator: &dyn Coordinator, request: SecurityRequest) -> SecurityResponse {
    coordinator.security(request).await.expect("change")
}

pub(in crate::service) async fn users_keys_and_acls_are_kept_and_versioned(backend: Backend) {
    let service = backend.open().await;
    let local: Arc<dyn Coordinator> = service.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    let served = Arc::clone(&local);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, crate::http::router(served))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let remote = RemoteCoordinator::new(&format!("http://{address}"));
    let coordinator: &dyn Coordinator = &remote;

    let empty = view(coordinator, None).await.expect("a first view");
    assert!(empty.users.is_empty() && empty.acls.is_empty() && empty.api_keys.is_empty());
    assert_eq!(
        view(coordinator, Some(empty.version)).await,
        None,
        "unchanged"
    );

    change(coordinator, SecurityRequest::PutUser(user("alice"))).await;
    change(coordinator, SecurityRequest::PutUser(user("bob"))).await;
    let key = ApiKey {
        id: "k1".into(),
        principal: "User:alice".into(),
        secret_sha256: "ab".repeat(32),
        description: "ci".into(),
        created_ms: 5,
        expires_ms: Some(1_000),
        revoked_ms: None,
    };
    change(coordinator, SecurityRequest::CreateKey(key.clone())).await;
    let acls = vec![
        acl("User:alice", "orders", Operation::Read),
        acl("User:alice", "orders", Operation::Write),
        acl("User:bob", "orders", Operation::Read),
    ];
    change(coordinator, SecurityRequest::AddAcls(acls.clone())).await;
    // Adding one that is present changes nothing.
    change(coordinator, SecurityRequest::AddAcls(acls[..1].to_vec())).await;
    let seen = view(coordinator, Some(empty.version))
        .await
        .expect("changed");
    assert!(seen.version > empty.version);
    assert_eq!(seen.users, vec![user("alice"), user("bob")]);
    assert_eq!(seen.api_keys, vec![key.clone()]);
    assert_eq!(seen.acls.len(), 3);

    // Bad input changes nothing.
    for bad in [
        SecurityRequest::PutUser(User {
            name: "a:b".into(),
            ..user("x")
        }),
        SecurityRequest::PutUser(User {
            credentials: vec![ScramCredential {
                iterations: 1,
                ..user("x").credentials[0].clone()
            }],
            ..user("x")
        }),
        SecurityRequest::CreateKey(ApiKey {
            principal: "alice".into(),
            ..key.clone()
        }),
        SecurityRequest::AddAcls(vec![AclBinding {
            resource_type: ResourceType::Cluster,
            ..acl("User:a", "not-the-cluster", Operation::Alter)
        }]),
    ] {
        assert!(matches!(
            coordinator.security(bad).await,
            Err(CoordinatorError::InvalidArgument(_))
        ));
    }
    assert_eq!(view(coordinator, Some(seen.version)).await, None);

    // A filter removes exactly what it selects, and answers it.
    let removed = change(
        coordinator,
        SecurityRequest::RemoveAcls(AclFilter {
            principal: Some("User:alice".into()),
            resource_name: Some("orders".into()),
            pattern_type: Some(PatternFilter::Match),
            operation: Some(Operation::Write),
            ..AclFilter::default()
        }),
    )
    .await;
    assert_eq!(removed, SecurityResponse::Removed(vec![acls[1].clone()]));
    assert_eq!(
        change(
            coordinator,
            SecurityRequest::RevokeKey {
                id: "k1".into(),
                now_ms: 9
            }
        )
        .await,
        SecurityResponse::Existed(true)
    );
    assert_eq!(
        change(
            coordinator,
            SecurityRequest::RevokeKey {
                id: "k1".into(),
                now_ms: 10
            }
        )
        .await,
        SecurityResponse::Existed(false),
        "revoked once"
    );
    assert_eq!(
        change(
            coordinator,
            SecurityRequest::DeleteUser { name: "bob".into() }
        )
        .await,
        SecurityResponse::Existed(true)
    );
    let after = view(coordinator, None).await.expect("view");
    assert_eq!(after.users, vec![user("alice")]);
    assert_eq!(after.api_keys[0].revoked_ms, Some(9));
    assert_eq!(after.acls, vec![acls[0].clone(), acls[2].clone()]);

    // Kept across a restart and a snapshot (never the view's version).
    let snapshot = service.snapshot().await.expect("snapshot");
    drop(remote);
    let _ = stop.send(());
    server.await.expect("server").expect("served");
    drop((local, service));
    let reopened = backend.open().await;
    let again = view(reopened.as_ref(), None).await.expect("view");
    assert_eq!(
        (again.users, again.api_keys, again.acls),
        (
            after.users.clone(),
            after.api_keys.clone(),
            after.acls.clone()
        )
    );
    let restored = Backend::sqlite();
    let copy = restored.open().await;
    copy.restore(snapshot).await.expect("restore");
    let copied = view(copy.as_ref(), None).await.expect("view");
    assert_eq!(
        (copied.users, copied.api_keys, copied.acls),
        (after.users, after.api_keys, after.acls)
    );
}

#[tokio::test]
async fn the_coordinator_reaches_postgres_over_verified_tls() {
    let server = super::test_postgres::server();
    let ca = server
        .ca_file()
        .expect("the test server serves TLS (not with SILT_TEST_POSTGRES_URL)");
    let database = server.create_database();
    let url = server.url(&database);
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let (coordinator, _lost) = crate::open_postgres_with(&verified, 1000)
        .await
        .expect("a verified TLS connection");
    coordinator
        .create_topic(super::topic("over-tls", 1))
        .await
        .expect("create");
    let encrypted = server.psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = '{database}' AND a.application_name = 'silt-coordinator'
               AND s.ssl"
        ),
    );
    assert!(encrypted.parse::<u32>().expect("count") >= 1, "{encrypted}");
    drop(coordinator);
    // A CA that did not sign the server's certificate: refused, not downgraded.
    let untrusted = format!("{url}?sslmode=require&sslrootcert=/etc/ssl/certs/ca-certificates.crt");
    let refused = crate::open_postgres_with(&untrusted, 1000).await;
    assert!(refused.is_err(), "an unverified server was accepted");
}
