"""HTTP produce with and without a transaction per request, side by side.

    python3 bench/http_transactions.py --url http://127.0.0.1:8080 --topics a,b \\
        --clients 8 --records 10 --record-bytes 1024 --seconds 10 --mode txn

`--mode plain` posts each batch to `POST /v1/topics/<first topic>/records`; `--mode txn`
posts the same records, spread over the topics, to `POST /v1/records`, each request one
transaction of its own (committed before it is answered). Values are random hex, so no
codec finds repeats. Prints one JSON line: requests/s, records/s, latency p50/p99 (ms).
The topics must exist."""

import argparse
import json
import os
import threading
import time
import urllib.request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--topics", default="a,b")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--record-bytes", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mode", choices=["plain", "txn"], default="txn")
    args = parser.parse_args()
    topics = args.topics.split(",")
    latencies, failures, lock = [], [0], threading.Lock()
    stop = time.perf_counter() + args.seconds

    def client() -> None:
        mine = []
        while time.perf_counter() < stop:
            values = [os.urandom(args.record_bytes // 2).hex() for _ in range(args.records)]
            if args.mode == "plain":
                path = "/v1/topics/%s/records" % topics[0]
                body = {"records": [{"value": value} for value in values]}
            else:
                path = "/v1/records"
                body = {"records": [{"topic": topics[i % len(topics)], "value": value}
                                    for i, value in enumerate(values)]}
            request = urllib.request.Request(args.url + path, data=json.dumps(body).encode(),
                                             method="POST",
                                             headers={"content-type": "application/json"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
                mine.append((time.perf_counter() - started) * 1e3)
            except Exception:  # noqa: BLE001 - counted, not raised: a bench keeps going
                with lock:
                    failures[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    begun = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - begun
    latencies.sort()

    def at(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else None

    print(json.dumps({
        "mode": args.mode, "clients": args.clients, "records_per_request": args.records,
        "record_bytes": args.record_bytes, "requests_per_second": round(len(latencies) / seconds),
        "records_per_second": round(len(latencies) * args.records / seconds),
        "latency_ms": {"p50": at(0.5), "p99": at(0.99)}, "failures": failures[0],
    }))


if __name__ == "__main__":
    main()
