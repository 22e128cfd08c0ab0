#!/usr/bin/env bash
# Install the S3-compatible test servers (moto, LocalStack), and DuckDB for reading
# compacted tables as an external engine would, into .venv/ at the
# repo root. Idempotent: a venv whose marker file records the same pins is left alone.
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

install_venv moto "${MOTO_PINS[@]}"
install_venv localstack "${LOCALSTACK_PINS[@]}"
install_venv duckdb "duckdb==1.5.6"
