#!/bin/bash
# Three librdkafka produce runs of 1,000,000 1 KiB records against a fresh `silt dev`
# (the binary given), then its flush and PUT counts.
BIN=$1
rm -rf /tmp/bp-data; mkdir -p /tmp/bp-data
$BIN dev --data-dir /tmp/bp-data --listen 127.0.0.1:18081 --kafka-listen 127.0.0.1:19093 --compact-interval-ms 0 > /dev/null 2>&1 &
PID=$!
sleep 2
$BIN topics create kt --partitions 8 --url http://127.0.0.1:18081 >/dev/null
for i in 1 2 3; do .venv/kafka-clients/bin/python bench/kafka_produce.py --bootstrap 127.0.0.1:19093 --topic kt --records 1000000 --record-bytes 1024 | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['records_per_second'], d['mb_per_second'])"; done
curl -s 127.0.0.1:18081/metrics | grep -E "^silt_flushes_total|^silt_object_store_requests_total\{operation=\"put\"" | head -3
kill $PID; wait $PID 2>/dev/null
