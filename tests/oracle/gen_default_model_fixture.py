"""Run the embedded default model in magenta's own TrainedModel (oracle venv) and record outputs.

    python tests/oracle/make_default_model_windows.py   # main interpreter (not needed if committed)
    TF_USE_LEGACY_KERAS=1 .oracle-venv/bin/python tests/oracle/gen_default_model_fixture.py

Proves the bundled checkpoint (magenta variable layout, written by our trainer) restores in an
unpatched `TrainedModel` built from magenta's cat-mel_2bar_small config with the default model's
layer sizes, and records `encode_tensors` (mu, sigma) and greedy `decode_to_tensors` of mu on the
windows in tests/fixtures/default_model/windows.npz → tests/fixtures/oracle/default_model/io.npz.
Rerun whenever the default model is re-exported.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from npz_io import save_npz
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()

from magenta.common import merge_hparams  # noqa: E402
from magenta.contrib import training as contrib_training  # noqa: E402
from magenta.models.music_vae import TrainedModel, configs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
MODEL_DIR = os.path.join(ROOT, "midime_widgets", "models", "default")
WINDOWS = os.path.join(ROOT, "tests", "fixtures", "default_model", "windows.npz")
OUT = os.path.join(ROOT, "tests", "fixtures", "oracle", "default_model")


def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def main() -> int:
    meta = _read_json(os.path.join(MODEL_DIR, "config.json"))["config"]
    base = configs.CONFIG_MAP["cat-mel_2bar_small"]
    cfg = copy.deepcopy(base)
    cfg = cfg._replace(hparams=merge_hparams(base.hparams, contrib_training.HParams(
        enc_rnn_size=list(meta["enc_rnn_sizes"]), dec_rnn_size=list(meta["dec_rnn_sizes"]),
        z_size=meta["z_size"])))
    windows = np.load(WINDOWS)["windows"]
    n, steps = windows.shape
    inputs = np.eye(90, dtype=np.float32)[windows]
    model = TrainedModel(cfg, batch_size=n, checkpoint_dir_or_path=os.path.join(MODEL_DIR, "model.ckpt"))
    _, mu, sigma = model.encode_tensors(list(inputs), [steps] * n)
    greedy = np.stack(model.decode_to_tensors(mu, length=steps, temperature=1e-6))
    with open(os.path.join(MODEL_DIR, "model.ckpt.data-00000-of-00001"), "rb") as f:
        data = f.read()
    os.makedirs(OUT, exist_ok=True)
    save_npz(os.path.join(OUT, "io.npz"), windows=windows, mu=mu.astype(np.float32),
             sigma=sigma.astype(np.float32), greedy=greedy.astype(np.float32),
             checkpoint_sha256=np.array(hashlib.sha256(data).hexdigest()))
    print(f"wrote {OUT}/io.npz: {n} windows, mu {mu.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
