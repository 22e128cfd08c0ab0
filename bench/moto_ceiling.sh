#!/usr/bin/env bash
# The most moto's S3 server takes on this machine: PUTs of MIB MiB random objects (4,
# the size of a busy gateway's segments, unless given) from curl, CONCURRENCY at once,
# COUNT in all, then GETs of them all back the same way. No server that writes its data
# to moto can produce faster than the first, nor read back faster than the second.
#
#   bench/moto_ceiling.sh [COUNT] [CONCURRENCY] [MIB]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COUNT="${1:-200}" CONCURRENCY="${2:-4}" MIB="${3:-4}"
S3_PORT=14597
# shellcheck source=bench/moto.sh
source "$ROOT/bench/moto.sh"
head -c $((MIB << 20)) /dev/urandom >"$WORK/object"
started=$(date +%s.%N)
seq 1 "$COUNT" | xargs -P "$CONCURRENCY" -I{} curl -fsS -o /dev/null -X PUT -H "Expect:" \
  -H "Content-Type: application/octet-stream" \
  --data-binary @"$WORK/object" "http://127.0.0.1:$S3_PORT/bench/object-{}"
ended=$(date +%s.%N)
awk -v n="$COUNT" -v m="$MIB" -v s="$started" -v e="$ended" 'BEGIN {
  printf "%d PUTs of %d MiB in %.2f s: %.1f PUTs/s, %.1f MB/s\n", n, m, e - s, n / (e - s), n * m * 1.048576 / (e - s) }'
started=$(date +%s.%N)
seq 1 "$COUNT" | xargs -P "$CONCURRENCY" -I{} curl -fsS -o /dev/null \
  --aws-sigv4 "aws:amz:us-east-1:s3" --user test:test "http://127.0.0.1:$S3_PORT/bench/object-{}"
ended=$(date +%s.%N)
awk -v n="$COUNT" -v m="$MIB" -v s="$started" -v e="$ended" 'BEGIN {
  printf "%d GETs of %d MiB in %.2f s: %.1f GETs/s, %.1f MB/s\n", n, m, e - s, n / (e - s), n * m * 1.048576 / (e - s) }'
