#!/usr/bin/env bash
# Build every image the compose stack can use without any registry (air-gapped hosts, CI):
#   llmproxy-ops/debian:bookworm        debootstrap rootfs + docker import (the only base)
#   llmproxy-ops/python:bookworm        Debian's python3, optional extra CA bundle
#   llmproxy-ops/litellm:1.108.7        lock/litellm-image.txt (hash-checked): litellm[proxy,mlflow], psycopg2
#   llmproxy-ops/mlflow:3.17.2          thin layer over the litellm image (mlflow server)
#   llmproxy-ops/postgres:15            Debian's postgresql-15, official-like entrypoint
#   llmproxy-ops/nginx:1.22             Debian's nginx 1.22.1 (OpenSSL 3)
#   llmproxy-ops/redis:7.0              Debian's redis-server 7.0 (shared rate limits)
#   llmproxy-ops/prometheus:2.42        Debian's prometheus 2.42 (stack.metrics)
#   llmproxy-ops/fake-provider:latest   llmproxy_ops.testing.fake_provider + aiohttp
# Needs: root (debootstrap), a running Docker engine, Debian's mirror and PyPI.
# Idempotent: an image is rebuilt only when its inputs changed (its Dockerfile folder, the lock,
# the fake provider's sources, its base image: a label records their sha256), when it is
# missing, or when --rebuild (or --rebuild=postgres,...) asks for it.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/build-images-offline.sh [--rebuild[=NAME,...]] [--check] [--ca-bundle FILE]

  --rebuild         build every image again, even when its tag exists
  --rebuild=NAMES   build only these again (comma-separated: debian, python, litellm,
                    mlflow, postgres, nginx, redis, prometheus, fake-provider); running containers keep
                    their old image
  --check           build nothing: exit 1 unless every image exists and was built from the
                    inputs of this checkout (its inputs label); the test tiers run it before
                    they use an image, so a stale cached image can never pass for this commit
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
CHECK=0  # 1: compare every image's inputs label with this checkout, build nothing
STALE=()
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
      --check) CHECK=1 ;;
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

# inputs_label TAG: the sha256 of the inputs the image was built from ("" if none).
inputs_label() {
  docker image inspect --format '{{ index .Config.Labels "llmproxy-ops.inputs-sha256" }}' "$1" 2>/dev/null
}

# inputs_sha BASE-TAG PATH...: one sha256 over the base image's id and every file under the
# paths (names and contents): an edited Dockerfile, lock or fake provider, or a rebuilt base,
# changes it.
inputs_sha() {
  local base_id=""
  [ -n "$1" ] && base_id="$(docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true)"
  shift
  { echo "$base_id"; find "$@" -type f -not -path '*/__pycache__/*' -print0 | sort -z \
      | xargs -0 sha256sum | sed "s|$REPO/||"; } | sha256sum | cut -d' ' -f1
}

# wanted TAG [INPUTS-SHA256]: true when TAG must be built (missing, asked for, or built from
# other inputs than the ones given).
wanted() {
  if [ -n "${2:-}" ] && image_exists "$1" && [ "$(inputs_label "$1")" != "$2" ]; then
    log "$1 was built from other inputs (Dockerfile, lock, sources or base): rebuilding"
    return 0
  fi
  if ! rebuild_requested "$1" && image_exists "$1"; then
    log "$1 exists, skipped (--rebuild to build it again)"
    record "$1" skipped
    return 1
  fi
}

# image TAG INPUTS-SHA256 BUILD-FUNCTION ARGS...: build TAG when wanted, labelled with its inputs.
# With --check: only say whether TAG exists and was built from exactly these inputs.
image() {
  local tag="$1" sha="$2"
  shift 2
  if [ "$CHECK" = 1 ]; then
    if ! image_exists "$tag"; then STALE+=("$tag (missing)")
    elif [ "$(inputs_label "$tag")" != "$sha" ]; then STALE+=("$tag (built from other inputs)")
    else log "$tag matches this checkout"; fi
    return
  fi
  if wanted "$tag" "$sha"; then INPUTS_SHA="$sha" timed "$tag" "$@"; fi
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
  local label=()
  [ -n "${INPUTS_SHA:-}" ] && label=(--label "llmproxy-ops.inputs-sha256=$INPUTS_SHA")
  if ! docker build -t "$tag" "${label[@]}" "$@" "$ctx" >"$out" 2>&1; then
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

# The image installs lock/litellm-image.txt with --require-hashes (see its Dockerfile).
build_litellm() {
  local tag="$1" base="$2" ctx lock="$REPO/lock/litellm-image.txt"
  grep -q "^litellm==$LITELLM_VERSION " "$lock" \
    || die "$lock does not pin litellm==$LITELLM_VERSION: run make lock"
  ctx="$(context litellm)"
  cp "$lock" "$ctx/requirements.txt"
  docker_build "$tag" "$ctx" --build-arg "BASE=$base" --build-arg "LITELLM_VERSION=$LITELLM_VERSION"
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
  local litellm="$PREFIX/litellm:$LITELLM_VERSION" mlflow="$PREFIX/mlflow:$MLFLOW_VERSION"
  local postgres="$PREFIX/postgres:15" nginx="$PREFIX/nginx:1.22" redis="$PREFIX/redis:7.0"
  local prometheus="$PREFIX/prometheus:2.42" fake="$PREFIX/fake-provider:latest" ca=()
  [ -n "$CA_BUNDLE" ] && ca=("$CA_BUNDLE")
  # the debootstrap base has no inputs but the mirror: it is built when missing or asked for
  if [ "$CHECK" = 1 ]; then
    image_exists "$debian" || STALE+=("$debian (missing)")
  elif wanted "$debian"; then timed "$debian" build_debian "$debian"; fi
  image "$python" "$(inputs_sha "$debian" "$IMAGES/python" "${ca[@]}")" build_python "$python"
  image "$litellm" "$(inputs_sha "$python" "$IMAGES/litellm" "$REPO/lock/litellm-image.txt")" \
    build_litellm "$litellm" "$python"
  image "$mlflow" "$(inputs_sha "$litellm" "$IMAGES/mlflow")" build_mlflow "$mlflow" "$litellm"
  image "$postgres" "$(inputs_sha "$debian" "$IMAGES/postgres")" \
    build_from "$postgres" postgres "$debian"
  image "$nginx" "$(inputs_sha "$debian" "$IMAGES/nginx")" build_from "$nginx" nginx "$debian"
  image "$redis" "$(inputs_sha "$debian" "$IMAGES/redis")" build_from "$redis" redis "$debian"
  image "$prometheus" "$(inputs_sha "$debian" "$IMAGES/prometheus")" \
    build_from "$prometheus" prometheus "$debian"
  image "$fake" "$(inputs_sha "$python" "$IMAGES/fake-provider" "$REPO/llmproxy_ops/testing")" \
    build_fake_provider "$fake"
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
  if [ "$CHECK" = 1 ]; then
    [ "${#STALE[@]}" = 0 ] || die "images that do not match this checkout: ${STALE[*]}; run scripts/build-images-offline.sh"
    log "every image matches this checkout"
    return
  fi
  print_summary
}

main "$@"
