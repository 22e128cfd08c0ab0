"""Reads every partition of a topic from its beginning with kafka-python (no group)
until it has `count` records, then asks ListOffsets for the earliest, latest and
by-timestamp offsets of the first partition. Prints one JSON line."""

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
timestamps = {}
for message in consumer:
    seen.append([message.partition, message.offset, message.key.decode(), message.value.decode()])
    timestamps[(message.partition, message.offset)] = message.timestamp
    if len(seen) >= count:
        break
first = partitions[0]
own = sorted((offset, ts) for (p, offset), ts in timestamps.items() if p == first.partition)
# A timestamp from the middle of the partition: the first offset at or after it.
middle = own[len(own) // 2][1]
expected = min(offset for offset, ts in own if ts >= middle)
found = consumer.offsets_for_times({first: middle})[first]
answer = {
    "seen": sorted(seen),
    "earliest": consumer.beginning_offsets([first])[first],
    "latest": consumer.end_offsets([first])[first],
    "records_in_first": len(own),
    "by_timestamp": [found.offset, expected],
    "after_the_end": consumer.offsets_for_times({first: own[-1][1] + 60_000})[first] is None,
}
consumer.close()
print(json.dumps(answer))
