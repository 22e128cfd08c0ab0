# Sourced by the benchmark scripts that run against moto's S3 server: a work folder
# cleaned on exit (with every process in PIDS), moto on 127.0.0.1:$S3_PORT with a
# bucket `bench`, and the AWS_* variables `silt` reads to reach it.
WORK="$(mktemp -d)"
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$ROOT/.venv/moto/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$WORK/s3.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 240); do
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/bench" 2>/dev/null && break
  sleep 0.5
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
