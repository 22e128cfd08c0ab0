"""Issue 13's admin edges through kafka-python's KafkaAdminClient and consumer:

    run BOOTSTRAP
        CreateTopics with a config Kafka does not know (INVALID_CONFIG, nothing
        created) and with Silt's value schema (DescribeConfigs shows it; AlterConfigs
        may not change it); a consumer group with client id `kp-client`: ListGroups
        lists it, DescribeGroups gives the member's client id and host and a member id
        that starts with the client id.
Prints one JSON line."""

import json
import sys
import time

from kafka import KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

bootstrap = sys.argv[2]
# kafka-python 2.3.3 reads DescribeGroups v3's authorized_operations as a set of bits
# and fails on bit 31, which is Kafka's "not asked for" (INT32_MIN) that brokers send:
# as Kafka 2.2, it asks for v2, which has no such field.
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kp-admin", api_version=(2, 2))
answer = {}


def created(topic):
    """CreateTopics of one topic: [name, error code] (kafka-python raises on an error)."""
    try:
        response = admin.create_topics([topic])
        return [[entry[0], entry[1]] for entry in response.topic_errors]
    except KafkaError as error:
        return [[topic.name, error.errno]]


answer["unknown_config"] = created(NewTopic("kp-unknown", 1, 1,
                                            topic_configs={"no.such.config": "1"}))
answer["unknown_created"] = "kp-unknown" in admin.list_topics()

schema = json.dumps({"type": "object", "properties": {"amount": {"type": "integer"}}})
answer["typed"] = created(NewTopic("kp-typed", 2, 1, topic_configs={"silt.value.schema": schema}))
described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-typed")])
configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
answer["described_schema"] = json.loads(configs["silt.value.schema"]) if configs.get("silt.value.schema") else None
answer["plain"] = created(NewTopic("kp-plain", 1, 1))
described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-plain")])
plain = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
answer["plain_schema"] = plain.get("silt.value.schema", "absent")
try:
    altered = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-typed",
                                                  configs={"silt.value.schema": "{}"})])
    answer["alter_schema"] = [resource[0] for resource in altered.resources]
except KafkaError as error:
    answer["alter_schema"] = [error.errno]

consumer = KafkaConsumer("kp-typed", bootstrap_servers=bootstrap, group_id="kp-group",
                         client_id="kp-client", auto_offset_reset="earliest")
deadline = time.time() + 20
while not consumer.assignment() and time.time() < deadline:
    consumer.poll(timeout_ms=200)
answer["assigned"] = sorted(tp.partition for tp in consumer.assignment())
answer["listed"] = sorted(group for group, _protocol in admin.list_consumer_groups()
                          if group == "kp-group")
group = admin.describe_consumer_groups(["kp-group"])[0]
answer["state"] = group.state
answer["members"] = [{"client_id": member.client_id,
                      "host_set": bool(member.client_host),
                      "id_starts_with_client_id": member.member_id.startswith("kp-client")}
                     for member in group.members]
consumer.close()
admin.close()
print(json.dumps(answer))
