"""Kafka's record, exactly: null keys and values (tombstones), empty ones, headers in
order with a name repeated and null values.

    produce BOOTSTRAP TOPIC
        confluent-kafka writes the cases to partition 0, kafka-python to partition 1.
    consume BOOTSTRAP TOPIC COUNT
        reads every partition from the beginning with both clients; prints what each
        saw (bytes as hex, null as null), one JSON line.
"""

import json
import sys

mode, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]

CASES = [
    # key, value, headers
    (b"t", None, [("h", b"1"), ("h", None), ("e", b"")]),  # a keyed tombstone
    (None, b"", []),
    (b"", b"v", [("a", b"1"), ("b", b"2"), ("a", b"3")]),
    (b"\xff\x00", b"\x00\xfe", [("bin", b"\xff")]),
]
# One batch holds timestamps decades apart (a delta beyond 32 bits).
TIMESTAMPS = [999_999_999_999, 1_764_000_000_000, 1, 4_102_444_800_000]


def hexed(data):
    return None if data is None else data.hex()


if mode == "produce":
    from confluent_kafka import Producer
    from kafka import KafkaProducer

    failed = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for (key, value, headers), timestamp in zip(CASES, TIMESTAMPS):
        producer.produce(topic, value=value, key=key, headers=headers, partition=0,
                         timestamp=timestamp,
                         on_delivery=lambda error, _: error and failed.append(str(error)))
    producer.flush(20)
    other = KafkaProducer(bootstrap_servers=bootstrap)
    for (key, value, headers), timestamp in zip(CASES, TIMESTAMPS):
        # kafka-python cannot send a null header value: it sends the others.
        headers = [(k, v) for k, v in headers if v is not None]
        other.send(topic, value=value, key=key, headers=headers, partition=1,
                   timestamp_ms=timestamp)
    other.flush()
    print(json.dumps({"failed": failed}))
else:
    from confluent_kafka import Consumer, TopicPartition
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaPythonPartition

    count = int(sys.argv[4])
    seen = {"confluent": [], "kafka_python": []}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "exact",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
    for _ in range(200):
        if len(seen["confluent"]) >= count:
            break
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        seen["confluent"].append([message.partition(), message.offset(), message.timestamp()[1],
                                  hexed(message.key()),
                                  hexed(message.value()),
                                  [[k, hexed(v)] for k, v in (message.headers() or [])]])
    consumer.close()
    other = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                          consumer_timeout_ms=10000)
    other.assign([KafkaPythonPartition(topic, p) for p in (0, 1)])
    other.seek_to_beginning()
    for message in other:
        seen["kafka_python"].append([message.partition, message.offset, message.timestamp,
                                     hexed(message.key),
                                     hexed(message.value),
                                     [[k, hexed(v)] for k, v in message.headers]])
        if len(seen["kafka_python"]) >= count:
            break
    for name in seen:
        seen[name].sort()
    print(json.dumps(seen))
