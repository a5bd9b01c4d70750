#!/usr/bin/env bash
# Lint the Python code (ruff, configured in pyproject.toml) and the widget's JavaScript (eslint,
# configured in js/eslint.config.js). Exits non-zero on any finding. Extra arguments go to ruff,
# e.g. `bash scripts/lint.sh --fix`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v ruff >/dev/null 2>&1 || python -m pip install -q ruff
ruff check . "$@"

[ -x js/node_modules/.bin/eslint ] || (cd js && npm ci --no-audit --no-fund)
(cd js && npx --no-install eslint .)
