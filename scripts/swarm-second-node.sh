#!/usr/bin/env bash
# A second Docker engine on this machine, joined to the local swarm as a worker node.
#
#   scripts/swarm-second-node.sh up      # namespace, veth, dockerd, images, swarm join
#   scripts/swarm-second-node.sh down    # leave, stop dockerd, delete the namespace
#   scripts/swarm-second-node.sh status  # what is up, one line each; exit 1 if not joined
#
# Why this shape (issue 10: replicas on two nodes and the loss of one survived, on one box):
# - The node is a dockerd in its own network namespace, linked to the host by a veth pair
#   (host 10.213.0.1, node 10.213.0.2): Swarm's ports (2377, 7946 tcp/udp, 4789/udp VXLAN)
#   pass the link like a cable between two machines, and taking the link down is a node loss.
# - Only the network is separate (nsenter --net), plus the hostname (unshare --uts) so the
#   node has its own name in `docker node ls`. `ip netns exec` cannot be used: it remounts
#   /sys, which hides the cgroup mounts ("failed to start daemon: Devices cgroup isn't
#   mounted"). Its iptables rules live in its own namespace; the host's are untouched.
# - The manager must advertise the host end of the link (127.0.0.1 would be the node's own
#   loopback): `up` inits the swarm advertising the link's host end when the engine is in
#   none, and refuses loudly when the node cannot reach the address a swarm advertises.
# - No registry: `up` copies the images the node runs (NODE2_IMAGES) with docker save|load;
#   the node's data root is kept by `down` (the LiteLLM image is 1.7 GB; loading it took
#   about 2.5 min on 2 busy cores) unless NODE2_PURGE=1.
# Idempotent: each step is skipped when done. Root only. Any failure stops with the reason.
set -euo pipefail

NS="${NODE2_NS:-llmproxy-node2}"
HOST_IF="ln2-host"
NODE_IF="ln2-node"
HOST_ADDR="${NODE2_HOST_ADDR:-10.213.0.1}"
NODE_ADDR="${NODE2_ADDR:-10.213.0.2}"
DATA_ROOT="${NODE2_DATA_ROOT:-/var/lib/docker-node2}"
EXEC_ROOT="/var/run/docker-node2"
SOCK="/var/run/docker-node2.sock"
PIDFILE="/var/run/docker-node2.pid"
LOGFILE="${NODE2_LOG:-/var/log/docker-node2.log}"
HOSTNAME_NODE2="${NODE2_HOSTNAME:-llmproxy-node2}"
IMAGES="${NODE2_IMAGES:-llmproxy-ops/litellm:1.108.7}"
CREATED_MARK="$DATA_ROOT/.created-swarm"  # `up` made the swarm: `down` leaves it

log() { echo "[swarm-second-node] $*" >&2; }
die() { echo "[swarm-second-node] ERROR: $*" >&2; exit 1; }
# Exit 3: this kernel cannot run a second node (the stack test skips, quoting the reason).
cannot() { echo "[swarm-second-node] ERROR: $*" >&2; exit 3; }
node2() { docker -H "unix://$SOCK" "$@"; }
node2_up() { node2 info >/dev/null 2>&1; }

need_root() { [ "$(id -u)" = 0 ] || die "run as root (network namespace, veth, dockerd)"; }

check_kernel() {
  command -v nsenter >/dev/null && command -v unshare >/dev/null || die "nsenter/unshare missing (util-linux)"
  # What the node needs of the kernel, checked before anything is created.
  ip netns add ln2-probe 2>/tmp/ln2-probe.err ||
    cannot "no network namespaces (ip netns add: $(cat /tmp/ln2-probe.err)): kernel CONFIG_NET_NS"
  ip netns del ln2-probe
  ip link add ln2-probe0 type veth peer name ln2-probe1 2>/tmp/ln2-probe.err ||
    cannot "cannot create a veth pair: $(cat /tmp/ln2-probe.err) (kernel CONFIG_VETH)"
  ip link del ln2-probe0
  if ! ip link add ln2-probe type vxlan id 4242 dstport 4789 dev lo 2>/tmp/ln2-probe.err; then
    cannot "cannot create a VXLAN link (Swarm overlay networks need it): $(cat /tmp/ln2-probe.err)"
  fi
  ip link del ln2-probe
}

net_up() {
  ip netns list | grep -qw "$NS" || { log "netns $NS"; ip netns add "$NS"; }
  if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    log "veth $HOST_IF ($HOST_ADDR) <-> $NS:$NODE_IF ($NODE_ADDR)"
    ip link add "$HOST_IF" type veth peer name "$NODE_IF" netns "$NS"
    ip addr add "$HOST_ADDR/24" dev "$HOST_IF"
    ip -n "$NS" addr add "$NODE_ADDR/24" dev "$NODE_IF"
  fi
  ip link set "$HOST_IF" up
  ip -n "$NS" link set lo up
  ip -n "$NS" link set "$NODE_IF" up
  ip -n "$NS" route replace default via "$HOST_ADDR"
}

dockerd_up() {
  if node2_up; then return; fi
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$LOGFILE")"
  rm -f "$PIDFILE"
  log "dockerd in $NS (data root $DATA_ROOT, socket $SOCK, log $LOGFILE)"
  # Its own cgroup parent keeps its containers apart from the main engine's under cgroupfs.
  nohup unshare --uts sh -c "hostname '$HOSTNAME_NODE2' && exec nsenter --net=/var/run/netns/$NS \
    dockerd --data-root '$DATA_ROOT' --exec-root '$EXEC_ROOT' --pidfile '$PIDFILE' \
      -H 'unix://$SOCK' --cgroup-parent /docker-node2" >>"$LOGFILE" 2>&1 &
  for _ in $(seq 1 60); do
    node2_up && return
    sleep 1
  done
  tail -n 20 "$LOGFILE" >&2 || true
  die "the second dockerd did not answer on $SOCK within 60 s (log above)"
}

images_up() {
  local image want have started
  for image in $IMAGES; do
    want="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null)" ||
      die "image $image is not on the main engine: build it first (make images-offline)"
    have="$(node2 image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
    [ "$want" = "$have" ] && continue
    log "copying $image to the node (docker save | load)"
    started=$(date +%s)
    docker save "$image" | node2 load >/dev/null
    log "copied $image in $(( $(date +%s) - started )) s"
  done
}

swarm_up() {
  local state addr token
  state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
  if [ "$state" != active ]; then
    log "swarm init on the main engine, advertising $HOST_ADDR"
    docker swarm init --advertise-addr "$HOST_ADDR" >/dev/null
    touch "$CREATED_MARK"
  fi
  # The node must reach the address the manager advertises (the host's own addresses are
  # reached over the link; 127.0.0.1 would be the node's own loopback).
  addr="$(docker info --format '{{.Swarm.NodeAddr}}')"
  nsenter --net="/var/run/netns/$NS" bash -c "exec 3<>/dev/tcp/$addr/2377" 2>/dev/null ||
    die "the main engine is in a swarm advertising $addr, which the node cannot reach on \
port 2377; leave it (docker swarm leave --force) or init with --advertise-addr $HOST_ADDR"
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
    die "the main engine is not a swarm manager"
  if [ "$(node2 info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    # A stale entry under the same name (an earlier node killed without `down`) would stay
    # "down" beside the new one and keep its tasks: remove it first.
    stale_nodes | xargs -r docker node rm --force >/dev/null
    token="$(docker swarm join-token -q worker)"
    log "joining the node as a worker"
    node2 swarm join --token "$token" --advertise-addr "$NODE_ADDR" "$addr:2377" >/dev/null
  fi
  for _ in $(seq 1 60); do
    [ "$(docker node inspect --format '{{.Status.State}}' "$(node2_id)" 2>/dev/null)" = ready ] &&
      { log "node $HOSTNAME_NODE2 ($(node2_id)) is ready"; return; }
    sleep 1
  done
  die "the node joined but is not ready within 60 s: $(docker node ls 2>&1)"
}

node2_id() { node2 info --format '{{.Swarm.NodeID}}'; }

stale_nodes() {
  docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' 2>/dev/null |
    awk -v h="$HOSTNAME_NODE2" '$2 == h && $3 != "Ready" {print $1}'
}

down() {
  local id pid
  if node2_up; then
    id="$(node2_id)"
    node2 swarm leave --force >/dev/null 2>&1 || true
    [ -n "$id" ] && docker node rm --force "$id" >/dev/null 2>&1 || true
  fi
  stale_nodes | xargs -r docker node rm --force >/dev/null 2>&1 || true
  if [ -s "$PIDFILE" ] && pid="$(cat "$PIDFILE")" && kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd $pid (its containers stop with it)"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && die "dockerd $pid did not stop within 40 s"
  fi
  # Mounts dockerd leaves behind (overlay networks' netns files, a killed one's layers);
  # /proc/mounts names them by their real path (/var/run is a link to /run).
  local roots
  roots="$(readlink -m "$DATA_ROOT")|$(readlink -m "$EXEC_ROOT")"
  grep -E " ($roots)/" /proc/mounts | awk '{print $2}' | sort -r |
    xargs -r -n1 umount -l || true
  rm -rf "$EXEC_ROOT" "$SOCK" "$PIDFILE"
  ip netns list | grep -qw "$NS" && { log "deleting netns $NS"; ip netns del "$NS"; }
  ip link del "$HOST_IF" >/dev/null 2>&1 || true
  if [ -e "$CREATED_MARK" ]; then
    log "leaving the swarm this script created on the main engine"
    docker swarm leave --force >/dev/null 2>&1 || true
    rm -f "$CREATED_MARK"
  fi
  if [ "${NODE2_PURGE:-0}" = 1 ]; then log "removing $DATA_ROOT"; rm -rf "$DATA_ROOT"; fi
}

status() {
  ip netns list | grep -qw "$NS" && echo "netns $NS: present" || echo "netns $NS: absent"
  node2_up && echo "dockerd: answering on $SOCK" || echo "dockerd: not answering"
  if node2_up && [ "$(node2 info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
    echo "swarm: joined as $(node2_id) ($HOSTNAME_NODE2)"
    return 0
  fi
  echo "swarm: not joined"
  return 1
}

case "${1:-}" in
  up) need_root; docker info >/dev/null || die "the main Docker engine does not answer"
      check_kernel; net_up; dockerd_up; images_up; swarm_up ;;
  down) need_root; down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
