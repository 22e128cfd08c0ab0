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
# Starts `$SILT` (target/release/silt unless set) as `silt dev` on $SILT_PORT and
# $KAFKA_PORT with its data in $WORK/silt and the flags given, and waits until it is
# ready; its pid is SILT_PID.
start_silt() {
  "${SILT:-$ROOT/target/release/silt}" dev --data-dir "$WORK/silt" \
    --listen "127.0.0.1:$SILT_PORT" --kafka-listen "127.0.0.1:$KAFKA_PORT" \
    --compact-interval-ms 0 "$@" >>"$WORK/silt.log" 2>&1 &
  SILT_PID=$!
  PIDS+=($SILT_PID)
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SILT_PORT/readyz" 2>/dev/null && return
    sleep 0.2
  done
  echo "silt did not start" >&2; exit 1
}
# Stops the server and starts `$SILT` again with the flags given and empty caches: the
# chunk cache's disk part outlives a restart, so it is removed first.
restart_cold() {
  kill "$SILT_PID"; wait "$SILT_PID" 2>/dev/null || true
  rm -rf "$WORK/silt/cache"
  start_silt "$@"
}
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
