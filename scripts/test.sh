#!/usr/bin/env bash
# Install everything the test suite needs (Debian packages included) and run the whole suite.
# Works on a fresh machine: nothing is assumed installed beyond Python 3.10+, pip and (for the
# Debian packages) apt-get as root.
# Used verbatim by README and by .ci/run. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
fc-list 2>/dev/null | grep -qi dejavu || apt_packages+=(fonts-dejavu-core)
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages: ${apt_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  else
    echo "Missing system packages (${apt_packages[*]}); install them with your package manager." >&2
    exit 1
  fi
fi

python -m pip install -q --upgrade pip
# Every test dependency is in the [test] and [train] extras (hatchling included: the Binder test
# builds the package without isolation). SKIP_JUPYTER_BUILDER keeps the committed widget bundle as
# it is, so tests/test_bundle.py compares the committed bundle, not a fresh copy, with a build.
SKIP_JUPYTER_BUILDER=1 python -m pip install -q -e ".[test,train]"
# esbuild for that comparison (only when js/node_modules is absent: `npm ci` replaces it).
if [ ! -e js/node_modules ]; then
  (cd js && npm ci --no-audit --no-fund --loglevel=error)
fi
# Lint (ruff + eslint) before the tests: a finding fails the run like a failing test.
bash scripts/lint.sh
# Two test processes: each test file stays on one (its module fixtures, e.g. a Jupyter server, are
# shared as written), and the browser, kernel and subprocess waits of one overlap the other's work.
exec python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
