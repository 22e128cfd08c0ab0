#!/usr/bin/env bash
# The cost of TLS and authentication on HTTP produce throughput: two `silt dev` servers
# on this machine, one open (clear text, no authentication) and one with --auth and TLS
# (an API key per request, an ACL check per topic), measured in turns with the same
# `silt bench` load. Usage: bench/security_cost.sh [rounds] [seconds] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-15}
concurrency=${3:-64}
silt=target/release/silt
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# A CA and a certificate for 127.0.0.1.
(
  cd "$work"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 -days 2 -subj "/CN=bench CA" "${ec[@]}" -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -subj /CN=localhost "${ec[@]}" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -out server.pem -extfile server.ext 2>/dev/null
)

SILT_LOG=warn $silt dev --data-dir "$work/open" --listen 127.0.0.1:18080 --kafka-listen off \
  --compact-interval-ms 0 &
SILT_LOG=warn SILT_BOOTSTRAP_ADMIN_PASSWORD=bench-admin-password $silt dev \
  --data-dir "$work/secure" --listen 127.0.0.1:18443 --kafka-listen off --compact-interval-ms 0 \
  --auth --tls-cert "$work/server.pem" --tls-key "$work/server.key" &
for url in http://127.0.0.1:18080 https://127.0.0.1:18443; do
  until curl -skf "$url/readyz" >/dev/null; do sleep 0.2; done
done

# The benchmark's principal: a key, WRITE and CREATE on its topics, DESCRIBE on the
# cluster (silt bench reads /metrics).
export SILT_URL=https://127.0.0.1:18443 SILT_CA_FILE="$work/ca.pem"
admin=(env SILT_USER=admin SILT_PASSWORD=bench-admin-password)
key=$("${admin[@]}" $silt keys create --principal User:bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"${admin[@]}" $silt acls add --principal User:bench --resource-type topic --resource-name '*' --operation all >/dev/null
"${admin[@]}" $silt acls add --principal User:bench --resource-type cluster --resource-name kafka-cluster --operation describe >/dev/null
unset SILT_URL SILT_CA_FILE

run() {
  local name=$1 url=$2 round=$3
  shift 3
  $silt bench --url "$url" --topic "cost-$round" --duration "$seconds" --warmup 2 \
    --concurrency "$concurrency" --json "$work/$name-$round.json" "$@" >/dev/null 2>&1
  python3 - "$work/$name-$round.json" "$name" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
rate = report["produce"]["records_per_second"]
failed = report["produce"]["requests_failed"]
latency = report["ack_latency_ms"]
print(f"{sys.argv[2]:7} {rate:>10.0f} records/s  p50 {latency['p50']:.1f} ms  p99 {latency['p99']:.1f} ms  failed requests {failed}")
PY
}

for round in $(seq 1 "$rounds"); do
  run open http://127.0.0.1:18080 "$round"
  run secure https://127.0.0.1:18443 "$round" --ca-file "$work/ca.pem" --api-key "$key"
done
