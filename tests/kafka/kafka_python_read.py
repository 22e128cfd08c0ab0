"""Reads every partition of a topic from its beginning with kafka-python (no group)
until it has `count` records. Prints one JSON line: [partition, offset, key, value]."""

import json
import sys

from kafka import KafkaConsumer, TopicPartition

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = KafkaConsumer(
    bootstrap_servers=bootstrap,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    consumer_timeout_ms=10000,
)
partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
consumer.assign(partitions)
consumer.seek_to_beginning()
seen = []
for message in consumer:
    seen.append([message.partition, message.offset, message.key.decode(), message.value.decode()])
    if len(seen) >= count:
        break
consumer.close()
print(json.dumps({"seen": sorted(seen)}))
