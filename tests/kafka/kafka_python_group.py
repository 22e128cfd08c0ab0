"""The seed snippet, verbatim in spirit: a KafkaProducer sends keyed records to
`salary-updates`, and a KafkaConsumer in group `payroll` reads them all and commits.
Prints one JSON line for the Rust test."""

import json
import sys

from kafka import KafkaConsumer, KafkaProducer

bootstrap = sys.argv[1]
count = int(sys.argv[2])
# Records already in the topic (produced over HTTP) that the group reads as well.
already = int(sys.argv[3]) if len(sys.argv) > 3 else 0

producer = KafkaProducer(bootstrap_servers=bootstrap)
for i in range(count):
    producer.send("salary-updates", key=b"employee_id_%d" % i, value=b'{"salary": %d}' % (50000 + i))
producer.flush()
producer.close()

consumer = KafkaConsumer(
    "salary-updates",
    bootstrap_servers=bootstrap,
    group_id="payroll",
    auto_offset_reset="earliest",
    consumer_timeout_ms=20000,
)
seen = []
for message in consumer:
    seen.append([message.partition, message.offset, message.key.decode()])
    if len(seen) >= count + already:
        break
consumer.commit()
assignment = sorted(tp.partition for tp in consumer.assignment())
consumer.close()
print(json.dumps({"seen": seen, "assignment": assignment}))
