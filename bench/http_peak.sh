#!/usr/bin/env bash
# The HTTP path at its peak against the machine's own limit, in one sitting: the disk's
# O_DIRECT write rate (dd, 4 MiB blocks, 1 GiB, fsynced) in the folder the server
# writes to, then `silt dev` on that folder (release build) and `silt bench`: 1 KiB
# random-word records from 64 producers, 100 B records of random letters (1,000 a
# request) from 16 producers, and the 1 KiB load again paced at half its peak for the
# acknowledgement latency there.
#
#   bench/http_peak.sh [SILT_BINARY] [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SILT="${1:-$ROOT/target/release/silt}"
SECONDS_EACH="${2:-15}"
WORK="$(mktemp -d -p "${TMPDIR:-/tmp}")"
SILT_PID=""
cleanup() {
  [ -n "$SILT_PID" ] && kill "$SILT_PID" 2>/dev/null && wait "$SILT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
PORT=18141
URL="http://127.0.0.1:$PORT"

echo "== the disk: O_DIRECT writes of 4 MiB, 1 GiB, fsynced"
DISK="$(dd if=/dev/zero of="$WORK/dd" bs=4M count=256 oflag=direct conv=fsync 2>&1 | tail -1)"
rm -f "$WORK/dd"
echo "$DISK"
DISK_MB="$(echo "$DISK" | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) ~ /^[MG]B\/s$/) { v = $i; if ($(i + 1) == "GB/s") v *= 1000; print v } }')"

"$SILT" dev --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --compact-interval-ms 0 \
  >"$WORK/silt.log" 2>&1 &
SILT_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && break
  sleep 0.2
done
bench() { "$SILT" bench --url "$URL" --duration "$SECONDS_EACH" --warmup 2 --json "$WORK/report.json" "$@" >/dev/null; }
field() { python3 -c "import json,sys; r=json.load(open('$WORK/report.json')); print($1)"; }

echo "== 1 KiB records, 64 producers"
bench --topic big --concurrency 64
PEAK="$(field 'r["produce"]["records_per_second"]')"
MB="$(field 'r["produce"]["mb_per_second"]')"
echo "$PEAK records/s, $MB MB/s = $(python3 -c "print(round(100 * $MB / $DISK_MB, 1))") % of the disk's $DISK_MB MB/s; ack p99 $(field 'r["ack_latency_ms"]["p99"]') ms"

echo "== 100 B records (random letters), 1,000 a request, 16 producers"
bench --topic small --record-bytes 100 --payload random --batch 1000 --concurrency 16
echo "$(field 'r["produce"]["records_per_second"]') records/s, ack p99 $(field 'r["ack_latency_ms"]["p99"]') ms"

HALF=$((${PEAK%.*} / 2))
echo "== 1 KiB records paced at half the peak ($HALF records/s), 64 producers"
bench --topic half --concurrency 64 --rate "$HALF"
echo "$(field 'r["produce"]["records_per_second"]') records/s, ack p50 $(field 'r["ack_latency_ms"]["p50"]') ms, p99 $(field 'r["ack_latency_ms"]["p99"]') ms"
