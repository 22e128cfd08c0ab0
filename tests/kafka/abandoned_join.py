"""A JoinGroup its client abandons: one raw JoinGroup request (of the given version,
empty member id) to group `group`, then the connection is closed without SyncGroup,
heartbeat or LeaveGroup. Prints the JoinGroup answer as one JSON line."""

import json
import struct
import sys

from kafka.client_async import KafkaClient
from kafka.protocol.group import JoinGroupRequest

bootstrap, topic, group, version = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# ConsumerProtocolSubscription v0: the topic, no user data.
subscription = struct.pack(">hih", 0, 1, len(topic)) + topic.encode() + struct.pack(">i", -1)
client = KafkaClient(bootstrap_servers=bootstrap)
node = client.least_loaded_node()
while not client.ready(node):
    client.poll(timeout_ms=100)
if version >= 5:
    request = JoinGroupRequest[version](group, 6000, 300000, "", None, "consumer", [("range", subscription)])
else:
    request = JoinGroupRequest[version](group, 6000, 300000, "", "consumer", [("range", subscription)])
future = client.send(node, request)
client.poll(future=future, timeout_ms=15000)
answer = future.value
client.close()
print(json.dumps({"error_code": answer.error_code, "member_id": answer.member_id, "generation": answer.generation_id}))
