#!/usr/bin/env bash
# Install multipublish into .venv and run the main job on the embedded default:
# SQLite in ./multipublish.db and the built-in sandbox platforms; no credentials needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
if [ "$#" -eq 0 ]; then set -- --serve; fi
exec .venv/bin/multipublish demo "$@"
