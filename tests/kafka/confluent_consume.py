"""One confluent-kafka (librdkafka) consumer of a group. Prints a JSON line per
assignment and per record, flushed at once, until killed or idle for `idle` seconds.
With `commit` it commits every record it got; without, it never commits."""

import json
import sys
import time

from confluent_kafka import Consumer

bootstrap, topic, group, commit, idle = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "commit", float(sys.argv[5])


def emit(line):
    print(json.dumps(line), flush=True)


consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
})
consumer.subscribe(
    [topic],
    on_assign=lambda _, partitions: emit({"assigned": sorted(p.partition for p in partitions)}),
)
last = time.time()
while time.time() - last < idle:
    message = consumer.poll(0.2)
    if message is None:
        continue
    if message.error():
        emit({"error": str(message.error())})
        continue
    last = time.time()
    emit({"p": message.partition(), "o": message.offset(), "k": message.key().decode()})
    if commit:
        consumer.commit(message=message, asynchronous=False)
consumer.close()
emit({"done": True})
