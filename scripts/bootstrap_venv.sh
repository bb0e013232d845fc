#!/usr/bin/env bash
# Creates .venv with Python 3.10 (Rasa 3.6 needs <3.11) and installs the pinned requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(cat .python-version)
py=""
if command -v pyenv >/dev/null 2>&1 && pyenv prefix "$want" >/dev/null 2>&1; then
  py="$(pyenv prefix "$want")/bin/python"
elif [ -x "$HOME/.pyenv/versions/$want/bin/python" ]; then
  py="$HOME/.pyenv/versions/$want/bin/python"
elif command -v python3.10 >/dev/null 2>&1; then
  py=$(command -v python3.10)
else
  echo "Python $want not found: install it with pyenv (pyenv install $want)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip<24" wheel
.venv/bin/python -m pip install -q -r requirements-dev.txt
.venv/bin/python -m pip check
