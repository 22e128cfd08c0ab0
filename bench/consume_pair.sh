#!/usr/bin/env bash
# Compares two servers' cold Kafka consume from moto's S3 server on the same data:
# `rdkafka_performance` produces RECORDS distinct random 1 KiB values to 8 partitions
# once (through BEFORE), then each round restarts the server with empty caches (memory and disk), BEFORE
# and AFTER in turn, and a librdkafka consumer reads everything from the beginning.
# Prints the consumer's rate and the server's bytes read from the bucket for each run.
#
#   bench/consume_pair.sh BEFORE AFTER [RECORDS] [ROUNDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BEFORE="$1" AFTER="$2" RECORDS="${3:-1000000}" ROUNDS="${4:-3}"
RDPERF="${RDPERF:-$ROOT/target/rdkafka_performance}"
S3_PORT=14597 SILT_PORT=18097 KAFKA_PORT=19097
URL="http://127.0.0.1:$SILT_PORT"
# shellcheck source=bench/moto.sh
source "$ROOT/bench/moto.sh"
BROKER="127.0.0.1:$KAFKA_PORT"
metric() { curl -fsS "$URL/metrics" | awk -v series="$1" '$1 == series { print $2 }'; }
SILT="$BEFORE" start_silt --object-store s3://bench/silt
"$BEFORE" topics create k8 --partitions 8 --url "$URL" >/dev/null
PATTERN="$(head -c 2048 /dev/urandom | base64 -w0 | head -c 1024)"
"$RDPERF" -P -t k8 -b "$BROKER" -a -1 -s 1024 -m "$PATTERN" -S 1 -c "$RECORDS" \
  -X linger.ms=5 2>&1 | grep -E "messages produced" | tail -1
for round in $(seq 1 "$ROUNDS"); do
  for label in before after; do
    binary="$BEFORE"; [ "$label" = after ] && binary="$AFTER"
    SILT="$binary" restart_cold --object-store s3://bench/silt
    rate="$("$RDPERF" -C -t k8 -b "$BROKER" -p 0 -p 1 -p 2 -p 3 -p 4 -p 5 -p 6 -p 7 \
      -o beginning -c "$RECORDS" -X fetch.max.bytes=52428800 2>&1 |
      grep -E "bytes\) consumed" | tail -1 | grep -oE "[0-9]+ msgs/s")"
    echo "round $round $label: $rate, $(metric 'silt_object_store_bytes_total{operation="get"}') bytes" \
      "and $(metric 'silt_object_store_requests_total{operation="get"}') GETs from the bucket," \
      "$(metric silt_read_aheads_total) read-aheads"
  done
done
