"""kafka-python against Silt without a group: the seed snippet's producer sends keyed
records to `salary-updates` (created on first use), then a consumer assigned to the
topic's partitions reads them all back. Prints one JSON line for the Rust test."""

import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap = sys.argv[1]
count = int(sys.argv[2])

producer = KafkaProducer(bootstrap_servers=bootstrap)
futures = [
    producer.send(
        "salary-updates",
        key=f"employee_id_{i}".encode(),
        value=json.dumps({"employee": i, "salary": 50000 + i}).encode(),
    )
    for i in range(count)
]
producer.flush()
acked = [future.get(timeout=30) for future in futures]
producer.close()

consumer = KafkaConsumer(
    bootstrap_servers=bootstrap,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    consumer_timeout_ms=5000,
)
partitions = [TopicPartition("salary-updates", p) for p in sorted(consumer.partitions_for_topic("salary-updates"))]
consumer.assign(partitions)
consumer.seek_to_beginning()
seen = []
for message in consumer:
    seen.append([message.partition, message.offset, message.key.decode(), json.loads(message.value)["salary"]])
    if len(seen) >= count:
        break
# A fetch at an offset inside a batch that was produced together must start there.
consumer.seek(partitions[0], 5)
inside = next(iter(consumer))
consumer.close()
print(json.dumps({
    "acked": [[m.partition, m.offset] for m in acked],
    "seen": seen,
    "seek": [inside.partition, inside.offset, inside.key.decode()],
}))
