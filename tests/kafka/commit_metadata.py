"""Commit metadata through kafka-python and confluent-kafka (librdkafka): each commits
offsets with a metadata string (and librdkafka a leader epoch), reads them back, and
commits a metadata string over the 4096-byte limit. Prints one JSON line."""

import json
import sys

from confluent_kafka import Consumer, KafkaException, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaPythonPartition
from kafka.errors import OffsetMetadataTooLargeError
from kafka.structs import OffsetAndMetadata

bootstrap, topic = sys.argv[1], sys.argv[2]
out = {}

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="meta-kafka-python", enable_auto_commit=False)
partitions = [KafkaPythonPartition(topic, p) for p in range(3)]
consumer.assign(partitions)
consumer.commit({
    partitions[0]: OffsetAndMetadata(3, "kafka-python \u2713", -1),
    # A null metadata string, as Kafka's protocol allows: read back as "".
    partitions[1]: OffsetAndMetadata(1, None, -1),
})
read = [consumer.committed(partitions[p], metadata=True) for p in range(2)]
out["kafka_python"] = [[r.offset, r.metadata] for r in read]
try:
    consumer.commit({partitions[2]: OffsetAndMetadata(2, "x" * 4097, -1)})
    out["kafka_python_too_large"] = "committed"
except OffsetMetadataTooLargeError:
    out["kafka_python_too_large"] = "OFFSET_METADATA_TOO_LARGE"
out["kafka_python_after_refusal"] = consumer.committed(partitions[2])
consumer.close()

librdkafka = Consumer({"bootstrap.servers": bootstrap, "group.id": "meta-librdkafka", "enable.auto.commit": False})
librdkafka.commit(
    offsets=[TopicPartition(topic, 0, 5, "librdkafka \u2713", 4), TopicPartition(topic, 1, 2)],
    asynchronous=False,
)
read = librdkafka.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
out["librdkafka"] = [[r.offset, r.metadata, r.leader_epoch] for r in read]
try:
    answered = librdkafka.commit(offsets=[TopicPartition(topic, 2, 1, "y" * 4097)], asynchronous=False)
    errors = [tp.error.name() for tp in answered if tp.error]
    out["librdkafka_too_large"] = errors[0] if errors else "committed"
except KafkaException as error:
    out["librdkafka_too_large"] = error.args[0].name()
librdkafka.close()
print(json.dumps(out))
