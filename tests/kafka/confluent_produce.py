"""confluent-kafka (librdkafka) producers against Silt: idempotent, acks=all, one
producer per compression codec. Prints one JSON line: every delivery report."""

import json
import sys

from confluent_kafka import Producer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
acked, failed = [], []


def report(error, message):
    if error is not None:
        failed.append(str(error))
    else:
        acked.append([message.key().decode(), message.partition(), message.offset()])


for codec in ["gzip", "snappy", "lz4", "zstd"]:
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": codec,
        "linger.ms": 5,
    })
    for i in range(count):
        producer.produce(
            topic,
            key=f"{codec}-{i}".encode(),
            value=json.dumps({"codec": codec, "n": i, "text": "salary update " * 8}).encode(),
            on_delivery=report,
        )
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining:
        failed.append(f"{codec}: {remaining} messages not delivered")
print(json.dumps({"acked": acked, "failed": failed}))
