#!/usr/bin/env bash
# Mutation testing of the authorization code and the grader's fatal criteria (tests/mutation/README.md).
#
#   tests/mutation/run.sh                      # every group, about 30 minutes on two cores
#   tests/mutation/run.sh accounts studio      # some groups: accounts service studio ui_guard fatal
#   tests/mutation/run.sh ui_guard --walk      # the web boundary, with the HTTP API walk too (slow)
#   tests/mutation/run.sh --list               # only list the mutants in scope
#
# cosmic-ray writes every mutant into the file on disk, so this runs in a copy of the working tree (tracked files and
# new ones git does not ignore) in a temporary folder, with this checkout's .venv. The report and the sessions land in
# out/mutation/ (ignored by git). It installs cosmic-ray into .venv when it is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CR_VERSION="8.7.0"

if [ ! -x "$PY" ]; then
    echo "No Python at $PY: run ./frontline.sh test once first (or set PYTHON=/path/to/venv/bin/python)." >&2
    exit 2
fi
if ! "$PY" -c "import cosmic_ray" 2>/dev/null; then
    echo "Installing cosmic-ray $CR_VERSION into $(dirname "$(dirname "$PY")") ..."
    "$PY" -m pip install --quiet "cosmic-ray==$CR_VERSION"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/frontline-mutation.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # --ignore-failed-read: a tracked file deleted in the working tree is simply not copied
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf -) \
        | tar -xf - -C "$WORK"
else
    (cd "$ROOT" && tar --exclude=./.venv --exclude=./out --exclude=./.git -cf - .) | tar -xf - -C "$WORK"
fi

OUT="${MUTATION_OUT:-$ROOT/out/mutation}"
mkdir -p "$OUT"
echo "Copy of the working tree: $WORK; results: $OUT"
cd "$WORK"
"$PY" tests/mutation/mutate.py --out "$OUT" "$@"
