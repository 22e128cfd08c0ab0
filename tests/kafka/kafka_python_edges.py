"""The fetch and metadata edges of issue 13 as kafka-python meets them.

    eof BOOTSTRAP TOPIC PARTITIONS EXPECTED
        a KafkaConsumer assigned every partition (some of them empty) from the
        beginning reads EXPECTED records and reaches each partition's end; and a
        Fetch v4 of every partition at its end, decoded by kafka-python's protocol
        classes, answers an empty record set (not null) for each.
    max_bytes BOOTSTRAP TOPIC PARTITIONS LIMIT
        Fetch v4 requests of every partition with max_bytes LIMIT (each partition
        allowed LIMIT too), from offset 0 until all is read: the record bytes of each
        answer, and of its first batch.
    invalid_topic BOOTSTRAP TOPIC
        Metadata v4 for a name Kafka does not allow: the topic's error code.
Each prints one JSON line."""

import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.client_async import KafkaClient
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.metadata import MetadataRequest

mode, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]


def connected():
    client = KafkaClient(bootstrap_servers=bootstrap)
    node = client.least_loaded_node()
    deadline = time.time() + 15
    while not client.ready(node) and time.time() < deadline:
        client.poll(timeout_ms=100)
    return client, node


def send(client, node, request):
    future = client.send(node, request)
    client.poll(future=future, timeout_ms=15000)
    if future.exception is not None:
        raise future.exception
    return future.value


def fetch(client, node, offsets, limit):
    """One Fetch v4; answers {partition: (error, high watermark, record bytes)}."""
    request = FetchRequest[4](-1, 100, 1, limit, 0,
                              [(topic, [(p, o, limit) for p, o in sorted(offsets.items())])])
    answer = send(client, node, request)
    out = {}
    for _name, partitions in answer.topics:
        for partition, error, high, _stable, _aborted, records in partitions:
            out[partition] = (error, high, records)
    return out


def first_batch_size(records):
    # A record batch: base offset (8), length (4), then `length` bytes.
    if not records or len(records) < 12:
        return 0
    return 12 + int.from_bytes(records[8:12], "big")


def batches(records):
    """(last offset + 1) of each whole batch in `records`."""
    ends, at = [], 0
    while at + 12 <= len(records):
        base = int.from_bytes(records[at:at + 8], "big", signed=True)
        length = int.from_bytes(records[at + 8:at + 12], "big")
        if at + 12 + length > len(records):
            break
        # last offset delta sits 23 bytes into the batch after base offset and length
        delta = int.from_bytes(records[at + 23:at + 27], "big", signed=True)
        ends.append(base + delta + 1)
        at += 12 + length
    return ends


if mode == "eof":
    partitions, expected = int(sys.argv[4]), int(sys.argv[5])
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=500)
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    received, errors = 0, []
    deadline = time.time() + 20
    try:
        while received < expected and time.time() < deadline:
            for _tp, records in consumer.poll(timeout_ms=500).items():
                received += len(records)
    except Exception as error:  # noqa: BLE001 - reported, not hidden
        errors.append(repr(error))
    ends = consumer.end_offsets(assigned)
    positions = {tp.partition: consumer.position(tp) for tp in assigned}
    consumer.close()
    client, node = connected()
    at_end = fetch(client, node, {tp.partition: ends[tp] for tp in assigned}, 1 << 20)
    client.close()
    print(json.dumps({
        "received": received,
        "errors": errors,
        "at_end": sorted(p for p in positions if positions[p] == ends[TopicPartition(topic, p)]),
        "empty_answers": sorted(p for p, (error, _h, records) in at_end.items()
                                if error == 0 and records == b""),
        "null_answers": sorted(p for p, (_e, _h, records) in at_end.items() if records is None),
    }))
elif mode == "max_bytes":
    partitions, limit = int(sys.argv[4]), int(sys.argv[5])
    client, node = connected()
    offsets = {p: 0 for p in range(partitions)}
    sizes, firsts, errors = [], [], []
    for _ in range(200):
        answer = fetch(client, node, offsets, limit)
        total = sum(len(records or b"") for _e, _h, records in answer.values())
        if total == 0:
            break
        first = next((first_batch_size(records) for _p, (_e, _h, records)
                      in sorted(answer.items()) if records), 0)
        sizes.append(total)
        firsts.append(first)
        for partition, (error, _high, records) in answer.items():
            if error:
                errors.append([partition, error])
            ends = batches(records or b"")
            if ends:
                offsets[partition] = ends[-1]
    client.close()
    print(json.dumps({"sizes": sizes, "firsts": firsts, "errors": errors,
                      "offsets": [offsets[p] for p in range(partitions)]}))
elif mode == "invalid_topic":
    client, node = connected()
    answer = send(client, node, MetadataRequest[4]([topic], False))
    client.close()
    print(json.dumps({"errors": [t[0] for t in answer.topics]}))
