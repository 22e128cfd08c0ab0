//! Kafka static membership (KIP-345): a member that joins again under its
//! `group.instance.id` takes its old place without a rebalance, the process it
//! replaced is fenced, a static member that went away holds its place for its session,
//! and LeaveGroup answers each member of a batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_core::coordinator::Coordinator;
use silt_core::groups::{KafkaGroupRequest, KafkaGroupResponse, LeavingMember};

use super::Backend;
use crate::CoordinatorService;

const NONE: i16 = 0;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const INVALID_REQUEST: i16 = 42;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;

/// A join must be answered well within this, or it waited for a rebalance timeout.
const PROMPTLY: Duration = Duration::from_secs(8);

/// ConsumerProtocolSubscription v0 of `topics`.
fn subscription(topics: &[&str]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for topic in topics {
        out.extend_from_slice(&(topic.len() as i16).to_be_bytes());
        out.extend_from_slice(topic.as_bytes());
    }
    out.extend_from_slice(&(-1_i32).to_be_bytes());
    out
}

/// One JoinGroup: who joins, and how.
#[derive(Clone)]
struct Join {
    group: &'static str,
    member_id: String,
    instance: Option<&'static str>,
    topics: &'static [&'static str],
    session_ms: u64,
    rebalance_ms: u64,
    skip_assignment_supported: bool,
}

impl Join {
    fn new(group: &'static str, instance: Option<&'static str>) -> Join {
        Join {
            group,
            member_id: String::new(),
            instance,
            topics: &["orders"],
            session_ms: 10_000,
            rebalance_ms: 60_000,
            skip_assignment_supported: false,
        }
    }

    fn request(&self) -> KafkaGroupRequest {
        KafkaGroupRequest::Join {
            group: self.group.into(),
            member_id: self.member_id.clone(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(self.topics))],
            session_timeout_ms: self.session_ms,
            rebalance_timeout_ms: self.rebalance_ms,
            require_member_id: true,
            client_id: "rdkafka".into(),
            client_host: "/127.0.0.1".into(),
            group_instance_id: self.instance.map(str::to_owned),
            skip_assignment_supported: self.skip_assignment_supported,
        }
    }
}

/// A JoinGroup's answer.
#[derive(Debug, Clone)]
struct Joined {
    error_code: i16,
    generation: i32,
    member_id: String,
    leader: String,
    /// The members the leader was told of, with their instance ids.
    members: Vec<(String, Option<String>)>,
    skip_assignment: bool,
}

async fn join(coordinator: &Arc<CoordinatorService>, join: &Join) -> Joined {
    let call = coordinator.kafka_group(join.request());
    let answer = tokio::time::timeout(PROMPTLY, call)
        .await
        .expect("the join was not answered promptly")
        .expect("join");
    let KafkaGroupResponse::Joined {
        error_code,
        generation,
        member_id,
        leader,
        members,
        instances,
        skip_assignment,
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
        members: members
            .into_iter()
            .map(|(id, _)| {
                let instance = instances
                    .iter()
                    .find(|(member, _)| *member == id)
                    .map(|(_, instance)| instance.clone());
                (id, instance)
            })
            .collect(),
        skip_assignment,
    }
}

/// Joins a member in the background (its join waits for the rebalance).
fn join_later(
    coordinator: &Arc<CoordinatorService>,
    request: Join,
) -> tokio::task::JoinHandle<Joined> {
    let coordinator = Arc::clone(coordinator);
    tokio::spawn(async move { join(&coordinator, &request).await })
}

/// SyncGroup; the leader hands each member `"<member id>'s"` as its assignment.
async fn sync(
    coordinator: &Arc<CoordinatorService>,
    group: &str,
    member: &Joined,
    instance: Option<&str>,
) -> (i16, Vec<u8>) {
    let assignments = member
        .members
        .iter()
        .map(|(id, _)| (id.clone(), format!("{id}'s").into_bytes()))
        .collect();
    let call = coordinator.kafka_group(KafkaGroupRequest::Sync {
        group: group.into(),
        member_id: member.member_id.clone(),
        generation: member.generation,
        assignments,
        group_instance_id: instance.map(str::to_owned),
    });
    match tokio::time::timeout(PROMPTLY, call)
        .await
        .expect("the sync was not answered promptly")
        .expect("sync")
    {
        KafkaGroupResponse::Synced {
            error_code,
            assignment,
            ..
        } => (error_code, assignment),
        other => panic!("{other:?}"),
    }
}

async fn heartbeat(
    coordinator: &Arc<CoordinatorService>,
    group: &str,
    member: &Joined,
    instance: Option<&str>,
) -> i16 {
    done(
        coordinator
            .kafka_group(KafkaGroupRequest::Heartbeat {
                group: group.into(),
                member_id: member.member_id.clone(),
                generation: member.generation,
                group_instance_id: instance.map(str::to_owned),
            })
            .await,
    )
}

async fn commit(
    coordinator: &Arc<CoordinatorService>,
    group: &str,
    member: &Joined,
    instance: Option<&str>,
) -> i16 {
    done(
        coordinator
            .kafka_group(KafkaGroupRequest::Commit {
                group: group.into(),
                member_id: member.member_id.clone(),
                generation: member.generation,
                // No partitions: only the member is checked.
                offsets: Vec::new(),
                group_instance_id: instance.map(str::to_owned),
            })
            .await,
    )
}

fn done(answer: Result<KafkaGroupResponse, silt_core::coordinator::CoordinatorError>) -> i16 {
    match answer.expect("group call") {
        KafkaGroupResponse::Done { error_code } => error_code,
        other => panic!("{other:?}"),
    }
}

async fn leave(
    coordinator: &Arc<CoordinatorService>,
    group: &str,
    members: &[(&str, Option<&str>)],
) -> Vec<i16> {
    let members = members
        .iter()
        .map(|(member_id, instance)| LeavingMember {
            member_id: (*member_id).to_owned(),
            group_instance_id: instance.map(str::to_owned),
        })
        .collect();
    match coordinator
        .kafka_group(KafkaGroupRequest::Leave {
            group: group.into(),
            member_ids: Vec::new(),
            members,
        })
        .await
        .expect("leave")
    {
        KafkaGroupResponse::Left { members } => members,
        other => panic!("{other:?}"),
    }
}

/// Static members `a` and `b` (and optionally a dynamic one) in a stable group of the
/// first generation; each synced, with its assignment.
async fn stable_pair(coordinator: &Arc<CoordinatorService>, group: &'static str) -> [Joined; 2] {
    let a = join_later(coordinator, Join::new(group, Some("a")));
    let b = join_later(coordinator, Join::new(group, Some("b")));
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    assert_eq!((a.error_code, b.error_code), (NONE, NONE), "{a:?} {b:?}");
    assert_eq!(a.generation, b.generation);
    assert!(
        a.member_id.starts_with("a-"),
        "named after its instance: {a:?}"
    );
    assert_eq!(a.leader, a.member_id, "the first member id leads");
    assert_eq!(
        a.members,
        vec![
            (a.member_id.clone(), Some("a".to_owned())),
            (b.member_id.clone(), Some("b".to_owned())),
        ],
        "the leader learns the instance ids"
    );
    let (a_synced, b_synced) = tokio::join!(
        sync(coordinator, group, &a, Some("a")),
        sync(coordinator, group, &b, Some("b"))
    );
    assert_eq!(a_synced, (NONE, format!("{}'s", a.member_id).into_bytes()));
    assert_eq!(b_synced, (NONE, format!("{}'s", b.member_id).into_bytes()));
    [a, b]
}

/// A static member restarts (joins again with an empty member id): it gets a new
/// member id and its old assignment in the same generation, the other member sees no
/// rebalance, and the process it replaced is fenced everywhere it names its old id.
pub(in crate::service) async fn a_static_member_rejoins_without_a_rebalance(backend: Backend) {
    const GROUP: &str = "static-rejoin";
    let coordinator = backend.open().await;
    let [a, b] = stable_pair(&coordinator, GROUP).await;

    let again = join(&coordinator, &Join::new(GROUP, Some("a"))).await;
    assert_eq!(again.error_code, NONE, "{again:?}");
    assert_eq!(again.generation, a.generation, "no new generation");
    assert_ne!(again.member_id, a.member_id);
    assert!(again.member_id.starts_with("a-"));
    // Before v9, the leader that rejoined is told of its old id so that it follows.
    assert_eq!(again.leader, a.member_id);
    assert!(again.members.is_empty() && !again.skip_assignment);
    assert_eq!(
        sync(&coordinator, GROUP, &again, Some("a")).await,
        (NONE, format!("{}'s", a.member_id).into_bytes()),
        "it keeps the assignment its instance had"
    );
    assert_eq!(heartbeat(&coordinator, GROUP, &b, Some("b")).await, NONE);
    assert_eq!(
        heartbeat(&coordinator, GROUP, &again, Some("a")).await,
        NONE
    );

    // The replaced process is fenced wherever it names its instance.
    assert_eq!(
        heartbeat(&coordinator, GROUP, &a, Some("a")).await,
        FENCED_INSTANCE_ID
    );
    assert_eq!(
        sync(&coordinator, GROUP, &a, Some("a")).await.0,
        FENCED_INSTANCE_ID
    );
    assert_eq!(
        commit(&coordinator, GROUP, &a, Some("a")).await,
        FENCED_INSTANCE_ID
    );
    let stale = Join {
        member_id: a.member_id.clone(),
        ..Join::new(GROUP, Some("a"))
    };
    assert_eq!(
        join(&coordinator, &stale).await.error_code,
        FENCED_INSTANCE_ID
    );
    // Without its instance id it is merely unknown; an instance the group never had
    // is unknown too.
    assert_eq!(
        heartbeat(&coordinator, GROUP, &a, None).await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        heartbeat(&coordinator, GROUP, &b, Some("z")).await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(commit(&coordinator, GROUP, &again, Some("a")).await, NONE);

    // JoinGroup v9: the leader is told it leads, with the members, and to skip the
    // assignment.
    let v9 = Join {
        skip_assignment_supported: true,
        ..Join::new(GROUP, Some("a"))
    };
    let third = join(&coordinator, &v9).await;
    assert_eq!((third.error_code, third.generation), (NONE, a.generation));
    assert_eq!(third.leader, third.member_id);
    assert!(third.skip_assignment);
    assert_eq!(
        third.members,
        vec![
            (third.member_id.clone(), Some("a".to_owned())),
            (b.member_id.clone(), Some("b".to_owned())),
        ]
    );
    // A follower is not told to skip anything.
    let b_again = join(
        &coordinator,
        &Join {
            skip_assignment_supported: true,
            ..Join::new(GROUP, Some("b"))
        },
    )
    .await;
    assert_eq!(b_again.leader, third.member_id);
    assert!(!b_again.skip_assignment && b_again.members.is_empty());
    assert_eq!(
        sync(&coordinator, GROUP, &b_again, Some("b")).await,
        (NONE, format!("{}'s", b.member_id).into_bytes())
    );

    // DescribeGroups shows the instance ids.
    let KafkaGroupResponse::Described {
        state, instances, ..
    } = coordinator
        .kafka_group(KafkaGroupRequest::Describe {
            group: GROUP.into(),
        })
        .await
        .expect("describe")
    else {
        panic!("not described");
    };
    assert_eq!(state, "Stable");
    let mut expected = vec![
        (third.member_id.clone(), "a".to_owned()),
        (b_again.member_id.clone(), "b".to_owned()),
    ];
    expected.sort();
    assert_eq!(instances, expected);

    // A restart with another subscription rebalances, so the assignment fits it.
    let changed = join_later(
        &coordinator,
        Join {
            topics: &["orders", "refunds"],
            ..Join::new(GROUP, Some("a"))
        },
    );
    let deadline = Instant::now() + PROMPTLY;
    while heartbeat(&coordinator, GROUP, &b_again, Some("b")).await != REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "no rebalance started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b_rejoined = join(
        &coordinator,
        &Join {
            member_id: b_again.member_id.clone(),
            ..Join::new(GROUP, Some("b"))
        },
    )
    .await;
    let changed = changed.await.expect("changed");
    assert_eq!((changed.error_code, b_rejoined.error_code), (NONE, NONE));
    assert_eq!(changed.generation, a.generation + 1);
}

/// A static member that goes away without leaving stays a member for its session
/// timeout, then is removed and the group rebalances without it; its instance id
/// then joins as a new member.
pub(in crate::service) async fn a_gone_static_member_is_removed_after_its_session(
    backend: Backend,
) {
    const GROUP: &str = "static-gone";
    let coordinator = backend.open().await;
    let short = Join {
        session_ms: 600,
        rebalance_ms: 600,
        ..Join::new(GROUP, Some("a"))
    };
    let a = join_later(&coordinator, short);
    let b = join_later(&coordinator, Join::new(GROUP, None));
    // A dynamic member is first handed its id.
    let b_id = b.await.expect("b");
    assert_eq!(b_id.error_code, MEMBER_ID_REQUIRED);
    let b = join(
        &coordinator,
        &Join {
            member_id: b_id.member_id.clone(),
            ..Join::new(GROUP, None)
        },
    )
    .await;
    let a = a.await.expect("a");
    assert_eq!((a.error_code, b.error_code), (NONE, NONE), "{a:?} {b:?}");
    assert_eq!(a.generation, b.generation);
    let leader = if a.leader == a.member_id { &a } else { &b };
    let follower = if a.leader == a.member_id { &b } else { &a };
    let follower_instance = follower.member_id.starts_with("a-").then_some("a");
    let leader_instance = leader.member_id.starts_with("a-").then_some("a");
    let _ = tokio::join!(
        sync(&coordinator, GROUP, leader, leader_instance),
        sync(&coordinator, GROUP, follower, follower_instance)
    );

    // `a` goes away. Within its session the group is as it was.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(heartbeat(&coordinator, GROUP, &b, None).await, NONE);
    let started = Instant::now();
    while heartbeat(&coordinator, GROUP, &b, None).await != REBALANCE_IN_PROGRESS {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the gone static member was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alone = join(
        &coordinator,
        &Join {
            member_id: b.member_id.clone(),
            ..Join::new(GROUP, None)
        },
    )
    .await;
    assert_eq!(alone.error_code, NONE);
    assert_eq!(alone.members, vec![(b.member_id.clone(), None)]);
    assert_eq!(
        heartbeat(&coordinator, GROUP, &a, Some("a")).await,
        UNKNOWN_MEMBER_ID,
        "its instance id is forgotten"
    );
}

/// A rebalance that times out keeps a static member that did not join again (alive,
/// heartbeating, but busy), as Kafka does; a dynamic member in the same place is
/// removed.
pub(in crate::service) async fn a_rebalance_keeps_static_members_that_did_not_join(
    backend: Backend,
) {
    const GROUP: &str = "static-busy";
    let coordinator = backend.open().await;
    let quick = |instance| Join {
        session_ms: 400,
        rebalance_ms: 400,
        ..Join::new(GROUP, instance)
    };
    let busy_static = join_later(&coordinator, quick(Some("busy")));
    let busy_dynamic_id = join(&coordinator, &quick(None)).await;
    let busy_dynamic = join(
        &coordinator,
        &Join {
            member_id: busy_dynamic_id.member_id,
            ..quick(None)
        },
    )
    .await;
    let busy_static = busy_static.await.expect("busy static");
    assert_eq!(busy_static.generation, busy_dynamic.generation);

    // A newcomer starts a rebalance that neither busy member joins; both keep their
    // sessions with heartbeats.
    let newcomer = join_later(&coordinator, quick(Some("new")));
    let started = Instant::now();
    let mut answers = Vec::new();
    while !newcomer.is_finished() {
        answers.push(heartbeat(&coordinator, GROUP, &busy_static, Some("busy")).await);
        heartbeat(&coordinator, GROUP, &busy_dynamic, None).await;
        assert!(
            started.elapsed() < PROMPTLY,
            "the rebalance never completed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answers.contains(&REBALANCE_IN_PROGRESS), "{answers:?}");
    let newcomer = newcomer.await.expect("newcomer");
    assert_eq!(newcomer.error_code, NONE);
    assert_eq!(newcomer.generation, busy_static.generation + 1);
    assert_eq!(
        newcomer.leader, newcomer.member_id,
        "a member that joined leads"
    );
    let mut expected = vec![
        (busy_static.member_id.clone(), Some("busy".to_owned())),
        (newcomer.member_id.clone(), Some("new".to_owned())),
    ];
    expected.sort();
    assert_eq!(
        newcomer.members, expected,
        "the static member stays, the dynamic one is out"
    );
    assert_eq!(
        heartbeat(&coordinator, GROUP, &busy_static, Some("busy")).await,
        ILLEGAL_GENERATION,
        "the busy static member is in the group, a generation behind"
    );
    assert_eq!(
        heartbeat(&coordinator, GROUP, &busy_dynamic, None).await,
        UNKNOWN_MEMBER_ID
    );
}

/// LeaveGroup v3+: each member of a batch is answered on its own; by instance id alone
/// (an administrator's removal), by member id and instance id, a replaced member id
/// (fenced), an unknown member or instance id, an empty instance id.
pub(in crate::service) async fn leave_group_answers_each_member(backend: Backend) {
    const GROUP: &str = "static-leave";
    let coordinator = backend.open().await;
    let [a, b] = stable_pair(&coordinator, GROUP).await;
    let a_again = join(&coordinator, &Join::new(GROUP, Some("a"))).await;
    assert_eq!(a_again.error_code, NONE);

    let codes = leave(
        &coordinator,
        GROUP,
        &[
            (&a.member_id, Some("a")),
            ("", Some("nobody")),
            ("not-a-member", None),
            ("", Some("")),
            ("", None),
            (&b.member_id, Some("b")),
        ],
    )
    .await;
    assert_eq!(
        codes,
        vec![
            FENCED_INSTANCE_ID,
            UNKNOWN_MEMBER_ID,
            UNKNOWN_MEMBER_ID,
            UNKNOWN_MEMBER_ID,
            UNKNOWN_MEMBER_ID,
            NONE
        ]
    );
    assert_eq!(
        heartbeat(&coordinator, GROUP, &a_again, Some("a")).await,
        REBALANCE_IN_PROGRESS,
        "the group rebalances without b"
    );
    assert_eq!(
        leave(&coordinator, GROUP, &[("", Some("a"))]).await,
        vec![NONE]
    );
    assert_eq!(
        heartbeat(&coordinator, GROUP, &a_again, Some("a")).await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        leave(
            &coordinator,
            "no-such-group",
            &[("", Some("a")), ("x", None)]
        )
        .await,
        vec![UNKNOWN_MEMBER_ID, UNKNOWN_MEMBER_ID]
    );
}

/// An empty instance id is refused (Kafka's clients refuse to send one); a member that
/// leaves during a rebalance does not restart it, so the members that joined are not
/// held until the rebalance timeout.
pub(in crate::service) async fn empty_instance_ids_and_a_leave_during_a_rebalance(
    backend: Backend,
) {
    const GROUP: &str = "static-edges";
    let coordinator = backend.open().await;
    let empty = join(&coordinator, &Join::new(GROUP, Some(""))).await;
    assert_eq!(empty.error_code, INVALID_REQUEST);

    let [a, b] = stable_pair(&coordinator, GROUP).await;
    assert_eq!(
        heartbeat(&coordinator, GROUP, &a, Some("")).await,
        UNKNOWN_MEMBER_ID
    );
    // A newcomer starts a rebalance and waits in it; `b` leaves; `a` joins again. The
    // rebalance completes at once with `a` and the newcomer.
    let newcomer = join_later(&coordinator, Join::new(GROUP, Some("c")));
    let deadline = Instant::now() + PROMPTLY;
    while heartbeat(&coordinator, GROUP, &a, Some("a")).await != REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "no rebalance started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        leave(&coordinator, GROUP, &[(&b.member_id, Some("b"))]).await,
        vec![NONE]
    );
    let rejoined = join(
        &coordinator,
        &Join {
            member_id: a.member_id.clone(),
            ..Join::new(GROUP, Some("a"))
        },
    )
    .await;
    let newcomer = newcomer.await.expect("newcomer");
    assert_eq!((rejoined.error_code, newcomer.error_code), (NONE, NONE));
    assert_eq!(rejoined.generation, a.generation + 1);
    assert_eq!(rejoined.member_id, a.member_id, "it kept its member id");
}
