#!/bin/bash
# Runs one binary (its path, a label) against a fresh `silt dev` on the local filesystem:
# HTTP and Kafka one-in-flight latency, 64 HTTP producers, librdkafka throughput.
# usage: bench-pair.sh BINARY LABEL
BIN=$1; LABEL=$2
rm -rf /tmp/bp-data; mkdir -p /tmp/bp-data
$BIN dev --data-dir /tmp/bp-data --listen 127.0.0.1:18081 --kafka-listen 127.0.0.1:19093 --compact-interval-ms 0 > /tmp/bp-server-$LABEL.log 2>&1 &
PID=$!
sleep 2
$BIN topics create one --partitions 8 --url http://127.0.0.1:18081 >/dev/null
echo "== $LABEL http one in flight"
$BIN bench --url http://127.0.0.1:18081 --topic h1 --concurrency 1 --batch 1 --duration 15 --warmup 2 --json /tmp/bp-$LABEL-http1.json >/dev/null 2>&1
python3 -c "import json; d=json.load(open('/tmp/bp-$LABEL-http1.json')); print(d['produce']['records_per_second'], d['ack_latency_ms'], d['object_store']['puts_per_second'])"
echo "== $LABEL kafka one in flight"
.venv/kafka-clients/bin/python bench/kafka_produce.py --bootstrap 127.0.0.1:19093 --topic one --records 400 --record-bytes 1024 --one-in-flight
echo "== $LABEL http 64 producers"
$BIN bench --url http://127.0.0.1:18081 --topic h64 --concurrency 64 --duration 15 --warmup 2 --json /tmp/bp-$LABEL-http64.json >/dev/null 2>&1
python3 -c "import json; d=json.load(open('/tmp/bp-$LABEL-http64.json')); print(d['produce']['records_per_second'], d['produce']['mb_per_second'], d['ack_latency_ms'], d['object_store']['puts_per_second'])"
echo "== $LABEL kafka throughput"
$BIN topics create kt --partitions 8 --url http://127.0.0.1:18081 >/dev/null
.venv/kafka-clients/bin/python bench/kafka_produce.py --bootstrap 127.0.0.1:19093 --topic kt --records 300000 --record-bytes 1024
kill $PID; wait $PID 2>/dev/null
