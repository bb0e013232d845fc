#!/usr/bin/env bash
# Debian packages the tests use: Chromium for browser tests; PostgreSQL, Redis and nginx
# for the production-profile fault tests (deploy/services.sh installs those).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# A CJK font so screenshots of the Chinese UI are readable.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing Debian packages: ${need[*]} (apt-get install them)" >&2; exit 1
  fi
fi
bash "$(dirname "$0")/../deploy/services.sh" install
