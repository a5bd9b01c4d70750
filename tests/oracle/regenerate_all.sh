#!/usr/bin/env bash
# Rebuild the oracle venv if needed and regenerate every oracle fixture, then sanity-check them.
# Usage (from anywhere): bash tests/oracle/regenerate_all.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${MAGENTA_ORACLE_VENV:-$(cd "$(dirname "$0")/../.." && pwd)/.oracle-venv}"
bash tests/oracle/setup_oracle_venv.sh "$VENV"
python tests/oracle/make_midi_fixtures.py
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
"$VENV/bin/python" tests/oracle/gen_converter_fixtures.py
"$VENV/bin/python" tests/oracle/gen_checkpoint_fixtures.py
python tests/oracle/check_fixtures.py
du -sh tests/fixtures/oracle tests/fixtures/midi
