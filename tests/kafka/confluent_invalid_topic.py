"""A librdkafka producer sends to a topic whose name Kafka does not allow. Prints one
JSON line: the delivery error and how long it took to come. The broker must answer
Metadata with INVALID_TOPIC_EXCEPTION, which fails the message at once; an error the
client retries keeps it until `message.timeout.ms`."""

import json
import sys
import time

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
reports = []
producer = Producer({
    "bootstrap.servers": bootstrap,
    "message.timeout.ms": 60000,
})
start = time.time()
producer.produce(topic, b"value", on_delivery=lambda error, _: reports.append(error))
producer.flush(30)
error = reports[0] if reports else None
print(json.dumps({
    "delivered": bool(reports) and error is None,
    "error": error.name() if error is not None else None,
    "seconds": round(time.time() - start, 1),
}))
