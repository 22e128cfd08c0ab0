#!/usr/bin/env bash
# The server's CPU per GiB that librdkafka produces and then consumes, measured by
# `perf stat` on the server process alone: `silt dev` (local filesystem, release build)
# takes RECORDS random 1 KiB values to 8 partitions from bench/kafka_produce.py, then a
# librdkafka consumer (confluent-kafka) reads them all back from offset 0. Run it with
# two binaries to compare them in one sitting; each run starts from an empty data
# directory.
#
#   bench/kafka_cpu.sh RECORDS CODEC BINARY [BINARY...]     (CODEC: none, lz4, zstd...)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="$1" CODEC="$2"
shift 2
PY="$ROOT/.venv/kafka-clients/bin/python"
SILT_PORT=18111 KAFKA_PORT=19111
URL="http://127.0.0.1:$SILT_PORT"
WORK="$(mktemp -d)"
SILT_PID=""
cleanup() {
  [ -n "$SILT_PID" ] && kill "$SILT_PID" 2>/dev/null && wait "$SILT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Task-clock milliseconds of process $1 while the rest of the arguments run (their
# output goes to file $2).
cpu_ms_during() {
  local pid="$1" out="$2"
  shift 2
  perf stat -x, -e task-clock -p "$pid" -o "$WORK/perf.txt" &
  local perf=$!
  sleep 0.3
  "$@" >"$out" 2>&1
  kill -INT "$perf"
  wait "$perf" 2>/dev/null || true
  awk -F, '$3 == "task-clock" || $3 ~ /^task-clock/ { print $1 }' "$WORK/perf.txt"
}

consume() {
  "$PY" - "127.0.0.1:$KAFKA_PORT" "$RECORDS" <<'PY'
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "cpu", "enable.auto.commit": False,
                     "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 8388608})
consumer.assign([TopicPartition("k8", p, 0) for p in range(8)])
want = int(sys.argv[2])
seen = values = 0
started = time.monotonic()
while seen < want and time.monotonic() - started < 600:
    for message in consumer.consume(10000, 1.0):
        if message.error() is None:
            seen += 1
            values += len(message.value())
elapsed = time.monotonic() - started
print(json.dumps({"records": seen, "value_bytes": values, "seconds": round(elapsed, 2),
                  "records_per_s": round(seen / elapsed)}))
PY
}

for binary in "$@"; do
  rm -rf "$WORK/data"
  "$binary" dev --data-dir "$WORK/data" --listen "127.0.0.1:$SILT_PORT" \
    --kafka-listen "127.0.0.1:$KAFKA_PORT" --compact-interval-ms 0 >"$WORK/silt.log" 2>&1 &
  SILT_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && break
    sleep 0.2
  done
  "$binary" topics create k8 --partitions 8 --url "$URL" >/dev/null
  echo "== $binary, $RECORDS records, compression $CODEC"
  produce_ms="$(cpu_ms_during "$SILT_PID" "$WORK/produce.txt" "$PY" "$ROOT/bench/kafka_produce.py" \
    --bootstrap "127.0.0.1:$KAFKA_PORT" --topic k8 --records "$RECORDS" --record-bytes 1024 \
    --acks all --compression "$CODEC")"
  echo "produce: $(tail -1 "$WORK/produce.txt")"
  consume_ms="$(cpu_ms_during "$SILT_PID" "$WORK/consume.txt" consume)"
  echo "consume: $(tail -1 "$WORK/consume.txt")"
  "$PY" - "$RECORDS" "$produce_ms" "$consume_ms" <<'PY'
import sys
records, produce_ms, consume_ms = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
gib = records * 1024 / (1 << 30)
print(f"server CPU per GiB of values: produce {produce_ms / 1000 / gib:.2f} s, consume {consume_ms / 1000 / gib:.2f} s")
PY
  kill "$SILT_PID"
  wait "$SILT_PID" 2>/dev/null || true
  SILT_PID=""
done
