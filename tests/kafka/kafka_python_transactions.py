"""kafka-python's transactional producer: commits 6 records, aborts 4, commits 3 more,
then reads the topic back with a read_committed and a read_uncommitted consumer.

  run <bootstrap> <topic>
Prints one JSON line: the values each consumer read."""

import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic = sys.argv[2], sys.argv[3]

producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id="kafka-python-txn")
producer.init_transactions()
for batch, count, commit in [("x", 6, True), ("y", 4, False), ("z", 3, True)]:
    producer.begin_transaction()
    for n in range(count):
        producer.send(topic, key=b"k", value=("%s%d" % (batch, n)).encode())
    producer.flush()
    if commit:
        producer.commit_transaction()
    else:
        producer.abort_transaction()
producer.close()


def read(isolation):
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    values = [message.value.decode() for message in consumer]
    consumer.close()
    return values


print(json.dumps({"committed": read("read_committed"), "uncommitted": read("read_uncommitted")}), flush=True)
