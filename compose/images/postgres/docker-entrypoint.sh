#!/usr/bin/env bash
# Subset of the official postgres image's entrypoint: first start creates the cluster from
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, runs /docker-entrypoint-initdb.d/*.sql,
# *.sql.gz and *.sh once, then exec's postgres (PID 1, so signals reach it).
set -Eeuo pipefail

log() { echo "[entrypoint] $*"; }
die() { echo "[entrypoint] error: $*" >&2; exit 1; }

fix_ownership_as_root() {
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
}

require_password() {
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    die "POSTGRES_PASSWORD is not set (required to create the database cluster)"
  fi
}

init_cluster() {
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" pwfile pw=()
  log "initdb in $PGDATA (user $POSTGRES_USER)"
  pwfile="$(mktemp)"  # the password never appears on a command line
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    pw=(--pwfile="$pwfile")
  fi
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as in the official image
  initdb --username="$POSTGRES_USER" "${pw[@]}" \
    --auth-local=trust --auth-host="$auth" --encoding=UTF8 --locale=C.UTF-8 \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  # initdb only allows loopback; the stack reaches the server over the compose network.
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
}

psql_init() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password "$@"; }

run_init_files() {
  local f
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
      *.sql) log "running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *) log "ignoring $f" ;;
    esac
  done
}

first_start() {
  require_password
  init_cluster
  # A socket-only server while the init scripts run: nothing can connect over the network
  # to a half-initialised database.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  export PGPASSWORD="${POSTGRES_PASSWORD:-}"
  run_init_files
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  log "init done; ready for start up"
}

# `postgres --version` and friends must not need a password or touch PGDATA.
wants_help() {
  local arg
  for arg; do
    case "$arg" in -'?'|--help|--describe-config|-V|--version) return 0 ;; esac
  done
  return 1
}

main() {
  if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
  if [ "$1" != postgres ] || wants_help "$@"; then exec "$@"; fi
  if [ "$(id -u)" = 0 ]; then
    # Started as root (e.g. a bind mount owned by someone else): fix, then drop privileges.
    fix_ownership_as_root
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  export POSTGRES_USER="${POSTGRES_USER:-postgres}"
  export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then first_start; fi
  exec "$@"
}

main "$@"
