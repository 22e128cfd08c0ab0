"""Kafka transactions with confluent-kafka (librdkafka).

  commit_abort <bootstrap> <topic>
      one transactional producer commits 10 records, aborts 5, commits 7 more; prints
      the values a read_committed and a read_uncommitted consumer read back.
  process <bootstrap> <source> <sink> <group> <txn id> <batch> <die after>
      a consume-transform-produce processor: reads `source` (read_committed), writes one
      `sink` record per input (same key, value "<partition>:<offset>:<input value>"),
      and commits its input offsets in the same transaction, `batch` inputs per
      transaction. With `die after` N >= 0 it SIGKILLs itself in the middle of
      transaction N+1 (its records produced, not committed); otherwise it stops when idle
      for 4 s after its first assignment. A transaction that fails (the gateway went
      away, say) ends the process with status 3, and a call blocked for 45 s with 4, as
      a crash would.
  read <bootstrap> <topic> <isolation>
      every record of `topic` from the start: [[partition, offset, key, value], ...].
  vanish <bootstrap> <topic> <txn id>
      begins a transaction, produces 5 records and SIGKILLs itself: nobody ends it.
  watermarks <bootstrap> <topic> <isolation>
      partition 0's low and high watermarks as a consumer at `isolation` queries them
      (ListOffsets: the high one is the last stable offset for read_committed).
  fence <bootstrap> <topic>
      two producers with one transactional.id: the second fences the first, whose
      open transaction is aborted and whose commit fails as fenced.
Each mode prints one JSON line last."""

import faulthandler
import json
import os
import signal
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def emit(line):
    print(json.dumps(line), flush=True)


def producer(bootstrap, txn_id, **extra):
    config = {
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "transaction.timeout.ms": 10000,
        "linger.ms": 5,
    }
    config.update(extra)
    made = Producer(config)
    made.init_transactions(30)
    return made


def read(bootstrap, topic, isolation, idle=3.0):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "reader-%d-%s" % (os.getpid(), isolation),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "enable.partition.eof": True,
    })
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = sorted(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    records, ended = [], set()
    last = time.time()
    while time.time() - last < idle and len(ended) < len(partitions):
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            if message.error().code() == -191:  # _PARTITION_EOF
                ended.add(message.partition())
                continue
            raise KafkaException(message.error())
        ended.discard(message.partition())
        last = time.time()
        key = message.key().decode() if message.key() is not None else None
        records.append([message.partition(), message.offset(), key, message.value().decode()])
    positions = {
        tp.partition: tp.offset for tp in consumer.position([TopicPartition(topic, p) for p in partitions])
    }
    consumer.close()
    return records, positions


def commit_abort(bootstrap, topic):
    made = producer(bootstrap, "commit-abort")
    for batch, count, commit in [("a", 10, True), ("b", 5, False), ("c", 7, True)]:
        made.begin_transaction()
        for n in range(count):
            made.produce(topic, key=("k%d" % (n % 3)).encode(), value=("%s%d" % (batch, n)).encode())
        made.flush(10)
        if commit:
            made.commit_transaction(30)
        else:
            made.abort_transaction(30)
    committed, positions = read(bootstrap, topic, "read_committed")
    uncommitted, _ = read(bootstrap, topic, "read_uncommitted")
    emit({
        "committed": [r[3] for r in committed],
        "uncommitted": [r[3] for r in uncommitted],
        "positions": positions,
    })


def process(bootstrap, source, sink, group, txn_id, batch, die_after):
    # librdkafka's send_offsets_to_transaction() can block past its timeout when the
    # group coordinator goes away under it (librdkafka issues 5456 and 5511): a call
    # blocked for 45 s ends the process (status 4), as a crash would.
    progress = [time.time()]

    def watchdog():
        while time.time() - progress[0] < 45:
            time.sleep(1)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        emit({"stuck": True})
        os._exit(4)

    threading.Thread(target=watchdog, daemon=True).start()
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })
    made = producer(bootstrap, txn_id)
    assigned, started = [], time.time()

    def on_assign(_, partitions):
        assigned.append(time.time())

    consumer.subscribe([source], on_assign=on_assign)
    transactions, done, last = 0, 0, None
    while True:
        progress[0] = time.time()
        if last is None and assigned:
            last = assigned[-1]
        if last is None and time.time() - started > 60:
            break
        if last is not None and time.time() - max(last, assigned[-1]) > 4.0:
            break
        messages = consumer.consume(batch, 0.5)
        messages = [m for m in messages if not m.error()]
        if not messages:
            continue
        last = time.time()
        try:
            made.begin_transaction()
            for message in messages:
                value = "%d:%d:%s" % (message.partition(), message.offset(), message.value().decode())
                made.produce(sink, key=message.key(), value=value.encode())
            made.flush(10)
            if die_after >= 0 and transactions == die_after:
                emit({"dying": transactions, "processed": done})
                os.kill(os.getpid(), signal.SIGKILL)
            made.send_offsets_to_transaction(
                consumer.position(consumer.assignment()),
                consumer.consumer_group_metadata(),
                30,
            )
            made.commit_transaction(30)
        except KafkaException as error:
            emit({"failed": str(error), "transactions": transactions, "processed": done})
            os._exit(3)
        transactions += 1
        done += len(messages)
    emit({"transactions": transactions, "processed": done})
    close_and_exit(consumer)


def close_and_exit(consumer):
    """Leaves the group (so the next processor need not wait for this member's session
    to end), but no longer than 5 s: a consumer whose group state the server lost in a
    restart can block in close()."""
    closing = threading.Thread(target=consumer.close, daemon=True)
    closing.start()
    closing.join(5)
    sys.stdout.flush()
    os._exit(0)


def vanish(bootstrap, topic, txn_id):
    made = producer(bootstrap, txn_id)
    made.begin_transaction()
    for n in range(5):
        made.produce(topic, key=b"v", value=("lost%d" % n).encode())
    made.flush(10)
    emit({"vanishing": True})
    os.kill(os.getpid(), signal.SIGKILL)


def fence(bootstrap, topic):
    first = producer(bootstrap, "fenced-id")
    first.begin_transaction()
    first.produce(topic, key=b"z", value=b"zombie")
    first.flush(10)
    second = producer(bootstrap, "fenced-id")
    second.begin_transaction()
    second.produce(topic, key=b"z", value=b"successor")
    second.flush(10)
    second.commit_transaction(30)
    try:
        first.commit_transaction(10)
        outcome = "committed"
    except KafkaException as error:
        outcome = "fatal" if error.args[0].fatal() else str(error.args[0])
    committed, _ = read(bootstrap, topic, "read_committed")
    emit({"first": outcome, "committed": [r[3] for r in committed]})


mode = sys.argv[1]
if mode == "commit_abort":
    commit_abort(sys.argv[2], sys.argv[3])
elif mode == "process":
    process(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]), int(sys.argv[8]))
elif mode == "read":
    records, positions = read(sys.argv[2], sys.argv[3], sys.argv[4])
    emit({"records": records, "positions": positions})
elif mode == "watermarks":
    consumer = Consumer({"bootstrap.servers": sys.argv[2], "group.id": "watermarks",
                         "isolation.level": sys.argv[4]})
    low, high = consumer.get_watermark_offsets(TopicPartition(sys.argv[3], 0), timeout=10, cached=False)
    emit({"low": low, "high": high})
elif mode == "vanish":
    vanish(sys.argv[2], sys.argv[3], sys.argv[4])
elif mode == "fence":
    fence(sys.argv[2], sys.argv[3])
else:
    raise SystemExit("unknown mode " + mode)
