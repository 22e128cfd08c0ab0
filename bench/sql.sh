#!/usr/bin/env bash
# SQL over a topic (issue 18), release build, local filesystem:
#  1. `silt bench` produces random-word values (~100 B) to `events`, whose value schema
#     makes typed columns; the topic is compacted, then a fresh tail is produced;
#  2. count(*), a filtered count and a filtered group-by, each run 3 times through
#     `POST /v1/query`, and the same three by DuckDB over the same Parquet files;
#  3. time to first row of a query on the last minute of a topic with a year of
#     history in 1 compacted file and in 100;
#  4. produce ack latency at a fixed rate with and without a query loop beside it.
#
#   bench/sql.sh [PRODUCE_SECONDS] [RATE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRODUCE_SECONDS="${1:-200}"
RATE="${2:-100000}"
PORT=18094
URL="http://127.0.0.1:$PORT"
SILT="$ROOT/target/release/silt"
DUCK="$ROOT/.venv/duckdb/bin/python"
WORK="$(mktemp -d /tmp/silt-sql-bench.XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$SILT" dev --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --compact-interval-ms 0 \
  --http-idle-timeout-ms 3600000 --query-threads 2 \
  >"$WORK/silt.log" 2>&1 &
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && break; sleep 0.2; done

sql() { # sql SQL -> prints "seconds_to_first_byte seconds_total" and keeps the body
  curl -sS -o "$WORK/answer" -w '%{time_starttransfer} %{time_total}\n' "$URL/v1/query" \
    -H 'accept: application/x-ndjson' \
    --data-binary "$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$1")"
}
best_of_3() { # best_of_3 LABEL SQL
  local runs=() line
  for _ in 1 2 3; do line="$(sql "$2")"; runs+=("$(cut -d' ' -f2 <<<"$line")"); done
  printf '%-16s %s s (runs: %s)  answer: %s\n' "$1" "$(printf '%s\n' "${runs[@]}" | sort -n | head -1)" \
    "${runs[*]}" "$(head -c 200 "$WORK/answer" | tr '\n' ' ')"
}

SCHEMA='{"type":"object","properties":{"event":{"type":"string"},"seq":{"type":"integer"},"variant":{"type":"integer"},"session":{"type":"integer"},"text":{"type":"string"}}}'
curl -fsS "$URL/v1/topics" -d "{\"name\":\"events\",\"partitions\":8,\"value_schema\":$SCHEMA}" >/dev/null
echo "== produce for ${PRODUCE_SECONDS} s (random words, ~100 B values)"
"$SILT" bench --url "$URL" --topic events --record-bytes 100 --batch 1000 --concurrency 16 \
  --duration "$PRODUCE_SECONDS" --warmup 0 | grep -E "^(records/s|MB/s|ack latency)"
echo "== compact"
START=$(date +%s.%N)
curl -fsS -X POST "$URL/v1/topics/events/compact" -d '{}' | head -c 300; echo
echo "compaction took $(python3 -c "print(round($(date +%s.%N) - $START, 1))") s"
echo "== a fresh tail (10 s)"
"$SILT" bench --url "$URL" --topic events --record-bytes 100 --batch 1000 --concurrency 16 \
  --duration 10 --warmup 0 | grep -E "^(records/s|MB/s|ack latency)"
du -sh "$WORK/data/bucket/tables/events" "$WORK/data/bucket/segments" 2>/dev/null || true

echo "== Silt: POST /v1/query (best of 3)"
COUNT='SELECT count(*) FROM events'
FILTERED='SELECT count(*) FROM events WHERE variant = 3'
GROUPED='SELECT variant, count(*), avg(seq), max(session) FROM events WHERE seq % 10 < 3 GROUP BY variant ORDER BY variant'
best_of_3 count "$COUNT"
best_of_3 filtered_count "$FILTERED"
best_of_3 grouped "$GROUPED"
echo "== DuckDB $("$DUCK" -c 'import duckdb; print(duckdb.__version__)') over the same Parquet files (compacted part only; best of 3)"
"$DUCK" - "$WORK/data/bucket/tables/events/**/*.parquet" "$COUNT" "$FILTERED" "$GROUPED" <<'PY'
import duckdb, sys, time
con = duckdb.connect()
con.execute(f"create view events as select * from read_parquet('{sys.argv[1]}', hive_partitioning = true)")
for label, sql in zip(["count", "filtered_count", "grouped"], sys.argv[2:]):
    runs = []
    for _ in range(3):
        started = time.monotonic(); rows = con.execute(sql).fetchall(); runs.append(time.monotonic() - started)
    print(f"{label:<16} {min(runs):.3f} s (runs: {' '.join(f'{r:.3f}' for r in runs)})  answer: {str(rows)[:200]}")
PY

echo "== the last minute of a year of history: 1 compacted file, then 100"
NOW_MS=$(($(date +%s) * 1000))
history() { # history TOPIC FILES: 100 batches of 2000 records over a year, compacted into FILES files
  curl -fsS "$URL/v1/topics" -d "{\"name\":\"$1\",\"partitions\":4}" >/dev/null
  for batch in $(seq 0 99); do
    python3 - "$batch" "$NOW_MS" >"$WORK/batch.json" <<'PY'
import json, random, sys
batch, now = int(sys.argv[1]), int(sys.argv[2])
day = 86_400_000
start = now - 366 * day + batch * 365 * day // 100
records = [{"key": f"k{i}", "value": {"line": "".join(random.choices("abcdefghij ", k=80))},
            "timestamp": start + i * 1000} for i in range(2000)]
print(json.dumps({"records": records}))
PY
    curl -fsS "$URL/v1/topics/$1/records" --data-binary @"$WORK/batch.json" >/dev/null
    if [ "$2" = 100 ]; then curl -fsS -X POST "$URL/v1/topics/$1/compact" -d '{}' >/dev/null; fi
  done
  if [ "$2" = 1 ]; then curl -fsS -X POST "$URL/v1/topics/$1/compact" -d '{}' >/dev/null; fi
  curl -fsS "$URL/v1/topics/$1/records" -d '{"records":[{"value":{"line":"now"}},{"value":{"line":"now too"}}]}' >/dev/null
  printf '%s: %s compacted files; ' "$1" "$(curl -fsS "$URL/v1/topics/$1/tables" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tables"]))')"
  local runs=()
  for _ in 1 2 3; do runs+=("$(sql "SELECT * FROM $1 WHERE \"timestamp\" > now() - INTERVAL '1 minute'" | cut -d' ' -f1)"); done
  echo "time to first row: $(printf '%s\n' "${runs[@]}" | sort -n | head -1) s (runs: ${runs[*]}), rows: $(wc -l <"$WORK/answer")"
}
history history_one 1
history history_hundred 100

echo "== produce ack latency at $RATE records/s (1 KiB, 64 producers, consumers tailing), alone and with a query loop beside it"
ack_run() {
  "$SILT" bench --url "$URL" --topic acks --record-bytes 1024 --rate "$RATE" --concurrency 64 \
    --consume --duration 20 --warmup 3 | grep -E "^(records/s|ack latency|produce→consume)"
}
ack_run
( while true; do sql "$GROUPED" >/dev/null && echo >>"$WORK/loops"; done ) &
LOOP=$!
ack_run
kill "$LOOP"
echo "grouped queries answered beside the second run: $(wc -l <"$WORK/loops")"
