#!/bin/bash
# Compares two servers with one load generator: for each round, each binary serves a
# fresh `silt dev` on the local filesystem and `CLIENT bench` (1 KiB records, 32
# producers, 15 s after 2 s of warm-up) measures it; rounds alternate the two, so drift
# of the machine's speed falls on both. Prints one line per run.
# usage: bench/server_pair.sh BEFORE AFTER CLIENT [ROUNDS]
BEFORE=$1; AFTER=$2; CLIENT=$3; ROUNDS=${4:-3}
run() {
    local bin=$1 label=$2 round=$3
    rm -rf /tmp/sp-data; mkdir -p /tmp/sp-data
    "$bin" dev --data-dir /tmp/sp-data --listen 127.0.0.1:18091 --kafka-listen 127.0.0.1:19095 \
        --compact-interval-ms 0 > "/tmp/sp-server-$label.log" 2>&1 &
    local pid=$!
    sleep 2
    "$CLIENT" bench --url http://127.0.0.1:18091 --duration 15 --warmup 2 --concurrency 32 \
        --json "/tmp/sp-$label-$round.json" > /dev/null 2>&1
    python3 -c "import json,sys; d=json.load(open('/tmp/sp-$label-$round.json')); p=d['produce']; a=d['ack_latency_ms']; print('$label round $round:', round(p['records_per_second']), 'records/s', round(p['mb_per_second'],1), 'MB/s, ack p50', a['p50'], 'ms, p99', a['p99'], 'ms')"
    kill $pid; wait $pid 2>/dev/null
}
for round in $(seq 1 "$ROUNDS"); do
    run "$BEFORE" before "$round"
    run "$AFTER" after "$round"
done
