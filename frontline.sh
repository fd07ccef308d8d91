#!/usr/bin/env bash
# Frontline's two commands. Each installs everything it needs into ./.venv first (idempotent).
#   ./frontline.sh app    run the web app on the embedded default (local LLM, SQLite)
#   ./frontline.sh test   run the test suite
# Anything after the command is passed on (to `trainer app` or to pytest).
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.frontline-installed" want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Frontline and its models into $VENV (first run: about 10 minutes; llama.cpp compiles once)…"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --progress-bar on -e '.[dev]'
    echo "$want" > "$stamp"
  fi
  "$VENV/bin/trainer" model >/dev/null   # assemble + verify the embedded model once (progress bar on first run)
}

cmd="${1:-}"
shift || true
case "$cmd" in
  app)
    setup
    exec "$VENV/bin/trainer" app "$@"
    ;;
  test)
    setup
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: ./frontline.sh app|test [args…]" >&2
    exit 2
    ;;
esac
