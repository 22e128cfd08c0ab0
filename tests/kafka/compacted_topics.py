"""Topic configs Silt honours, through real clients, in phases that the Rust test runs
between compactions. Prints one JSON line per run.

  setup     confluent-kafka's AdminClient creates `table` (cleanup.policy=compact,
            delete.retention.ms=0), `stamped` (message.timestamp.type=LogAppendTime) and
            `small` (max.message.bytes=1000); alters and describes configs; produces a
            first round of keyed values to `table`, a keyless record (refused), a
            record to `stamped` with a timestamp from 2001 and one too large to `small`.
  round2    more values of the same keys and tombstones to `table`.
  consume   reads `table` from offset 0 with confluent-kafka and kafka-python to the
            end, and `stamped` with both (timestamp and its type).
"""

import json
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                   ConfigResource, NewTopic, ResourceType)

bootstrap, phase = sys.argv[1], sys.argv[2]


def outcome(future) -> str:
    try:
        future.result(timeout=20)
        return "ok"
    except Exception as error:  # the KafkaException carrying the broker's error
        return error.args[0].name()


def describe(admin: AdminClient, topic: str, names) -> dict:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=20)
    return {name: [configs[name].value, int(configs[name].source), configs[name].is_read_only]
            for name in names}


def produce(topic: str, records) -> list:
    """Produces (key, value, timestamp) records in order, one at a time, and answers each
    one's [offset, error name, timestamp type, timestamp] from its delivery report."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "enable.idempotence": True})
    answers = []
    for key, value, timestamp in records:
        reports = []
        extra = {"timestamp": timestamp} if timestamp else {}
        producer.produce(topic, key=key, value=value, partition=0,
                         on_delivery=lambda error, message: reports.append((error, message)),
                         **extra)
        producer.flush(20)
        error, message = reports[0]
        kind, stamp = message.timestamp()
        answers.append([message.offset(), error.name() if error else "ok", kind, stamp])
    return answers


if phase == "setup":
    admin = AdminClient({"bootstrap.servers": bootstrap})
    answer = {
        "create_table": outcome(admin.create_topics([NewTopic("table", 1, config={
            "cleanup.policy": "compact", "delete.retention.ms": "0"})])["table"]),
        "create_stamped": outcome(admin.create_topics([NewTopic("stamped", 1, config={
            "message.timestamp.type": "LogAppendTime"})])["stamped"]),
        "create_small": outcome(admin.create_topics([NewTopic("small", 1, config={
            "max.message.bytes": "1000"})])["small"]),
        "bad_lag": outcome(admin.create_topics([NewTopic("bad", 1, config={
            "min.compaction.lag.ms": "-1"})])["bad"]),
    }
    resource = ConfigResource(ResourceType.TOPIC, "table", incremental_configs=[
        ConfigEntry("min.compaction.lag.ms", "0",
                    incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact",
                    incremental_operation=AlterConfigOpType.SET)])
    answer["alter"] = outcome(admin.incremental_alter_configs([resource])[resource])
    bad = ConfigResource(ResourceType.TOPIC, "table", incremental_configs=[
        ConfigEntry("delete.retention.ms", "-7",
                    incremental_operation=AlterConfigOpType.SET)])
    answer["alter_bad"] = outcome(admin.incremental_alter_configs([bad])[bad])
    answer["described"] = describe(admin, "table", [
        "cleanup.policy", "delete.retention.ms", "min.compaction.lag.ms",
        "message.timestamp.type", "max.message.bytes"])
    # Several values per key, in order: the latest of each is what compaction keeps.
    answer["round1"] = produce("table", [
        (f"k{n % 4}".encode(), f"v1-{n}".encode(), None) for n in range(12)])
    answer["keyless"] = produce("table", [(None, b"no key", None)])[0][1]
    before = int(time.time() * 1000)
    answer["stamped"] = produce("stamped", [(b"s", b"stamp me", 1_000_000_000_000)])
    answer["window"] = [before, int(time.time() * 1000)]
    answer["too_large"] = produce("small", [(b"big", b"x" * 2000, None)])[0][1]
    answer["fits"] = produce("small", [(b"ok", b"x" * 100, None)])[0][1]
    print(json.dumps(answer))
elif phase == "round2":
    records = [(b"k1", b"v2-k1", None), (b"k2", None, None), (b"k4", b"v2-k4", None),
               (b"k3", b"v2-k3", None), (b"k0", None, None), (b"k3", b"v2-k3-last", None),
               (b"k5", b"v2-k5", None), (b"k5", None, None)]
    print(json.dumps({"round2": produce("table", records)}))
elif phase == "consume":
    from kafka import KafkaConsumer
    from kafka import TopicPartition as PythonPartition

    def librdkafka(topic: str) -> dict:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        seen, deadline, ended = [], time.time() + 30, False
        while time.time() < deadline and not ended:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    ended = True
                    continue
                raise KafkaException(message.error())
            kind, stamp = message.timestamp()
            value = None if message.value() is None else message.value().decode()
            seen.append([message.offset(), message.key().decode(), value, kind, stamp])
        position = consumer.position([TopicPartition(topic, 0)])[0].offset
        consumer.close()
        return {"seen": seen, "ended": ended, "position": position}

    def kafka_python(topic: str) -> dict:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                 consumer_timeout_ms=5000)
        partition = PythonPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning()
        end = consumer.end_offsets([partition])[partition]
        seen, deadline = [], time.time() + 30
        while consumer.position(partition) < end and time.time() < deadline:
            for message in consumer.poll(timeout_ms=1000).get(partition, []):
                value = None if message.value is None else message.value.decode()
                seen.append([message.offset, message.key.decode(), value,
                             message.timestamp_type, message.timestamp])
        answer = {"seen": seen, "position": consumer.position(partition), "end": end}
        consumer.close()
        return answer

    print(json.dumps({
        "table": {"librdkafka": librdkafka("table"), "kafka_python": kafka_python("table")},
        "stamped": {"librdkafka": librdkafka("stamped"),
                    "kafka_python": kafka_python("stamped")},
    }))
