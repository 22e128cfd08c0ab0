//! Static membership through the gateway's Kafka listener, at each version the codec
//! encodes: an instance id goes to the coordinator from JoinGroup v5, and answers carry
//! instance ids and `skip_assignment` only in the versions that have them (a field a
//! version lacks would fail the encoding and close the connection).

use kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, GroupId, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, SyncGroupRequest, SyncGroupResponse, join_group_request,
    leave_group_request,
};
use kafka_protocol::protocol::StrBytes;

use super::kafka_edges::call;
use super::limits::{served, short_limits};

fn text(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

fn join_request(member_id: &str, instance: Option<&'static str>) -> JoinGroupRequest {
    let mut protocol = join_group_request::JoinGroupRequestProtocol::default();
    protocol.name = text("range");
    // ConsumerProtocolSubscription v0 of topic "t".
    protocol.metadata =
        bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 255, 255, 255, 255]);
    let mut request = JoinGroupRequest::default();
    request.group_id = GroupId(text("statics"));
    request.session_timeout_ms = 10_000;
    request.rebalance_timeout_ms = 10_000;
    request.member_id = StrBytes::from_string(member_id.to_owned());
    request.group_instance_id = instance.map(text);
    request.protocol_type = text("consumer");
    request.protocols = vec![protocol];
    request
}

#[tokio::test]
async fn instance_ids_cross_the_listener_in_the_versions_that_have_them() {
    let served = served(short_limits()).await;
    let kafka = served.kafka;

    // v4 has no instance id: a new member is handed its id first.
    let v4: JoinGroupResponse = call(kafka, ApiKey::JoinGroup, 4, &join_request("", None)).await;
    assert_eq!(v4.error_code, 79, "MEMBER_ID_REQUIRED");
    // Leave it, so that the group does not wait for it.
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = GroupId(text("statics"));
    leave.member_id = v4.member_id.clone();
    let left: LeaveGroupResponse = call(kafka, ApiKey::LeaveGroup, 2, &leave).await;
    assert_eq!(left.error_code, 0);
    assert!(left.members.is_empty());

    // v9, static: joins at once, leads, and learns the instance ids.
    let joined: JoinGroupResponse =
        call(kafka, ApiKey::JoinGroup, 9, &join_request("", Some("s1"))).await;
    assert_eq!(joined.error_code, 0);
    assert!(joined.member_id.as_str().starts_with("s1-"));
    assert_eq!(joined.leader, joined.member_id);
    assert!(
        !joined.skip_assignment,
        "a first join computes the assignment"
    );
    assert_eq!(joined.members.len(), 1);
    assert_eq!(joined.members[0].group_instance_id, Some(text("s1")));
    let mut sync = SyncGroupRequest::default();
    sync.group_id = GroupId(text("statics"));
    sync.generation_id = joined.generation_id;
    sync.member_id = joined.member_id.clone();
    sync.group_instance_id = Some(text("s1"));
    let synced: SyncGroupResponse = call(kafka, ApiKey::SyncGroup, 5, &sync).await;
    assert_eq!(synced.error_code, 0);

    // It restarts, speaking v9: told it leads and to skip the assignment.
    let again: JoinGroupResponse =
        call(kafka, ApiKey::JoinGroup, 9, &join_request("", Some("s1"))).await;
    assert_eq!(
        (again.error_code, again.generation_id),
        (0, joined.generation_id)
    );
    assert!(again.skip_assignment);
    assert_eq!(again.leader, again.member_id);
    // And once more, speaking v5: told of the old leader, so that it follows.
    let v5: JoinGroupResponse =
        call(kafka, ApiKey::JoinGroup, 5, &join_request("", Some("s1"))).await;
    assert_eq!(v5.error_code, 0);
    assert_eq!(v5.leader, again.member_id);
    assert!(v5.members.is_empty());
    // A SyncGroup v3 of the replaced member id is fenced.
    sync.member_id = again.member_id.clone();
    let fenced: SyncGroupResponse = call(kafka, ApiKey::SyncGroup, 3, &sync).await;
    assert_eq!(fenced.error_code, 82, "FENCED_INSTANCE_ID");

    // DescribeGroups v3 has no instance ids, v4 and later do.
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![GroupId(text("statics"))];
    let v3: DescribeGroupsResponse = call(kafka, ApiKey::DescribeGroups, 3, &describe).await;
    assert_eq!(v3.groups[0].members.len(), 1);
    assert_eq!(v3.groups[0].members[0].group_instance_id, None);
    let v5_described: DescribeGroupsResponse =
        call(kafka, ApiKey::DescribeGroups, 5, &describe).await;
    assert_eq!(
        v5_described.groups[0].members[0].group_instance_id,
        Some(text("s1"))
    );

    // ListGroups v5 filters by type: every group is classic.
    let mut list = ListGroupsRequest::default();
    list.types_filter = vec![text("Consumer")];
    let none: ListGroupsResponse = call(kafka, ApiKey::ListGroups, 5, &list).await;
    assert!(none.groups.is_empty());
    list.types_filter = vec![text("classic")];
    list.states_filter = vec![text("stable")];
    let classic: ListGroupsResponse = call(kafka, ApiKey::ListGroups, 5, &list).await;
    assert_eq!(classic.groups.len(), 1);
    assert_eq!(classic.groups[0].group_type, text("classic"));

    // LeaveGroup v5: each member answered.
    let member = |member_id: &str, instance: Option<&'static str>| {
        let mut identity = leave_group_request::MemberIdentity::default();
        identity.member_id = StrBytes::from_string(member_id.to_owned());
        identity.group_instance_id = instance.map(text);
        identity
    };
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = GroupId(text("statics"));
    leave.members = vec![
        member(again.member_id.as_str(), Some("s1")),
        member("", Some("s1")),
    ];
    let left: LeaveGroupResponse = call(kafka, ApiKey::LeaveGroup, 5, &leave).await;
    assert_eq!(left.error_code, 0);
    let codes: Vec<i16> = left
        .members
        .iter()
        .map(|member| member.error_code)
        .collect();
    assert_eq!(codes, [82, 0]);
    assert_eq!(left.members[1].group_instance_id, Some(text("s1")));
}
