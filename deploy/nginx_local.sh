#!/usr/bin/env bash
# Prints the nginx configuration of the single-machine production profile (run_prod.sh):
#   :$GATEWAY_PORT   public: the gateway instances (HTTP API, widget, inbox, WebSockets)
#   :$RASA_LB_PORT   internal: the Rasa servers (127.0.0.1 only, never public)
# Inputs: NGINX_PREFIX (folder for pid, temp files and logs), GATEWAY_PORT, GATEWAY_UPSTREAMS
# and RASA_UPSTREAMS ("host:port host:port ..."), RASA_LB_PORT.
# Multi-machine: see deploy/nginx.example.conf.
set -euo pipefail
: "${NGINX_PREFIX:?}" "${GATEWAY_PORT:?}" "${RASA_LB_PORT:?}" "${RASA_UPSTREAMS:?}"
servers() { local s; for s in $1; do printf '    server %s max_fails=1 fail_timeout=5s;\n' "$s"; done; }
cat <<CONF
daemon off;
worker_processes 1;
pid $NGINX_PREFIX/nginx.pid;
error_log $NGINX_PREFIX/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  log_format upstream '\$msec|\$status|\$upstream_addr|\$upstream_status|\$request_time';
  client_body_temp_path $NGINX_PREFIX/client_body;
  proxy_temp_path $NGINX_PREFIX/proxy;
  fastcgi_temp_path $NGINX_PREFIX/fastcgi;
  uwsgi_temp_path $NGINX_PREFIX/uwsgi;
  scgi_temp_path $NGINX_PREFIX/scgi;
  client_max_body_size 512k;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }

  # Rasa servers share conversations (SQL tracker store) and the per-conversation lock
  # (Redis), so any of them may take any message. A refused connection (a dead server) is
  # retried on the next one; a POST already sent is not (the gateway fails open instead).
  upstream rasa {
    least_conn;
$(servers "$RASA_UPSTREAMS")
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$RASA_LB_PORT;
    # Which Rasa server took each request (the fault tests read it).
    access_log $NGINX_PREFIX/rasa_access.log upstream buffer=16k flush=1s;
    location / {
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }
  }
CONF
if [ -n "${GATEWAY_UPSTREAMS:-}" ]; then
cat <<CONF
  upstream gateway {
    least_conn;
$(servers "$GATEWAY_UPSTREAMS")
    keepalive 64;
  }
  server {
    listen ${GATEWAY_LISTEN:-0.0.0.0}:$GATEWAY_PORT;
    location / {
      proxy_pass http://gateway;
      proxy_http_version 1.1;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout;
      proxy_read_timeout 60s;
    }
    location ~ ^/(ws|inbox/ws)\$ {
      proxy_pass http://gateway;
      proxy_http_version 1.1;
      proxy_set_header Host \$host;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
    }
  }
CONF
fi
echo "}"
