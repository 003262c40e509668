#!/usr/bin/env bash
# Install multipublish with its test tools into .venv and run the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow and not browser"`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
exec .venv/bin/python -m pytest "$@"
