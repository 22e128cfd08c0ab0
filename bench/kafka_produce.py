"""Produce throughput of librdkafka's producer (confluent-kafka) against Silt's Kafka
listener. Prints one JSON line: records, bytes, seconds, records/s and MB/s.

    .venv/kafka-clients/bin/python bench/kafka_produce.py --bootstrap 127.0.0.1:9092 \\
        --topic bench --records 200000 --record-bytes 1024 --acks all

With `--one-in-flight`, each record is sent alone and waited for (`linger.ms` 0, a flush
per record): the acknowledgement latency of a quiet producer, reported as p50, p90, p99
and max in milliseconds.

With `--transaction-ms N`, the producer is transactional (`transactional.id`): it commits
its transaction every N ms and begins the next; the rate counts records whose
transaction committed.

The topic must exist (`silt topics create bench --partitions 8`)."""

import argparse
import json
import os
import time

from confluent_kafka import Producer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="bench")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--record-bytes", type=int, default=1024)
    parser.add_argument("--acks", default="all")
    parser.add_argument("--linger-ms", type=int, default=20)
    parser.add_argument("--compression", default="none")
    parser.add_argument("--idempotence", action="store_true")
    parser.add_argument("--max-in-flight", type=int, default=None,
                        help="max.in.flight.requests.per.connection (librdkafka's default otherwise)")
    parser.add_argument("--transaction-ms", type=int, default=None,
                        help="transactional: commit every this many milliseconds")
    parser.add_argument("--one-in-flight", action="store_true",
                        help="send each record alone and wait for it; report its latency")
    args = parser.parse_args()
    if args.one_in_flight:
        args.linger_ms = 0

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "acks": args.acks,
        "linger.ms": args.linger_ms,
        "compression.type": args.compression,
        "enable.idempotence": args.idempotence or bool(args.transaction_ms),
        "batch.size": 1_000_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        **({"max.in.flight.requests.per.connection": args.max_in_flight} if args.max_in_flight else {}),
        **({"transactional.id": "bench-%d" % os.getpid()} if args.transaction_ms else {}),
    })
    transactions = 0
    if args.transaction_ms:
        producer.init_transactions(30)
        producer.begin_transaction()
        committed_at = time.perf_counter()
    # Distinct random values (hex text), 4 MiB of them: no codec finds repeats to squeeze.
    pool = max(1, (4 << 20) // max(1, args.record_bytes))
    values = [
        os.urandom(args.record_bytes // 2 + 1).hex().encode()[: args.record_bytes]
        for _ in range(pool)
    ]
    failures = []

    def report(error, _message):
        if error is not None:
            failures.append(str(error))

    if args.one_in_flight:
        latencies = []
        for i in range(args.records):
            sent = time.perf_counter()
            producer.produce(args.topic, key=str(i).encode(), value=values[i % pool],
                             on_delivery=report)
            producer.flush(30)
            latencies.append((time.perf_counter() - sent) * 1e3)
        latencies.sort()

        def at(q):
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

        print(json.dumps({
            "records": args.records, "record_bytes": args.record_bytes, "acks": args.acks,
            "idempotence": args.idempotence, "one_in_flight": True,
            "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99),
                           "max": round(latencies[-1], 2)},
            "failures": len(failures),
        }))
        return
    started = time.perf_counter()
    for i in range(args.records):
        while True:
            try:
                producer.produce(
                    args.topic, key=str(i).encode(), value=values[i % pool], on_delivery=report
                )
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
        if args.transaction_ms and (time.perf_counter() - committed_at) * 1e3 >= args.transaction_ms:
            producer.commit_transaction(60)
            transactions += 1
            producer.begin_transaction()
            committed_at = time.perf_counter()
    if args.transaction_ms:
        producer.commit_transaction(60)
        transactions += 1
    left = producer.flush(120)
    seconds = time.perf_counter() - started
    total = args.records * args.record_bytes
    print(json.dumps({
        "records": args.records,
        "record_bytes": args.record_bytes,
        "acks": args.acks,
        "compression": args.compression,
        "idempotence": args.idempotence or bool(args.transaction_ms),
        "max_in_flight": args.max_in_flight,
        "transactions": transactions,
        "seconds": round(seconds, 3),
        "records_per_second": round(args.records / seconds),
        "mb_per_second": round(total / seconds / 1e6, 1),
        "undelivered": left,
        "failures": len(failures),
    }))


if __name__ == "__main__":
    main()
