"""A kafka-python group member that gets its assignment, then stays busy (its
heartbeat thread keeps its session alive, but it does not poll, so it does not join a
rebalance until its max.poll.interval.ms): a rebalance then waits for it. Prints a JSON
line once assigned, then sleeps `seconds`."""

import json
import sys
import time

from kafka import KafkaConsumer

bootstrap, topic, group, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
consumer = KafkaConsumer(
    topic,
    bootstrap_servers=bootstrap,
    group_id=group,
    session_timeout_ms=6000,
    heartbeat_interval_ms=500,
    max_poll_interval_ms=300000,
)
while not consumer.assignment():
    consumer.poll(timeout_ms=200)
print(json.dumps({"assigned": sorted(tp.partition for tp in consumer.assignment())}), flush=True)
time.sleep(seconds)
