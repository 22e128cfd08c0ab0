#!/usr/bin/env bash
# A cold catch-up of one topic whose segments it shares with another, on moto's S3
# server: `silt bench` produces random 1 KiB values to topics `a` and `b` (8 partitions
# each) at once, so every segment holds both; the server restarts with empty caches;
# then a Kafka consumer (librdkafka) reads all of `a` from the beginning. Reports the
# bytes and GETs read from the bucket per byte of `a`'s records, from the server's own
# counters, and the same for `--replay` right after producing.
#
# The server keeps its default caches (256 MiB of memory, 1 GiB of disk for a bucket)
# unless CACHE_FLAGS says otherwise, e.g. CACHE_FLAGS="--cache-disk-bytes 0" for memory
# alone.
#
#   bench/catchup.sh [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-10}"
S3_PORT=14577 SILT_PORT=18093 KAFKA_PORT=19093
URL="http://127.0.0.1:$SILT_PORT"
# shellcheck source=bench/moto.sh
source "$ROOT/bench/moto.sh"
metric() { curl -fsS "$URL/metrics" | awk -v series="$1" '$1 == series { print $2 }'; }
read -r -a CACHE <<<"${CACHE_FLAGS:-}"
start_silt "${CACHE[@]}" --object-store s3://bench/silt
for topic in a b; do
  "$ROOT/target/release/silt" topics create "$topic" --partitions 8 --url "$URL" >/dev/null
done
echo "== produce to a and b at once; --replay of a right after"
"$ROOT/target/release/silt" bench --url "$URL" --topic b --partitions 8 --record-bytes 1024 \
  --duration "$SECONDS_EACH" --warmup 0 --concurrency 16 >"$WORK/b.txt" &
B_PID=$!
"$ROOT/target/release/silt" bench --url "$URL" --topic a --partitions 8 --record-bytes 1024 \
  --duration "$SECONDS_EACH" --warmup 0 --concurrency 16 --replay | grep -E "^(produce|replay)"
wait "$B_PID" || true
SEGMENT_BYTES="$(curl -fsS "$URL/v1/console/topics" | "$ROOT/.venv/kafka-clients/bin/python" -c \
  'import json,sys; t={x["name"]: x for x in json.load(sys.stdin)["topics"]}; print(t["a"]["segment_bytes"], t["b"]["segment_bytes"])')"
read -r A_BYTES B_BYTES <<<"$SEGMENT_BYTES"
echo "topic a: $A_BYTES bytes of chunks, topic b: $B_BYTES, in shared segments"
echo "== restart with empty caches; a Kafka consumer reads all of a"
restart_cold "${CACHE[@]}" --object-store s3://bench/silt
GETS0="$(metric 'silt_object_store_requests_total{operation="get"}')"
BYTES0="$(metric 'silt_object_store_bytes_total{operation="get"}')"
"$ROOT/.venv/kafka-clients/bin/python" - "127.0.0.1:$KAFKA_PORT" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "catchup", "enable.auto.commit": False,
                     "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 8388608})
lows_highs = [consumer.get_watermark_offsets(TopicPartition("a", p), timeout=10) for p in range(8)]
total = sum(high - low for low, high in lows_highs)
consumer.assign([TopicPartition("a", p, 0) for p in range(8)])
seen = values = 0
started = time.monotonic()
while seen < total:
    for message in consumer.consume(10000, timeout=5):
        if message.error() is None:
            seen += 1
            values += len(message.value() or b"")
seconds = time.monotonic() - started
print(f"consumed {seen} records, {values / 1e6:.1f} MB of values in {seconds:.1f} s = {seen / seconds:.0f} records/s")
consumer.close()
PY
GETS1="$(metric 'silt_object_store_requests_total{operation="get"}')"
BYTES1="$(metric 'silt_object_store_bytes_total{operation="get"}')"
RANGES="$(metric silt_topic_range_reads_total)"
"$ROOT/.venv/kafka-clients/bin/python" - "$GETS0" "$GETS1" "$BYTES0" "$BYTES1" "$A_BYTES" "$RANGES" <<'PY'
import sys
g0, g1, b0, b1, a, ranges = map(float, sys.argv[1:])
print(f"cold catch-up of a: {g1 - g0:.0f} GETs ({ranges:.0f} topic-range reads), {(b1 - b0) / 1e6:.1f} MB read "
      f"for {a / 1e6:.1f} MB of a's chunks = {(b1 - b0) / a:.3f} bytes read per byte delivered")
PY
