"""ListGroups, DescribeGroups and DeleteGroups through confluent-kafka's AdminClient,
and OffsetDelete through kafka-python's client (neither confluent-kafka's Python
AdminClient nor kafka-python's has a method for it; kafka-python sends the request as
Kafka's schema defines it): a group with a live member subscribed to "g1" and one with only committed
offsets, their states, the member's client id and host, offsets of a subscribed topic
refused, deleting a group with members, one that does not exist, and one without
members. Prints one JSON line."""

import json
import sys
import time

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Int16, Int32, Schema, String

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
for topic in ("g1", "g2"):
    admin.create_topics([NewTopic(topic, 2)], operation_timeout=10)[topic].result(timeout=20)
producer = Producer({"bootstrap.servers": bootstrap})
for topic in ("g1", "g2"):
    for partition in (0, 1):
        producer.produce(topic, b"x", partition=partition)
producer.flush(20)


def consumer(group: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "client.id": "silt-e2e", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000})


def error_name(call) -> str:
    try:
        call()
        return "ok"
    except Exception as error:
        return error.args[0].name()


class OffsetDeleteResponse_v0(Response):
    API_KEY = 47
    API_VERSION = 0
    SCHEMA = Schema(
        ("error_code", Int16),
        ("throttle_time_ms", Int32),
        ("topics", Array(("name", String("utf-8")),
                         ("partitions", Array(("partition_index", Int32),
                                              ("error_code", Int16))))))


class OffsetDeleteRequest_v0(Request):
    API_KEY = 47
    API_VERSION = 0
    RESPONSE_TYPE = OffsetDeleteResponse_v0
    SCHEMA = Schema(
        ("group_id", String("utf-8")),
        # Each partition is a struct of one field, its index: on the wire, an int32.
        ("topics", Array(("name", String("utf-8")), ("partitions", Array(Int32)))))


kafka_admin = KafkaAdminClient(bootstrap_servers=bootstrap)
ERRORS = {0: "ok", 3: "UNKNOWN_TOPIC_OR_PART", 68: "NON_EMPTY_GROUP",
          69: "GROUP_ID_NOT_FOUND", 86: "GROUP_SUBSCRIBED_TO_TOPIC"}


def offset_delete(group: str, partitions: list):
    """OffsetDelete: the group's error name, or each partition's."""
    topics = {}
    for topic, partition in partitions:
        topics.setdefault(topic, []).append(partition)
    response = kafka_admin.send_request(
        OffsetDeleteRequest_v0(group, list(topics.items())))
    if response.error_code:
        return ERRORS.get(response.error_code, response.error_code)
    return {f"{topic}/{partition}": ERRORS.get(code, code)
            for topic, answered in response.topics for partition, code in answered}


def states() -> dict:
    listed = admin.list_consumer_groups(request_timeout=20).result(timeout=20)
    return {group.group_id: group.state.name for group in listed.valid}


# "idle": offsets committed outside any generation, no member.
idle = consumer("idle")
idle.commit(offsets=[TopicPartition("g1", 0, 1), TopicPartition("g2", 0, 1)],
            asynchronous=False)
idle.close()
# "live": one member subscribed to g1, with offsets of g1 and g2.
live = consumer("live")
live.subscribe(["g1"])
deadline = time.time() + 30
while not live.assignment() and time.time() < deadline:
    live.poll(0.2)
live.commit(offsets=[TopicPartition("g1", 0, 1), TopicPartition("g2", 0, 1)],
            asynchronous=False)

answer = {"states_with_member": states()}
described = admin.describe_consumer_groups(["live"])["live"].result(timeout=20)
answer["members"] = [[member.member_id, member.client_id, member.host]
                     for member in described.members]
answer["described_state"] = described.state.name

answer["offset_delete"] = offset_delete("live", [("g1", 0), ("g2", 0)])
committed = live.committed([TopicPartition("g1", 0), TopicPartition("g2", 0)], timeout=20)
answer["committed_after_offset_delete"] = [tp.offset for tp in committed]
answer["offset_delete_unknown_group"] = offset_delete("never", [("g1", 0)])
answer["offset_delete_unknown_topic"] = offset_delete("live", [("no-such-topic", 0)])
answer["delete_with_member"] = error_name(
    lambda: admin.delete_consumer_groups(["live"])["live"].result(timeout=20))
answer["delete_unknown"] = error_name(
    lambda: admin.delete_consumer_groups(["never"])["never"].result(timeout=20))
answer["delete_idle"] = error_name(
    lambda: admin.delete_consumer_groups(["idle"])["idle"].result(timeout=20))
live.close()
answer["states_after_close"] = states()
answer["delete_live"] = error_name(
    lambda: admin.delete_consumer_groups(["live"])["live"].result(timeout=20))
answer["states_after_delete"] = states()
# A deleted group's offsets are gone: a new consumer of it starts from nothing committed.
fresh = consumer("idle")
answer["idle_committed_after_delete"] = [
    tp.offset for tp in fresh.committed([TopicPartition("g1", 0)], timeout=20)]
fresh.close()
kafka_admin.close()
print(json.dumps(answer))
