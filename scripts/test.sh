#!/usr/bin/env bash
# Silt's whole test suite, as CI runs it: installs the S3-compatible test servers (moto
# and LocalStack) into .venv/, then checks formatting and lints, and runs every test.
# The end-to-end tests start the real binary and the servers on free 127.0.0.1 ports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-servers.sh

echo "== infra/validate.sh (deployment files; checks whose tools are missing are skipped)"
infra/validate.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked
