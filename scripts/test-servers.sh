#!/usr/bin/env bash
# Install the S3-compatible test servers (moto, LocalStack), DuckDB and PyIceberg for
# reading compacted tables as external engines would, and the Kafka clients, into .venv/ at the
# repo root, and PostgreSQL from Debian's packages. Idempotent: a venv whose marker file records the same pins is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

MOTO_PINS=("moto[server]==5.2.5")
LOCALSTACK_PINS=(
  "localstack-core[runtime]==4.13.1"
  "cbor2==5.9.0"             # <6
  "pyopenssl==24.3.0"        # <25
  "cryptography==44.0.3"     # <45
  "service_identity==24.2.0"
)

# install_venv NAME PIN... : create .venv/NAME and pip install the pins into it.
install_venv() {
  local name="$1"; shift
  local venv="$ROOT/.venv/$name" marker="$ROOT/.venv/$name/.silt-pins"
  local want; want="$(printf '%s\n' "$@")"
  if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
    echo "test-servers: $name up to date ($venv)"
    return
  fi
  echo "test-servers: installing $name into $venv ..."
  local start=$SECONDS
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  printf '%s\n' "$want" >"$marker"
  echo "test-servers: $name installed ($((SECONDS - start))s)"
}

# apt_install PACKAGE : install one of Debian's packages (as root, or with sudo).
apt_install() {
  echo "test-servers: installing Debian's $1 package ..."
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

install_venv moto "${MOTO_PINS[@]}"
install_venv localstack "${LOCALSTACK_PINS[@]}"
install_venv duckdb "duckdb==1.5.6"
# PyIceberg reads topics as Iceberg tables, through the REST catalog and from metadata.
install_venv iceberg "pyiceberg[pyarrow]==0.12.0" "pyarrow==26.0.1"
# The web console's browser tests: Playwright (its Python package, which drives a
# browser it does not download) and Debian's Chromium.
install_venv console "playwright==1.64.1"
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
echo "test-servers: Chromium at $(command -v chromium)"
# Kafka clients nobody here wrote, for the Kafka protocol tests: kafka-python (pure
# Python) and confluent-kafka (librdkafka, in its wheel).
install_venv kafka-clients "kafka-python==2.3.3" "confluent-kafka==2.16.1"

# PostgreSQL for the coordinator's PostgreSQL backend: Debian's server package. The
# tests start a private server from its binaries (tests/support/postgres.rs).
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql
fi
echo "test-servers: PostgreSQL at $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
