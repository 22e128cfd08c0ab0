"""Fetch edges with confluent-kafka (librdkafka). Prints one JSON line.

    eof BOOTSTRAP TOPIC PARTITIONS
        Assigns every partition from the beginning with `enable.partition.eof`: each
        partition, empty ones included, must report its end (librdkafka refuses a whole
        Fetch response whose record set is null, so an empty partition never ends).
    max_bytes BOOTSTRAP TOPIC PARTITIONS RECORDS FETCH_MAX_BYTES
        Reads RECORDS records from every partition with `fetch.max.bytes` and
        `receive.message.max.bytes` (its ceiling on a response) set low: a response
        larger than the client asked for is refused and the consumer never gets on.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

mode, bootstrap, topic, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = {
    "bootstrap.servers": bootstrap,
    "group.id": f"edges-{mode}",
    "enable.auto.commit": False,
    "enable.partition.eof": mode == "eof",
}
if mode == "max_bytes":
    records_wanted, fetch_max = int(sys.argv[5]), int(sys.argv[6])
    config.update({
        "fetch.max.bytes": fetch_max,
        "max.partition.fetch.bytes": fetch_max,
        "receive.message.max.bytes": fetch_max + 512,
    })
errors = []
config["error_cb"] = lambda error: errors.append(str(error))
consumer = Consumer(config)
consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
ended, received, deadline = set(), 0, time.time() + 30
while time.time() < deadline:
    message = consumer.poll(0.2)
    if message is None:
        continue
    if message.error():
        if message.error().code() == KafkaError._PARTITION_EOF:
            ended.add(message.partition())
            if mode == "eof" and len(ended) == partitions:
                break
        else:
            errors.append(str(message.error()))
        continue
    received += 1
    if mode == "max_bytes" and received == records_wanted:
        break
consumer.close()
print(json.dumps({"ended": sorted(ended), "received": received, "errors": errors[:5]}))
