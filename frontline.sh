#!/usr/bin/env bash
# Frontline's two commands. Each installs everything it needs into ./.venv first (idempotent).
#   ./frontline.sh app    run the web app on the embedded default (local LLM, SQLite)
#   ./frontline.sh test   run the test suite
#   ./frontline.sh lock   refresh requirements.lock to the newest versions pyproject.toml allows
# Anything after app or test is passed on (to `trainer app` or to pytest).
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
# Every package is installed at the exact version this file names (pip constraints), so a fresh machine next month
# gets the versions the tests last passed with, not whatever was released since. pyproject.toml keeps the ranges.
LOCK=requirements.lock

# llama.cpp is compiled here, for this machine's CPU, but without AMX. A native build (-march=native) uses every
# instruction the CPU has, AMX tiles included, and AMX segfaults where the kernel or sandbox does not grant it (seen: a
# Xeon with amx_tile under a sandbox; every prompt longer than one token crashed in ggml_backend_amx_mul_mat). So the
# build names the CPU's own AVX2/AVX-512 features from /proc/cpuinfo and leaves AMX out: on that Xeon, AVX-512 gave a
# first-token p50 of 0.80 s against 1.17 s for AVX2 alone (bench_call.py, docs/benchmarks.md). A CPU without AVX2, or
# another architecture, gets the native build. Set CMAKE_ARGS yourself to choose otherwise.
llama_cmake_args() {
  if [ -n "${CMAKE_ARGS:-}" ]; then
    echo "$CMAKE_ARGS"
    return
  fi
  [ "$(uname -m)" = "x86_64" ] || return 0
  local cpu
  cpu=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2 || true) "
  has() { [[ "$cpu" == *" $1 "* ]]; }
  has avx2 && has fma && has f16c || { echo "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"; return; }
  local args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  if has avx512f && has avx512bw && has avx512vl && has avx512dq; then
    args+=" -DGGML_AVX512=ON"
    has avx512vbmi && args+=" -DGGML_AVX512_VBMI=ON"
    has avx512_vnni && args+=" -DGGML_AVX512_VNNI=ON"
    has avx512_bf16 && args+=" -DGGML_AVX512_BF16=ON"
  fi
  has avx_vnni && args+=" -DGGML_AVX_VNNI=ON"
  echo "$args -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
}

setup() {
  if [ ! -f "$LOCK" ]; then
    echo "$LOCK is missing (it pins every dependency's version): restore it with git, or make a new one with ./frontline.sh lock." >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.frontline-installed" flags_stamp="$VENV/.frontline-llama-build" want flags
  flags=$(llama_cmake_args)
  # The lock is in the stamp, so a refreshed lock reinstalls (pip then changes only the packages whose pin moved).
  want=$( (cat pyproject.toml "$LOCK"; echo "$flags") | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Frontline and its models into $VENV from $LOCK (first run: about 10 minutes; llama.cpp compiles once)…"
    # pip too comes at its locked version: the installer's resolver is part of what a fresh machine must repeat
    "$VENV/bin/python" -m pip install --quiet -c "$LOCK" pip
    local built=""
    [ -f "$flags_stamp" ] && built=$(cat "$flags_stamp")
    if [ -f "$stamp" ] && [ "$built" != "$flags" ]; then
      "$VENV/bin/python" -m pip uninstall --quiet -y llama-cpp-python   # built with other flags: build it again
    fi
    # --no-cache-dir: a llama.cpp wheel built earlier with other flags must not be reused from pip's cache
    CMAKE_ARGS="$flags" "$VENV/bin/python" -m pip install --no-cache-dir --progress-bar on -c "$LOCK" -e '.[dev]'
    echo "$flags" > "$flags_stamp"
    echo "$want" > "$stamp"
  fi
  "$VENV/bin/trainer" model >/dev/null   # assemble + verify the embedded model once (progress bar on first run)
}

lock_header() {
  cat <<EOF
# $LOCK: the exact version of every package Frontline installs, as pip constraints.
# ./frontline.sh app|test install with: pip install -c $LOCK -e '.[dev]'
# pyproject.toml keeps the ranges; this file picks one version within them, the one the tests last passed with.
# Refresh: ./frontline.sh lock (the newest versions the ranges allow), then ./frontline.sh test to prove them; commit both.
# Resolved for $1; a package that another platform or Python needs and this list lacks is not pinned.
EOF
}

lock() {
  # Resolves as a fresh machine would (nothing installed, the old lock ignored) in a throwaway venv with the newest pip.
  # Only resolves: --dry-run reads each package's metadata and installs nothing, so llama.cpp is not compiled here
  # (its metadata does not depend on CMAKE_ARGS) and the model weights are not unpacked. The report lists every
  # distribution the install would hold, pip included; the project itself (a local directory) is left out.
  local tmp
  tmp=$(mktemp -d)
  trap "rm -rf '$tmp'" EXIT   # expanded now: the local is gone when the trap runs
  echo "Resolving the newest versions pyproject.toml allows (a throwaway venv in $tmp; nothing is built)…"
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
  "$tmp/venv/bin/python" -m pip install --quiet --dry-run --ignore-installed --report "$tmp/report.json" pip -e '.[dev]'
  {
    lock_header "$("$tmp/venv/bin/python" -c 'import platform; print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")')"
    "$tmp/venv/bin/python" - "$tmp/report.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
pins = {item["metadata"]["name"]: item["metadata"]["version"]
        for item in report["install"] if "dir_info" not in item["download_info"]}
for name in sorted(pins, key=str.lower):
    print(f"{name}=={pins[name]}")
EOF
  } > "$tmp/lock"
  if [ -f "$LOCK" ] && diff -q <(grep -v '^#' "$LOCK") <(grep -v '^#' "$tmp/lock") >/dev/null; then
    echo "$LOCK is already the newest resolution; nothing changed."
    return 0
  fi
  [ -f "$LOCK" ] && { diff <(grep -v '^#' "$LOCK") <(grep -v '^#' "$tmp/lock") || true; }
  mv "$tmp/lock" "$LOCK"
  echo "Wrote $LOCK ($(grep -vc '^#' "$LOCK") pins). Prove it with ./frontline.sh test (it reinstalls from the new lock), then commit $LOCK."
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
  lock)
    lock
    ;;
  *)
    echo "usage: ./frontline.sh app|test [args…] | lock" >&2
    exit 2
    ;;
esac
