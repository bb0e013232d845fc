#!/usr/bin/env bash
# Starts the whole system on one machine: action server, Rasa server and gateway.
# Ctrl-C stops them all. Ports and URLs come from the environment (defaults below).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export ACTIONS_PORT="${ACTIONS_PORT:-5055}" RASA_PORT="${RASA_PORT:-5005}" GATEWAY_PORT="${GATEWAY_PORT:-8080}"
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://localhost:$ACTIONS_PORT/webhook}"
export RASA_URL="${RASA_URL:-http://localhost:$RASA_PORT}"
export RASA_AUTH_TOKEN="${RASA_AUTH_TOKEN:-dev-only-rasa-token}"
model="${MODEL:-$(cat models/latest)}"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" &
pids+=($!)
.venv/bin/python -m deploy.rasa_main run --model "$model" --port "$RASA_PORT" --enable-api --auth-token "$RASA_AUTH_TOKEN" \
  --credentials credentials.yml --endpoints endpoints.yml &
pids+=($!)
# Gateway (widget, demo shop at /, inbox at /inbox). Demo mode (demo customer tokens and
# demo inbox accounts) and round-the-clock agent hours are for `make run` only.
DEMO_MODE="${DEMO_MODE:-1}" SERVICE_HOURS="${SERVICE_HOURS:-00:00-24:00}" GATEWAY_PORT="$GATEWAY_PORT" \
  .venv/bin/python -m bot &
pids+=($!)
echo "action server :$ACTIONS_PORT  rasa :$RASA_PORT  gateway :$GATEWAY_PORT  (Ctrl-C stops all)"
wait -n
