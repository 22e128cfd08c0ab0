"""An idempotent producer's retries at the protocol level, with kafka-python's own
protocol classes (its KafkaClient, ProduceRequest, InitProducerIdRequest and record
batch builder): what a client does after a lost response. Prints one JSON line with
each produce's (error code, base offset) for the Rust test."""

import json
import sys

from kafka.client_async import KafkaClient
from kafka.protocol.init_producer_id import InitProducerIdRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

bootstrap, topic = sys.argv[1], sys.argv[2]
client = KafkaClient(bootstrap_servers=bootstrap, client_id="retries")


def call(request):
    node = client.least_loaded_node()
    if not client.await_ready(node, timeout_ms=10000):
        raise RuntimeError("no connection")
    future = client.send(node, request)
    client.poll(future=future, timeout_ms=30000)
    if future.failed():
        raise future.exception
    return future.value


def init_producer():
    response = call(InitProducerIdRequest[0](transactional_id=None, transaction_timeout_ms=60000))
    assert response.error_code == 0, response
    return response.producer_id, response.producer_epoch


def produce(partition, producer, base_sequence, keys):
    producer_id, epoch = producer
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=producer_id, producer_epoch=epoch, base_sequence=base_sequence,
        batch_size=1 << 20,
    )
    for delta, key in enumerate(keys):
        builder.append(delta, timestamp=None, key=key.encode(), value=b'{"n": 1}', headers=[])
    request = ProduceRequest[3](
        transactional_id=None, required_acks=-1, timeout=30000,
        topics=[(topic, [(partition, bytes(builder.build()))])],
    )
    response = call(request)
    (_, partitions), = response.topics
    (_, error_code, offset, _), = partitions
    return [error_code, offset]


producer = init_producer()
answers = {
    "first": produce(0, producer, 0, ["a0", "a1", "a2"]),
    # The response was lost: the client sends the same batch again.
    "retry": produce(0, producer, 0, ["a0", "a1", "a2"]),
    "second": produce(0, producer, 3, ["b0", "b1"]),
    "retry_first_again": produce(0, producer, 0, ["a0", "a1", "a2"]),
    "other_partition": produce(1, producer, 0, ["c0"]),
    "gap": produce(0, producer, 9, ["d0"]),
}
client.close()
print(json.dumps(answers))
