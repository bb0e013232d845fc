#!/usr/bin/env bash
# Local PostgreSQL and Redis for the production profile on ONE machine (a trial, not a cluster).
#
#   deploy/services.sh start [postgres|redis]    install if missing, initialise, start
#   deploy/services.sh stop [postgres|redis]     stop (fast shutdown)
#   deploy/services.sh restart [postgres|redis]
#   deploy/services.sh status                    exit 0 only if both answer
#   deploy/services.sh env                       print the export lines the profile uses
#   deploy/services.sh install                   only install the Debian packages (+ nginx)
#
# Everything lives in $SERVICES_DIR (default var/services): pg/ (the cluster), redis/,
# pg.password (generated once, mode 0600, unless PG_PASSWORD is set). Ports: PG_PORT
# (default 55432) and REDIS_PORT (default 56379) on 127.0.0.1 only, so a system-wide
# PostgreSQL or Redis on the standard ports is never touched. Databases: shop, gateway,
# rasa (Rasa's tracker store), owned by PG_USER (default shop).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$ROOT/var/services}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
PG_USER="${PG_USER:-shop}"
PG_DATABASES="${PG_DATABASES:-shop gateway rasa}"
PG_MAX_CONNECTIONS="${PG_MAX_CONNECTIONS:-300}"
# PG_EXTRA_OPTS: more server options, e.g. "-c shared_buffers=1GB" (the benchmark adds
# pg_stat_statements to find the hot queries).
PGDATA="$SERVICES_DIR/pg"
REDIS_DIR="$SERVICES_DIR/redis"

log() { echo "services: $*" >&2; }

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: $* (run: sudo apt-get install $*)"; exit 1
  fi
  log "installing $* from Debian packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  }
}

install_missing() {
  local need=()
  pg_bin >/dev/null || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
  if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
}

# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_password() {
  if [ -n "${PG_PASSWORD:-}" ]; then echo "$PG_PASSWORD"; return; fi
  local file="$SERVICES_DIR/pg.password"
  if [ ! -s "$file" ]; then
    mkdir -p "$SERVICES_DIR"
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$file")
  fi
  cat "$file"
}

psql_admin() {
  "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_init() {
  [ -s "$PGDATA/PG_VERSION" ] && return 0
  log "initialising PostgreSQL cluster in $PGDATA"
  mkdir -p "$PGDATA"
  chmod 0755 "$SERVICES_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA"
  chmod 0700 "$PGDATA"
  as_pg "$(pg_bin)/initdb" -D "$PGDATA" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$SERVICES_DIR/initdb.log"
}

pg_running() {
  "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

pg_start() {
  pg_init
  if pg_running; then log "PostgreSQL already answers on :$PG_PORT"; else
    # The socket lives in the data folder (not /var/run/postgresql, which may not exist).
    as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 -s start -o \
      "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c max_connections=$PG_MAX_CONNECTIONS ${PG_EXTRA_OPTS:-}" \
      || { tail -20 "$PGDATA/server.log" >&2; exit 1; }
  fi
  local password db
  password="$(pg_password)"
  psql_admin -v user="$PG_USER" -v pass="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN PASSWORD :'pass';
SQL
  for db in $PG_DATABASES; do
    psql_admin -v db="$db" -v user="$PG_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
  done
  log "PostgreSQL on 127.0.0.1:$PG_PORT (databases: $PG_DATABASES)"
}

pg_stop() {
  if [ -s "$PGDATA/postmaster.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w -t 60 -s stop || true
  fi
}

redis_running() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ${REDIS_PASSWORD:+--no-auth-warning -a "$REDIS_PASSWORD"} ping 2>/dev/null | grep -q PONG
}

redis_start() {
  mkdir -p "$REDIS_DIR"
  if redis_running; then log "Redis already answers on :$REDIS_PORT"; return; fi
  # Locks and live-delivery pub/sub only: nothing worth persisting.
  local args=(--port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --daemonize yes
              --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
              --save "" --appendonly no --maxclients 2000)
  [ -n "${REDIS_PASSWORD:-}" ] && args+=(--requirepass "$REDIS_PASSWORD")
  redis-server "${args[@]}"
  local i
  for i in $(seq 1 50); do redis_running && break; sleep 0.1; done
  redis_running || { tail -20 "$REDIS_DIR/redis.log" >&2; exit 1; }
  log "Redis on 127.0.0.1:$REDIS_PORT"
}

redis_stop() {
  local pidfile="$REDIS_DIR/redis.pid" pid
  [ -s "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidfile"
}

print_env() {
  local password
  password="$(pg_password)"
  local base="postgresql://$PG_USER:$password@127.0.0.1:$PG_PORT"
  cat <<ENV
export DATABASE_URL='$base/shop'
export GATEWAY_DATABASE_URL='$base/gateway'
export TRACKER_DB_HOST='127.0.0.1' TRACKER_DB_PORT='$PG_PORT' TRACKER_DB_NAME='rasa'
export TRACKER_DB_USER='$PG_USER' TRACKER_DB_PASSWORD='$password'
export REDIS_HOST='127.0.0.1' REDIS_PORT='$REDIS_PORT' REDIS_PASSWORD='${REDIS_PASSWORD:-}'
export REDIS_URL='redis://${REDIS_PASSWORD:+:$REDIS_PASSWORD@}127.0.0.1:$REDIS_PORT/0'
ENV
}

what="${2:-all}"
case "${1:-}" in
  install) install_missing ;;
  start)
    install_missing
    case "$what" in postgres) pg_start ;; redis) redis_start ;; *) pg_start; redis_start ;; esac ;;
  stop)
    case "$what" in postgres) pg_stop ;; redis) redis_stop ;; *) redis_stop; pg_stop ;; esac ;;
  restart)
    "$0" stop "$what"; "$0" start "$what" ;;
  status)
    ok=0
    if pg_bin >/dev/null && pg_running; then echo "postgres: up :$PG_PORT"; else echo "postgres: down"; ok=1; fi
    if command -v redis-cli >/dev/null && redis_running; then echo "redis: up :$REDIS_PORT"; else echo "redis: down"; ok=1; fi
    exit "$ok" ;;
  env) print_env ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
