#!/usr/bin/env bash
# Build every image the compose stack can use without any registry (air-gapped hosts, CI):
#   llmproxy-ops/debian:bookworm        debootstrap rootfs + docker import (the only base)
#   llmproxy-ops/python:bookworm        Debian's python3, optional extra CA bundle
#   llmproxy-ops/litellm:1.108.7        litellm[proxy,mlflow] from PyPI, psycopg2
#   llmproxy-ops/mlflow:3.17.2          thin layer over the litellm image (mlflow server)
#   llmproxy-ops/postgres:15            Debian's postgresql-15, official-like entrypoint
#   llmproxy-ops/nginx:1.22             Debian's nginx 1.22.1 (OpenSSL 3)
#   llmproxy-ops/fake-provider:latest   llmproxy_ops.testing.fake_provider + aiohttp
# Needs: root (debootstrap), a running Docker engine, Debian's mirror and PyPI.
# Idempotent: an image whose tag exists is skipped unless --rebuild (or --rebuild=postgres,...).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/build-images-offline.sh [--rebuild[=NAME,...]] [--ca-bundle FILE]

  --rebuild         build every image again, even when its tag exists
  --rebuild=NAMES   build only these again (comma-separated: debian, python, litellm,
                    mlflow, postgres, nginx, fake-provider); running containers keep
                    their old image
  --ca-bundle FILE  PEM bundle of extra CA certificates to trust inside the images (for
                    pip behind a TLS-intercepting proxy). Default: $EXTRA_CA_BUNDLE, else
                    the host's /etc/ssl/certs/ca-certificates.crt if it exists, else none.
env: DEBIAN_MIRROR (default http://deb.debian.org/debian), IMAGE_PREFIX (default llmproxy-ops)
EOF
}

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$REPO/compose/images"
PREFIX="${IMAGE_PREFIX:-llmproxy-ops}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
LITELLM_VERSION=1.108.7
MLFLOW_VERSION=3.17.2  # what litellm[proxy,mlflow]==1.108.7 resolves to on PyPI
HOST_BUNDLE=/etc/ssl/certs/ca-certificates.crt
REBUILD=0  # 0: missing images only; 1: all; else a ",name,name," list
CA_BUNDLE="${EXTRA_CA_BUNDLE:-}"
# Debian's docker.io 20.10 has no BuildKit/buildx here; the legacy builder is enough.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

SUMMARY=()
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log() { echo "[build-images] $*"; }
die() { echo "[build-images] error: $*" >&2; exit 1; }

parse_args() {
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --rebuild) REBUILD=1 ;;
      --rebuild=*) REBUILD=",${1#*=}," ;;
      --ca-bundle) [ "$#" -ge 2 ] || die "--ca-bundle needs a file"; CA_BUNDLE="$2"; shift ;;
      --ca-bundle=*) CA_BUNDLE="${1#*=}" ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  if [ -z "$CA_BUNDLE" ] && [ -f "$HOST_BUNDLE" ]; then CA_BUNDLE="$HOST_BUNDLE"; fi
  if [ -n "$CA_BUNDLE" ] && [ ! -r "$CA_BUNDLE" ]; then die "CA bundle not readable: $CA_BUNDLE"; fi
}

check_engine() {
  docker info >/dev/null 2>&1 \
    || die "the Docker engine is not reachable; run scripts/provision-docker.sh first"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# record TAG SECONDS: one summary row (size read from the engine).
record() {
  local size
  size="$(docker image inspect --format '{{.Size}}' "$1")"
  SUMMARY+=("$(printf '%-38s %8s MB %8s' "$1" "$((size / 1000000))" "$2")")
}

# rebuild_requested TAG: --rebuild, or --rebuild=... naming TAG's image (prefix/NAME:tag).
rebuild_requested() {
  local name="${1#"$PREFIX"/}"
  name="${name%%:*}"
  [ "$REBUILD" = 1 ] || [[ "$REBUILD" == *",$name,"* ]]
}

# wanted TAG: true when TAG must be built (missing, or asked for).
wanted() {
  if ! rebuild_requested "$1" && image_exists "$1"; then
    log "$1 exists, skipped (--rebuild to build it again)"
    record "$1" skipped
    return 1
  fi
}

# timed TAG CMD...: run CMD, log and record how long it took.
timed() {
  local tag="$1" start
  shift
  start=$SECONDS
  log "building $tag"
  "$@"
  log "built $tag in $((SECONDS - start)) s"
  record "$tag" "$((SECONDS - start))"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || die "debootstrap is missing; install it (apt-get install debootstrap)"
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
    debootstrap >/dev/null
}

# Container defaults the official Debian images also set: services never start during
# apt-get install (no init), no recommends, all of bookworm's update channels.
configure_rootfs() {
  local root="$1"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90llmproxy-ops"
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
}

build_debian() {
  local root="$WORK/rootfs"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  ensure_debootstrap
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  configure_rootfs "$root"
  tar --numeric-owner -C "$root" -c . | docker import - "$1" >/dev/null
  rm -rf "$root"
}

# context NAME: a private copy of compose/images/NAME (extra files are added to it).
context() {
  local dir="$WORK/ctx-$1"
  rm -rf "$dir"
  cp -a "$IMAGES/$1" "$dir"
  echo "$dir"
}

# docker_build TAG CONTEXT BUILD-ARGS...: the full build output only shows on failure.
docker_build() {
  local tag="$1" ctx="$2" out="$WORK/build.log"
  shift 2
  if ! docker build -t "$tag" "$@" "$ctx" >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    die "docker build of $tag failed (last lines above)"
  fi
}

build_python() {
  local ctx
  ctx="$(context python)"
  if [ -n "$CA_BUNDLE" ]; then cp "$CA_BUNDLE" "$ctx/extra-ca.crt"; else : >"$ctx/extra-ca.crt"; fi
  docker_build "$1" "$ctx" --build-arg "BASE=$PREFIX/debian:$SUITE"
}

# The mlflow tag names the version litellm's extra resolved to: check it still does.
build_mlflow() {
  local tag="$1" litellm="$2" found
  found="$(docker run --rm --entrypoint python "$litellm" -c 'import mlflow; print(mlflow.__version__)')"
  [ "$found" = "$MLFLOW_VERSION" ] \
    || die "$litellm holds mlflow $found, not $MLFLOW_VERSION: update MLFLOW_VERSION here and the compose default"
  build_from "$tag" mlflow "$litellm"
}

build_fake_provider() {
  local ctx
  ctx="$(context fake-provider)"
  cp -a "$REPO/llmproxy_ops/testing" "$ctx/testing"
  find "$ctx/testing" -name __pycache__ -prune -exec rm -rf {} +
  docker_build "$1" "$ctx" --build-arg "BASE=$PREFIX/python:$SUITE"
}

build_from() {  # build_from TAG FOLDER BASE [more build args]
  local tag="$1" folder="$2" base="$3"
  shift 3
  docker_build "$tag" "$(context "$folder")" --build-arg "BASE=$base" "$@"
}

build_all() {
  local debian="$PREFIX/debian:$SUITE" python="$PREFIX/python:$SUITE"
  local litellm="$PREFIX/litellm:$LITELLM_VERSION"
  if wanted "$debian"; then timed "$debian" build_debian "$debian"; fi
  if wanted "$python"; then timed "$python" build_python "$python"; fi
  if wanted "$litellm"; then
    timed "$litellm" build_from "$litellm" litellm "$python" \
      --build-arg "LITELLM_VERSION=$LITELLM_VERSION"
  fi
  local mlflow="$PREFIX/mlflow:$MLFLOW_VERSION"
  if wanted "$mlflow"; then timed "$mlflow" build_mlflow "$mlflow" "$litellm"; fi
  local postgres="$PREFIX/postgres:15" nginx="$PREFIX/nginx:1.22"
  if wanted "$postgres"; then timed "$postgres" build_from "$postgres" postgres "$debian"; fi
  if wanted "$nginx"; then timed "$nginx" build_from "$nginx" nginx "$debian"; fi
  local fake="$PREFIX/fake-provider:latest"
  if wanted "$fake"; then timed "$fake" build_fake_provider "$fake"; fi
}

print_summary() {
  printf '\n%-38s %11s %8s\n' IMAGE SIZE SECONDS
  printf '%s\n' "${SUMMARY[@]}"
  printf 'total: %s s\n' "$SECONDS"
}

main() {
  parse_args "$@"
  check_engine
  log "extra CA bundle: ${CA_BUNDLE:-none}"
  build_all
  print_summary
}

main "$@"
