#!/usr/bin/env bash
# The whole suite in tiers (tests/conftest.py assigns them): quick (nothing but the venv),
# process (litellm, nginx, PostgreSQL, Redis), docker (compose stacks), swarm.
#
# quick runs first, on both cores, while the offline images build in the background; it gates
# everything: nothing else starts when it fails. Then two lanes run side by side: the process
# tier, and the docker tier followed by the swarm tier (one pytest each). Each tier alone keeps
# the 2 cores about half busy (stacks starting, drains, rollouts, health checks), and the two
# lanes share nothing but the machine: their stacks have their own names, and the engine tiers
# publish host ports from their own ranges (TEST_PORT_RANGE, tests/conftest.py:free_port).
# docker and swarm never run at once: `docker swarm leave` on an engine breaks the name
# resolution of the compose containers already running on it (moby/moby#45144).
# A test marked `measured` (what a user sees under load during a change) has the machine to
# itself: it waits for the test running in the other lane, and none starts there until it
# ends (tests/machine_share.py). The first tier that fails stops the other lane (SIGINT: pytest
# tears its stacks down) and fails the run. Each tier's output is printed whole when it ends
# (and kept in build/test-logs/TIER.log), with its 25 slowest tests and its wall time.
# Usage: scripts/test-tiers.sh [TIER ...]   (default: all four; the order given is irrelevant)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
LOGS=build/test-logs
# host ports each engine tier publishes: outside the kernel's ephemeral range (32768-60999),
# so no port picked by bind(0) or used by an outgoing connection elsewhere can take them
declare -A PORTS=([docker]=20000-24999 [swarm]=25000-29999)

want=("$@")
[ "${#want[@]}" -gt 0 ] || want=(quick process docker swarm)
for tier in "${want[@]}"; do
  case "$tier" in quick|process|docker|swarm) ;;
    *) echo "unknown tier: $tier (quick, process, docker, swarm)" >&2; exit 2 ;; esac
done
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }

# Job control: each tier in its own process group, with SIGINT at its default (a
# non-interactive shell's background jobs ignore it otherwise, and pytest would never see it).
set -m
mkdir -p "$LOGS"
started=$(date +%s)
declare -A pid_of=() began=() took=()
failed=""

# pytest for one tier, in the background, output to its log
launch() {
  local tier=$1 parallel=() ports=""
  [ "$tier" != quick ] || parallel=(-n 2)  # CPU-bound and independent: both cores
  [ -z "${PORTS[$tier]:-}" ] || ports=${PORTS[$tier]}
  echo "== tier $tier started ($(( $(date +%s) - started ))s in)"
  began[$tier]=$(date +%s)
  TEST_PORT_RANGE="$ports" TEST_MACHINE_LOCK="$PWD/$LOGS/machine.lock" \
    "$PY" -m pytest -m "$tier" --durations=25 "${parallel[@]}" > "$LOGS/$tier.log" 2>&1 &
  pid_of[$tier]=$!
}

# A tier ended with exit code $2: print its log whole; the first failure stops the others
finish() {
  local tier=$1 rc=$2
  unset "pid_of[$tier]"
  took[$tier]=$(( $(date +%s) - began[$tier] ))
  echo "== tier $tier (${took[$tier]}s, exit $rc)"
  cat "$LOGS/$tier.log"
  echo "== tier $tier took ${took[$tier]}s"
  if [ "$rc" != 0 ] && [ -z "$failed" ]; then failed=$tier; stop_others "tier $tier failed"; fi
}

stop_others() {
  local tier
  for tier in "${!pid_of[@]}"; do
    echo "== stopping tier $tier: $1 (SIGINT: it tears its stacks down)"
    kill -INT "${pid_of[$tier]}" 2>/dev/null || true
  done
  [ -z "$images_pid" ] || kill -INT -- "-$images_pid" 2>/dev/null || true
}
images_pid=""
trap 'stop_others "interrupted"; failed=${failed:-interrupted}' INT TERM

if wants docker || wants swarm; then
  # built from this checkout (idempotent: an image whose inputs label matches is kept), then
  # checked: an image built from another commit never passes for this one
  echo "== offline images: building in the background (log: $LOGS/images.log)"
  { bash scripts/build-images-offline.sh && bash scripts/build-images-offline.sh --check; } \
    > "$LOGS/images.log" 2>&1 &
  images_pid=$!
fi

if wants quick; then
  launch quick
  rc=0; wait "${pid_of[quick]}" || rc=$?
  finish quick "$rc"
fi
if [ -z "$failed" ] && wants process; then launch process; fi
if [ -n "$images_pid" ]; then
  t=$(date +%s) rc=0
  wait "$images_pid" || rc=$?
  grep -E "built|matches|error" "$LOGS/images.log" || true
  echo "== offline images: exit $rc, waited $(( $(date +%s) - t ))s for them"
  images_pid=""
  if [ "$rc" != 0 ] && [ -z "$failed" ]; then
    cat "$LOGS/images.log"
    failed=images; stop_others "the images did not build"
  fi
fi
if [ -z "$failed" ]; then
  if wants docker; then launch docker; elif wants swarm; then launch swarm; fi
fi

# each tier as it ends: the first failure stops the rest
while [ "${#pid_of[@]}" -gt 0 ]; do
  rc=0 done_pid=""
  wait -n -p done_pid "${pid_of[@]}" || rc=$?
  for tier in "${!pid_of[@]}"; do  # none matches when a signal ended the wait: wait again
    [ "${pid_of[$tier]}" != "$done_pid" ] || finish "$tier" "$rc"
    # the engine lane: swarm after docker, never beside it
    if [ "$tier" = docker ] && [ -z "${pid_of[docker]:-}" ] && [ -z "$failed" ] && wants swarm; then
      launch swarm
    fi
  done
done

summary=""
for tier in quick process docker swarm; do
  [ -z "${took[$tier]:-}" ] || summary+="$tier ${took[$tier]}s "
done
echo "== tiers: ${summary}all $(( $(date +%s) - started ))s (process beside docker, then swarm)"
if [ -n "$failed" ]; then echo "== FAILED: $failed" >&2; exit 1; fi
