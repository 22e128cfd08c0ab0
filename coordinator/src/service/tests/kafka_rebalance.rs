//! Kafka groups' rebalances: a member that vanished, or a join that was abandoned,
//! holds a rebalance for its session timeout, never for the rebalance timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::coordinator::Coordinator;
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse};

use super::Backend;
use crate::CoordinatorService;

const NONE: i16 = 0;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

const GROUP: &str = "rebalancing";
/// Long enough that a test waiting for it would time out.
const REBALANCE_TIMEOUT_MS: u64 = 60_000;
/// The session timeout of members that die in these tests.
const SHORT_SESSION_MS: u64 = 500;
/// A join must be answered well within this, or it waited for the rebalance timeout.
const PROMPTLY: Duration = Duration::from_secs(8);

fn join_request(member_id: &str, session_timeout_ms: u64, require: bool) -> KafkaGroupRequest {
    KafkaGroupRequest::Join {
        group: GROUP.into(),
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), vec![0, 1])],
        session_timeout_ms,
        rebalance_timeout_ms: REBALANCE_TIMEOUT_MS,
        require_member_id: require,
        client_id: "test".into(),
        client_host: String::new(),
        group_instance_id: None,
        skip_assignment_supported: false,
    }
}

/// A JoinGroup's answer: (error code, generation, member id, leader, members the
/// leader was told of).
struct Joined {
    error_code: i16,
    generation: i32,
    member_id: String,
    leader: String,
    members: Vec<String>,
}

async fn join(
    coordinator: &Arc<CoordinatorService>,
    member_id: &str,
    session_timeout_ms: u64,
    require: bool,
) -> Joined {
    let call = coordinator.kafka_group(join_request(member_id, session_timeout_ms, require));
    let answer = tokio::time::timeout(PROMPTLY, call)
        .await
        .expect("the join was not answered promptly: it waited for the rebalance timeout")
        .expect("join");
    let KafkaGroupResponse::Joined {
        error_code,
        generation,
        member_id,
        leader,
        members,
        ..
    } = answer
    else {
        panic!("{answer:?}");
    };
    Joined {
        error_code,
        generation,
        member_id,
        leader,
        members: members.into_iter().map(|(id, _)| id).collect(),
    }
}

async fn sync(coordinator: &Arc<CoordinatorService>, joined: &Joined) {
    let assignments = joined
        .members
        .iter()
        .map(|id| (id.clone(), b"assignment".to_vec()))
        .collect();
    let synced = coordinator
        .kafka_group(KafkaGroupRequest::Sync {
            group: GROUP.into(),
            member_id: joined.member_id.clone(),
            generation: joined.generation,
            assignments,
            group_instance_id: None,
        })
        .await
        .expect("sync");
    assert!(
        matches!(
            synced,
            KafkaGroupResponse::Synced {
                error_code: NONE,
                ..
            }
        ),
        "{synced:?}"
    );
}

async fn heartbeat(coordinator: &Arc<CoordinatorService>, member: &Joined) -> i16 {
    match coordinator
        .kafka_group(KafkaGroupRequest::Heartbeat {
            group: GROUP.into(),
            member_id: member.member_id.clone(),
            generation: member.generation,
            group_instance_id: None,
        })
        .await
        .expect("heartbeat")
    {
        KafkaGroupResponse::Done { error_code } => error_code,
        other => panic!("{other:?}"),
    }
}

/// A member joins and leads a stable group of its own, then dies (never heartbeats
/// or leaves); another joins before the dead one's session ran out. The rebalance
/// completes once the dead member's session times out, without it.
pub(in crate::service) async fn a_dead_member_holds_a_rebalance_only_for_its_session(
    backend: Backend,
) {
    let coordinator = backend.open().await;
    let dead = join(&coordinator, "", SHORT_SESSION_MS, false).await;
    assert_eq!(dead.error_code, NONE);
    sync(&coordinator, &dead).await;

    let started = Instant::now();
    let newcomer = join(&coordinator, "", 10_000, false).await;
    let waited = started.elapsed();
    assert_eq!(newcomer.error_code, NONE);
    assert_eq!(newcomer.generation, dead.generation + 1);
    assert_eq!(
        newcomer.leader, newcomer.member_id,
        "the dead leader is gone"
    );
    assert_eq!(newcomer.members, std::slice::from_ref(&newcomer.member_id));
    assert!(
        waited < Duration::from_millis(SHORT_SESSION_MS) + Duration::from_secs(3),
        "the join waited {waited:?}"
    );
    // The dead member is out of the group.
    assert_eq!(heartbeat(&coordinator, &dead).await, UNKNOWN_MEMBER_ID);
}

/// A join whose request is gone (the client gave up, or its gateway went away) keeps
/// its member only for its session timeout, even though it had joined: the rebalance
/// it was part of completes without it.
pub(in crate::service) async fn an_abandoned_join_is_dropped_after_its_session(backend: Backend) {
    let coordinator = backend.open().await;
    // The abandoned join's session runs out first: the rebalance must not complete
    // with it as a member once the dead one is gone.
    let dead = join(&coordinator, "", 3 * SHORT_SESSION_MS, false).await;
    sync(&coordinator, &dead).await;
    // A new member's join starts a rebalance; its client gives up at once.
    let abandoned = tokio::spawn({
        let coordinator = Arc::clone(&coordinator);
        async move {
            coordinator
                .kafka_group(join_request("", SHORT_SESSION_MS, false))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    abandoned.abort();
    let _ = abandoned.await;

    let newcomer = join(&coordinator, "", 10_000, false).await;
    assert_eq!(newcomer.error_code, NONE);
    assert_eq!(
        newcomer.members,
        std::slice::from_ref(&newcomer.member_id),
        "neither the dead member nor the abandoned join is in the generation"
    );
}

/// JoinGroup v4+: a new member is handed its id with MEMBER_ID_REQUIRED. One that never
/// comes back with it holds the group's rebalance only until its session runs out, and
/// is then forgotten; one that comes back joins.
pub(in crate::service) async fn a_new_member_that_never_returns_is_forgotten(backend: Backend) {
    let coordinator = backend.open().await;
    let first = join(&coordinator, "", 10_000, true).await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    assert!(!first.member_id.is_empty());
    let steady = join(&coordinator, &first.member_id, 10_000, true).await;
    assert_eq!(steady.error_code, NONE);
    assert_eq!(steady.member_id, first.member_id);
    sync(&coordinator, &steady).await;

    // A member is handed its id and never comes back.
    let gone = join(&coordinator, "", SHORT_SESSION_MS, true).await;
    assert_eq!(gone.error_code, MEMBER_ID_REQUIRED);
    // Another comes back with its id, which starts a rebalance.
    let given = join(&coordinator, "", 10_000, true).await;
    assert_eq!(given.error_code, MEMBER_ID_REQUIRED);
    let started = Instant::now();
    let newcomer = tokio::spawn({
        let coordinator = Arc::clone(&coordinator);
        let id = given.member_id.clone();
        async move { join(&coordinator, &id, 10_000, true).await }
    });
    // The steady member learns of the rebalance from its heartbeat and joins again.
    let deadline = Instant::now() + PROMPTLY;
    while heartbeat(&coordinator, &steady).await != REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "no rebalance started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rejoined = join(&coordinator, &steady.member_id, 10_000, true).await;
    let newcomer = newcomer.await.expect("newcomer");
    let waited = started.elapsed();
    assert_eq!((rejoined.error_code, newcomer.error_code), (NONE, NONE));
    assert_eq!(rejoined.generation, steady.generation + 1);
    let mut expected = vec![steady.member_id.clone(), given.member_id.clone()];
    expected.sort();
    let leader = if rejoined.leader == rejoined.member_id {
        &rejoined
    } else {
        &newcomer
    };
    assert_eq!(
        leader.members, expected,
        "the forgotten member is not in it"
    );
    assert!(
        waited < Duration::from_millis(SHORT_SESSION_MS) + Duration::from_secs(3),
        "the rebalance waited {waited:?}"
    );
    // Too late: its id is forgotten.
    let late = join(&coordinator, &gone.member_id, SHORT_SESSION_MS, true).await;
    assert_eq!(late.error_code, UNKNOWN_MEMBER_ID);
}
