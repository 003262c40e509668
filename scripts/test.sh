#!/usr/bin/env bash
# Install multipublish with its test tools into .venv and run the whole test suite, in parallel.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow and not browser"`).
# The suite runs on pytest-xdist workers, one per core (`-n auto`; MULTIPUBLISH_TEST_WORKERS=N to
# choose); `-n 0` (or `-p no:xdist`) among the arguments runs it serially in one process, and any
# `-n`/`--numprocesses`/`--dist` given is used instead of the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
parallel=(-n "${MULTIPUBLISH_TEST_WORKERS:-auto}" --dist loadgroup)
for arg in "$@"; do
  case "$arg" in
    -n|-n*|--numprocesses|--numprocesses=*|--dist|--dist=*|no:xdist|-pno:xdist) parallel=() ;;
  esac
done
exec .venv/bin/python -m pytest "${parallel[@]}" "$@"
