#!/usr/bin/env bash
# Builds librdkafka's own benchmark client, `rdkafka_performance`, into
# target/rdkafka_performance: its source comes with the `rdkafka-sys` crate (librdkafka
# 2.12.1), fetched from crates.io. Needs gcc, make, zlib and OpenSSL headers; about 10
# minutes on two cores.
#
#   bench/build_rdkafka_performance.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/fetch/src"
cat >"$WORK/fetch/Cargo.toml" <<'TOML'
[package]
name = "fetch-librdkafka"
version = "0.0.0"
edition = "2021"
[dependencies]
rdkafka-sys = "=4.10.0"
TOML
echo "fn main() {}" >"$WORK/fetch/src/main.rs"
(cd "$WORK/fetch" && cargo fetch -q)
SOURCE="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rdkafka-sys-4.10.0*/librdkafka | head -1)"
cp -r "$SOURCE" "$WORK/librdkafka"
cd "$WORK/librdkafka"
chmod +x configure lds-gen.py
./configure --disable-gssapi --disable-curl --disable-sasl --disable-zstd --disable-lz4-ext >/dev/null
make -j"$(nproc)" libs >/dev/null
make -C examples rdkafka_performance >/dev/null
mkdir -p "$ROOT/target"
cp examples/rdkafka_performance "$ROOT/target/rdkafka_performance"
echo "built $ROOT/target/rdkafka_performance"
