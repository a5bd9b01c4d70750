#!/usr/bin/env bash
# Install everything the test suite needs (Debian packages included) and run the whole suite.
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
# Builds the JS bundle (esbuild via hatch-jupyter-builder) into midime_widgets/static/.
python -m pip install -q -e ".[test,train]"
exec python -m pytest "$@"
