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

test_services() {
  # The browser and PostgreSQL tests use Debian's chromium and postgresql packages. Installed once,
  # quietly; when that is impossible the tests that need them are skipped with the reason (or, with
  # FRONTLINE_REQUIRE_SERVICES=1 as in CI, fail).
  local missing=() sudo="" log=/tmp/frontline-apt.log
  [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Note: ${missing[*]} not installed and there is no apt-get here; the tests that need them will be skipped." >&2
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "Note: ${missing[*]} not installed; run 'sudo apt-get install ${missing[*]}' to enable the browser/PostgreSQL tests (skipped for now)." >&2
      return 0
    fi
  fi
  echo "Installing ${missing[*]} from Debian's packages for the browser and PostgreSQL tests…"
  if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
    echo "Could not install ${missing[*]} with apt-get (details: $log); the tests that need them will be skipped." >&2
  fi
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
    test_services
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: ./frontline.sh app|test [args…]" >&2
    exit 2
    ;;
esac
