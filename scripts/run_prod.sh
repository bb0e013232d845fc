#!/usr/bin/env bash
# The production profile on one machine (`PROFILE=prod make run`): the same code as
# `make run`, on PostgreSQL and Redis, with several Rasa servers behind a load balancer.
#
#   PostgreSQL + Redis      deploy/services.sh (Debian packages, data in var/services)
#   nginx :GATEWAY_PORT     public entry -> gateway instances :GATEWAY_PORT+1 ...
#   nginx :RASA_PORT        internal    -> Rasa servers :RASA_PORT+1 ... (RASA_REPLICAS)
#   action servers          :ACTIONS_PORT ... (ACTIONS_REPLICAS); Rasa server i uses i mod N
#
# Every process runs under a small supervisor that restarts it when it dies (like systemd's
# Restart=always); pid files are in $RUN_DIR, logs in $LOG_DIR. Ctrl-C stops everything.
# Settings: docs/production.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

RASA_REPLICAS="${RASA_REPLICAS:-2}"
ACTIONS_REPLICAS="${ACTIONS_REPLICAS:-1}"
# Gateway instances share conversations (PostgreSQL) and live delivery (Redis pub/sub).
GATEWAY_REPLICAS="${GATEWAY_REPLICAS:-2}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
RUN_DIR="${RUN_DIR:-$ROOT/var/run/prod}"
LOG_DIR="${LOG_DIR:-$ROOT/var/log/prod}"
RESTART_DELAY="${RESTART_DELAY:-2}"
START_SERVICES="${START_SERVICES:-1}"    # 0: PostgreSQL/Redis are external, env already set
STOP_SERVICES="${STOP_SERVICES:-1}"      # 0: leave PostgreSQL/Redis running on exit
SEED="${SEED:-if-missing}"               # if-missing | force | no
MODEL="${MODEL:-}"
RASA_AUTH_TOKEN="${RASA_AUTH_TOKEN:-dev-only-rasa-token}"
export RASA_AUTH_TOKEN

if [ "$START_SERVICES" = 1 ]; then
  bash deploy/services.sh start
  eval "$(bash deploy/services.sh env)"
fi
: "${DATABASE_URL:?set DATABASE_URL (postgresql://...)}"
: "${GATEWAY_DATABASE_URL:?set GATEWAY_DATABASE_URL (postgresql://...)}"
for url in "$DATABASE_URL" "$GATEWAY_DATABASE_URL"; do
  case "$url" in postgresql://*|postgresql+*) ;; *)
    echo "the production profile runs on PostgreSQL: got ${url%%:*}:// (set START_SERVICES=1" \
      "or postgresql:// URLs)" >&2; exit 1 ;;
  esac
done
: "${TRACKER_DB_HOST:?}" "${TRACKER_DB_PORT:?}" "${TRACKER_DB_NAME:?}" "${TRACKER_DB_USER:?}"
: "${REDIS_HOST:?}" "${REDIS_PORT:?}"
export TRACKER_DB_PASSWORD="${TRACKER_DB_PASSWORD:-}" REDIS_PASSWORD="${REDIS_PASSWORD:-}"
export REDIS_LOCK_DB="${REDIS_LOCK_DB:-1}" REDIS_LOCK_PREFIX="${REDIS_LOCK_PREFIX:-shop}"
# Connections per Rasa server to the tracker store (Rasa's defaults are 50 + 100).
export SQL_POOL_SIZE="${SQL_POOL_SIZE:-10}" SQL_MAX_OVERFLOW="${SQL_MAX_OVERFLOW:-20}"

case "$SEED" in
  force) .venv/bin/python -m actions.shop.seed --force --url "$DATABASE_URL" ;;
  if-missing) .venv/bin/python -m actions.shop.seed --if-missing --url "$DATABASE_URL" ;;
esac
[ -n "$MODEL" ] || MODEL="$(cat models/latest)"

mkdir -p "$RUN_DIR" "$LOG_DIR" "$RUN_DIR/nginx"
rm -f "$RUN_DIR"/*.pid "$RUN_DIR/stopping" "$RUN_DIR/ready"
sup_pids=()

# supervise NAME CMD...: runs CMD, restarts it RESTART_DELAY s after it exits, until stopped.
supervise() {
  local name="$1"; shift
  (
    child=""
    trap '[ -n "$child" ] && kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
    while :; do
      "$@" >>"$LOG_DIR/$name.log" 2>&1 &
      child=$!
      echo "$child" >"$RUN_DIR/$name.pid"
      rc=0; wait "$child" || rc=$?
      [ -e "$RUN_DIR/stopping" ] && exit 0
      echo "$(date '+%F %T') $name exited with $rc; restarting in ${RESTART_DELAY}s" >&2
      sleep "$RESTART_DELAY"
    done
  ) &
  sup_pids+=($!)
}

cleanup() {
  touch "$RUN_DIR/stopping"
  kill "${sup_pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$RUN_DIR"/*.pid "$RUN_DIR/ready"
  if [ "$START_SERVICES" = 1 ] && [ "$STOP_SERVICES" = 1 ]; then bash deploy/services.sh stop; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ((i = 0; i < ACTIONS_REPLICAS; i++)); do
  supervise "actions-$i" .venv/bin/rasa run actions --actions actions --port "$((ACTIONS_PORT + i))"
done

rasa_upstreams=""
for ((i = 0; i < RASA_REPLICAS; i++)); do
  port=$((RASA_PORT + 1 + i))
  rasa_upstreams+="127.0.0.1:$port "
  ACTION_SERVER_URL="http://127.0.0.1:$((ACTIONS_PORT + i % ACTIONS_REPLICAS))/webhook" \
    supervise "rasa-$i" .venv/bin/python -m deploy.rasa_main run --model "$MODEL" --port "$port" --interface 127.0.0.1 \
      --enable-api --auth-token "$RASA_AUTH_TOKEN" --credentials credentials.yml \
      --endpoints endpoints.prod.yml
done

rasa_urls=""
for s in $rasa_upstreams; do rasa_urls+="${rasa_urls:+,}http://$s"; done
gateway_upstreams=""
for ((i = 0; i < GATEWAY_REPLICAS; i++)); do
  port=$((GATEWAY_PORT + 1 + i))
  gateway_upstreams+="127.0.0.1:$port "
  # Every gateway instance talks to the Rasa load balancer (GATEWAY_RASA_URL=direct: to the
  # servers themselves, in turn). SANIC_PROXIES_COUNT=1: nginx is the one proxy in front.
  # REDIS_URL (from services.sh env) shares live delivery between the instances.
  rasa_url="http://127.0.0.1:$RASA_PORT"
  [ "${GATEWAY_RASA_URL:-lb}" = direct ] && rasa_url="$rasa_urls"
  GATEWAY_HOST=127.0.0.1 GATEWAY_PORT="$port" RASA_URL="$rasa_url" SANIC_PROXIES_COUNT=1 \
    DEMO_MODE="${DEMO_MODE:-0}" SERVICE_HOURS="${SERVICE_HOURS:-09:00-21:00}" \
    supervise "gateway-$i" .venv/bin/python -m bot
done

NGINX_PREFIX="$RUN_DIR/nginx" RASA_LB_PORT="$RASA_PORT" RASA_UPSTREAMS="$rasa_upstreams" \
  GATEWAY_PORT="$GATEWAY_PORT" GATEWAY_UPSTREAMS="$gateway_upstreams" \
  bash deploy/nginx_local.sh >"$RUN_DIR/nginx/nginx.conf"
supervise nginx nginx -c "$RUN_DIR/nginx/nginx.conf" -p "$RUN_DIR/nginx/"

# Readiness: every Rasa server and gateway answers, then the entry points.
wait_for() {
  local url="$1" deadline=$((SECONDS + ${READY_TIMEOUT:-300}))
  until curl -sf -o /dev/null --max-time 2 "$url"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "not ready: $url" >&2; return 1; }
    sleep 1
  done
}
for ((i = 0; i < ACTIONS_REPLICAS; i++)); do wait_for "http://127.0.0.1:$((ACTIONS_PORT + i))/health"; done
for s in $rasa_upstreams; do wait_for "http://$s/status?token=$RASA_AUTH_TOKEN"; done
for s in $gateway_upstreams; do wait_for "http://$s/health"; done
wait_for "http://127.0.0.1:$RASA_PORT/version"
[ "$GATEWAY_REPLICAS" -gt 0 ] && wait_for "http://127.0.0.1:$GATEWAY_PORT/health"
echo "ready" >"$RUN_DIR/ready"
echo "production profile ready: gateway :$GATEWAY_PORT (x$GATEWAY_REPLICAS)" \
  "rasa :$RASA_PORT (x$RASA_REPLICAS) actions :$ACTIONS_PORT (x$ACTIONS_REPLICAS)" \
  "logs $LOG_DIR (Ctrl-C stops all)"
wait
