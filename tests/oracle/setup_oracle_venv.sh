#!/usr/bin/env bash
# Build (idempotently) the throwaway magenta 2.1.4 oracle venv described in
# tests/oracle/README.md. Used ONLY to generate test fixtures;
# never a runtime dependency of midime_widgets.
#
# Usage: bash tests/oracle/setup_oracle_venv.sh [VENV_DIR]   (default: .oracle-venv in the repository)
set -euo pipefail
VENV="${1:-${MAGENTA_ORACLE_VENV:-$(cd "$(dirname "$0")/../.." && pwd)/.oracle-venv}}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
export TF_USE_LEGACY_KERAS=1

check() {
  TF_USE_LEGACY_KERAS=1 python - <<'PY' >/dev/null 2>&1
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from magenta.models.music_vae import configs, TrainedModel  # noqa: F401
from magenta.models.music_vae import data  # noqa: F401
from magenta.pipelines import melody_pipelines, drum_pipelines  # noqa: F401
import importlib.metadata as md
assert md.version("magenta") == "2.1.4", md.version("magenta")
PY
}

if check; then
  echo "oracle venv at $VENV already works"
  exit 0
fi

pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 tensorflow-probability tensorflow-datasets \
            tf-slim note-seq==0.0.5 dm-sonnet==2.0.0 pygtrie
pip install --no-deps magenta==2.1.4
# Extra small deps that magenta's music_vae / pipelines imports need beyond the recipe
# (none were needed on 2026-11 with Python 3.11.7; see tests/oracle/README.md "Venv notes"):
EXTRA_DEPS=()
if [ ${#EXTRA_DEPS[@]} -gt 0 ]; then pip install "${EXTRA_DEPS[@]}"; fi

if check; then
  echo "oracle venv at $VENV ready"
else
  echo "oracle venv built but magenta import still fails; run the check by hand:" >&2
  TF_USE_LEGACY_KERAS=1 python -c "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior(); from magenta.models.music_vae import configs, TrainedModel, data" >&2
  exit 1
fi
