#!/usr/bin/env bash
# Produce throughput and latency of `silt dev` on an S3-compatible server started here:
#
#   bench/s3.sh moto|localstack [silt bench flags...]
#
# Starts moto's server or LocalStack from the virtualenvs that scripts/test-servers.sh
# installs, creates a bucket, runs target/release/silt dev against it and
# target/release/silt bench with the given flags, then stops everything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVER="${1:?moto or localstack}"; shift
S3_PORT=14566 SILT_PORT=18090
WORK="$(mktemp -d)"
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
PIDS=()
trap cleanup EXIT
case "$SERVER" in
  moto)
    "$ROOT/.venv/moto/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$WORK/s3.log" 2>&1 &
    PIDS+=($!) ;;
  localstack)
    OVERRIDE_IN_DOCKER=0 SERVICES=s3 GATEWAY_SERVER=hypercorn GATEWAY_LISTEN="127.0.0.1:$S3_PORT" \
    EAGER_SERVICE_LOADING=1 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 DNS_ADDRESS=0 \
    FILESYSTEM_ROOT="$WORK/localstack" \
      "$ROOT/.venv/localstack/bin/python" -m localstack.runtime.main >"$WORK/s3.log" 2>&1 &
    PIDS+=($!) ;;
  *) echo "bench/s3.sh: moto or localstack, not $SERVER" >&2; exit 2 ;;
esac
for _ in $(seq 1 240); do
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/bench" 2>/dev/null && break
  sleep 0.5
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
"$ROOT/target/release/silt" dev --data-dir "$WORK/silt" --listen "127.0.0.1:$SILT_PORT" \
  --kafka-listen off --compact-interval-ms 0 --object-store s3://bench/silt >"$WORK/silt.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$SILT_PORT/readyz" 2>/dev/null && break
  sleep 0.2
done
"$ROOT/target/release/silt" bench --url "http://127.0.0.1:$SILT_PORT" "$@"
