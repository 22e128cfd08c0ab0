"""Static membership at the protocol level, with kafka-python's protocol classes:
JoinGroup v5 with an empty group instance id; JoinGroup v4, which has no instance id
(a new member is handed its id with MEMBER_ID_REQUIRED); JoinGroup v5 with an instance
id (joins at once, its member id starting with the instance id); a Heartbeat v3 and a
SyncGroup v3 of another member id under that instance id (fenced); LeaveGroup v3 with a
batch (an unknown instance, an unknown member id, the member by its instance id alone).
Prints one JSON line."""

import json
import struct
import sys

from kafka.client_async import KafkaClient
from kafka.protocol.group import (HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
                                  SyncGroupRequest)

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
# ConsumerProtocolSubscription v0: the topic, no user data.
subscription = struct.pack(">hih", 0, 1, len(topic)) + topic.encode() + struct.pack(">i", -1)
protocols = [("range", subscription)]
client = KafkaClient(bootstrap_servers=bootstrap)
node = client.least_loaded_node()
while not client.ready(node):
    client.poll(timeout_ms=100)


def send(request):
    future = client.send(node, request)
    client.poll(future=future, timeout_ms=15000)
    if future.exception is not None:
        raise future.exception
    return future.value


answer = {}
empty = send(JoinGroupRequest[5](group, 6000, 30000, "", "", "consumer", protocols))
answer["join_v5_empty_instance"] = empty.error_code
v4 = send(JoinGroupRequest[4](group, 6000, 30000, "", "consumer", protocols))
answer["join_v4"] = v4.error_code
joined = send(JoinGroupRequest[5](group, 6000, 30000, "", "raw", "consumer", protocols))
answer["join_v5_static"] = [joined.error_code, joined.member_id.startswith("raw-"),
                            joined.leader_id == joined.member_id]
answer["leader_members"] = [[member[0] == joined.member_id, member[1]] for member in joined.members]
generation = joined.generation_id
synced = send(SyncGroupRequest[3](group, generation, joined.member_id, "raw",
                                  [(joined.member_id, b"")]))
answer["sync"] = synced.error_code
answer["heartbeat"] = send(HeartbeatRequest[3](group, generation, joined.member_id, "raw")).error_code
answer["heartbeat_other_member_id"] = send(
    HeartbeatRequest[3](group, generation, "raw-impostor", "raw")).error_code
answer["sync_other_member_id"] = send(
    SyncGroupRequest[3](group, generation, "raw-impostor", "raw", [])).error_code
answer["heartbeat_unknown_instance"] = send(
    HeartbeatRequest[3](group, generation, joined.member_id, "nobody")).error_code
left = send(LeaveGroupRequest[3](group, [("", "nobody"), ("not-a-member", None), ("", "raw")]))
answer["leave"] = [left.error_code, [[member[0], member[1], member[2]] for member in left.members]]
answer["heartbeat_after_leave"] = send(
    HeartbeatRequest[3](group, generation, joined.member_id, "raw")).error_code
client.close()
print(json.dumps(answer))
