#!/usr/bin/env bash
# librdkafka's `rdkafka_performance` (bench/build_rdkafka_performance.sh) against
# `silt dev` on moto's S3 server, started here, librdkafka's default settings, 8
# partitions, `acks=all`, 1 KiB values (a random 1 KiB pattern behind each message's own sequence
# number, `-S`, so no two values are the same): one message in flight (20 a second,
# latency of each from its delivery report), plain and idempotent produce, then a cold
# consume of everything produced (a restarted server, its memory and disk caches emptied).
#
#   bench/rdkafka_s3.sh [RECORDS] [SILT_BINARY]
#
# rdkafka_performance sets `linger.ms=1000` of its own (examples/rdkafka_performance.c),
# which also makes the sticky partitioner keep one partition for 2 s; every producer
# here passes `linger.ms=$LINGER`, librdkafka's default of 5 unless LINGER is set
# (LINGER=1000 gives rdkafka_performance's own setting).
#
# With BUCKET=local the server keeps its segments on the local filesystem instead
# (moto still starts, idle), for the machine's own limit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${1:-1000000}"
SILT="${2:-$ROOT/target/release/silt}"
RDPERF="${RDPERF:-$ROOT/target/rdkafka_performance}"
S3_PORT=14587 SILT_PORT=18094 KAFKA_PORT=19094
URL="http://127.0.0.1:$SILT_PORT"
# shellcheck source=bench/moto.sh
source "$ROOT/bench/moto.sh"
LINGER="${LINGER:-5}"
STORE=(--object-store s3://bench/silt)
[ "${BUCKET:-moto}" = local ] && STORE=()
start_silt "${STORE[@]}"
"$SILT" topics create one --partitions 8 --url "$URL" >/dev/null
"$SILT" topics create k8 --partitions 8 --url "$URL" >/dev/null
PATTERN="$(head -c 2048 /dev/urandom | base64 -w0 | head -c 1024)"
BROKER="127.0.0.1:$KAFKA_PORT"
summary() { grep -E "messages produced|bytes\) consumed" | tail -1; }

echo "== one message in flight: 400 messages, 20 a second"
"$RDPERF" -P -t one -b "$BROKER" -a -1 -s 1024 -m "$PATTERN" -c 400 -r 20 -l \
  -A "$WORK/latency.txt" -X "linger.ms=$LINGER" >/dev/null 2>&1
sort -n "$WORK/latency.txt" | awk '{ v[NR] = $1 } END {
  printf "latency p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d messages)\n",
    v[int(NR * 0.50)] / 1000, v[int(NR * 0.99)] / 1000, v[NR] / 1000, NR }'

for idempotence in false true; do
  echo "== produce $RECORDS, enable.idempotence=$idempotence"
  "$RDPERF" -P -t k8 -b "$BROKER" -a -1 -s 1024 -m "$PATTERN" -S 1 -c "$RECORDS" \
    -X "enable.idempotence=$idempotence" -X "linger.ms=$LINGER" 2>&1 | summary
done

echo "== cold consume of all $((2 * RECORDS)) records (restarted server, empty caches)"
restart_cold "${STORE[@]}"
"$RDPERF" -C -t k8 -b "$BROKER" -p 0 -p 1 -p 2 -p 3 -p 4 -p 5 -p 6 -p 7 -o beginning \
  -c "$((2 * RECORDS))" -X fetch.max.bytes=52428800 2>&1 | summary
