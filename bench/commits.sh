#!/bin/bash
# The coordinator's commit capacity on PostgreSQL: `silt bench-commits` in process for a
# matrix of simulated gateways and partitions, then two coordinator builds measured over
# their internal HTTP API the same way. Needs a PostgreSQL server on 127.0.0.1:$PGPORT
# that trusts user postgres (see bench/README.md).
# usage: bench/commits.sh SILT [BEFORE_SILT]
SILT=$1; BEFORE=$2; PGPORT=${PGPORT:-15432}
PSQL="runuser -u postgres -- $(ls -d /usr/lib/postgresql/*/bin | tail -1)/psql -h 127.0.0.1 -p $PGPORT -U postgres -q"
fresh() { $PSQL -c "drop database if exists cb" 2>/dev/null; $PSQL -c "create database cb"; }
URL=postgres://postgres@127.0.0.1:$PGPORT/cb
for partitions in 16 256; do
    for gateways in 1 8 32 128; do
        fresh
        "$SILT" bench-commits --metadata-url "$URL" --gateways "$gateways" --partitions "$partitions" --duration 10 --warmup 2
    done
done
remote() {
    local bin=$1 label=$2
    fresh
    "$bin" coordinator --metadata-url "$URL" --listen 127.0.0.1:19190 > "/tmp/cb-$label.log" 2>&1 &
    local pid=$!
    sleep 2
    echo -n "$label over HTTP: "
    "$SILT" bench-commits --coordinator http://127.0.0.1:19190 --gateways 32 --partitions 16 --duration 10 --warmup 2
    kill $pid; wait $pid 2>/dev/null
}
if [ -n "$BEFORE" ]; then
    for round in 1 2; do
        remote "$BEFORE" before
        remote "$SILT" after
    done
fi
