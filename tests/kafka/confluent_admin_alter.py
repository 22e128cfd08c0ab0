"""CreatePartitions, IncrementalAlterConfigs and AlterConfigs through confluent-kafka's
AdminClient, with their edges: shrinking, the same count, an unknown topic,
validate_only, explicit assignments, DELETE of an unset config, APPEND to a number,
configs Silt does not honour and the read-only broker. Prints one JSON line: each call's
error name (or "ok"), and what Metadata and DescribeConfigs show after them."""

import json
import sys

from confluent_kafka import Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                   ConfigResource, NewPartitions, NewTopic, ResourceType)

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
TOPIC = "grows"


def outcome(future) -> str:
    try:
        future.result(timeout=20)
        return "ok"
    except Exception as error:  # the KafkaException carrying the broker's error
        return error.args[0].name()


def grow(count: int, topic: str = TOPIC, validate_only=False, assignment=None) -> str:
    wanted = (NewPartitions(topic, count) if assignment is None
              else NewPartitions(topic, count, replica_assignment=assignment))
    return outcome(admin.create_partitions([wanted], validate_only=validate_only,
                                           operation_timeout=10)[topic])


def partitions() -> int:
    return len(admin.list_topics(TOPIC, timeout=20).topics[TOPIC].partitions)


def incremental(name: str, value, op, topic: str = TOPIC, validate_only=False,
                kind=ResourceType.TOPIC) -> str:
    resource = ConfigResource(kind, topic, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=op)])
    return outcome(admin.incremental_alter_configs(
        [resource], validate_only=validate_only)[resource])


def replace(configs: dict, validate_only=False) -> str:
    resource = ConfigResource(ResourceType.TOPIC, TOPIC, set_config=configs)
    return outcome(admin.alter_configs([resource], validate_only=validate_only)[resource])


def retention() -> dict:
    resource = ConfigResource(ResourceType.TOPIC, TOPIC)
    entries = admin.describe_configs([resource])[resource].result(timeout=20)
    return {name: [entries[name].value, entries[name].source, entries[name].is_read_only]
            for name in ("retention.ms", "retention.bytes")}


SET, DELETE, APPEND = AlterConfigOpType.SET, AlterConfigOpType.DELETE, AlterConfigOpType.APPEND
admin.create_topics([NewTopic(TOPIC, 2)], operation_timeout=10)[TOPIC].result(timeout=20)
answer = {"validate_only": grow(4, validate_only=True)}
answer["after_validate_only"] = partitions()
answer["grow"] = grow(4)
answer["after_grow"] = partitions()
try:
    admin.create_partitions([NewPartitions(TOPIC, 4)])[TOPIC].result(timeout=20)
except Exception as error:
    answer["same_count"] = [error.args[0].name(), error.args[0].str()]
answer["shrink"] = grow(3)
answer["unknown_topic"] = grow(3, topic="no-such-topic")
answer["assigned"] = grow(5, assignment=[[0]])
answer["assigned_elsewhere"] = grow(6, assignment=[[7]])
answer["after_assigned"] = partitions()
# The new partitions take records.
producer = Producer({"bootstrap.servers": bootstrap})
delivered = []
producer.produce(TOPIC, b"in the new partition", partition=4,
                 on_delivery=lambda error, message: delivered.append(
                     error.name() if error else message.partition()))
producer.flush(20)
answer["produced_to"] = delivered

answer["set_ms"] = incremental("retention.ms", "60000", SET)
answer["set_bytes_validate_only"] = incremental("retention.bytes", "1000", SET,
                                                validate_only=True)
answer["after_set"] = retention()
answer["delete_unset"] = incremental("retention.bytes", None, DELETE)
answer["append_number"] = incremental("retention.ms", "1", APPEND)
answer["not_honoured"] = incremental("segment.bytes", "1048576", SET)
answer["unknown_config"] = incremental("retention.msx", "1", SET)
answer["incremental_unknown_topic"] = incremental("retention.ms", "1", SET,
                                                  topic="no-such-topic")
answer["broker"] = incremental("log.retention.ms", "1", SET, topic="0",
                               kind=ResourceType.BROKER)
answer["delete_set"] = incremental("retention.ms", None, DELETE)
answer["after_delete"] = retention()
answer["replace_validate_only"] = replace({"retention.bytes": "2048"}, validate_only=True)
answer["incremental_again"] = incremental("retention.ms", "120000", SET)
# AlterConfigs replaces the whole set: retention.ms, not named, goes back to default.
answer["replace"] = replace({"retention.bytes": "2048"})
answer["after_replace"] = retention()
answer["replace_not_honoured"] = replace({"compression.type": "zstd"})
print(json.dumps(answer))
