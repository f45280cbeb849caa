#!/usr/bin/env bash
# The whole suite in tiers, cheapest first (tests/conftest.py assigns them): quick (nothing but
# the venv), process (litellm, nginx, PostgreSQL, Redis), docker (compose stacks), swarm.
# Stops at the first tier that fails; prints each tier's wall time and the 25 slowest tests.
# Usage: scripts/test-tiers.sh [TIER ...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
tiers=("$@")
[ "${#tiers[@]}" -gt 0 ] || tiers=(quick process docker swarm)
started=$(date +%s)
times=()
for tier in "${tiers[@]}"; do
  case "$tier" in
    # CPU-bound and independent: both cores. The others share stacks and load the machine
    # on purpose (rollouts under load): one test at a time.
    quick) parallel=(-n 2) ;;
    process|docker|swarm) parallel=() ;;
    *) echo "unknown tier: $tier (quick, process, docker, swarm)" >&2; exit 2 ;;
  esac
  t=$(date +%s)
  echo "== tier $tier"
  if [ "$tier" = docker ] || [ "$tier" = swarm ]; then
    # an image built from another commit must never pass for this one
    bash scripts/build-images-offline.sh --check
  fi
  "$PY" -m pytest -m "$tier" --durations=25 "${parallel[@]}"
  times+=("$tier $(( $(date +%s) - t ))s")
  echo "== tier $tier took $(( $(date +%s) - t ))s"
done
echo "== tiers: ${times[*]}; all $(( $(date +%s) - started ))s"
