"""One confluent-kafka (librdkafka) consumer with a `group.instance.id` (a static
member, KIP-345). Prints a JSON line, flushed at once, for each assignment and
revocation (with its member id), each error (with its name and whether it is fatal),
and when it closes. It runs until killed, for `seconds`, or until a fatal error (a
fenced instance); with `close_after` > 0 it closes `close_after` seconds after its first
assignment (a static member does not send LeaveGroup when it closes).

Usage: static_member.py bootstrap topic group instance session_ms seconds close_after"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError

bootstrap, topic, group, instance = sys.argv[1:5]
session_ms, seconds, close_after = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
started = time.time()


def emit(line):
    line["t"] = round(time.time() - started, 3)
    print(json.dumps(line), flush=True)


fatal = []


def on_error(error):
    emit({"error": str(error), "name": error.name(), "fatal": error.fatal()})
    if error.fatal():
        fatal.append(error)


consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "group.instance.id": instance,
    "client.id": f"static-{instance}",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    "session.timeout.ms": session_ms,
    "heartbeat.interval.ms": 500,
    "partition.assignment.strategy": "range",
    "error_cb": on_error,
})
first_assigned = []


def on_assign(c, partitions):
    if not first_assigned:
        first_assigned.append(time.time())
    emit({"assigned": sorted(p.partition for p in partitions), "member_id": c.memberid()})


def on_revoke(c, partitions):
    emit({"revoked": sorted(p.partition for p in partitions)})


consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
while time.time() - started < seconds and not fatal:
    message = consumer.poll(0.2)
    if message is not None and message.error():
        error = message.error()
        emit({"error": str(error), "name": error.name(), "fatal": error.fatal()})
        if error.fatal() or error.code() == KafkaError._FATAL:
            fatal.append(error)
            break
    if close_after > 0 and first_assigned and time.time() - first_assigned[0] > close_after:
        break
if not fatal:
    consumer.close()
    emit({"closed": True})
