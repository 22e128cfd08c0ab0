#!/usr/bin/env bash
# Produce acks beside SQL queries, with 2 query threads and with 1, in one sitting
# (release build): a 5 s fresh tail of `events` (typed), then 100,000 records/s of
# 1 KiB (64 producers, consumers tailing) while a filtered group-by runs in a loop.
#
#   bench/sql_acks.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SILT="$ROOT/target/release/silt"
for threads in 2 1; do
  W=$(mktemp -d /tmp/ackexp.XXXX); PORT=18095; URL=http://127.0.0.1:$PORT
  $SILT dev --data-dir $W --listen 127.0.0.1:$PORT --compact-interval-ms 0 --query-threads $threads >$W/log 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -fsS -o /dev/null $URL/readyz 2>/dev/null && break; sleep 0.2; done
  SCHEMA='{"type":"object","properties":{"event":{"type":"string"},"seq":{"type":"integer"},"variant":{"type":"integer"},"session":{"type":"integer"},"text":{"type":"string"}}}'
  curl -fsS $URL/v1/topics -d "{\"name\":\"events\",\"partitions\":8,\"value_schema\":$SCHEMA}" >/dev/null
  $SILT bench --url $URL --topic events --record-bytes 100 --batch 1000 --concurrency 16 --duration 5 --warmup 0 | grep "^records/s"
  echo "query threads $threads"
  ( while true; do curl -s -o /dev/null $URL/v1/query -d '{"sql":"SELECT variant, count(*), avg(seq), max(session) FROM events WHERE seq % 10 < 3 GROUP BY variant ORDER BY variant"}' && echo >> $W/loops; done ) &
  LOOP=$!
  $SILT bench --url $URL --topic acks --record-bytes 1024 --rate 100000 --concurrency 64 --consume --duration 20 --warmup 3 | grep -E "^(records/s|ack latency)"
  kill $LOOP; echo "queries answered: $(wc -l < $W/loops 2>/dev/null || echo 0)"
  kill $PID; wait $PID 2>/dev/null; rm -rf $W
done
