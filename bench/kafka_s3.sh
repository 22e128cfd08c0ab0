#!/usr/bin/env bash
# librdkafka against `silt dev` on moto's S3 server, started here: one message in flight
# (acknowledgement latency), then plain and idempotent throughput of random 1 KiB
# values to 8 partitions.
#
#   bench/kafka_s3.sh [RECORDS] [SILT_BINARY]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${1:-300000}"
SILT="${2:-$ROOT/target/release/silt}"
S3_PORT=14567 SILT_PORT=18092 KAFKA_PORT=19092
# shellcheck source=bench/moto.sh
source "$ROOT/bench/moto.sh"
start_silt --object-store s3://bench/silt
PY="$ROOT/.venv/kafka-clients/bin/python"
"$SILT" topics create one --partitions 8 --url "http://127.0.0.1:$SILT_PORT" >/dev/null
"$SILT" topics create k8 --partitions 8 --url "http://127.0.0.1:$SILT_PORT" >/dev/null
echo "== one message in flight"
"$PY" "$ROOT/bench/kafka_produce.py" --bootstrap "127.0.0.1:$KAFKA_PORT" --topic one --records 400 --record-bytes 1024 --one-in-flight
for mode in "" "--idempotence" "" "--idempotence"; do
  echo "== throughput ${mode:-plain}"
  "$PY" "$ROOT/bench/kafka_produce.py" --bootstrap "127.0.0.1:$KAFKA_PORT" --topic k8 --records "$RECORDS" --record-bytes 1024 --acks all $mode | tail -1
done
